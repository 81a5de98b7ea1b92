"""``python -m kashflow_sandbox``: real defaults, and settings printed to paste that work
(issue 14, point 12)."""

from __future__ import annotations

import ast
import shlex
import subprocess
import sys
import threading
import typing as t

import requests
from defusedxml.ElementTree import fromstring

from kashflow_sandbox import KashFlowSandbox
from kashflow_sandbox.command import settings_to_paste
from sandbox_client import TIMEOUT
from sandbox_client import TODAY
from sandbox_client import login_at
from sandbox_soap_client import KF
from sandbox_soap_client import SOAP11
from sandbox_soap_client import call
from sandbox_soap_client import envelope

COMMAND = [sys.executable, "-m", "kashflow_sandbox"]


def serve(*args: str, snippets: int = 1) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``python -m kashflow_sandbox`` on a free port and read what it prints up to the
    last line of its *snippets*-th config snippet (or all of it, if it prints fewer)."""
    process = subprocess.Popen([*COMMAND, "--port", "0", *args], stdout=subprocess.PIPE, text=True)
    # If the output never comes, stopping the process ends the reading with a failure.
    guard = threading.Timer(30, process.terminate)
    guard.start()
    assert process.stdout is not None
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("KASHFLOW_LINKS_ACCOUNTS"):
                snippets -= 1
                if not snippets:
                    break
    finally:
        guard.cancel()
    return process, lines


def pasted_config(lines: list[str]) -> dict[str, t.Any]:
    """The config snippet's assignments, as Python would read them from a config file."""
    config: dict[str, t.Any] = {}
    for line in lines:
        if line.startswith("KASHFLOW_LINKS_"):
            name, _, value = line.partition(" = ")
            config[name] = ast.literal_eval(value)
    return config


def pasted_environment(lines: list[str]) -> dict[str, str]:
    """What a shell would export from the printed ``export`` lines."""
    env = {}
    for line in lines:
        if line.startswith("export "):
            [assignment] = shlex.split(line[len("export ") :])
            name, _, value = assignment.partition("=")
            env[name] = value
    return env


def test_it_serves_and_prints_settings_that_work() -> None:
    process, lines = serve("--memorable-word", "avocado pear")
    try:
        url = lines[0].split()[3]
        config = pasted_config(lines)
        assert config["KASHFLOW_LINKS_API_BASE_URL"] == url
        assert list(config["KASHFLOW_LINKS_ACCOUNTS"]) == ["main"]  # the docs' account id
        env = pasted_environment(lines)
        assert env == {
            "KASHFLOW_API_BASE_URL": url,
            "KASHFLOW_USERNAME": "sandbox@example.test",
            "KASHFLOW_PASSWORD": "correct horse battery",
            "KASHFLOW_MEMORABLE_WORD": "avocado pear",  # quoted for the shell
        }
        account = config["KASHFLOW_LINKS_ACCOUNTS"]["main"]
        assert login_at(url, account["username"], account["password"], "avocado pear")
    finally:
        process.terminate()
        process.wait(10)


def test_help_shows_the_real_defaults() -> None:
    shown = subprocess.run([*COMMAND, "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert text.startswith("Usage: python -m kashflow_sandbox [OPTIONS]")
    for default in (
        "[default: 127.0.0.1]",
        "[default: 8765;",
        "[default: sandbox@example.test]",
        "[default: correct horse battery]",
        "[default: pineapple]",
        "[default: 7]",
        "[default: swagger]",
    ):
        assert default in text, (default, text)


# --- the SOAP block (issue 21, point 2) -------------------------------------------------------

SOAP_HEADING = "For an account on KashFlow's SOAP API"


def test_the_settings_have_a_soap_block_whose_account_works() -> None:
    with KashFlowSandbox(today=TODAY) as sb:
        text = settings_to_paste(sb)
        rest, found, soap = text.partition(SOAP_HEADING)
        assert found, text
        # The REST block first, as it always was (the portal's README quotes it).
        assert rest.startswith("For the application factory of the quick start, in your shell:")
        assert "export KASHFLOW_MEMORABLE_WORD=pineapple" in rest
        assert list(pasted_config(rest.splitlines())) == [
            "KASHFLOW_LINKS_API_BASE_URL",
            "KASHFLOW_LINKS_SOAP_URL",
            "KASHFLOW_LINKS_ACCOUNTS",
        ]
        lines = soap.splitlines()
        assert f"SOAP user: {sb.username}" in lines
        assert any(line.startswith(f"SOAP API password: {sb.password}  (") for line in lines)
        config = pasted_config(lines)
        assert config["KASHFLOW_LINKS_SOAP_URL"] == sb.soap_url
        account = config["KASHFLOW_LINKS_ACCOUNTS"]["main"]
        # A SOAP account has no memorable word.
        assert account == {"api": "soap", "username": sb.username, "password": sb.password}
        assert "MEMORABLE" not in soap
        # What the quick start's SOAP factory reads (issue 21, point 1): the same account.
        assert pasted_environment(lines) == {
            "KASHFLOW_SOAP_URL": sb.soap_url,
            "KASHFLOW_USERNAME": sb.username,
            "KASHFLOW_PASSWORD": sb.password,
        }
        recent = "<NumberOfInvoices>1</NumberOfInvoices>"
        soap_call = call(sb, "GetInvoices_Recent", recent, password=account["password"])
        assert soap_call.status == "OK"

        sb.set_soap_password_mode("separate")
        lines = settings_to_paste(sb).partition(SOAP_HEADING)[2].splitlines()
        account = pasted_config(lines)["KASHFLOW_LINKS_ACCOUNTS"]["main"]
        assert account["password"] == sb.soap_password == "sandbox-api-password"
        assert pasted_environment(lines)["KASHFLOW_PASSWORD"] == sb.soap_password
        assert call(sb, "GetInvoices_Recent", recent, password=account["password"]).status == "OK"
        assert call(sb, "GetInvoices_Recent", recent).status == "NO"  # the login password


def test_the_command_prints_the_soap_block_after_the_rest_one() -> None:
    process, lines = serve(snippets=2)
    process.terminate()
    process.wait(10)
    heading = next(i for i, line in enumerate(lines) if line.startswith(SOAP_HEADING))
    rest = pasted_config(lines[:heading])
    soap = pasted_config(lines[heading:])
    assert "memorable_word" in rest["KASHFLOW_LINKS_ACCOUNTS"]["main"]
    assert soap["KASHFLOW_LINKS_ACCOUNTS"]["main"]["api"] == "soap"
    assert soap["KASHFLOW_LINKS_SOAP_URL"] == rest["KASHFLOW_LINKS_SOAP_URL"]


# --- the SOAP modes on the command line (issue 21, point 3) -----------------------------------


def test_soap_password_mode_and_public_documents_options() -> None:
    process, lines = serve("--soap-password-mode", "separate", "--public-documents", snippets=2)
    try:
        heading = next(i for i, line in enumerate(lines) if line.startswith(SOAP_HEADING))
        soap_url = pasted_config(lines[heading:])["KASHFLOW_LINKS_SOAP_URL"]
        account = pasted_config(lines[heading:])["KASHFLOW_LINKS_ACCOUNTS"]["main"]
        assert account["password"] == "sandbox-api-password"  # the separate API password
        assert lines[1] == "Documents: permalinks served without a session token"
        answer = soap_at(soap_url, "GetInvoice", "<InvoiceNumber>1043</InvoiceNumber>", account)
        assert answer.findtext(f"{KF}Status") == "OK"
        refused = soap_at(
            soap_url, "GetInvoice", "", {**account, "password": "correct horse battery"}
        )
        assert refused.findtext(f"{KF}Status") == "NO"
        # Public documents: the invoice's PermaLink needs no session token.
        permalink = answer.findtext(f"{KF}GetInvoiceResult/{KF}PermaLink")
        pdf = requests.get(permalink, timeout=TIMEOUT)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    finally:
        process.terminate()
        process.wait(10)


def test_the_soap_options_default_to_the_login_password_and_private_documents() -> None:
    process, lines = serve("--private-documents", snippets=2)
    try:
        heading = next(i for i, line in enumerate(lines) if line.startswith(SOAP_HEADING))
        soap_url = pasted_config(lines[heading:])["KASHFLOW_LINKS_SOAP_URL"]
        account = pasted_config(lines[heading:])["KASHFLOW_LINKS_ACCOUNTS"]["main"]
        assert account["password"] == "correct horse battery"
        assert not any(line.startswith("Documents:") for line in lines)
        answer = soap_at(soap_url, "GetInvoice", "<InvoiceNumber>1043</InvoiceNumber>", account)
        permalink = answer.findtext(f"{KF}GetInvoiceResult/{KF}PermaLink")
        assert requests.get(permalink, timeout=TIMEOUT).status_code == 401
    finally:
        process.terminate()
        process.wait(10)
    bad = subprocess.run(
        [*COMMAND, "--soap-password-mode", "api"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "'api' is not one of 'login', 'separate'" in bad.stderr
    shown = subprocess.run([*COMMAND, "--help"], capture_output=True, text=True, timeout=60)
    text = " ".join(shown.stdout.split())
    assert "--soap-password-mode [login|separate]" in text and "[default: login]" in text
    assert "--public-documents / --private-documents" in text
    assert "[default: private-documents]" in text


def soap_at(url: str, operation: str, params: str, account: dict[str, str]) -> t.Any:
    """The ``<OperationResponse>`` of a SOAP 1.1 call to *url* with *account*'s credentials."""
    body = envelope(operation, params, user=account["username"], password=account["password"])
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f"KashFlow/{operation}"}
    http = requests.post(url, data=body.encode(), headers=headers, timeout=TIMEOUT)
    assert http.status_code == 200, http.text
    return fromstring(http.content).find(f"{{{SOAP11}}}Body/{KF}{operation}Response")
