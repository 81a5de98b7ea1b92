"""docs/configuration.rst against the option table: every key, its default and its line."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from flask_kashflow_links.config import BRAND_FIELDS
from flask_kashflow_links.config import PREFIX
from flask_kashflow_links.config import REMOVED_OPTIONS
from flask_kashflow_links.config import MailSettings
from flask_kashflow_links.config import Settings
from flask_kashflow_links.config.options import Option
from flask_kashflow_links.config.options import options_of

PAGE = Path(__file__).resolve().parent.parent / "docs" / "configuration.rst"
OPTIONS = [opt for _, opt in options_of(Settings)]


def plain(rst: str) -> str:
    """Prose as a reader sees it: roles, literals and emphasis unwrapped, whitespace collapsed."""
    rst = re.sub(r":[\w:-]+:`([^`<]*?)\s*<[^`>]*>`", r"\1", rst)  # :data:`text <target>`
    rst = re.sub(r":[\w:-]+:`~?(?:[\w.]*\.)?([^`]*)`", r"\1", rst)  # :class:`~a.b.C` -> C
    rst = re.sub(r"``(.*?)``", r"\1", rst)
    rst = re.sub(r"\*\*?([^*]+)\*\*?", r"\1", rst)
    return " ".join(rst.split())


def entries(text: str) -> dict[str, tuple[str | None, str]]:
    """``{name: (its :value: or None, its prose)}`` for each ``.. data::`` entry of *text*."""
    found = {}
    for match in re.finditer(r"^\.\. data:: (\S+)\n((?:[ \t]+.*\n|[ \t]*\n)*)", text, re.M):
        name, block = match.groups()
        value = re.search(r"^[ \t]+:value: (.*)$", block, re.M)
        prose = re.sub(r"^[ \t]+:\w[\w-]*:(?:[ \t].*)?$", "", block, flags=re.M)  # its options
        found[name] = (value.group(1).strip() if value else None, plain(prose))
    return found


DOCUMENTED = entries(PAGE.read_text(encoding="utf-8"))


def test_the_page_is_read_as_expected() -> None:
    # A parser that found nothing would pass the tests below vacuously: pin it on a sample.
    sample = (
        ".. data:: KASHFLOW_LINKS_X\n   :value: (1, 2.0)\n\n   The ``x``, see\n"
        "   :data:`the other <KASHFLOW_LINKS_Y>` and :class:`~a.b.Brand`.\n\nAfter\n"
    )
    assert entries(sample) == {"KASHFLOW_LINKS_X": ("(1, 2.0)", "The x, see the other and Brand.")}
    assert len(DOCUMENTED) > len(OPTIONS)  # every option, plus SECRET_KEY and its fallbacks


@pytest.mark.parametrize("opt", OPTIONS, ids=lambda opt: opt.name)
def test_each_option_is_documented_with_the_default_in_force(opt: Option) -> None:
    assert opt.key in DOCUMENTED, f"configuration.rst has no `.. data:: {opt.key}`"
    shown = DOCUMENTED[opt.key][0]
    assert shown is not None, f"{opt.key} shows no :value:"
    value = ast.literal_eval(shown)
    # Types too: 0 == False, and a docs reader cannot tell 300 from 300.0 otherwise.
    assert (type(value), value) == (type(opt.default), opt.default), opt.key


@pytest.mark.parametrize("opt", OPTIONS, ids=lambda opt: opt.name)
def test_each_entry_carries_the_option_s_line(opt: Option) -> None:
    # The line may run on into a longer sentence on the page.
    assert plain(opt.doc).rstrip(".") in DOCUMENTED[opt.key][1]


def test_every_documented_key_is_an_option_or_a_removed_one() -> None:
    documented = {name for name in DOCUMENTED if name.startswith(PREFIX)}
    removed = {PREFIX + name for name in REMOVED_OPTIONS}
    assert documented - {opt.key for opt in OPTIONS} == removed


@pytest.mark.parametrize("name", sorted(REMOVED_OPTIONS))
def test_each_removed_option_says_what_the_portal_does_instead(name: str) -> None:
    value, prose = DOCUMENTED[PREFIX + name]
    assert value is None and prose.startswith("Removed in 0.2: ")
    assert plain(REMOVED_OPTIONS[name]).lower() in prose.lower()


def test_every_brand_field_and_smtp_setting_is_documented() -> None:
    # The two dict-valued options name their own fields; the page must describe each one.
    text = PAGE.read_text(encoding="utf-8")
    fields = [*BRAND_FIELDS, *(f.name for f in dataclasses.fields(MailSettings))]
    assert [f for f in fields if f"``{f}``" not in text] == []
