"""Example site: a small business website that mounts the KashFlow client portal.

Run it with ``make demo`` (or ``flask --app example_app run``). Without KashFlow credentials in
the environment it starts the KashFlow sandbox and prints demo links.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
