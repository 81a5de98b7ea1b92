"""What ``check`` says about the memorable word's letters and a suspect base URL (issue 14,
points 5 and 6)."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import make_app
from .helpers import portal_config

WORD = "pineapple"


def check(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["kashflow-links", "check"])
    return result.exit_code, " ".join((result.stdout + result.stderr).split())


def app_for(tmp_path: Path, sandbox: KashFlowSandbox, word: str, name: str) -> Flask:
    account = sandbox.account_config(memorable_word=word)
    return make_app(tmp_path, name=name, **portal_config(sandbox, accounts={"acme": account}))


def confirmed(out: str) -> set[int]:
    match = re.search(r"memorable word: letters ([\d, and]+) confirmed", out)
    assert match, out
    return {int(n) for n in re.findall(r"\d+", match.group(1))}


def test_check_names_the_letters_it_proved_and_a_near_miss_passes(tmp_path: Path) -> None:
    # The sandbox asks for reproducible positions for a given seed and call order, so a second
    # sandbox with the same seed asks the first login for the same letters.
    with KashFlowSandbox(seed=11, memorable_word=WORD) as first:
        code, out = check(app_for(tmp_path, first, WORD, "first"))
    assert code == 0, out
    asked = confirmed(out)
    assert len(asked) == 3 and "the others are unchecked" in out
    assert WORD not in out

    unchecked = min(set(range(1, len(WORD) + 1)) - asked)
    near_miss = WORD[: unchecked - 1] + "z" + WORD[unchecked:]
    with KashFlowSandbox(seed=11, memorable_word=WORD) as second:
        code, out = check(app_for(tmp_path, second, near_miss, "second"))
        assert second.logins == 1
    # The wrong letter was not asked for: the login passes, and check says what it did not see.
    assert code == 0, out
    assert confirmed(out) == asked
    assert "a word wrong in one of them passes this check and fails a later login" in out
    assert near_miss not in out


def test_a_three_letter_word_is_confirmed_whole(tmp_path: Path) -> None:
    with KashFlowSandbox(memorable_word="fig") as sandbox:
        code, out = check(app_for(tmp_path, sandbox, "fig", "three"))
    assert code == 0, out
    assert "memorable word: every letter confirmed" in out
    assert "fig" not in out


def test_a_base_url_without_v2_is_called_out(tmp_path: Path, sandbox: KashFlowSandbox) -> None:
    app = make_app(tmp_path, **portal_config(sandbox, api_base_url=sandbox.origin))
    code, out = check(app)
    assert code == 1
    assert f"KASHFLOW_LINKS_API_BASE_URL {sandbox.origin} looks wrong" in out
    assert f"it lacks the /v2 at the end (try {sandbox.origin}/v2)" in out
    assert "https://api.kashflow.com/v2" in out
    assert sandbox.failed_logins == 0


def test_another_wrong_path_is_called_out_without_the_v2_advice(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    url = f"{sandbox.origin}/api/v2"
    code, out = check(make_app(tmp_path, **portal_config(sandbox, api_base_url=url)))
    assert code == 1 and f"KASHFLOW_LINKS_API_BASE_URL {url} looks wrong" in out
    assert "lacks the /v2" not in out
