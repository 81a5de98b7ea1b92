"""Fixtures of the sandbox's own tests: one sandbox per module, dated so that due dates and
overdue days are fixed, restored to normal around each test.

These tests use nothing of the portal (flask-kashflow-links) nor of its ``tests`` package:
the sandbox is a distribution of its own (``pip install ./sandbox``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kashflow_sandbox import KashFlowSandbox
from sandbox_client import TODAY
from sandbox_client import Api


def restore_switches(sandbox: KashFlowSandbox) -> None:
    """Every switch a test may turn, back to normal: no faults, the Swagger shape, documents
    only with a session, SOAP answering to the login password."""
    sandbox.clear_faults()
    sandbox.set_shape("swagger")
    sandbox.set_public_documents(False)
    sandbox.set_soap_password_mode("login")


@pytest.fixture(scope="module")
def dated_sandbox() -> Iterator[KashFlowSandbox]:
    """A sandbox of the test module's own (tests change its data), its demo data as of
    :data:`sandbox_client.TODAY`."""
    with KashFlowSandbox(today=TODAY) as server:
        yield server


@pytest.fixture
def sb(dated_sandbox: KashFlowSandbox) -> Iterator[KashFlowSandbox]:
    """The module's :func:`dated_sandbox`, its switches restored and counters zeroed around
    each test."""
    restore_switches(dated_sandbox)
    dated_sandbox.reset_counters()
    yield dated_sandbox
    restore_switches(dated_sandbox)


@pytest.fixture
def api(sb: KashFlowSandbox) -> Iterator[Api]:
    """A logged-in REST session against :func:`sb`."""
    client = Api(sb)
    yield client
    client.close()
