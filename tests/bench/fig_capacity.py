"""Figure 6: fresh 3-carrier quotes a merchant can serve a minute, V2 vs V1, and the
cache hit ratio of a realistic replayed day of quotes.

6a. Derived from the budget: V1 rates one carrier per call under 40 calls a minute
(40 // 3 = 13 quotes), V2 every carrier in one call under 200 a minute (200 quotes).
Measured: a short run per backend (``BENCH_QPM_SECONDS``, 16 connections, distinct
quotes) against the simulator's real 60 s windows counts the complete fresh quotes
(X-Cache MISS, no carrier errors) served within that first window, i.e. per minute.

6b. ``BENCH_REPLAY_QUOTES`` seeded quotes (:func:`quotes.replay_mix`) replayed in
order through ratecalc's defaults (3 carriers, 10,000 cache entries) against a
simulator without latency or limits; hit ratio = X-Cache HIT ÷ requests, next to the
ideal of an unbounded cache (1 - distinct ÷ requests).
"""

from __future__ import annotations

import json

from tests.bench import load
from tests.bench.config import CARRIERS
from tests.bench.quotes import distinct, post, replay_mix
from tests.bench.report import Figure

BACKENDS = {  # api: (rate path, limit a minute, calls per 3-carrier quote by design)
    "v1": ("/shipments/getrates", 40, len(CARRIERS)),
    "v2": ("/v2/rates/estimate", 200, 1),
}
EFFICIENCY_TARGET = 0.9


def short_run(bench, api: str) -> dict:
    path, limit, per_quote = BACKENDS[api]
    bench.shipstation(latency=bench.config.upstream_latency, limit=40, window=60,
                      v2_limit=200)
    ratecalc = bench.ratecalc(f"ratecalc-{api}", SHIPSTATION_API=api)
    offered = [post(q) for q in distinct(3000, postal_code="60601")]
    answer = load.sequence([ratecalc.url], offered, concurrency=16,
                           seconds=bench.config.qpm_seconds, keep="x-cache", bodies=True)
    bench.procs.stop(ratecalc)
    fresh = [json.loads(r[5]) for r in answer["results"] if r[1] == 200 and r[4] == "MISS"]
    complete = sum(1 for body in fresh if not body["errors"])
    record = bench.upstream_calls(path)
    calls = [c for c in record if c[1] == 200]
    carrier_calls = len(bench.upstream_calls("/v2/carriers" if api == "v2" else "/carriers"))
    derived = limit // per_quote
    return {"complete": complete, "partial": len(fresh) - complete, "rate_calls": len(calls),
            "throttled_429": len(record) - len(calls), "carrier_list_calls": carrier_calls,
            "calls_per_quote": len(calls) / complete if complete else None,
            "derived": derived, "efficiency": complete / derived, "limit": limit,
            "requests": len(answer["results"]),
            "refused_503": sum(1 for r in answer["results"] if r[1] == 503)}


def replay(bench) -> dict:
    bench.shipstation()
    ratecalc = bench.ratecalc("ratecalc-replay", SHIPSTATION_REQUESTS_PER_MINUTE=1_000_000)
    mix = replay_mix(bench.config.replay_quotes)
    answer = load.sequence([ratecalc.url], [post(q) for q in mix], concurrency=8,
                           keep="x-cache")
    bench.procs.stop(ratecalc)
    statuses = [r[1] for r in answer["results"]]
    if statuses.count(200) != len(mix):
        raise RuntimeError(f"replay: {len(mix) - statuses.count(200)} answers were not 200")
    hits = sum(1 for r in answer["results"] if r[4] == "HIT")
    unique = len({json.dumps(q, sort_keys=True) for q in mix})
    return {"requests": len(mix), "hits": hits, "ratio": hits / len(mix),
            "distinct": unique, "ideal": 1 - unique / len(mix),
            "seconds": answer["elapsed"]}


def run(bench) -> list[Figure]:
    runs = {api: short_run(bench, api) for api in BACKENDS}
    v1, v2 = runs["v1"], runs["v2"]
    ratio = v2["complete"] / v1["complete"] if v1["complete"] else None
    derived_ratio = v2["derived"] / v1["derived"]
    efficient = all(r["efficiency"] >= EFFICIENCY_TARGET for r in runs.values())

    def line(api, r):
        cpq = f"{r['calls_per_quote']:.2f}" if r["calls_per_quote"] else "-"
        return (f"{api.upper()}: {r['complete']} complete quotes in the first minute (derived "
                f"{r['derived']} = {r['limit']}/min // calls per quote; {r['efficiency']:.0%}), "
                f"{r['rate_calls']} rate calls = {cpq} per complete quote + "
                f"{r['carrier_list_calls']} carrier-list calls, {r['throttled_429']} x 429, "
                f"{r['partial']} partial quotes (a carrier refused for budget), "
                f"{r['refused_503']} x 503")

    mix = replay(bench)
    return [
        Figure("6a", "fresh 3-carrier quotes/min, V2 / V1", ratio,
               f"each backend >= {EFFICIENCY_TARGET} of derived", efficient,
               f"Target is the bench's (the issue sets none). Derived V2/V1 = "
               f"{derived_ratio:.1f}x. {line('v1', v1)}. {line('v2', v2)}. "
               f"{bench.config.qpm_seconds:g} s run each, 16 connections, "
               f"{bench.config.upstream_latency * 1000:.0f} ms per call.",
               {"derived_ratio": derived_ratio, "runs": runs}),
        Figure("6c", "V1 complete 3-carrier quotes in the first minute", v1["complete"],
               f"= derived ({v1['derived']}), 0 partial, 0 x 429",
               v1["complete"] >= v1["derived"] and v1["partial"] == 0
               and v1["throttled_429"] == 0,
               f"{v1['partial']} partial quotes, {v1['throttled_429']} x 429: each quote takes "
               "the budget for all its carriers at once, or waits", {"v1": v1}),
        Figure("6b", "cache hit ratio, replayed mix", mix["ratio"], "info (no target)", None,
               f"{mix['hits']:,} X-Cache HIT of {mix['requests']:,} seeded quotes "
               f"({mix['distinct']:,} distinct over 300 destinations x 60 packages, Zipf); "
               f"an unbounded cache would reach {mix['ideal']:.3f}; ratecalc defaults "
               f"(3 carriers = 3 entries a quote, 10,000 entries, TTL 900 s, replayed in "
               f"{mix['seconds']:.0f} s so no entry expired)", mix),
    ]
