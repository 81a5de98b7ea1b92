"""The sandbox's README documents what the sandbox really has: every control action with its
argument names, and every command-line option (issue 21, point 3)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import requests

from kashflow_sandbox import KashFlowSandbox
from kashflow_sandbox.command import sandbox as command
from sandbox_client import TIMEOUT

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def control_actions(sb: KashFlowSandbox) -> dict[str, list[str]]:
    """Every action ``POST /_sandbox/faults`` takes (as it says itself), and the argument names
    of the method behind it."""
    answer = requests.post(f"{sb.origin}/_sandbox/faults", json={"action": "?"}, timeout=TIMEOUT)
    assert answer.status_code == 400
    listed = ast.literal_eval(answer.json()["error"].split("use one of ", 1)[1])
    return {name: list(inspect.signature(getattr(sb, name)).parameters) for name in listed}


def test_every_control_action_is_documented_with_its_arguments(sb: KashFlowSandbox) -> None:
    actions = control_actions(sb)
    assert {"fail_next", "set_shape", "set_soap_password_mode", "reset_counters"} <= set(actions)
    rows = dict(re.findall(r"^\| `(\w+)` \| (.+?) \|$", section("Control routes"), re.MULTILINE))
    documented = {
        name: [] if cell.strip() == "none" else re.findall(r"`(\w+)`", cell)
        for name, cell in rows.items()
    }
    assert documented == actions


def test_every_method_of_the_faults_table_is_an_action(sb: KashFlowSandbox) -> None:
    actions = control_actions(sb)
    shown = re.findall(r"^\| `(\w+)\(", section("Faults and switches"), re.MULTILINE)
    assert set(shown) == set(actions)


def test_every_command_line_option_is_documented() -> None:
    table = section("Run it")
    for param in command.params:
        for option in param.opts + param.secondary_opts:
            if option != "--help":
                assert f"`{option}" in table, option
