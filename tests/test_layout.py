"""The package stays a house a newcomer can walk through: small modules with one job each."""

from __future__ import annotations

from pathlib import Path

import flask_kashflow_links

PACKAGE = Path(flask_kashflow_links.__file__).parent
MOST_LINES = 500


def test_every_module_is_at_most_500_lines() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50  # the package, the sandbox included, was found
    too_long = {
        str(path.relative_to(PACKAGE)): lines
        for path in modules
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MOST_LINES
    }
    assert too_long == {}
