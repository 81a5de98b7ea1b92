"""The SOAP sandbox's public methods and switches (a mixin of the facade).

Generic faults reach SOAP too, by endpoint: ``fail_next(1, endpoint="soap")`` answers an HTTP
500/503 ``soap:Fault`` (or the body given), ``malformed_next(1, "soap.GetInvoice")`` cuts the
XML, ``set_latency(1, "soap")``, ``hang_next`` and ``drop_next`` work as for REST. Every method
here is also a control-route action (:data:`ACTIONS`).
"""

from __future__ import annotations

from ..faults import FAIL
from ..faults import Fault
from ..faults import check_status
from ..state import SandboxState
from .api import EMPTY_LIST_ANSWERS
from .api import NOT_FOUND_ANSWERS
from .api import PASSWORD_MODES
from .api import STATUS_NO
from .api import SoapApi

#: The methods the control route may call, by name.
ACTIONS = (
    "set_soap_password_mode",
    "soap_status_no_next",
    "soap_fail_next",
    "set_soap_enabled",
    "set_soap_ip_blocked",
    "set_soap_not_found_answer",
    "set_soap_empty_list_answer",
    "set_public_documents",
)
#: An error page from a proxy in front of the service.
HTML_ERROR = (
    "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>"
    "<body><h1>Service Unavailable</h1><p>HTTP Error 503. The service is unavailable.</p>"
    "</body></html>\n"
)


class SoapControls:
    """SOAP switches and faults; every method is thread-safe."""

    _state: SandboxState
    _soap: SoapApi

    @property
    def soap_password(self) -> str:
        """The separate API password (accepted only in "separate" mode)."""
        return self._soap.settings.api_password

    @property
    def soap_password_mode(self) -> str:
        """``"login"`` (the web login password works) or ``"separate"`` (only the API
        password does)."""
        return self._soap.settings.password_mode

    @property
    def public_documents(self) -> bool:
        """Whether document permalinks are served without a session token (see
        :meth:`set_public_documents`)."""
        return self._state.public_documents

    def set_soap_password_mode(self, mode: str) -> None:
        """Which password SOAP calls must carry: ``"login"`` or ``"separate"``. The other one
        is refused with ``Status NO``, "Incorrect username or password"."""
        if mode not in PASSWORD_MODES:
            raise ValueError(f"mode must be one of {', '.join(PASSWORD_MODES)}, not {mode!r}")
        with self._state.lock:
            self._soap.settings.password_mode = mode

    def soap_status_no_next(
        self, n: int, message: str = "An error has occurred", operation: str | None = None
    ) -> None:
        """Answer the next *n* SOAP calls (of *operation*, if given) with ``Status NO`` and
        *message* as ``StatusDetail``, inside HTTP 200."""
        if not isinstance(message, str):
            raise ValueError(f"message must be text, not {message!r}")
        fault = Fault(STATUS_NO, _endpoint(operation), message=message)
        with self._state.lock:
            self._state.faults.push(n, fault)

    def soap_fail_next(
        self, n: int, status: int = 500, *, html: bool = False, operation: str | None = None
    ) -> None:
        """Answer the next *n* SOAP calls with HTTP *status* (500, 503 ...) and a
        ``soap:Fault``, or an HTML error page if *html*."""
        check_status(status)
        body = HTML_ERROR if html else None
        headers = {"Content-Type": "text/html; charset=utf-8"} if html else {}
        fault = Fault(FAIL, _endpoint(operation), status=status, body=body, headers=headers)
        with self._state.lock:
            self._state.faults.push(n, fault)

    def set_soap_enabled(self, flag: bool = True) -> None:
        """Untick (False) or tick "Enable SOAP API": when unticked every call answers
        ``Status NO``. KashFlow's real wording for it is unconfirmed."""
        with self._state.lock:
            self._soap.settings.enabled = bool(flag)

    def set_soap_ip_blocked(self, flag: bool = True, ip: str | None = None) -> None:
        """Refuse every SOAP call with "The IP address of <ip> is not in the access list"
        (*ip* defaults to the caller's own address), or stop refusing."""
        with self._state.lock:
            self._soap.settings.blocked_ip = (ip or "") if flag else None

    def set_soap_not_found_answer(self, answer: str) -> None:
        """How an unknown customer or invoice is answered: ``"no"`` (``Status NO`` with a
        message, the default), ``"missing"`` (``Status OK``, no result element), ``"nil"``
        (``Status OK``, ``xsi:nil`` result) or ``"zero"`` (an object whose ids are 0; an
        empty list for list operations). KashFlow's own behaviour is unconfirmed."""
        if answer not in NOT_FOUND_ANSWERS:
            raise ValueError(f"answer must be one of {', '.join(NOT_FOUND_ANSWERS)}")
        with self._state.lock:
            self._soap.settings.not_found = answer

    def set_soap_empty_list_answer(self, answer: str) -> None:
        """How an empty list is written: ``"empty"`` (``<XResult />``, the default),
        ``"missing"`` (no result element) or ``"nil"`` (``xsi:nil="true"``)."""
        if answer not in EMPTY_LIST_ANSWERS:
            raise ValueError(f"answer must be one of {', '.join(EMPTY_LIST_ANSWERS)}")
        with self._state.lock:
            self._soap.settings.empty_list = answer

    def set_public_documents(self, flag: bool = True) -> None:
        """Serve document permalinks (invoice PDFs, receipts, statements) to requests that
        carry no session token, or stop (the default). A SOAP client has no session, so the
        PDF behind an invoice's ``PermaLink`` reaches it only this way; whether KashFlow serves
        permalinks without a session is unconfirmed. Account set-up: ``clear_faults`` keeps
        it."""
        with self._state.lock:
            self._state.public_documents = bool(flag)


def _endpoint(operation: str | None) -> str:
    return "soap" if operation is None else f"soap.{operation}"


__all__ = ["ACTIONS", "HTML_ERROR", "SoapControls"]
