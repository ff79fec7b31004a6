"""Custom Store paging across real gunicorn workers, with Redis and PostgreSQL.

A window's list is kept in the store, so pages 1..N give exactly the window's orders,
each once, whichever worker answers each page -- also when page 1 of a new window
reaches several workers at once and they build it together, and when orders are
edited in Cin7 between the pages.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from lxml import etree

from ratecalc.simulators.cin7 import data as cin7_data
from ratecalc.simulators.cin7.app import Cin7Simulator
from ratecalc.simulators.server import ServerThread
from tests.shop.conftest import (
    STORE_PASSWORD,
    STORE_USER,
    UNPACED_CIN7,
    fresh_postgres_schema,
)
from tests.support.xsd import validate

pytestmark = pytest.mark.slow
ORDERS = 250
RUNS = 10


@pytest.fixture
def cin7_orders():
    sim = Cin7Simulator(seed_demo=False)
    sim.set_rate_limits(per_second=None, per_minute=None, per_day=None)
    now = datetime.now(UTC).replace(microsecond=0)
    for order in cin7_data.make_orders(ORDERS, now=now, seed=3):
        sim.add_order(order)
    server = ServerThread(sim.app).start()
    sim.url = server.url + "/api"
    yield sim, now
    server.stop()


def ss_date(moment: datetime) -> str:
    return moment.strftime("%m/%d/%Y %H:%M")


def export_page(url: str, start: datetime, end: datetime, page: int) -> bytes:
    response = requests.get(url + "/shipstation/custom-store", params={
        "action": "export", "start_date": ss_date(start), "end_date": ss_date(end),
        "page": page}, auth=(STORE_USER, STORE_PASSWORD), timeout=60)  # a new connection each
    assert response.status_code == 200, response.text
    assert validate(response.content) == []
    return response.content


def test_three_workers_page_a_250_order_window_exactly_once(gunicorn, cin7_orders,
                                                            redis_url):
    sim, now = cin7_orders
    with fresh_postgres_schema() as database_url:
        url, _ = gunicorn(workers=3, threads=4, REDIS_URL=redis_url, DATABASE_URL=database_url,
                          CIN7_BASE_URL=sim.url, CIN7_USERNAME="demo-user",
                          CIN7_API_KEY="demo-api-key", STORE_USERNAME=STORE_USER,
                          STORE_PASSWORD=STORE_PASSWORD, CIN7_BRANCH_IDS="1,2",
                          DELIVERY_WORKER="off", EXPORT_PAGE_SIZE="100", **UNPACED_CIN7)
        expected = sorted(sim.orders)
        pages = 3
        outcomes = []
        for run in range(RUNS):
            # A new window each run: an earlier start (a full read) on even runs, a later
            # end (reusing the previous window's reads) on odd ones.
            start = now - timedelta(days=31, minutes=run - run % 2)
            end = now + timedelta(minutes=2 + run)
            with ThreadPoolExecutor(pages) as pool:
                # Page 1 asked of several workers at once: each may build the window, one
                # list is kept, and all answer the same page.
                firsts = list(pool.map(export_page, [url] * 3, [start] * 3, [end] * 3, [1] * 3))
                assert firsts[0] == firsts[1] == firsts[2]
                # Orders edited between pages move to the end of Cin7's modifiedDate order:
                # a list built again by another worker would shift every page after them.
                first_ids = [int(o.findtext("OrderID"))
                             for o in etree.fromstring(firsts[0]).findall("Order")]
                for order_id in first_ids[run::25]:
                    sim.touch(order_id, internalComments=f"edited in run {run}")
                rest = list(pool.map(export_page, [url] * 2, [start] * 2, [end] * 2, [2, 3]))
            documents = [firsts[0], *rest]
            ids = []
            for document in documents:
                root = etree.fromstring(document)
                assert root.get("pages") == str(pages)
                ids.extend(int(order.findtext("OrderID")) for order in root.findall("Order"))
            outcomes.append(sorted(ids) == expected)
            assert len(ids) == len(set(ids)), f"run {run}: an order came twice"
            assert sorted(ids) == expected, f"run {run}: {len(set(ids))} of {ORDERS}"
        assert outcomes == [True] * RUNS
