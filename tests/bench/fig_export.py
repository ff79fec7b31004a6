"""Figure 8: exporting ``BENCH_EXPORT_ORDERS`` eligible Cin7 orders as Custom Store XML.

The Cin7 simulator (own process, limits lifted) holds the orders
(``cin7_data.make_orders``, modified over the last 30 days) and the demo products.
ShipStation's side is the sandbox poller fetching every page of one window. The
minimum Cin7 calls paging allows: ceil(orders / 250) SalesOrders pages + 1 empty page
(Cin7 gives no total) + ceil(products / 250) product fetches. ratecalc also keeps
Cin7's 3 calls/second client-side, which sets a floor on the time.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta

import requests

from tests.bench.report import Figure
from tests.support.custom_store_poller import CustomStorePoller, PollResult

STORE_USER, STORE_PASSWORD = "shipstation", "bench-store-password"  # noqa: S105


def run(bench) -> list[Figure]:
    orders = bench.config.export_orders
    bench.shipstation()
    cin7 = bench.cin7(orders)
    info = requests.get(cin7.url + "/_bench/info", timeout=30).json()
    ratecalc = bench.ratecalc(
        "ratecalc-shop", CIN7_BASE_URL=cin7.url + "/api", CIN7_USERNAME="demo-user",
        CIN7_API_KEY="demo-api-key", STORE_USERNAME=STORE_USER, STORE_PASSWORD=STORE_PASSWORD,
        DATABASE_URL=f"sqlite:///{bench.workdir}/shop.sqlite3", CIN7_BRANCH_IDS="1,2")
    requests.post(cin7.url + "/_bench/reset", timeout=10).raise_for_status()
    now = datetime.fromisoformat(info["now"])
    start = (now - timedelta(days=31)).replace(second=0)
    end = (now + timedelta(minutes=1)).replace(second=0)
    poller = CustomStorePoller(ratecalc.url + "/shipstation/custom-store", STORE_USER,
                               STORE_PASSWORD, timeout=300)
    documents, page, pages = [], 1, 1
    began = time.monotonic()
    while page <= pages:
        response = poller.export_page(start, end, page)
        if response.status_code != 200:
            raise RuntimeError(f"page {page}: HTTP {response.status_code}: {response.text[:300]}")
        documents.append(response.content)
        if page == 1:
            pages = int(response.content.split(b'pages="', 1)[1].split(b'"', 1)[0])
        page += 1
    seconds = time.monotonic() - began
    counts = requests.get(cin7.url + "/_bench/calls", timeout=30).json()["counts"]
    bench.procs.stop(ratecalc)
    bench.procs.stop(cin7)

    result = PollResult()
    for n, document in enumerate(documents, 1):
        poller.check_document(document, result, n)
    sales = sum(n for k, n in counts.items() if k.lower().startswith("get /api/v1/salesorders"))
    products = sum(n for k, n in counts.items() if k.lower().startswith("get /api/v1/products"))
    calls = sum(counts.values())
    minimum = math.ceil(info["orders"] / 250) + 1 + math.ceil(info["products"] / 250)
    floor = max(0.0, (calls - 3) / 3)  # 3 a second: the 4th call waits a second, ...
    exported = len({o["OrderID"] for o in result.orders})
    passed = calls <= minimum and exported == orders and not result.problems
    return [Figure(
        "8", "export, Cin7 calls / paging minimum", calls / minimum, "<= 1.0", passed,
        f"{exported:,} of {orders:,} orders exported in {pages} pages in {seconds:.1f} s "
        f"({orders / seconds:,.0f} orders/s; Cin7's 3 calls/s alone needs >= {floor:.1f} s); "
        f"Cin7 calls {calls} = {sales} SalesOrders + {products} Products (minimum {minimum}: "
        f"{math.ceil(info['orders'] / 250)} pages + 1 empty + "
        f"{math.ceil(info['products'] / 250)} for {info['products']} products); "
        f"{len(result.problems)} protocol problems",
        {"seconds": seconds, "pages": pages, "calls": counts, "minimum": minimum,
         "exported": exported, "problems": result.problems[:10], "time_floor": floor})]
