"""Figure 10: order-screen quotes come first. Their p95 latency while auto-freight
saturates its half of ShipStation's minute, ÷ the same without auto-freight (≤ 1.2).

Both runs offer the same paced order-screen load (one fresh 1-carrier quote every
``INTERVAL`` s, each a cache miss) to a ratecalc whose V1 budget is ``BUDGET`` calls a
minute. In the second, ``RATECALC_AUTO_FREIGHT=on`` prices ``ORDERS`` Cin7 orders in the
same process: far more than its half of the minute (``BUDGET / 2``) can price in the run,
so it waits on its share the whole time. The figure also reports how many calls
auto-freight made during the measured window, to show that it was saturating its half.
"""

from __future__ import annotations

import statistics
import time

from tests.bench import load
from tests.bench.quotes import post, rate_request
from tests.bench.report import Figure

TARGET = 1.2
BUDGET = 240  # calls a minute: auto-freight may take 120 of them
INTERVAL = 1.0  # one order-screen quote a second: 60 calls a minute, inside the other half
ORDERS = 600
GETRATES = "/shipments/getrates"


def _interactive(bench, ratecalc, seconds: float, offset: int) -> list[float]:
    quotes = [post(rate_request(grams=1_000 + offset + i, carriers=["fedex"]))
              for i in range(int(seconds / INTERVAL) + 5)]
    answer = load.sequence([ratecalc.url], quotes, seconds=seconds, keep="x-cache",
                           interval=INTERVAL)
    latencies = []
    for index, status, _, latency, cache, _ in answer["results"]:
        if status != 200 or cache != "MISS":
            raise RuntimeError(f"order-screen quote {index} answered {status} (X-Cache {cache})")
        latencies.append(latency * 1000)
    return latencies


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)


def run(bench) -> list[Figure]:
    config = bench.config
    seconds = config.priority_seconds
    common = dict(SHIPSTATION_REQUESTS_PER_MINUTE=BUDGET, CARRIERS="fedex")
    bench.shipstation(latency=config.upstream_latency)
    alone = bench.ratecalc("ratecalc-priority-alone", **common)
    _interactive(bench, alone, 3, offset=9_000)  # warm-up, not counted
    bench.shipstation(latency=config.upstream_latency)  # a fresh window for the run
    without = _interactive(bench, alone, seconds, offset=0)
    bench.procs.stop(alone)

    bench.shipstation(latency=config.upstream_latency)
    cin7 = bench.cin7(ORDERS, no_freight=True)
    busy = bench.ratecalc(
        "ratecalc-priority-autofreight", CIN7_BASE_URL=cin7.url + "/api",
        CIN7_USERNAME="demo-user", CIN7_API_KEY="demo-api-key", STORE_USERNAME="shipstation",
        STORE_PASSWORD="bench-store-password",  # noqa: S106
        DATABASE_URL=f"sqlite:///{bench.workdir}/priority.sqlite3", CIN7_BRANCH_IDS="1,2",
        AUTO_FREIGHT="on", AUTO_FREIGHT_INTERVAL_SECONDS=5,
        AUTO_FREIGHT_LOOKBACK_HOURS=31 * 24, **common)
    try:
        _wait(lambda: len(bench.upstream_calls(GETRATES)) >= 5, 120, "auto-freight calling")
        before = len(bench.upstream_calls(GETRATES))
        started = time.monotonic()
        with_freight = _interactive(bench, busy, seconds, offset=4_500)
        elapsed = time.monotonic() - started
        during = len(bench.upstream_calls(GETRATES)) - before
    finally:
        bench.procs.stop(busy)
        bench.procs.stop(cin7)
    auto_calls = during - len(with_freight)
    # The share is a sliding minute: in a window shorter than a minute auto-freight may
    # use all of it (it had barely started before), so saturating means at least the
    # pro-rata part of its half.
    share = BUDGET / 2 * min(elapsed, 60) / 60
    p95 = {"without": _p95(without), "with": _p95(with_freight)}
    ratio = p95["with"] / p95["without"]
    saturating = auto_calls >= 0.8 * share
    return [Figure(
        "10", "order-screen p95 latency, auto-freight saturating its half / without", ratio,
        f"<= {TARGET}", ratio <= TARGET and saturating,
        f"p95 {p95['with']:.0f} ms with auto-freight vs {p95['without']:.0f} ms without "
        f"(medians {statistics.median(with_freight):.0f} / {statistics.median(without):.0f} "
        f"ms); one fresh 1-carrier quote every {INTERVAL:g} s for {seconds:g} s each "
        f"({len(without)} / {len(with_freight)} quotes); V1 budget {BUDGET}/min; auto-freight "
        f"made {auto_calls} calls in the window (its half: {BUDGET // 2} a sliding minute, "
        f"{share:.0f} pro rata)"
        f"{'' if saturating else ' (NOT saturating: figure invalid)'}; simulator adds "
        f"{config.upstream_latency * 1000:.0f} ms per call",
        {"p95_ms": p95, "auto_freight_calls": auto_calls, "share_calls": share,
         "samples": {"without": len(without), "with": len(with_freight)}})]
