"""``python -m flask_kashflow_links._sandbox``: the sandbox command under its old name.

The public way is ``python -m flask_kashflow_links.testing`` (or ``flask kashflow-links
sandbox``); this stays for scripts written before it.
"""

from __future__ import annotations

from .command import main

if __name__ == "__main__":
    main("python -m flask_kashflow_links._sandbox")
