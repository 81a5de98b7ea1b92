"""Where the time of a warm portal page goes, in-process.

Run: ``.venv/bin/python bench/profile_warm.py`` (about 1.5 minutes). Prints the breakdown and
writes ``bench/results/profile_warm.json`` (summary) and ``bench/results/profile_warm.txt``
(the raw reports: pyinstrument call trees and cProfile listings).

Three apps in this process, all reading the same sandbox data: the portal with its default
stores (SQLite revocation store, SimpleCache), the portal with Redis as cache and revocation
store, and the bare Flask baseline of ``bench.apps`` (byte-identical pages, checked). Each
page is fetched twice first, so every request measured is warm (no KashFlow call: checked).
Requests go through the Flask test client, many iterations per page.

1. **Timing**: median per-request time, no instrumentation: wall time, and this thread's CPU
   time, which the other processes of a busy machine do not inflate.
2. **Breakdown** (instrumented, low overhead): the warm path's entry points are wrapped with
   timers at run time (nothing in the package is edited) and each group gets its *exclusive*
   time (a wrapped call's time minus its wrapped callees'): token verify, revocation store
   check, fetch/LRU, presenters (view cache), template rendering, ``url_for``, signals and the
   "last opened" register, the rest of the portal's view code, and Flask/Werkzeug request
   handling; the test client's own work is measured apart and excluded from the shares.
   Both clocks again: CPU time is the steady one on a shared machine, but it leaves out
   waiting (a Redis round trip), which the wall-clock column shows.
   Medians over rounds, the apps alternating. (Sampling and tracing profilers were tried for
   this and rejected: their overhead grows with the number of calls, which inflates Jinja's
   many tiny generator steps and distorts the shares.)
3. **Profiles** for detail, in the text report: pyinstrument's call tree (portal and
   baseline) and cProfile's top functions by cumulative and own time (portal).
4. **Micro-costs**: the warm path's steps timed one by one outside any request, with two
   what-ifs for the suggested changes, and the rendered-page cache's hit against reading the
   same page from Redis (why that cache is per process).
"""

from __future__ import annotations

import cProfile
import io
import json
import logging
import os
import pstats
import sys
import time
import types
import typing as t
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from flask import render_template
from flask import url_for
from pyinstrument import Profiler

from bench import apps
from bench._common import RESULTS
from bench._common import Services
from bench._common import bench_env
from bench._common import machine
from bench._common import median
from bench._common import new_fernet_key
from bench._common import write_results
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.extension import _state as get_state
from flask_kashflow_links.formatting import brand_colours
from flask_kashflow_links.portal import guard as guard_module
from flask_kashflow_links.portal import pages as pages_module
from flask_kashflow_links.portal import routes as routes_module
from flask_kashflow_links.portal import views as views_module
from flask_kashflow_links.portal.presenters import listing

ITERATIONS = 1000  # requests per page for each profiler and each breakdown round
BREAKDOWN_ROUNDS = 3  # the apps alternately; medians per group
TIMING_ROUNDS, TIMING_PER_ROUND = 5, 200
DEFAULT = "portal (SQLite+Simple)"
REDIS = "portal (Redis)"
BASELINE = "baseline"
PAGES = {
    "invoice 1043": ("invoice", 1043),
    "customer BIGCO01 (260 invoices)": ("customer", "BIGCO01"),
    "customer ACME01 (12 invoices)": ("customer", "ACME01"),
}

# -- the instrumented breakdown ----------------------------------------------------------------

HARNESS = "test client (harness, not served)"
FLASK = "Flask/Werkzeug request handling"
VIEW = "other portal view code"
GROUP_ORDER = [
    "token verify",
    "revocation store check",
    "fetch / LRU",
    "presenters (view cache, today)",
    "rendered-page cache",
    "template rendering (Jinja)",
    "url_for (URLs in the page)",
    "signals + last-opened register",
    VIEW,
    FLASK,
]


class Timers:
    """Exclusive time per group: each wrapped call's time minus its wrapped callees'.

    Two clocks: wall time (``perf_counter``) and this thread's CPU time (``thread_time``). On a
    busy machine wall time also counts the moments another process had the CPU; CPU time does
    not, but it also leaves out waiting for I/O (a Redis round trip).
    """

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._stack: list[list[float]] = []
        self._undo: list[t.Callable[[], None]] = []

    def wrap(self, group: str, function: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        stack, wall, cpu = self._stack, self.wall, self.cpu
        wall_clock, cpu_clock = time.perf_counter, time.thread_time

        def timed(*args: t.Any, **kwargs: t.Any) -> t.Any:
            inner = [0.0, 0.0]
            stack.append(inner)
            start_wall, start_cpu = wall_clock(), cpu_clock()
            try:
                return function(*args, **kwargs)
            finally:
                spent_cpu = cpu_clock() - start_cpu
                spent_wall = wall_clock() - start_wall
                stack.pop()
                wall[group] = wall.get(group, 0.0) + spent_wall - inner[0]
                cpu[group] = cpu.get(group, 0.0) + spent_cpu - inner[1]
                if stack:
                    stack[-1][0] += spent_wall
                    stack[-1][1] += spent_cpu

        return timed

    def patch(self, owner: t.Any, name: str, group: str) -> None:
        """Replace ``owner.name`` (an instance or module attribute) with a timed wrapper."""
        original = getattr(owner, name)
        had_own = isinstance(owner, types.ModuleType) or name in vars(owner)
        setattr(owner, name, self.wrap(group, original))
        if had_own:
            self._undo.append(lambda: setattr(owner, name, original))
        else:
            self._undo.append(lambda: delattr(owner, name))

    def patch_item(self, mapping: dict[str, t.Any], key: str, group: str) -> None:
        original = mapping[key]
        mapping[key] = self.wrap(group, original)
        self._undo.append(lambda: mapping.__setitem__(key, original))

    def restore(self) -> None:
        while self._undo:
            self._undo.pop()()


def instrument_portal(timers: Timers, app: Flask) -> None:
    state = get_state(app)
    timers.patch(state.links.codec, "verify", "token verify")
    timers.patch(state.links.codec, "raise_if_expired", "token verify")
    timers.patch(state.links.store, "revoked_reason", "revocation store check")
    timers.patch(state.fetcher, "invoice", "fetch / LRU")
    timers.patch(state.fetcher, "customer_invoices", "fetch / LRU")
    timers.patch(state.portal.views.models, "get_or_make", "presenters (view cache, today)")
    timers.patch(state.portal.views.formatter, "today", "presenters (view cache, today)")
    timers.patch(state.portal.pages.cache, "get_or_make", "rendered-page cache")
    timers.patch(pages_module, "render_template", "template rendering (Jinja)")
    timers.patch(pages_module, "url_for", "url_for (URLs in the page)")
    timers.patch(routes_module, "url_for", "url_for (URLs in the page)")
    for module in (views_module, guard_module):
        timers.patch(module, "notify", "signals + last-opened register")
    for name in ("record_open", "learn_customer"):
        timers.patch(state.portal.views.activity, name, "signals + last-opened register")
    timers.patch_item(app.view_functions, "kashflow_links.open_link", VIEW)
    timers.patch(app, "wsgi_app", FLASK)


def instrument_baseline(timers: Timers, app: Flask) -> None:
    timers.patch(apps, "render_template", "template rendering (Jinja)")
    timers.patch_item(app.view_functions, "page", VIEW)
    timers.patch(app, "wsgi_app", FLASK)


def breakdown(
    client: t.Any, app: Flask, url: str, instrument: t.Callable[[Timers, Flask], None]
) -> dict[str, dict[str, float]]:
    """µs per request per group (and the harness), wall and CPU, over ITERATIONS requests."""
    timers = Timers()
    instrument(timers, app)
    try:
        start_wall, start_cpu = time.perf_counter(), time.thread_time()
        for _ in range(ITERATIONS):
            client.get(url)
        total = {"wall": time.perf_counter() - start_wall, "cpu": time.thread_time() - start_cpu}
    finally:
        timers.restore()
    result: dict[str, dict[str, float]] = {}
    for clock, totals in (("wall", timers.wall), ("cpu", timers.cpu)):
        in_app = sum(totals.values())
        result[clock] = {g: totals.get(g, 0.0) / ITERATIONS * 1e6 for g in GROUP_ORDER}
        result[clock][HARNESS] = (total[clock] - in_app) / ITERATIONS * 1e6
    return result


# -- measuring ---------------------------------------------------------------------------------


def per_request_us(client: t.Any, url: str) -> dict[str, float]:
    """Median µs per request, wall and CPU (this thread), no instrumentation."""
    wall, cpu = [], []
    for _ in range(TIMING_ROUNDS):
        start_wall, start_cpu = time.perf_counter(), time.thread_time()
        for _ in range(TIMING_PER_ROUND):
            client.get(url)
        cpu.append((time.thread_time() - start_cpu) / TIMING_PER_ROUND * 1e6)
        wall.append((time.perf_counter() - start_wall) / TIMING_PER_ROUND * 1e6)
    return {"wall": median(wall), "cpu": median(cpu)}


def micro_us(action: t.Callable[[], object], n: int = 2000, rounds: int = 7) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            action()
        samples.append((time.perf_counter() - start) / n * 1e6)
    return median(samples)


def profile_pyinstrument(client: t.Any, url: str) -> str:
    """pyinstrument's call tree (for the text report)."""
    profiler = Profiler()
    profiler.start()
    for _ in range(ITERATIONS):
        client.get(url)
    profiler.stop()
    return str(profiler.output_text(unicode=False, color=False, show_all=False))


def profile_cprofile(client: t.Any, url: str) -> tuple[pstats.Stats, str]:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(ITERATIONS):
        client.get(url)
    profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs()
    out.write("== by cumulative time ==\n")
    stats.sort_stats("cumulative").print_stats(35)
    out.write("== by own time ==\n")
    stats.sort_stats("tottime").print_stats(30)
    return stats, out.getvalue()


#: cProfile entries of the harness (the loop and the test client), left out of the top lists.
_HARNESS_FILES = ("profile_warm.py", "test.py", "testing.py")


def top_functions(stats: pstats.Stats, key: str, n: int = 12) -> list[dict[str, t.Any]]:
    """The top *n* functions by ``"own"`` or ``"cum"`` time, per request (harness left out)."""
    rows = []
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    index = 2 if key == "own" else 3
    entries = [kv for kv in raw.items() if kv[0][0] not in _HARNESS_FILES]
    for (file, line, function), (_cc, calls, own, cum, _callers) in sorted(
        entries, key=lambda kv: kv[1][index], reverse=True
    )[:n]:
        rows.append(
            {
                "function": f"{file}:{line}({function})",
                "calls_per_request": round(calls / ITERATIONS, 1),
                "own_us_per_request": round(own / ITERATIONS * 1e6, 1),
                "cum_us_per_request": round(cum / ITERATIONS * 1e6, 1),
                "own_share": round(own / total, 3),
            }
        )
    return rows


def _mint(app: Flask) -> dict[str, str]:
    links = KashFlowLinks()
    tokens: dict[str, str] = {}
    with app.test_request_context():
        for name, (kind, what) in PAGES.items():
            if kind == "invoice":
                tokens[name] = links.mint_invoice(t.cast(int, what)).token
            else:
                tokens[name] = links.mint_customer(t.cast(str, what)).token
    return tokens


def _portal(env: dict[str, str], instance: str) -> Flask:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return apps.make_portal(apps.portal_config(), instance)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _page_summary(
    runs: dict[str, list[dict[str, dict[str, float]]]], timing: dict[str, dict[str, float]]
) -> dict[str, t.Any]:
    """Medians per group over the rounds, per app and clock."""
    out: dict[str, t.Any] = {}
    for clock in ("cpu", "wall"):
        base_in_app = sum(median(r[clock][g] for r in runs[BASELINE]) for g in GROUP_ORDER)
        for app_name, app_runs in runs.items():
            groups = {g: median(r[clock][g] for r in app_runs) for g in [*GROUP_ORDER, HARNESS]}
            in_app = sum(groups[g] for g in GROUP_ORDER)
            out.setdefault(app_name, {})[clock] = {
                "per_request_us": round(timing[app_name][clock], 1),
                "ratio_to_baseline_per_request": round(
                    timing[BASELINE][clock] / timing[app_name][clock], 3
                ),
                "in_app_us": round(in_app, 1),
                "ratio_to_baseline_in_app": round(base_in_app / in_app, 3),
                "harness_us": round(groups[HARNESS], 1),
                "groups": {
                    g: {"us": round(groups[g], 1), "share": round(groups[g] / in_app, 3)}
                    for g in GROUP_ORDER
                },
            }
    return out


def main() -> None:
    # The benchmark's Redis runs without persistence on purpose (--save ''); the revocation
    # store warns about that on every start. Errors still show.
    logging.getLogger("flask_kashflow_links.links.store").setLevel(logging.ERROR)
    started = time.monotonic()
    report: list[str] = []
    summary: dict[str, t.Any] = {
        "pages": {},
        "top_own_cprofile": {},
        "top_cum_cprofile": {},
        "micro_us": {},
    }
    with Services() as services:
        sandbox = services.sandbox()
        redis_url = services.redis()
        fernet_key = new_fernet_key()
        envs = {
            DEFAULT: bench_env(
                sandbox.url,
                fernet_key=fernet_key,
                revocation_url=f"sqlite:///{services.tmp}/default/links.sqlite3",
                instance=str(services.tmp / "default"),
            ),
            REDIS: bench_env(
                sandbox.url,
                fernet_key=fernet_key,
                revocation_url=redis_url,
                instance=str(services.tmp / "redis"),
                cache={"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url},
            ),
        }
        portals = {name: _portal(env, env["KFL_BENCH_INSTANCE"]) for name, env in envs.items()}
        tokens = {name: _mint(app) for name, app in portals.items()}
        saved = dict(os.environ)
        os.environ.update(envs[DEFAULT])
        os.environ["KFL_BENCH_LINKS"] = json.dumps(
            [
                {"token": tokens[DEFAULT][name], "kind": kind, "invoice": what}
                if kind == "invoice"
                else {"token": tokens[DEFAULT][name], "kind": kind, "customer": what}
                for name, (kind, what) in PAGES.items()
            ]
        )
        try:
            baseline = apps.baseline_app()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        clients = {name: app.test_client() for name, app in portals.items()}
        clients[BASELINE] = baseline.test_client()
        instrument = {DEFAULT: instrument_portal, REDIS: instrument_portal}

        def url_of(app_name: str, page: str) -> str:
            return f"/invoices/{tokens[REDIS if app_name == REDIS else DEFAULT][page]}"

        for page in PAGES:
            bodies = set()
            for app_name, client in clients.items():
                client.get(url_of(app_name, page))
                response = client.get(url_of(app_name, page))
                assert response.status_code == 200, (app_name, page, response.status_code)
                if app_name != REDIS:  # the Redis portal's token (in the page) differs
                    bodies.add(response.data)
            assert len(bodies) == 1, f"{page}: the baseline's page differs from the portal's"
        calls_before = sum(sandbox.calls.values())

        for page in PAGES:
            print(f"{page}: timing, instrumented breakdown, profiles...", flush=True)
            timing = {a: per_request_us(c, url_of(a, page)) for a, c in clients.items()}
            runs: dict[str, list[dict[str, dict[str, float]]]] = {a: [] for a in clients}
            for _ in range(BREAKDOWN_ROUNDS):
                for app_name, client in clients.items():
                    app = baseline if app_name == BASELINE else portals[app_name]
                    how = instrument.get(app_name, instrument_baseline)
                    runs[app_name].append(breakdown(client, app, url_of(app_name, page), how))
            summary["pages"][page] = _page_summary(runs, timing)
            url = url_of(DEFAULT, page)
            tree = profile_pyinstrument(clients[DEFAULT], url)
            base_tree = profile_pyinstrument(clients[BASELINE], url)
            stats, ctext = profile_cprofile(clients[DEFAULT], url)
            summary["top_own_cprofile"][page] = top_functions(stats, "own")
            summary["top_cum_cprofile"][page] = top_functions(stats, "cum", 16)
            report += [
                f"{'=' * 100}\n{page}: {DEFAULT} (pyinstrument, {ITERATIONS} requests)\n"
                f"{'=' * 100}",
                tree,
                f"{'=' * 100}\n{page}: {BASELINE} (pyinstrument)\n{'=' * 100}",
                base_tree,
                f"{'=' * 100}\n{page}: {DEFAULT} (cProfile, {ITERATIONS} requests)\n{'=' * 100}",
                ctext,
            ]

        calls_after = sum(sandbox.calls.values())
        summary["kashflow_calls_while_profiling"] = calls_after - calls_before

        # Micro-costs of the warm path's steps, outside any request.
        print("micro-costs...", flush=True)
        portal = portals[DEFAULT]
        state = get_state(portal)
        redis_state = get_state(portals[REDIS])
        inv_token = tokens[DEFAULT]["invoice 1043"]
        big_token = tokens[DEFAULT]["customer BIGCO01 (260 invoices)"]
        claims = state.links.codec.verify(inv_token)
        big_claims = state.links.codec.verify(big_token)
        with portal.app_context():
            account = state.accounts.get(None)
            fetched = state.fetcher.customer_invoices(account, "BIGCO01")
            today = state.portal.views.formatter.today()
            rows = listing(state.portal.views.formatter, fetched.value, big_claims.scope, today)
        minted = claims.minted_at.timestamp()
        micro: dict[str, float] = {}
        micro["token verify (TokenCodec.verify)"] = micro_us(
            lambda: state.links.codec.verify(inv_token)
        )
        micro["revocation check, SQLite (revoked_reason)"] = micro_us(
            lambda: state.links.store.revoked_reason(claims.link_id, "acme", "ACME01", minted)
        )
        micro["revocation check, Redis (revoked_reason)"] = micro_us(
            lambda: redis_state.links.store.revoked_reason(claims.link_id, "acme", "ACME01", minted)
        )
        micro["fetch, LRU hit (Fetcher.invoice)"] = micro_us(
            lambda: state.fetcher.invoice(account, 1043)
        )
        micro["fetch, LRU hit (Fetcher.customer_invoices)"] = micro_us(
            lambda: state.fetcher.customer_invoices(account, "BIGCO01")
        )
        micro["one tab's rows from the cached listing"] = micro_us(lambda: rows["rows"]["all"])
        micro["brand colours (per page's stylesheet URL)"] = micro_us(
            lambda: brand_colours(state.settings.brand)
        )
        with portal.test_request_context("/"):
            micro["url_for, one invoice URL"] = micro_us(
                lambda: url_for("kashflow_links.open_invoice", token=big_token, number=1043)
            )
            prefix = url_for("kashflow_links.open_link", token=big_token)
            micro["invoice URL from the page's base URL (as the views do)"] = micro_us(
                lambda: f"{prefix}/{1043}"
            )
            micro["render customer.html (BIGCO01, 20 rows) alone"] = _render_cost(
                baseline, big_token
            )
            micro["render invoice.html (1043) alone"] = _render_cost(baseline, inv_token)
        # The rendered-page cache is per process. The alternative, a shared one, would read
        # the page from Redis on every request: measured here against the LRU hit.
        page = portal.test_client().get(f"/invoices/{big_token}").data
        with portals[REDIS].app_context():
            redis_state.shared.set("bench:page", page, 600)
            micro[f"rendered page ({len(page):,} bytes) from Redis (SafeCache.get)"] = micro_us(
                lambda: redis_state.shared.get("bench:page")
            )
        page_cache = state.portal.pages.cache
        page_cache.get_or_make("bench:page", lambda: page)
        micro["rendered page from the per-process cache (Memo hit)"] = micro_us(
            lambda: page_cache.get_or_make("bench:page", lambda: page)
        )
        summary["micro_us"] = {k: round(v, 2) for k, v in micro.items()}

    summary["iterations"] = ITERATIONS
    summary["elapsed_s"] = round(time.monotonic() - started, 1)
    _print(summary)
    (RESULTS / "profile_warm.txt").write_text("\n".join(report) + "\n")
    path = write_results("profile_warm", summary)
    print(f"\nwrote {path}")
    print(f"wrote {RESULTS / 'profile_warm.txt'}")
    print(f"ran in {summary['elapsed_s']:.0f} s")


def _render_cost(baseline: Flask, token: str) -> float:
    """Render the baseline's stored page context alone (no request handling)."""
    found = baseline.extensions["kfl_bench_pages"][token]
    brand = apps.Brand().merged(apps.BRAND)
    kfl = {
        "brand": brand,
        "base_template": "kashflow_links/base.html",
        "stylesheet_url": "/s.css",
        "brand_css_url": "/b.css",
        "lang": "en",
        "title": found.title,
    }
    with baseline.app_context():
        return micro_us(
            lambda: render_template(found.template, kfl=kfl, brand=brand, **found.context),
            n=500,
        )


def _print(summary: dict[str, t.Any]) -> None:
    m = machine()
    print(f"\nmachine: {m['platform']}, {m['cpus']} CPUs, Python {m['python']}")
    print("in-process, Flask test client, warm pages; medians; µs per request\n")
    apps_ = [DEFAULT, REDIS, BASELINE]
    print(
        f"{'page':<32} {'app':<23} {'CPU':>6} {'wall':>6} {'in-app CPU':>10} "
        f"{'in-app wall':>11} {'ratio CPU':>9} {'ratio wall':>10}"
    )
    for page, by_app in summary["pages"].items():
        for app_name in apps_:
            cpu, wall = by_app[app_name]["cpu"], by_app[app_name]["wall"]
            print(
                f"{page:<32} {app_name:<23} {cpu['per_request_us']:>6.0f} "
                f"{wall['per_request_us']:>6.0f} {cpu['in_app_us']:>10.0f} "
                f"{wall['in_app_us']:>11.0f} {cpu['ratio_to_baseline_in_app']:>9.2f} "
                f"{wall['ratio_to_baseline_in_app']:>10.2f}"
            )
    print(
        "\nCPU/wall: the whole request through the test client; in-app: the app's share of it "
        "(the test client's own work excluded); ratio: baseline in-app / this app's in-app"
    )
    for page, by_app in summary["pages"].items():
        print(f"\n{page}: where the in-app time goes (instrumented; CPU µs (share), wall µs)")
        print(f"  {'group':<34}" + "".join(f" {a:>29}" for a in apps_))
        for group in GROUP_ORDER:
            cells = ""
            for a in apps_:
                cpu, wall = by_app[a]["cpu"]["groups"][group], by_app[a]["wall"]["groups"][group]
                cells += f" {cpu['us']:>11.1f} ({cpu['share']:>6.1%}) {wall['us']:>8.1f}"
            print(f"  {group:<34}{cells}")
        for label, key in (
            ("total in app", "in_app_us"),
            ("(test client, excluded)", "harness_us"),
        ):
            cells = "".join(
                f" {by_app[a]['cpu'][key]:>11.1f} {'':>8} {by_app[a]['wall'][key]:>9.1f}"
                for a in apps_
            )
            print(f"  {label:<34}{cells}")
        print(f"  top functions by own time ({DEFAULT}, cProfile, per request):")
        for row in summary["top_own_cprofile"][page][:8]:
            print(
                f"    {row['own_us_per_request']:>7.1f} µs own "
                f"{row['cum_us_per_request']:>8.1f} µs cum "
                f"{row['calls_per_request']:>6} calls  {row['function']}"
            )
        print(
            f"  top functions by cumulative time ({DEFAULT}, cProfile, per request; "
            "its overhead inflates the µs, compare the order):"
        )
        for row in summary["top_cum_cprofile"][page]:
            print(
                f"    {row['cum_us_per_request']:>8.1f} µs cum "
                f"{row['own_us_per_request']:>7.1f} µs own "
                f"{row['calls_per_request']:>6} calls  {row['function']}"
            )
    print("\nmicro-costs of the warm path's steps (median µs per call, wall, tight loop):")
    for name, value in summary["micro_us"].items():
        print(f"  {name:<54} {value:>8.1f}")
    print(f"\nKashFlow calls while profiling: {summary['kashflow_calls_while_profiling']}")


if __name__ == "__main__":
    main()
