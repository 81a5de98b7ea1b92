"""Sphinx configuration for flask-kashflow-links.

Built with ``make docs`` (``sphinx-build -W --keep-going``): every warning is an error. The build
needs no network: no intersphinx inventories are fetched and the theme loads no remote assets.
"""

from __future__ import annotations

import os
import sys
import typing as t

sys.path.insert(0, os.path.abspath(".."))

project = "flask-kashflow-links"
author = "flask-kashflow-links contributors"
copyright = "2026, flask-kashflow-links contributors"
release = version = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]

# -- autodoc -----------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_preserve_defaults = True

# -- cross references --------------------------------------------------------------------------
# Kept empty on purpose: the build must not reach the network for inventories.
intersphinx_mapping: dict[str, tuple[str, None]] = {}
nitpicky = False

# -- HTML --------------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = "flask-kashflow-links"
html_theme_options = {
    "description": "Client invoice links for KashFlow, inside your Flask site.",
    "fixed_sidebar": True,
    "show_powered_by": False,
    "show_relbars": True,
    "page_width": "1040px",
    "sidebar_width": "230px",
}
html_static_path: list[str] = []
html_show_sourcelink = False
exclude_patterns = ["_build"]


# -- a check that configuration.rst documents every setting ----------------------------------


def _check_configuration_page(app: t.Any) -> None:
    """Warn (an error under ``-W``) when ``configuration.rst`` misses a ``KASHFLOW_LINKS_*`` key
    of ``config.DEFAULTS``, documents one that does not exist, shows a default other than the
    code's, or misses a brand field or an SMTP setting."""
    import ast
    import dataclasses
    import re

    from sphinx.util import logging

    from flask_kashflow_links.accounts import BRAND_FIELDS
    from flask_kashflow_links.config import DEFAULTS
    from flask_kashflow_links.config import PREFIX
    from flask_kashflow_links.config import MailSettings

    log = logging.getLogger(__name__)
    page = os.path.join(os.path.dirname(__file__), "configuration.rst")
    with open(page, encoding="utf-8") as handle:
        text = handle.read()
    entries = re.findall(
        rf"^\.\. data:: {PREFIX}(\w+)\n((?:[ \t]+:\w[\w-]*:.*\n)*)", text, flags=re.MULTILINE
    )
    documented: dict[str, str | None] = {}
    for name, options in entries:
        value = re.search(r":value: (.*)", options)
        documented[name] = value.group(1).strip() if value else None
    for name, default in DEFAULTS.items():
        if name not in documented:
            log.warning("configuration.rst: %s%s is not documented", PREFIX, name)
            continue
        shown = documented[name]
        try:
            same = shown is not None and ast.literal_eval(shown) == default
        except (ValueError, SyntaxError):
            same = False
        if not same:
            log.warning(
                "configuration.rst: %s%s shows the default %s; the code says %r",
                PREFIX,
                name,
                shown,
                default,
            )
    for name in sorted(set(documented) - set(DEFAULTS)):
        log.warning("configuration.rst: %s%s is not a setting", PREFIX, name)
    for field in BRAND_FIELDS:
        if f"``{field}``" not in text:
            log.warning("configuration.rst: brand field %r is not documented", field)
    for field in dataclasses.fields(MailSettings):
        if f"``{field.name}``" not in text:
            log.warning("configuration.rst: mail setting %r is not documented", field.name)


def setup(app: t.Any) -> None:
    app.connect("builder-inited", _check_configuration_page)
