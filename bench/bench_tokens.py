"""Token benchmark: mint and verify medians, and token lengths per link kind.

Run: ``.venv/bin/python bench/bench_tokens.py``. "verify" is a first verification (all the
cryptography); "again" is the same link verified again (a decode the codec remembers, as on a
warm page). Prints a table and writes
``bench/results/tokens.json``. Baseline in the same run: a bare itsdangerous
``URLSafeTimedSerializer`` dumps/loads of a small JSON payload (no encryption), so the ratio
shows what the Fernet layer and the packed format cost on this machine.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
import typing as t
from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from itsdangerous import URLSafeTimedSerializer

from flask_kashflow_links.kashflow.backend import Credentials
from flask_kashflow_links.links.claims import Scope
from flask_kashflow_links.links.codec import TokenCodec

RESULTS = Path(__file__).parent / "results" / "tokens.json"
ROUNDS, PER_ROUND = 15, 2000


def median_us(action: t.Callable[[], object]) -> float:
    """Median over ROUNDS of the mean time per call (microseconds)."""
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(PER_ROUND):
            action()
        samples.append((time.perf_counter() - start) / PER_ROUND * 1e6)
    return statistics.median(samples)


def main() -> None:
    codec = TokenCodec([Fernet.generate_key()], [b"k" * 48])
    creds = Credentials("accounts@harbourlane.example", "a-long-password-1234", "pineapple")
    soap = Credentials("accounts@harbourlane.example", "a-long-password-1234", api="soap")
    kinds = {
        "invoice 987654": (Scope.for_invoice("acme", 987654), {}),
        "customer TCUST01 unpaid": (Scope.for_customer("acme", "TCUST01", "unpaid"), {}),
        "customer TCUST01 all, 90-day expiry": (
            Scope.for_customer("acme", "TCUST01"),
            {"lifetime": timedelta(days=90)},
        ),
        "invoice 987654, embed mode": (Scope.for_invoice("acme", 987654), {"credentials": creds}),
        "invoice 987654, embed mode, SOAP": (
            Scope.for_invoice("acme", 987654),
            {"credentials": soap},
        ),
    }
    rows = []
    for label, (scope, kwargs) in kinds.items():
        token, _ = codec.mint(scope, **kwargs)
        # A first verification does all the cryptography; the codec then remembers the
        # decode, so a link opened again (a warm page) costs far less.
        fresh = iter([codec.mint(scope, **kwargs)[0] for _ in range(ROUNDS * PER_ROUND)])
        rows.append(
            {
                "link": label,
                "length": len(token),
                "mint_us": median_us(lambda s=scope, k=kwargs: codec.mint(s, **k)),
                "verify_us": median_us(lambda f=fresh: codec.verify(next(f))),
                "verify_again_us": median_us(lambda tok=token: codec.verify(tok)),
            }
        )
    baseline = URLSafeTimedSerializer(b"k" * 48, salt="baseline")
    sample = baseline.dumps({"i": 987654, "a": "acme"})
    base = {
        "dumps_us": median_us(lambda: baseline.dumps({"i": 987654, "a": "acme"})),
        "loads_us": median_us(lambda: baseline.loads(sample)),
    }
    print(f"{'link':<38} {'chars':>5} {'mint µs':>9} {'verify µs':>10} {'again µs':>9}")
    for row in rows:
        print(
            f"{row['link']:<38} {row['length']:>5} {row['mint_us']:>9.1f} "
            f"{row['verify_us']:>10.1f} {row['verify_again_us']:>9.1f}"
        )
    print(
        f"{'baseline: plain itsdangerous':<38} {len(sample):>5} {base['dumps_us']:>9.1f} "
        f"{base['loads_us']:>10.1f}"
    )
    first = rows[0]
    print(
        f"\nratio vs baseline (invoice link): mint x{first['mint_us'] / base['dumps_us']:.1f}, "
        f"verify x{first['verify_us'] / base['loads_us']:.1f}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "python": platform.python_version(),
                "rows": rows,
                "baseline": base,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
