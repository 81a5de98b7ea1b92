"""Sphinx configuration for flask-kashflow-links."""

from __future__ import annotations

import os
import sys

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
autodoc_member_order = "bysource"
autodoc_typehints = "description"
intersphinx_mapping: dict[str, tuple[str, None]] = {}
html_theme = "alabaster"
html_static_path: list[str] = []
exclude_patterns = ["_build"]
nitpicky = False
