"""``python -m kashflow_sandbox``: serve the sandbox until Ctrl-C (``--help`` lists the
options)."""

from __future__ import annotations

from .command import main

if __name__ == "__main__":
    main("python -m kashflow_sandbox")
