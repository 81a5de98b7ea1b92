"""What the staff pages read of an application's portal, as protocols the extension is held to.

The staff blueprint is made once (:meth:`~flask_kashflow_links.KashFlowLinks.staff_blueprint`)
and may be registered on any application the extension was initialised on, so its routes find
their parts per request, in the current application's per-app object, as the CLI does:
``init_app`` assigns that object to a variable of type :class:`Parts`, so mypy holds the two
together.
"""

from __future__ import annotations

import typing as t

from flask import current_app

from ..config import EXTENSION_KEY
from ..config import Settings
from ..staff_api import StaffAPI


class Parts(t.Protocol):
    """What the staff pages read of the per-app object the extension keeps in
    ``app.extensions["kashflow_links"]``."""

    @property
    def extension(self) -> StaffAPI:
        """The staff API of the app's :class:`~flask_kashflow_links.KashFlowLinks`."""

    @property
    def settings(self) -> Settings:
        """The validated configuration: the layout, brand, locale and time zone."""


def parts() -> Parts:
    """The current application's parts.

    :raises RuntimeError: the extension is not initialised on the current application.
    """
    found = current_app.extensions.get(EXTENSION_KEY)
    if found is None:
        raise RuntimeError(
            "KashFlowLinks is not initialised on this app: call KashFlowLinks(app) or "
            "links.init_app(app) before registering the staff blueprint."
        )
    return t.cast(Parts, found)
