"""Fresh-link email over SMTP: STARTTLS whenever the server offers it, with an explicit opt-out.

A real SMTP server (aiosmtpd) offering STARTTLS with a certificate made for the test; the
client trusts it through ``SSL_CERT_FILE``, as it would a public certificate authority.
"""

from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import ssl
import typing as t
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from flask_kashflow_links.config import MailSettings
from flask_kashflow_links.mail import MailError
from flask_kashflow_links.mail import send

from .services import free_port


class Inbox:
    """Keeps each message and whether its session was encrypted."""

    def __init__(self) -> None:
        self.received: list[tuple[bool, EmailMessage]] = []

    async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((session.ssl is not None, t.cast(EmailMessage, message)))
        return "250 Message accepted"


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kfl test smtp")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp.pem", folder / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def trusted_cert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    cert_path, key_path = certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))  # read by ssl.create_default_context()
    return cert_path, key_path


def smtp_server(inbox: Inbox, tls: tuple[Path, Path] | None) -> Controller:
    context = None
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=context)
    controller.start()
    return controller


def message() -> EmailMessage:
    out = EmailMessage()
    out["From"], out["To"], out["Subject"] = "billing@acme.example", "c@client.example", "Link"
    out.set_content("https://portal.example/invoices/...")
    return out


def mail(controller: Controller, **settings: t.Any) -> MailSettings:
    return MailSettings(
        host="127.0.0.1", port=controller.port, sender="billing@acme.example", **settings
    )


@pytest.mark.parametrize(("use_tls", "encrypted"), [(None, True), (True, True), (False, False)])
def test_starttls_is_used_whenever_offered_unless_turned_off(
    trusted_cert: tuple[Path, Path], use_tls: bool | None, encrypted: bool
) -> None:
    inbox = Inbox()
    controller = smtp_server(inbox, trusted_cert)
    try:
        send(mail(controller, use_tls=use_tls), message())
    finally:
        controller.stop()
    assert [sealed for sealed, _ in inbox.received] == [encrypted]


def test_the_default_settings_use_starttls() -> None:
    assert MailSettings().use_tls is None


def test_a_server_without_starttls_is_used_in_clear_unless_tls_is_required() -> None:
    inbox = Inbox()
    controller = smtp_server(inbox, None)
    try:
        send(mail(controller), message())
        with pytest.raises(MailError):
            send(mail(controller, use_tls=True), message())
    finally:
        controller.stop()
    assert [sealed for sealed, _ in inbox.received] == [False]


def test_an_untrusted_certificate_fails_rather_than_sending_in_clear(tmp_path: Path) -> None:
    inbox = Inbox()
    controller = smtp_server(inbox, certificate(tmp_path))  # not in SSL_CERT_FILE
    try:
        with pytest.raises(MailError, match="SSLCertVerificationError"):
            send(mail(controller), message())
    finally:
        controller.stop()
    assert inbox.received == []
