"""Figure 5: ShipStation budget use while ``BENCH_BUDGET_QUOTES`` distinct quotes are
offered as fast as possible (32 connections cycling through the list for
``BENCH_BUDGET_SECONDS``; a quote answered earlier comes back from the cache).

The simulator enforces V1's 40 calls a minute in fixed windows and reports them in
``X-Rate-Limit-*`` headers; a window opens with the first call after the previous
one ended. The default is the real 60 s window for ~2 minutes (3 windows): with a
shortened ``BENCH_BUDGET_WINDOW`` the limit scales (40 x window / 60) but ratecalc's
own sliding budget stays 40 per 60 s, so only the headers would pace it, and a
window as long as the 15 s quote deadline makes waiting quotes expire exactly
when the next window opens. ratecalc runs with its defaults (40 a minute, 15 s
deadline). For every window with demand from its start to its end: calls ÷ limit
must stay <= 1.0 (no 429 either, in any window) and reach >= 0.9 (5). Separately
(5b, no target): how many of the calls answered a quote, since a call whose quote
had run out of time is spent all the same.
"""

from __future__ import annotations

from tests.bench import load
from tests.bench.quotes import distinct, post
from tests.bench.report import Figure

GETRATES = "/shipments/getrates"
PER_MINUTE = 40


def windows(times: list[float], window: float) -> list[tuple[float, int]]:
    """The simulator's fixed windows over these call times: [(start, calls)]."""
    out: list[list] = []
    for t in sorted(times):
        if not out or t >= out[-1][0] + window:
            out.append([t, 0])
        out[-1][1] += 1
    return [(start, n) for start, n in out]


def run(bench) -> list[Figure]:
    config = bench.config
    window = config.budget_window
    limit = round(PER_MINUTE * window / 60)
    bench.shipstation(latency=config.upstream_latency, limit=limit, window=window)
    ratecalc = bench.ratecalc("ratecalc-budget", CARRIERS="fedex")
    offered = [post(q) for q in distinct(config.budget_quotes, postal_code="30301")]
    answer = load.sequence([ratecalc.url], offered, concurrency=32,
                           seconds=config.budget_seconds, keep="x-cache")
    demand_end = answer["t0"] + config.budget_seconds
    bench.procs.stop(ratecalc)
    calls = bench.upstream_calls(GETRATES)

    throttled = sum(1 for c in calls if c[1] == 429)
    # Judge the windows that had demand from start to end: in one that opens a few
    # seconds before the load stops, ratecalc's sliding window (calls of the last 60 s
    # still count) leaves less room than the fresh fixed window, and demand ends first.
    spans = [w for w in windows([c[0] for c in calls], window) if w[0] + window <= demand_end]
    use = [n / limit for _, n in spans]
    gaps = [b[0] - a[0] - window for a, b in zip(spans, spans[1:], strict=False)]
    results = answer["results"]
    fresh = sum(1 for r in results if r[1] == 200 and r[4] == "MISS")
    in_demand = sum(n for _, n in spans)
    timeouts = sum(1 for r in results if r[1] == 504)
    refused = sum(1 for r in results if r[1] == 503)
    passed = bool(use) and max(use) <= 1.0 and throttled == 0 and min(use) >= 0.9
    useful = fresh / in_demand if in_demand else None
    return [Figure(
        "5", "budget use under overload, calls / limit per window", min(use) if use else None,
        "each window 0.9 .. 1.0, no 429", passed,
        f"simulator windows of {window:g} s x {limit} calls (= {PER_MINUTE}/min), "
        f"{config.budget_seconds:g} s of demand; calls per window "
        f"{[n for _, n in spans]} -> lowest {min(use):.2f}, highest {max(use):.2f} of the "
        f"limit; {throttled} x 429; gaps between windows "
        f"{', '.join(f'{g:.2f}' for g in gaps)} s. Of {len(results)} requests answered: "
        f"{fresh} fresh quotes, {timeouts} x 504, {refused} x 503 rate_limited.",
        {"limit": limit, "window_seconds": window, "per_window": [n for _, n in spans],
         "429": throttled, "gaps": gaps, "fresh_quotes": fresh, "timeouts_504": timeouts,
         "refused_503": refused, "calls_total": len(calls)}),
        Figure("5b", "budget spent on answered quotes, fresh quotes / calls", useful,
               "info (no target)", None,
               f"{fresh} fresh quotes answered for {in_demand} calls made while quotes were "
               f"offered; {timeouts} quotes answered 504 upstream_timeout: their budget came "
               f"with less of the 15 s deadline left than a ShipStation call takes "
               f"({config.upstream_latency * 1000:.0f} ms here), yet the call was made",
               {"fresh_quotes": fresh, "calls": in_demand, "timeouts_504": timeouts})]
