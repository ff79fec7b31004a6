"""Figure 5: ShipStation budget use while ``BENCH_BUDGET_QUOTES`` distinct quotes are
offered as fast as possible (32 connections cycling through the list for
``BENCH_BUDGET_SECONDS``; a quote answered earlier comes back from the cache).

The simulator enforces V1's 40 calls a minute in shortened fixed windows
(``BENCH_BUDGET_WINDOW`` seconds, 40 x window / 60 calls each) and reports them in
``X-Rate-Limit-*`` headers. ratecalc runs with its defaults: its own sliding budget
of 40 a minute (the 60 s window is fixed) that also obeys those headers, which is
what paces it within a minute. A simulator window opens with the first call after
the previous one ended. For every window that opened while quotes were still being
offered (at least 1 s before the end): calls ÷ limit must stay <= 1.0 (no 429
either) and reach >= 0.9.
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
    spans = [w for w in windows([c[0] for c in calls], window) if w[0] < demand_end - 1]
    use = [n / limit for _, n in spans]
    gaps = [b[0] - a[0] - window for a, b in zip(spans, spans[1:], strict=False)]
    results = answer["results"]
    fresh = sum(1 for r in results if r[1] == 200 and r[4] == "MISS")
    in_demand = sum(n for _, n in spans)
    timeouts = sum(1 for r in results if r[1] == 504)
    refused = sum(1 for r in results if r[1] == 503)
    passed = bool(use) and max(use) <= 1.0 and throttled == 0 and min(use) >= 0.9
    return [Figure(
        "5", "budget use under overload, calls / limit per window", min(use) if use else None,
        "each window 0.9 .. 1.0, no 429", passed,
        f"simulator windows of {window:g} s x {limit} calls (= {PER_MINUTE}/min), "
        f"{config.budget_seconds:g} s of demand; calls per window "
        f"{[n for _, n in spans]} -> lowest {min(use):.2f}, highest {max(use):.2f} of the "
        f"limit; {throttled} x 429; gaps between windows "
        f"{', '.join(f'{g:.2f}' for g in gaps)} s. Of {len(results)} requests answered: "
        f"{fresh} fresh quotes, {timeouts} x 504 (budget came too late in the 15 s quote "
        f"deadline: the call was spent but timed out), {refused} x 503 rate_limited; "
        f"{fresh} fresh quotes for {in_demand} calls.",
        {"limit": limit, "window_seconds": window, "per_window": [n for _, n in spans],
         "429": throttled, "gaps": gaps, "fresh_quotes": fresh, "timeouts_504": timeouts,
         "refused_503": refused, "calls_total": len(calls)})]
