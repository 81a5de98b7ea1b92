"""Run a KashFlow sandbox in the foreground: ``python -m flask_kashflow_links._sandbox``.

Useful for trying a client by hand or serving the example site from another process. The
credentials are the :class:`~flask_kashflow_links.testing.KashFlowSandbox` defaults unless
given; the password and memorable word are not printed.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from datetime import date

from .server import KashFlowSandbox
from .shapes import SHAPES


def main(argv: list[str] | None = None) -> int:
    """Parse *argv*, serve until interrupted, return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m flask_kashflow_links._sandbox",
        description="Serve a KashFlow REST API v2 sandbox with demo data.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--username", default="sandbox@example.test")
    parser.add_argument("--password", default=None, help="default: the KashFlowSandbox default")
    parser.add_argument("--memorable-word", default=None, help="default: the class default")
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-demo-data", action="store_true")
    parser.add_argument(
        "--shape",
        choices=sorted(SHAPES),
        default="swagger",
        help="fields served: the Swagger copy's (default) or exactly the documented examples'",
    )
    args = parser.parse_args(argv)

    sandbox = KashFlowSandbox(
        host=args.host,
        port=args.port,
        username=args.username,
        today=args.today,
        seed=args.seed,
        demo_data=not args.no_demo_data,
        shape=args.shape,
    )
    if args.password is not None:
        sandbox.password = args.password
    if args.memorable_word is not None:
        if len(args.memorable_word) < 3:
            parser.error("the memorable word needs at least 3 characters")
        sandbox.memorable_word = args.memorable_word
    with sandbox:
        print(f"KashFlow sandbox API: {sandbox.url}  (user {sandbox.username})", flush=True)
        if sandbox.shape != "swagger":
            print(f"Fields: exactly KashFlow's {sandbox.shape} examples", flush=True)
        print(f"Counters: {sandbox.origin}/_sandbox/stats   Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
