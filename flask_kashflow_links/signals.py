"""Signals (blinker, as Flask uses) for recording what clients do with their links.

Connect to them to answer "the client opened the invoice on 3 March"::

    from flask_kashflow_links import signals

    @signals.invoice_viewed.connect
    def record(app, link_id, account, customer, invoice, user_agent, **extra):
        audit_log.add(f"{customer} viewed invoice {invoice} ({link_id})")

Every signal is sent with the application as sender and these keyword arguments: ``link_id``,
``account``, ``customer`` (customer code, when known), ``invoice`` (number, when one is
concerned), ``scope`` (a :class:`~.tokens.Scope`) and ``user_agent``. :data:`link_rejected` adds
``reason`` (``"invalid"``, ``"expired"``, ``"withdrawn"``, ``"throttled"``) and
:data:`fresh_link_sent` adds ``new_link_id`` and ``recipients`` (how many addresses). The token
is never sent. HEAD requests (link scanners, prefetchers) send nothing.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A client opened a link (its main page).
link_opened = _signals.signal("kashflow-links.link-opened")
#: A client was shown an invoice page.
invoice_viewed = _signals.signal("kashflow-links.invoice-viewed")
#: A client downloaded a PDF.
pdf_downloaded = _signals.signal("kashflow-links.pdf-downloaded")
#: A link was refused (invalid, expired, withdrawn or throttled).
link_rejected = _signals.signal("kashflow-links.link-rejected")
#: A fresh link was emailed to the customer after their link expired.
fresh_link_sent = _signals.signal("kashflow-links.fresh-link-sent")

__all__ = ["fresh_link_sent", "invoice_viewed", "link_opened", "link_rejected", "pdf_downloaded"]
