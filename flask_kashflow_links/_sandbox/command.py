"""``flask kashflow-links sandbox``: serve the KashFlow sandbox until Ctrl-C.

Loaded on demand by the CLI (see ``cli._Commands``), so the portal never imports the sandbox.
"""

from __future__ import annotations

import threading

import click

from .server import KashFlowSandbox
from .shapes import SHAPES


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--shape",
    default="swagger",
    show_default=True,
    type=click.Choice(list(SHAPES)),
    help="The fields answers carry: the Swagger copy's, or exactly KashFlow's documented ones.",
)
def sandbox(host: str, port: int, shape: str) -> None:
    """Serve the KashFlow sandbox (a local KashFlow API with demo data) until Ctrl-C."""
    with KashFlowSandbox(host=host, port=port, shape=shape) as server:
        shown = "" if shape == "swagger" else f" ({shape} shape)"
        click.echo(f"KashFlow sandbox serving {server.url}{shown}")
        click.echo(f"  KASHFLOW_LINKS_API_BASE_URL = {server.url!r}")
        click.echo(
            "  KASHFLOW_LINKS_ACCOUNTS = {'demo': KashFlowSandbox().account_config()}  "
            f"(user {server.username!r}; the sandbox's documented demo password)"
        )
        click.echo(f"  counters: {server.origin}/_sandbox/stats   Ctrl-C stops it")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            click.echo("stopped")


__all__ = ["sandbox"]
