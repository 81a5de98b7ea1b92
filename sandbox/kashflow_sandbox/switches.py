"""The response shape and the REST faults of the documented-vs-Swagger review (a mixin).

These imitate answers KashFlow plausibly gives but does not document: a 401 that is not an
expired session, documents behind redirects or answered as an HTML page, three ways to say
"no such invoice", ``PasswordExpired`` at login and a list without ``MetaData``. Every method
is also a control-route action (:data:`ACTIONS`).
"""

from __future__ import annotations

from .faults import FAIL
from .faults import Fault
from .faults import check_status
from .rest import NULL_METADATA
from .sessions import PASSWORD_EXPIRED
from .shapes import shape_named
from .state import SandboxState

#: The methods the control route may call, by name.
ACTIONS = (
    "set_shape",
    "set_missing_invoice_answer",
    "redirect_documents",
    "other_401_next",
    "html_documents_next",
    "password_expired_next",
    "null_metadata_next",
)
#: How ``GET /invoices/{number}`` may answer an unknown number.
MISSING_INVOICE_ANSWERS = ("404", "400", "null")
#: What a sign-in page served in place of a PDF looks like.
SIGN_IN_PAGE = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>KashFlow | Sign in</title>'
    '</head>\n<body><h1>Sign in to KashFlow</h1><form method="post" action="/login">'
    '<input name="username"><input name="password" type="password">'
    "<button>Sign in</button></form></body></html>\n"
)


class RestSwitches:
    """Shape switch and REST faults; every method is thread-safe."""

    _state: SandboxState

    @property
    def shape(self) -> str:
        """The response shape being served: ``"swagger"`` or ``"documented"``."""
        return self._state.shape.name

    def set_shape(self, shape: str) -> None:
        """Serve *shape* from now on: ``"swagger"`` (the Swagger copy's fields, the default)
        or ``"documented"`` (exactly the fields of KashFlow's official examples)."""
        chosen = shape_named(shape)
        with self._state.lock:
            self._state.shape = chosen

    def set_missing_invoice_answer(self, answer: str) -> None:
        """How ``GET /invoices/{n}`` answers an unknown number until changed: ``"404"`` (an
        error body, the default), ``"400"`` (``{"Error": "InvalidInvoiceNumber", ...}``) or
        ``"null"`` (HTTP 200 with the body ``null``). KashFlow documents none of them."""
        if answer not in MISSING_INVOICE_ANSWERS:
            raise ValueError(
                f"answer must be one of {', '.join(MISSING_INVOICE_ANSWERS)}, not {answer!r}"
            )
        with self._state.lock:
            self._state.missing_invoice_answer = answer

    def redirect_documents(self, to: str | None = "same") -> None:
        """Answer document requests with a 302 until changed (None stops it).

        The target, ``/v2/documents/download/<nonce>``, serves the PDF without a session
        token, like a pre-signed storage URL. *to* is ``"same"`` (this host),
        ``"other"`` (this sandbox under another loopback name: ``localhost`` for
        ``127.0.0.1``, so a client sees a different host) or a base URL such as
        ``"http://files.example.test:8080"`` (a host that may not answer at all).
        """
        if to is not None and (not isinstance(to, str) or not to):
            raise ValueError(f"to must be 'same', 'other', a base URL or None, not {to!r}")
        if to not in (None, "same", "other") and not to.startswith(("http://", "https://")):
            raise ValueError(f"to must be 'same', 'other', a base URL or None, not {to!r}")
        with self._state.lock:
            self._state.document_redirect = to

    def other_401_next(
        self,
        n: int,
        endpoint: str | None = "documents",
        *,
        error: str = "Unauthorized",
        message: str = "Authorization has been denied for this request.",
    ) -> None:
        """Answer the next *n* matching requests with a 401 that is **not**
        ``InvalidSessionToken``: by default ASP.NET's "Authorization has been denied" under
        ``Error: "Unauthorized"``; pass *error* and *message* for e.g. a role restriction.
        Logging in again does not help; a client must not loop on it."""
        body = {"Error": error, "Message": message}
        with self._state.lock:
            self._state.faults.push(n, Fault(FAIL, endpoint, status=401, body=body))

    def html_documents_next(self, n: int, endpoint: str | None = "documents") -> None:
        """Answer the next *n* matching requests with HTTP 200 and a ``text/html`` sign-in
        page instead of a PDF (the Swagger says documents are "PDF or HTML")."""
        headers = {"Content-Type": "text/html; charset=utf-8"}
        fault = Fault(FAIL, endpoint, status=200, body=SIGN_IN_PAGE, headers=headers)
        with self._state.lock:
            self._state.faults.push(n, fault)

    def password_expired_next(
        self, n: int = 1, status: int = 400, endpoint: str | None = "sessiontoken.post"
    ) -> None:
        """Answer the next *n* logins (step 1) with *status* (400 or 401) and
        ``{"Error": "PasswordExpired", ...}``, as community clients have met. Not counted
        as a failed login: the password was right, it must be changed in KashFlow."""
        if check_status(status) not in (400, 401):
            raise ValueError(f"status must be 400 or 401, not {status!r}")
        fault = Fault(FAIL, endpoint, status=status, body=dict(PASSWORD_EXPIRED))
        with self._state.lock:
            self._state.faults.push(n, fault)

    def null_metadata_next(self, n: int, endpoint: str | None = "invoices.list") -> None:
        """Answer the next *n* matching list requests with ``"MetaData": null`` (the rows
        are served as usual): a client must not need ``TotalRecords`` to stop paging."""
        with self._state.lock:
            self._state.faults.push(n, Fault(NULL_METADATA, endpoint))


__all__ = ["ACTIONS", "MISSING_INVOICE_ANSWERS", "SIGN_IN_PAGE", "RestSwitches"]
