"""Redaction benchmark: the cost of cleaning one log line, by line length and shape.

Run: ``.venv/bin/python bench/bench_redaction.py``. An access-log line carries the client's
``User-Agent`` and ``Referer``, so an attacker chooses its length and content. For each hostile
shape and length this prints the best of several timings of
:func:`flask_kashflow_links.redaction.redact`, and, as the baseline measured in the same run,
the unanchored pattern the portal used before (up to 16k characters: beyond that it takes
seconds). Writes ``bench/results/redaction.json``.
"""

from __future__ import annotations

import json
import platform
import re
import time
import typing as t
from pathlib import Path

from flask_kashflow_links.redaction import redact

RESULTS = Path(__file__).parent / "results" / "redaction.json"
LENGTHS = (1_000, 8_000, 16_000, 64_000)
#: The pattern before the fix: a match could start anywhere in a run.
UNANCHORED = re.compile(r"[A-Za-z0-9_-]{40,}\.[A-Za-z0-9_-]{1,12}\.[A-Za-z0-9_-]{20,64}")
SHAPES: dict[str, t.Callable[[int], str]] = {
    "one long run": lambda n: "a" * n,
    "almost tokens": lambda n: ("a" * 50 + "." + "b" * 12 + "." + "c" * 19 + " ") * (n // 83),
    "a real request line": lambda n: (
        '127.0.0.1 - - "GET /invoices/'
        + "gAAAAABrAj3cEag2-q2hwXa1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuVwXyZ_0.awI93A.GKvuDD-3Vu6-CJk"
        + '" 200 "Mozilla/5.0 '
        + "x" * max(0, n - 160)
        + '"'
    ),
}


def best_ms(action: t.Callable[[str], object], text: str, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action(text)
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    rows = []
    for shape, make in SHAPES.items():
        for length in LENGTHS:
            text = make(length)
            now = best_ms(redact, text, 21)
            before = (
                best_ms(lambda s: UNANCHORED.sub("[link]", s), text, 3)
                if length <= 16_000
                else None
            )
            rows.append({"shape": shape, "chars": len(text), "ms": now, "unanchored_ms": before})
    print(f"{'shape':<22}{'chars':>8}{'redact ms':>12}{'unanchored ms':>16}{'ratio':>9}")
    for row in rows:
        before = row["unanchored_ms"]
        ratio = f"{before / row['ms']:.0f}x" if before else "-"
        shown = f"{before:.2f}" if before is not None else "(skipped)"
        print(f"{row['shape']:<22}{row['chars']:>8}{row['ms']:>12.3f}{shown:>16}{ratio:>9}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": platform.platform(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
