"""Figure 1: cached-quote throughput of ratecalc ÷ a bare Flask app, same gunicorn settings.

Both answer the same bytes (the bare app replays a captured ratecalc answer). The
series run ABBA (bare, ratecalc, ratecalc, bare) so a drift in the machine's speed
cancels out, and the generator's own ceiling is measured against a trivial server.
"""

from __future__ import annotations

import requests

from tests.bench import load
from tests.bench.quotes import AUTH, post, rate_request
from tests.bench.report import Figure

GETRATES = "/shipments/getrates"
TARGET = 0.6


def run(bench) -> list[Figure]:
    config = bench.config
    bench.shipstation(latency=config.upstream_latency)
    ratecalc = bench.ratecalc("ratecalc-hits", SHIPSTATION_REQUESTS_PER_MINUTE=100_000)
    body = rate_request()  # every configured carrier (3)
    first = requests.post(ratecalc.url + "/v1/rates", json=body, headers=AUTH, timeout=30)
    again = requests.post(ratecalc.url + "/v1/rates", json=body, headers=AUTH, timeout=30)
    if first.status_code != 200 or again.headers.get("X-Cache") != "HIT":
        raise RuntimeError(f"no cached quote: {first.status_code} {again.headers}")
    bare = bench.bare_app(again.content)
    trivial = bench.trivial()
    request = post(body)
    half = config.seconds / 2
    for url in (bare.url, ratecalc.url, trivial.url):  # warm up (JIT-free, but caches, pools)
        load.rate(config, url, request, seconds=2)
    upstream_before = len(bench.upstream_calls(GETRATES))
    runs = {"bare": [], "ratecalc": []}
    for name in ("bare", "ratecalc", "ratecalc", "bare"):
        url = bare.url if name == "bare" else ratecalc.url
        runs[name].append(load.rate(config, url, request, seconds=half))
    ceiling = load.rate(config, trivial.url, request, seconds=half)
    upstream = len(bench.upstream_calls(GETRATES)) - upstream_before
    for proc in (bare, trivial, ratecalc):
        bench.procs.stop(proc)

    bad = sum(r["non_2xx"] + r["errors"] for series in runs.values() for r in series)
    rps = {name: sum(r["rps"] for r in series) / len(series) for name, series in runs.items()}
    ratio = rps["ratecalc"] / rps["bare"]
    headroom = ceiling["rps"] / max(rps.values())
    valid = bad == 0 and upstream == 0
    notes = (f"ratecalc {rps['ratecalc']:,.0f} req/s (all X-Cache HIT, {upstream} upstream calls"
             f" during the runs) vs bare Flask {rps['bare']:,.0f} req/s; same "
             f"{len(again.content)} B answer, 3 carriers; gunicorn gthread "
             f"{config.workers}w x {config.threads}t; {config.seconds:g} s each (ABBA); "
             f"errors/non-2xx {bad}. Generator: {load.generator_name(config)}, its ceiling "
             f"{ceiling['rps']:,.0f} req/s against a trivial server = {headroom:.1f}x the "
             "fastest server measured, so it is not the bottleneck.")
    return [Figure("1", "cached-quote throughput, ratecalc / bare Flask", ratio,
                   f">= {TARGET}", ratio >= TARGET and valid, notes,
                   {"ratecalc_rps": rps["ratecalc"], "bare_rps": rps["bare"],
                    "generator_ceiling_rps": ceiling["rps"], "generator_headroom": headroom,
                    "errors": bad, "upstream_calls_during_hits": upstream,
                    "runs": runs, "ceiling_run": ceiling})]
