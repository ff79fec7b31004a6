"""Figure 1: cached-quote throughput of ratecalc ÷ a bare Flask app, same gunicorn settings.

Both answer the same bytes (the bare app replays a captured ratecalc answer). The
series run in ``BENCH_ROUNDS`` rounds of ABBA (bare, ratecalc, ratecalc, bare) so a
drift in the machine's speed cancels out, and the generator's own ceiling is
measured against a trivial server.

Three load shapes, each its own ratio measured side by side:

* **1** the in-process cache at ``BENCH_CONNECTIONS`` (16) connections, the target;
* **1b** the same at 64 connections (issue 13: the ratio holds under more concurrency);
* **1c** ratecalc with its cache in Redis (``BENCH_REDIS_URL``, default database 14 on
  127.0.0.1), one ``MGET`` per quote, reported beside the in-process figure. Without a
  reachable Redis it is reported as not measured.
"""

from __future__ import annotations

import os

import redis
import requests

from tests.bench import load
from tests.bench.procs import cpu_seconds
from tests.bench.quotes import AUTH, post, rate_request
from tests.bench.report import Figure

GETRATES = "/shipments/getrates"
TARGET = 0.85  # issue 13: cache hits at the stack's ceiling
MANY_CONNECTIONS = 64
NAME = "cached-quote throughput, ratecalc / bare Flask"


def redis_url() -> str | None:
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    try:
        client = redis.Redis.from_url(url, socket_timeout=2)
        client.ping()
        client.flushdb()  # the benchmark's own database: a cold cache for this run
    except redis.RedisError:
        return None
    return url


def _cached(ratecalc, body) -> requests.Response:
    first = requests.post(ratecalc.url + "/v1/rates", json=body, headers=AUTH, timeout=30)
    again = requests.post(ratecalc.url + "/v1/rates", json=body, headers=AUTH, timeout=30)
    if first.status_code != 200 or again.headers.get("X-Cache") != "HIT":
        raise RuntimeError(f"no cached quote: {first.status_code} {again.headers}")
    return again


def series_seconds(config) -> float:
    """Each server's ``BENCH_SECONDS`` split over ``BENCH_ROUNDS`` ABBA rounds (2 series a
    round), at least 2 s a series: short series alternated often cancel more of this
    machine's drift than two long ones (rates moved by a quarter between two 5 s series)."""
    return max(2.0, config.seconds / (2 * config.rounds))


def _abba(bench, bare, ratecalc, request, connections: int) -> dict:
    half = series_seconds(bench.config)
    for url in (bare.url, ratecalc.url):  # warm up (caches, pools, keep-alive)
        load.rate(bench.config, url, request, seconds=bench.config.warmup_seconds,
                  connections=connections)
    upstream_before = len(bench.upstream_calls(GETRATES))
    runs = {"bare": [], "ratecalc": []}
    servers = {"bare": bare, "ratecalc": ratecalc}
    cpu = {"bare": 0.0, "ratecalc": 0.0}
    for name in ("bare", "ratecalc", "ratecalc", "bare") * bench.config.rounds:
        workers = servers[name].children()
        before = cpu_seconds(workers)
        runs[name].append(load.rate(bench.config, servers[name].url, request, seconds=half,
                                    connections=connections))
        cpu[name] += cpu_seconds(workers) - before
    upstream = len(bench.upstream_calls(GETRATES)) - upstream_before
    bad = sum(r["non_2xx"] + r["errors"] for series in runs.values() for r in series)
    rps = {name: sum(r["rps"] for r in series) / len(series) for name, series in runs.items()}
    # The workers' CPU per request: a drift in the machine's speed moves it far less than
    # requests per second, so it is reported beside the ratio (not instead of it).
    cpu_us = {name: 1e6 * cpu[name] / max(1, sum(r["requests"] for r in runs[name]))
              for name in runs}
    return {"rps": rps, "ratio": rps["ratecalc"] / rps["bare"], "bad": bad, "cpu_us": cpu_us,
            "upstream": upstream, "runs": runs, "valid": bad == 0 and upstream == 0}


def _figure(fid: str, name: str, shape: dict, target: float | None, what: str,
            answer_bytes: int, connections: int, config, extra: str = "") -> Figure:
    rps, cpu = shape["rps"], shape["cpu_us"]
    notes = (f"ratecalc {rps['ratecalc']:,.0f} req/s (all X-Cache HIT, {shape['upstream']} "
             f"upstream calls during the runs) vs bare Flask {rps['bare']:,.0f} req/s; "
             f"{what}; same {answer_bytes} B answer, 3 carriers; gunicorn gthread "
             f"{config.workers}w x {config.threads}t; {connections} connections; "
             f"{config.rounds} rounds of ABBA, {series_seconds(config):g} s a series; "
             f"errors/non-2xx {shape['bad']}. Worker CPU per request: ratecalc "
             f"{cpu['ratecalc']:.0f} µs vs bare Flask {cpu['bare']:.0f} µs "
             f"(bare / ratecalc = {cpu['bare'] / max(cpu['ratecalc'], 1e-9):.3f}).{extra}")
    passed = None if target is None else shape["ratio"] >= target and shape["valid"]
    return Figure(fid, name, shape["ratio"], f">= {target}" if target else "beside 1",
                  passed, notes,
                  {"ratecalc_rps": rps["ratecalc"], "bare_rps": rps["bare"],
                   "connections": connections, "errors": shape["bad"],
                   "upstream_calls_during_hits": shape["upstream"], "runs": shape["runs"],
                   "worker_cpu_us_per_request": cpu})


QUICK_LEAVES_OUT = (("1b", "64 connections"), ("1c", "cache in Redis"))


def _generator(config, ceiling: dict, main: dict) -> str:
    headroom = ceiling["rps"] / max(main["rps"].values())
    return (f" Generator: {load.generator_name(config)}, its ceiling "
            f"{ceiling['rps']:,.0f} req/s against a trivial server = {headroom:.1f}x "
            "the fastest server measured, so it is not the bottleneck.")


def run(bench) -> list[Figure]:
    config = bench.config
    bench.shipstation(latency=config.upstream_latency)
    ratecalc = bench.ratecalc("ratecalc-hits", SHIPSTATION_REQUESTS_PER_MINUTE=100_000)
    body = rate_request()  # every configured carrier (3)
    again = _cached(ratecalc, body)
    bare = bench.bare_app(again.content)
    trivial = bench.trivial()
    request = post(body)
    load.rate(config, trivial.url, request, seconds=config.warmup_seconds)
    main = _abba(bench, bare, ratecalc, request, config.connections)
    ceiling = load.rate(config, trivial.url, request, seconds=config.seconds / 2)
    if config.quick:  # figure 1's main shape only: the quick check stays under 90 s
        for proc in (ratecalc, bare, trivial):
            bench.procs.stop(proc)
        return [_figure("1", NAME, main, TARGET, "in-process cache", len(again.content),
                        config.connections, config, _generator(config, ceiling, main)),
                *(Figure(fid, f"{NAME}, {shape}", None, "beside 1" if fid == "1c" else
                         f">= {TARGET}", None, "not measured: BENCH_QUICK=1 runs figure "
                         "1's main shape only") for fid, shape in QUICK_LEAVES_OUT)]
    many = _abba(bench, bare, ratecalc, request, MANY_CONNECTIONS)
    bench.procs.stop(ratecalc)
    headroom = ceiling["rps"] / max(main["rps"].values())
    figures = [_figure("1", NAME, main, TARGET, "in-process cache", len(again.content),
                       config.connections, config, _generator(config, ceiling, main)),
               _figure("1b", NAME + ", 64 connections", many, TARGET, "in-process cache",
                       len(again.content), MANY_CONNECTIONS, config)]
    figures[0].details.update(generator_ceiling_rps=ceiling["rps"],
                              generator_headroom=headroom, ceiling_run=ceiling)
    url = redis_url()
    if url is None:
        figures.append(Figure("1c", NAME + ", cache in Redis", None, "beside 1", None,
                              "not measured: no Redis at BENCH_REDIS_URL "
                              "(default redis://127.0.0.1:6379/14)"))
    else:
        shared = bench.ratecalc("ratecalc-hits-redis", SHIPSTATION_REQUESTS_PER_MINUTE=100_000,
                                REDIS_URL=url)
        _cached(shared, body)
        on_redis = _abba(bench, bare, shared, request, config.connections)
        bench.procs.stop(shared)
        figures.append(_figure("1c", NAME + ", cache in Redis", on_redis, None,
                               "cache in Redis (one MGET per quote)", len(again.content),
                               config.connections, config))
    for proc in (bare, trivial):
        bench.procs.stop(proc)
    return figures
