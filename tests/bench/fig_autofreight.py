"""Figure 9: Cin7 calls per 1,000 orders priced by automatic freight (target <= 12).

``BENCH_AUTOFREIGHT_ORDERS`` orders without freight (``cin7_data.make_orders``, modified
over the last 30 days) sit in the Cin7 simulator (own process); ``ratecalc serve`` runs
the auto-freight worker in-process (``RATECALC_AUTO_FREIGHT=on``) against it and the
ShipStation simulator. The figure counts every Cin7 call of the first poll, which prices
every order: paging (ceil(orders / 250) + 1 empty page), the products of all pages at once
(ceil(products / 250)) and the PUTs (ceil(orders / 250)): 10 for 1,000 orders. Then the
worker polls twice more and must write nothing (its own writes moved modifiedDate):
those polls' calls are reported beside the figure, not in it.
"""

from __future__ import annotations

import math
import time

import requests

from tests.bench.config import TOKEN
from tests.bench.report import Figure

INTERVAL = 10  # the first poll is alone: the next starts an interval after it ends


def _counts(cin7) -> dict:
    return requests.get(cin7.url + "/_bench/calls", timeout=30).json()["counts"]


def _info(cin7) -> dict:
    return requests.get(cin7.url + "/_bench/info", timeout=30).json()


def _runs(ratecalc) -> dict:
    response = requests.get(ratecalc.url + "/v1/freight/runs?limit=1", timeout=30,
                            headers={"Authorization": f"Bearer {TOKEN}"})
    response.raise_for_status()
    return response.json()


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise RuntimeError(f"not within {timeout:.0f} s: {what}")


def _by_kind(counts: dict) -> dict:
    kinds = {"pages": 0, "products": 0, "puts": 0, "other": 0}
    for key, n in counts.items():
        method, path = key.split()[:2]
        path = path.lower()
        if method == "GET" and path.startswith("/api/v1/salesorders"):
            kinds["pages"] += n
        elif method == "GET" and path.startswith("/api/v1/products"):
            kinds["products"] += n
        elif method == "PUT":
            kinds["puts"] += n
        else:
            kinds["other"] += n
    return kinds


def run(bench) -> list[Figure]:
    orders = bench.config.autofreight_orders
    bench.shipstation(latency=0.0)
    cin7 = bench.cin7(orders, no_freight=True)
    info = _info(cin7)
    began = time.monotonic()
    ratecalc = bench.ratecalc(
        "ratecalc-autofreight", CIN7_BASE_URL=cin7.url + "/api", CIN7_USERNAME="demo-user",
        CIN7_API_KEY="demo-api-key", STORE_USERNAME="shipstation",
        STORE_PASSWORD="bench-store-password",  # noqa: S106
        DATABASE_URL=f"sqlite:///{bench.workdir}/autofreight.sqlite3", CIN7_BRANCH_IDS="1,2",
        AUTO_FREIGHT="on", AUTO_FREIGHT_INTERVAL_SECONDS=INTERVAL,
        AUTO_FREIGHT_LOOKBACK_HOURS=31 * 24, SHIPSTATION_REQUESTS_PER_MINUTE=100_000,
        CARRIERS="fedex")  # UPS needs a state, which some generated addresses lack
    try:
        last = _wait(lambda: _runs(ratecalc)["last_run_at"], 900, "the first poll")
        seconds = time.monotonic() - began
        priced = _by_kind(_counts(cin7))
        written = _info(cin7)["with_freight"]
        for _ in range(2):  # two more polls: they must write nothing
            last = _wait(lambda seen=last: (_runs(ratecalc)["last_run_at"] or seen) != seen
                         and _runs(ratecalc)["last_run_at"], 120, "another poll")
        after = _by_kind(_counts(cin7))
    finally:
        bench.procs.stop(ratecalc)
        bench.procs.stop(cin7)
    calls = sum(priced.values())
    per_thousand = calls * 1000 / max(1, written)
    pages = math.ceil(orders / 250)
    minimum = pages + 1 + math.ceil(info["products"] / 250) + pages
    loops = after["puts"] - priced["puts"]
    passed = per_thousand <= 12 and loops == 0 and written == orders
    return [Figure(
        "9", "auto-freight, Cin7 calls per 1,000 priced orders", per_thousand, "<= 12", passed,
        f"{written:,} of {orders:,} orders priced by the first poll in {seconds:.1f} s; "
        f"Cin7 calls "
        f"{calls} = {priced['pages']} SalesOrders pages + {priced['products']} Products + "
        f"{priced['puts']} PUTs + {priced['other']} other (minimum {minimum}); the next 2 polls: "
        f"{sum(after.values()) - calls} reads, {loops} PUTs (no write loop)",
        {"seconds": seconds, "priced": priced, "after": after, "minimum": minimum,
         "orders": orders})]
