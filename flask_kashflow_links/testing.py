"""Test and demo helpers: :class:`KashFlowSandbox`, a local KashFlow REST API v2 and SOAP API.

The sandbox is a real HTTP server on a free local port that speaks the part of KashFlow's
REST API v2 an invoice portal needs, with KashFlow's field names, status codes, error
bodies, date strings and four-decimal amounts:

- ``POST /v2/sessiontoken`` then ``PUT /v2/sessiontoken`` (username and password, then three
  characters of the memorable word), ``DELETE /v2/sessiontoken/{token}``;
- ``GET /v2/invoices`` (paged, sorted, filtered by ``customercode`` and ``filterby``),
  ``GET /v2/invoices/{number}``, ``GET /v2/customers/{code}``;
- the PDF permalinks ``/v2/documents/invoice/{key}``,
  ``/v2/documents/invoice/payment/{key}``, ``/v2/documents/packingslip/{key}`` and
  ``/v2/documents/customerstatement/{key}``.

Everything but the login needs ``Authorization: KfToken <SessionToken>``.

The same server speaks KashFlow's legacy SOAP service over the same data, counters and faults:
``POST /api/service.asmx`` (:attr:`KashFlowSandbox.soap_url`) in SOAP 1.1 (``text/xml`` with
``SOAPAction: "KashFlow/GetInvoice"``, quoted or not) and SOAP 1.2 (``application/soap+xml;
action="KashFlow/GetInvoice"``), namespace ``KashFlow``, ``UserName`` and ``Password`` in every
call, with ``GetCustomer``, ``GetCustomerByID``, ``GetInvoice``, ``GetInvoicesForCustomer``
(by the numeric ``CustID``), ``GetInvoicePayment`` and ``GetInvoices_Recent``. Answers carry
``Status`` ``OK`` or ``NO`` with a ``StatusDetail`` inside HTTP 200 ("Incorrect username or
password", "The IP address of 127.0.0.1 is not in the access list"); protocol errors are HTTP
500 ``soap:Fault``. Calls count as ``soap.GetInvoice`` and so on, and every generic fault reaches
them through that endpoint name or the prefix ``"soap"``. ``account_config(api="soap")`` gives
the SOAP credentials; ``set_soap_password_mode("separate")`` accepts only the separate API
password (``KashFlowSandbox(soap_password=...)``, ``"sandbox-api-password"`` by default).
SOAP switches: ``soap_status_no_next``, ``soap_fail_next`` (a ``soap:Fault`` or an HTML page),
``set_soap_ip_blocked``, ``set_soap_enabled``, ``set_soap_not_found_answer`` (``"no"``,
``"missing"``, ``"nil"``, ``"zero"``) and ``set_soap_empty_list_answer`` (``"empty"``,
``"missing"``, ``"nil"``). A SOAP client has no session token for the invoice ``PermaLink``:
``KashFlowSandbox(public_documents=True)`` (or ``set_public_documents()``) serves document
permalinks without one.

Use it in your own tests, one server per module and a clean slate per test::

    import pytest
    from flask_kashflow_links.testing import KashFlowSandbox

    from myshop import create_app, links  # your factory and its KashFlowLinks()

    @pytest.fixture(scope="module")
    def kashflow():
        with KashFlowSandbox() as sandbox:
            yield sandbox

    @pytest.fixture
    def app(kashflow):
        kashflow.clear_faults()
        kashflow.reset_counters()
        return create_app({
            "KASHFLOW_LINKS_API_BASE_URL": kashflow.url,
            "KASHFLOW_LINKS_ACCOUNTS": {"main": kashflow.account_config()},
            # ... your keys and other settings
        })

    def test_invoice_page_survives_a_kashflow_outage(app, kashflow):
        with app.test_request_context():
            url = links.mint_invoice(1043).url
        client = app.test_client()
        assert client.get(url).status_code == 200   # fetched from the sandbox
        kashflow.fail_next(3, 503)
        assert client.get(url).status_code == 200   # still shown while KashFlow fails
        assert kashflow.logins == 1                 # the session token was reused

Two readings of KashFlow's fields are served (KashFlow's official examples and the Swagger
copy disagree, and a portal must cope with both):

- ``KashFlowSandbox(shape="swagger")``, the default: the Swagger copy's fields, with
  ``DueAmount`` on rows and details, ``CustomerCode`` on the detail, ``Type``
  (``"Invoice"``/``"CreditNote"``), ``IsPaymentCreditNote`` on payment lines and
  ``TotalPaidAmount`` in the invoice's currency;
- ``shape="documented"``: exactly the fields of KashFlow's official examples: no
  ``DueAmount``, no ``Type``, no ``CustomerCode`` on the detail (list rows keep it),
  ``TotalPaidAmount`` in pounds (the invoice-currency total divided by its
  ``ExchangeRate``), the customer's currency as ``DisplayOnRight``.

Contacts carry ``IsPrimary`` and ``ReceiveEmails`` in both. Switch at run time with
``set_shape("documented")`` (or the control route, or ``--shape``).

The demo data is deterministic for a given ``seed`` and ``today`` (dates are relative to
``today``). Highlights: ``ACME01`` (Acme Trading Ltd, 12 invoices of mixed statuses,
including the Overdue invoice 1043), ``BIGCO01`` (260 invoices of every status),
``MULLER01`` (euros, symbol on the right), customers with very long, Arabic and Japanese
names, and KashFlow's documented examples (``TCUST01``, ``TCUST02``, ``BALA01``,
``BALA02``, ``PDRI91``; invoices 1-4). The awkward cases come last: ``CREDIT01`` (credit
notes with negative amounts, allocated and not, and invoices paid by them), ``DUBOIS01``
(a part-paid invoice in euros), ``QUIET01`` (every contact opted out of emails) and
``MIXED01`` (some opted out, the primary one too). Read :attr:`KashFlowSandbox.invoices` and
:attr:`KashFlowSandbox.customers` for the exact values to assert on.

Faults are queued one-shot (``fail_next``, ``sql_timeout_next``, ``rate_limit_next``,
``malformed_next``, ``truncate_pdf_next``, ``hang_next``, ``drop_next``,
``other_401_next`` (a 401 that is not ``InvalidSessionToken``), ``html_documents_next`` (a
sign-in page with HTTP 200 instead of a PDF), ``password_expired_next`` (``PasswordExpired``
at login step 1) and ``null_metadata_next`` (``"MetaData": null`` on a list)) or standing
(``set_latency``, ``lock_account`` (``AccountLocked``, "User account is locked, please
contact administrator."), ``set_max_perpage``, ``ignore_filters``, ``redirect_documents``
(302 to the same host, another host name or a given URL) and
``set_missing_invoice_answer`` (``"404"``, ``"400"`` or ``"null"``)); an ``endpoint`` such
as ``"invoices.get"`` or the prefix ``"invoices"`` narrows them, and ``clear_faults()``
removes them all. Pass ``clock=`` and ``sleep=`` to drive timeouts and delays without waiting.
Processes that cannot call these methods (a portal under gunicorn, a benchmark) use the
unauthenticated control routes ``GET /_sandbox/stats`` and ``POST /_sandbox/faults``
(``{"action": "fail_next", "n": 2, "status": 503}``, ``{"action": "set_shape", "shape":
"documented"}``).

Run one by hand with ``python -m flask_kashflow_links.testing --port 8765`` (add
``--shape documented`` for the documented fields); it prints the settings that point the portal
at it.
"""

from __future__ import annotations

from ._sandbox.data import SandboxData
from ._sandbox.server import KashFlowSandbox

__all__ = ["KashFlowSandbox", "SandboxData"]


if __name__ == "__main__":
    # ``python -m flask_kashflow_links.testing``: serve a sandbox until Ctrl-C, printing the
    # settings that point the portal at it (``--help`` lists the options).
    from ._sandbox.command import main

    main("python -m flask_kashflow_links.testing")
