"""The staff pages: a blueprint the host mounts behind its own login.

Who owes what, one customer's invoices and live links, minting (a link's URL shown once),
sending, revoking, and the weekly reminders with a dry run first; every page a view of the
staff API (:class:`~flask_kashflow_links.KashFlowLinks`), so a page does what the same Python
call does. :mod:`.routes` holds the routes and the door every route goes through (the host's
``authorize``, then a POST's origin and form token); :mod:`.forms` the form tokens and fields;
:mod:`.pages` rendering and headers; :mod:`.presenters` what the pages show; :mod:`.parts`
what they read of the application (a protocol the extension is held to).
"""

from __future__ import annotations

from .parts import Parts as Parts
from .routes import make_blueprint as make_blueprint
