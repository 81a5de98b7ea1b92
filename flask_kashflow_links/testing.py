"""Test and demo helpers: :class:`KashFlowSandbox`, a local KashFlow REST API v2 and SOAP API.

The sandbox is its own distribution, ``kashflow-sandbox`` (import ``kashflow_sandbox``): install
it beside the portal with ``pip install kashflow-sandbox``, or ``pip install ./sandbox`` from a
checkout of this repository. This module re-exports it, so that a site's tests can say::

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

What it serves, its demo data, its faults and switches and its control routes are described in
the sandbox's README (``sandbox/README.md``) and in the documentation's "Testing with the
sandbox" page. ``python -m flask_kashflow_links.testing`` runs the sandbox's own command
(``python -m kashflow_sandbox``): it serves until Ctrl-C and prints the settings that point the
portal at it.
"""

from __future__ import annotations

import sys

#: What to do when the sandbox is missing, in one line.
INSTALL_HINT = (
    "flask_kashflow_links.testing needs the kashflow-sandbox distribution: pip install "
    "kashflow-sandbox (or pip install ./sandbox from a checkout of flask-kashflow-links)"
)

try:
    from kashflow_sandbox import KashFlowSandbox
    from kashflow_sandbox import SandboxData
except ModuleNotFoundError as e:
    # Only the sandbox itself missing gets the hint; a dependency it lacks is its own error.
    if e.name != "kashflow_sandbox":
        raise
    if __name__ == "__main__":
        sys.exit(INSTALL_HINT)
    raise ImportError(INSTALL_HINT, name="kashflow_sandbox") from None

__all__ = ["KashFlowSandbox", "SandboxData"]


if __name__ == "__main__":
    # ``python -m flask_kashflow_links.testing``: the sandbox's command under the portal's name.
    from kashflow_sandbox.command import main

    main("python -m flask_kashflow_links.testing")
