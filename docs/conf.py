"""Sphinx configuration for flask-kashflow-links.

Built with ``make docs`` (``sphinx-build -W --keep-going``): every warning is an error. The build
needs no network: no intersphinx inventories are fetched and the theme loads no remote assets.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "flask-kashflow-links"
author = "flask-kashflow-links contributors"
copyright = "2026, flask-kashflow-links contributors"
release = version = importlib.metadata.version("flask-kashflow-links")

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
