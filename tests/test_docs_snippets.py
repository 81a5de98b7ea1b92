"""The quick starts and the testing page work when copied in order into an empty folder, with
nothing but the wheels installed (issue 14, point 3 and "Done when").

The package and the sandbox beside it (the kashflow-sandbox distribution in ``sandbox/``) are
built as wheels from a copy of the source tree and installed into a fresh virtualenv
(``pip install <wheel>``, their dependencies from the package index this machine reaches, plus
pytest and freezegun, which the testing page uses). Each page is then read by
:class:`~tests.docs_snippets.Reader`: files written, Python run, commands typed, the sandbox
started and its settings pasted, the page's tests run with ``python -m pytest``. The README
and the quick start are read twice: by a reader on KashFlow's REST API, and by one on its SOAP
API, who plays the pages' SOAP blocks instead of the REST ones (issue 21, point 1).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .docs_snippets import Block
from .docs_snippets import Reader
from .docs_snippets import blocks_of_markdown
from .docs_snippets import blocks_of_rst
from .docs_snippets import clean_environment
from .helpers import ROOT
from .services import require

pytestmark = pytest.mark.slow

README = blocks_of_markdown(ROOT / "README.md", "Quick start")
QUICKSTART = blocks_of_rst(ROOT / "docs" / "quickstart.rst")
TESTING = blocks_of_rst(ROOT / "docs" / "testing.rst")
#: What the testing page needs besides the wheel.
TEST_TOOLS = ["pytest", "freezegun"]
_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "instance",
    "test-artifacts",
    "_build",
    ".*_cache",
    ".hypothesis",
)


def _step(argv: list[str], what: str, **kwargs: object) -> None:
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=900, env=clean_environment(), **kwargs
    )
    require(
        f"{what} ({result.stderr.strip()[-2000:]})",
        result.returncode == 0,
        "network access to the package index, or its packages in pip's find-links",
    )


@dataclass(frozen=True)
class Wheels:
    """The two distributions of the repository, built from a copy of the source tree."""

    portal: Path
    sandbox: Path


@dataclass(frozen=True)
class Venv:
    """The virtualenv, and what the portal said before the sandbox was installed beside it."""

    path: Path
    without_sandbox: dict[str, subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    dist = work / "dist"
    for where in (source, source / "sandbox"):
        _step(
            [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(dist)],
            f"building the wheel of {where.name}",
            cwd=where,
        )
    [portal] = dist.glob("flask_kashflow_links-*.whl")
    [sandbox] = dist.glob("kashflow_sandbox-*.whl")
    return Wheels(portal, sandbox)


@pytest.fixture(scope="module")
def venv(wheels: Wheels) -> Venv:
    """A fresh virtualenv with both wheels installed (not editable): the portal's first, alone,
    to see what it says without the sandbox, then the sandbox's."""
    env = wheels.portal.parent.parent / "venv"
    python = str(env / "bin" / "python")
    _step([sys.executable, "-m", "venv", str(env)], "making a virtualenv")
    _step([python, "-m", "pip", "install", "-q", str(wheels.portal)], "installing the wheel")
    without = {
        name: subprocess.run(
            argv, capture_output=True, text=True, timeout=120, env=clean_environment()
        )
        for name, argv in {
            "python -m": [python, "-m", "flask_kashflow_links.testing", "--port", "0"],
            "flask": [str(env / "bin" / "flask"), "kashflow-links", "sandbox", "--port", "0"],
        }.items()
    }
    _step(
        [python, "-m", "pip", "install", "-q", str(wheels.sandbox), *TEST_TOOLS],
        "installing the sandbox's wheel",
    )
    return Venv(env, without)


@pytest.fixture
def reader(request: pytest.FixtureRequest, tmp_path: Path, venv: Venv) -> Iterator[Reader]:
    """A reader in an empty folder, on the REST API unless the test is parametrized
    (indirectly) with ``"soap"``."""
    folder = tmp_path / "site"
    folder.mkdir()
    reader = Reader(folder, venv.path, variant=getattr(request, "param", "rest"))
    yield reader
    reader.stop()


def checked(reader: Reader) -> str:
    """What ``check`` says about the account the reader's site now uses."""
    argv = ["flask", "--app", "myshop", "kashflow-links", "check"]
    return reader.run(argv, "check, once more").stdout


def test_the_wheel_is_what_runs(reader: Reader) -> None:
    result = reader.run(
        ["python", "-c", "import flask_kashflow_links as p; print(p.__file__)"], "where"
    )
    assert "site-packages" in result.stdout and str(ROOT) not in result.stdout


def test_the_portals_wheel_holds_no_sandbox(wheels: Wheels) -> None:
    """The sandbox is its own distribution (DESIGN.md section 2): not in the portal's wheel."""
    with zipfile.ZipFile(wheels.portal) as wheel:
        portal = wheel.namelist()
    assert "flask_kashflow_links/testing.py" in portal
    assert [n for n in portal if "sandbox" in n.split("/")[0] or "/_sandbox/" in n] == []
    with zipfile.ZipFile(wheels.sandbox) as wheel:
        sandbox = wheel.namelist()
    assert {"kashflow_sandbox/__init__.py", "kashflow_sandbox/py.typed"} <= set(sandbox)
    assert "kashflow_sandbox/soap/api.py" in sandbox
    assert [n for n in sandbox if n.startswith(("flask_kashflow_links", "tests/"))] == []


def test_without_the_sandbox_the_portal_says_how_to_install_it(venv: Venv) -> None:
    for name, shown in venv.without_sandbox.items():
        assert shown.returncode == 1, (name, shown)
        [line] = shown.stderr.strip().splitlines()  # no traceback
        assert "pip install kashflow-sandbox" in line and "pip install ./sandbox" in line, name


def test_the_pages_have_code_to_run() -> None:
    for blocks in (README, QUICKSTART, TESTING):
        assert any(b.language == "python" for b in blocks)
        assert any(b.language == "console" for b in blocks)
    # The README and the quick start have a factory and a sandbox to start for each API.
    for blocks in (README, QUICKSTART):
        for variant in ("rest", "soap"):
            mine = [b for b in blocks if b.variant == variant]
            assert [b.language for b in mine] == ["python", "console"], variant
            assert mine[0].code.startswith("# myshop.py")
            assert "python -m flask_kashflow_links.testing" in mine[1].code


@pytest.mark.parametrize("reader", ["rest", "soap"], indirect=True)
def test_the_readme_quick_start(reader: Reader) -> None:
    reader.read(README)
    factory = (reader.folder / "myshop.py").read_text()
    assert ('"api": "soap"' in factory) is (reader.variant == "soap")
    played = "\n".join(reader.played)
    assert "started the sandbox" in played
    assert "$ flask --app myshop kashflow-links mint invoice 1043 --verify" in played
    said = checked(reader)
    if reader.variant == "soap":
        assert "accepted the username and password over SOAP" in said
        assert "invoice PDFs download from the PermaLink" in said
    else:
        assert "logged in to" in said and "memorable word" in said


@pytest.mark.parametrize("reader", ["rest", "soap"], indirect=True)
def test_the_quickstart_page(reader: Reader) -> None:
    reader.read(QUICKSTART)
    assert any("kashflow-links check" in step for step in reader.played)
    over_soap = "accepted the username and password over SOAP" in checked(reader)
    assert over_soap is (reader.variant == "soap")


def test_all_three_in_order(reader: Reader) -> None:
    """The README, then the quick start page, then the testing page, in one folder: the
    testing page's fixtures use the quick start's factory, and its tests pass."""
    blocks: list[Block] = [*README, *QUICKSTART, *TESTING]
    reader.read(blocks)
    assert any(step.endswith("$ python -m pytest") for step in reader.played), reader.played
    # The page's command, once more, now that every test file it shows is written.
    result = reader.run(["python", "-m", "pytest", "-p", "no:cacheprovider"], "every test")
    for name in ("test_pages", "test_data", "test_faults", "test_mail", "test_soap"):
        assert f"tests/{name}.py" in result.stdout, result.stdout
    assert "tests/soap/test_soap_pages.py" in result.stdout, result.stdout
