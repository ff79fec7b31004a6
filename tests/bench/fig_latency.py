"""Figures 2 and 3: latency of cache misses, measured one request at a time.

Each round sends, in turn: the simulator's ``/shipments/getrates`` directly (the body
ratecalc would send), a fresh 1-carrier quote through ratecalc, and a fresh
3-carrier quote through ratecalc. Every ShipStation call takes the simulator's
fixed added latency; ratecalc's budget is lifted so only latency is measured.
"""

from __future__ import annotations

import base64
import json
import statistics

from tests.bench import load
from tests.bench.config import CARRIERS
from tests.bench.quotes import getrates_body, post, rate_request
from tests.bench.report import Figure

MISS_TARGET, FANOUT_TARGET = 1.10, 1.25
BASIC = {"Authorization": "Basic " + base64.b64encode(b"demo-key:demo-secret").decode()}


def rounds(samples: int, offset: int = 0) -> list[dict]:
    out = []
    for i in range(samples):
        grams = 1000 + offset + i
        out.append({"t": 0, "method": "POST", "path": "/shipments/getrates", "headers": BASIC,
                    "body": json.dumps(getrates_body("fedex", grams=grams))})
        out.append(post(rate_request(grams=grams, carriers=["fedex"]), target=1))
        out.append(post(rate_request(grams=grams + 5000, carriers=list(CARRIERS)), target=1))
    return out


def run(bench) -> list[Figure]:
    config = bench.config
    sim = bench.shipstation(latency=config.upstream_latency)
    ratecalc = bench.ratecalc("ratecalc-latency", SHIPSTATION_REQUESTS_PER_MINUTE=100_000)
    load.sequence([sim.url, ratecalc.url], rounds(3, offset=50_000))  # warm-up, not counted
    answer = load.sequence([sim.url, ratecalc.url], rounds(config.latency_samples),
                           keep="x-cache")
    bench.procs.stop(ratecalc)

    series: dict[str, list[float]] = {"direct": [], "one": [], "three": []}
    names = ("direct", "one", "three")
    for index, status, _, latency, cache, _ in answer["results"]:
        name = names[index % 3]
        if status != 200 or (name != "direct" and cache != "MISS"):
            raise RuntimeError(f"{name} request {index} answered {status} (X-Cache {cache})")
        series[name].append(latency)
    median = {name: statistics.median(values) * 1000 for name, values in series.items()}
    miss = median["one"] / median["direct"]
    fanout = median["three"] / median["one"]
    common = (f"{config.latency_samples} interleaved samples each, one at a time; simulator "
              f"adds {config.upstream_latency * 1000:.0f} ms per call")
    return [
        Figure("2", "miss latency, ratecalc / direct getrates", miss, f"<= {MISS_TARGET:.2f}",
               miss <= MISS_TARGET,
               f"median ratecalc 1-carrier miss {median['one']:.1f} ms vs direct getrates "
               f"{median['direct']:.1f} ms (+{median['one'] - median['direct']:.1f} ms); "
               f"{common}", {"median_ms": median}),
        Figure("3", "fan-out latency, 3 carriers / 1 carrier", fanout, f"<= {FANOUT_TARGET:.2f}",
               fanout <= FANOUT_TARGET,
               f"median 3-carrier miss {median['three']:.1f} ms vs 1-carrier "
               f"{median['one']:.1f} ms (V1: one call per carrier, in parallel); {common}",
               {"median_ms": median, "p90_ms": {
                   n: statistics.quantiles(v, n=10)[-1] * 1000 for n, v in series.items()}}),
    ]
