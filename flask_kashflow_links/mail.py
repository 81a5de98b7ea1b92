"""The emails the portal sends: a fresh link, a link sent by staff, a reminder.

Sent through ``KASHFLOW_LINKS_MAIL``: a dict of SMTP settings (standard library ``smtplib``),
or a callable ``send(message)`` taking an :class:`email.message.EmailMessage`. Each message has
a plain-text and an HTML part, both rendered from overridable templates
(``kashflow_links/email/<name>.txt`` and ``.html``). Its From address and ``Message-ID``
domain come from configuration only.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import typing as t
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr
from email.utils import make_msgid

from flask import render_template

from .config import Brand
from .config import MailSettings
from .exceptions import KashFlowLinksError
from .formatting import text_on

log = logging.getLogger(__name__)


class MailError(KashFlowLinksError, RuntimeError):
    """A message could not be handed to the mail server (or the mail callable failed)."""


def mask_address(address: str) -> str:
    """``jane.doe@example.co.uk`` -> ``ja***@ex***.co.uk``: enough to recognise, not to copy."""
    local, _, domain = address.partition("@")
    host, dot, suffix = domain.partition(".")
    return f"{local[:2]}***@{host[:2]}***{dot}{suffix}"


def build_message(
    template: str,
    *,
    subject: str,
    recipients: t.Sequence[str],
    sender: str,
    brand: Brand,
    **context: t.Any,
) -> EmailMessage:
    """An email with text and HTML parts from ``kashflow_links/email/<template>.txt`` and
    ``.html``, rendered with *brand*, ``on_accent`` and *context*."""
    context.update(
        brand=brand,
        # The button's text colour, black or white, whichever reads on the accent colour.
        on_accent=text_on(brand.accent_colour),
    )
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    if brand.email:
        message["Reply-To"] = formataddr((brand.name, brand.email))
    message["Message-ID"] = make_msgid(domain=_domain_of(sender))
    # Keep mail robots from archiving or auto-following: this message carries a credential.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_template(f"kashflow_links/email/{template}.txt", **context))
    message.add_alternative(
        render_template(f"kashflow_links/email/{template}.html", **context), subtype="html"
    )
    return message


def sender_of(mail: MailSettings | t.Callable[..., t.Any], brand: Brand, host: str | None) -> str:
    """The From address of the portal's emails (and so their ``Message-ID``'s domain), from
    configuration only, never from a request's Host header: the SMTP settings' sender, else
    the brand's email, else ``no-reply`` at the site's configured *host*."""
    if isinstance(mail, MailSettings):
        return mail.sender
    if brand.email:
        return formataddr((brand.name, brand.email))
    return formataddr((brand.name, f"no-reply@{host or 'localhost'}"))


def _domain_of(sender: str) -> str:
    try:
        return Address(addr_spec=sender.split("<")[-1].rstrip(">").strip()).domain or "localhost"
    except (ValueError, IndexError):
        return "localhost"


def _starttls(mail: MailSettings, smtp: smtplib.SMTP) -> bool:
    """Whether to upgrade the connection with STARTTLS: when asked to (``use_tls=True``, and
    smtplib refuses a server that does not offer it), or by default whenever the server offers
    it; never over ``use_ssl`` (already TLS) or with the explicit opt-out ``use_tls=False``."""
    if mail.use_ssl or mail.use_tls is False:
        return False
    if mail.use_tls:
        return True
    smtp.ehlo_or_helo_if_needed()
    return smtp.has_extn("starttls")


def send(
    mail: MailSettings | t.Callable[[EmailMessage], t.Any], message: EmailMessage
) -> frozenset[str]:
    """Hand *message* to the configured mailer; the recipients an SMTP server refused while
    taking it for the others (empty from a mail callable).

    :raises MailError: the SMTP server refused the message (every recipient) or could not be
        reached (logged without the message body, which holds the link).
    """
    if callable(mail) and not isinstance(mail, MailSettings):
        try:
            mail(message)
        except Exception as e:
            raise MailError(f"the mail callable failed: {type(e).__name__}") from e
        return frozenset()
    try:
        if mail.use_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                mail.host, mail.port, timeout=mail.timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout)
        with smtp:
            if _starttls(mail, smtp):
                smtp.starttls(context=ssl.create_default_context())
            if mail.username:
                smtp.login(mail.username, mail.password)
            refused = smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as e:
        raise MailError(f"SMTP {mail.host}:{mail.port} failed: {type(e).__name__}") from e
    return frozenset(refused)
