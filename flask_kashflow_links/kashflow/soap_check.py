"""The connection check of a SOAP account: one cheap authenticated call, plain advice.

``GetInvoices_Recent`` with ``NumberOfInvoices`` 1 proves the username, password, this
server's address and the "Enable SOAP API" setting at once, for the price of one invoice. When
KashFlow refuses, the check quotes its ``StatusDetail`` and names the likely causes with the
fix for each (see :data:`~.soap_status.CAUSES`), and pauses the account's calls as the portal
would. When it accepts, the newest invoice's ``PermaLink`` is downloaded (a plain GET, not a
SOAP call) to learn whether KashFlow serves PDFs without a session.
"""

from __future__ import annotations

import typing as t
from datetime import date

from ..exceptions import KashFlowAuthError
from ..exceptions import KashFlowBadResponse
from ..exceptions import KashFlowError
from ..exceptions import KashFlowUnavailable
from .backend import Connection
from .backend import Login
from .http import PROBE_MAX_BYTES
from .soap_http import Permalinks
from .soap_status import advice
from .soap_status import refusal_kind
from .soap_xml import Answer
from .soap_xml import invoice_from_soap
from .soap_xml import items


class Checked(t.Protocol):
    """What the check needs of a SOAP backend."""

    base_url: str
    permalinks: Permalinks
    today: t.Callable[[], date]

    def call_unpaused(
        self, login: Login, operation: str, params: t.Sequence[tuple[str, str | int]], what: str
    ) -> Answer: ...

    def refused(
        self, login: Login, kind: str, detail: str, *, quiet: bool = False
    ) -> KashFlowError: ...

    def resume(self, login: Login) -> None: ...


def check_connection(backend: Checked, login: Login) -> Connection:
    """What one call tells about *login*'s account; problems (never a raise) when it fails."""
    try:
        answer = backend.call_unpaused(
            login, "GetInvoices_Recent", [("NumberOfInvoices", 1)], "the newest invoice"
        )
    except KashFlowUnavailable as e:
        return _failed(
            f"cannot reach KashFlow's SOAP service ({e}). Check KASHFLOW_LINKS_SOAP_URL "
            f"({backend.base_url}), DNS, the firewall and any proxy; KashFlow may also be down."
        )
    except KashFlowBadResponse as e:
        return _failed(
            f"the SOAP service answered unexpectedly ({e}). Is KASHFLOW_LINKS_SOAP_URL KashFlow's "
            "SOAP API (https://securedwebapp.com/api/service.asmx)?"
        )
    except KashFlowAuthError as e:
        return _failed(f"{e}: correct the configured credentials")
    if not answer.ok:
        kind = refusal_kind(answer.detail)
        if kind is not None:
            # As the portal would: a refused password is not tried again on every run.
            backend.refused(login, kind, answer.detail, quiet=True)
        return Connection(signed_in=False, problems=advice(answer.detail))
    backend.resume(login)
    findings = [
        "KashFlow accepted the username and password over SOAP (there is no session: they go "
        "with every call)"
    ]
    warnings: list[str] = []
    newest = next(iter(items(answer.result)), None)
    invoice = invoice_from_soap(newest, today=backend.today())
    if invoice is None:
        findings.append("no invoices yet, so invoice PDFs were not tried")
    elif not invoice.permalink:
        warnings.append(
            f"KashFlow gave no PermaLink for invoice {invoice.number}: the pages offer no PDF "
            "for invoices without one"
        )
    else:
        try:
            pdf = backend.permalinks.fetch(invoice.permalink, max_bytes=PROBE_MAX_BYTES)
        except KashFlowError as e:
            warnings.append(
                f"invoice {invoice.number}'s PDF did not download ({e}); clients of this "
                "account will see 'temporarily unavailable' instead of a PDF"
            )
        else:
            findings.append(
                f"invoice PDFs download from the PermaLink without a session (invoice "
                f"{invoice.number}: {len(pdf) // 1024 + 1} KB)"
            )
    findings.append(
        "customer statements and payment receipts are not part of the SOAP API: the pages do "
        "not offer them"
    )
    return Connection(findings=tuple(findings), warnings=tuple(warnings))


def _failed(problem: str) -> Connection:
    return Connection(signed_in=False, problems=(problem,))


__all__ = ["PROBE_MAX_BYTES", "Checked", "check_connection"]
