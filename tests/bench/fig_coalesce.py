"""Figure 4: ``BENCH_BURST`` identical quotes arriving at once make one call per carrier."""

from __future__ import annotations

from tests.bench import load
from tests.bench.config import CARRIERS
from tests.bench.quotes import post, rate_request
from tests.bench.report import Figure

GETRATES = "/shipments/getrates"


def run(bench) -> list[Figure]:
    config = bench.config
    bench.shipstation(latency=config.upstream_latency)
    # Threads for the whole burst: waiting on another request's flight holds a thread,
    # and past RATECALC_THREADS - 2 waiting quotes the bulkhead answers 503 busy. This
    # figure measures coalescing, so every request of the burst gets a thread and a slot.
    ratecalc = bench.ratecalc("ratecalc-coalesce", threads=config.burst + 2,
                              SHIPSTATION_REQUESTS_PER_MINUTE=100_000)
    load.sequence([ratecalc.url], [post(rate_request(postal_code="10001", state="NY"))])  # warm
    before = len(bench.upstream_calls(GETRATES))
    burst = [post(rate_request(postal_code="94105", state="CA", grams=777))] * config.burst
    answer = load.sequence([ratecalc.url], burst, concurrency=config.burst, keep="x-cache")
    calls = len(bench.upstream_calls(GETRATES)) - before
    bench.procs.stop(ratecalc)

    statuses = [r[1] for r in answer["results"]]
    ok = statuses.count(200)
    hits = sum(1 for r in answer["results"] if r[4] == "HIT")
    ratio = calls / (config.burst * len(CARRIERS))
    ideal = 1 / config.burst
    return [Figure(
        "4", "coalescing, upstream calls / (requests x carriers)", ratio, f"= 1/{config.burst}",
        calls == len(CARRIERS) and ok == config.burst,
        f"{calls} getrates calls for {config.burst} identical {len(CARRIERS)}-carrier quotes "
        f"sent at once on {config.burst} connections (ideal {ideal:.4f} = one per carrier); "
        f"{ok} answered 200, {hits} of them from the cache after the flight landed, the rest "
        f"waited on it; ratecalc {config.workers} worker(s) x {config.burst + 2} threads",
        {"upstream_calls": calls, "requests": config.burst, "ok": ok, "cache_hits": hits})]
