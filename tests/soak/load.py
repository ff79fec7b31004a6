"""The soak's load generator, run in its own process by :mod:`tests.soak.run`.

    python -m tests.soak.load CONFIG.json RESULTS.jsonl

A steady, open-loop mix: every operation has its own rate (requests a second)
and is scheduled at fixed intervals with a little jitter, whatever the server's
answer time, so a slow server shows up as latency instead of as less load. A
pool of threads with keep-alive sessions sends the requests. One JSON line per
request is written at the end: start time, operation, status, error code,
X-Cache, latency, and for ship notices the notice id ratecalc answered.

Operations: ``quote_hit`` (a small fixed set of shipments, cached after their
first quote), ``quote_miss`` (a weight never asked before), ``export`` (a whole
Custom Store export, page after page, with Basic, query or header
credentials), ``shipnotify`` (a new ship notice for a soak order; one in ten
repeats an earlier one, which must be stored and applied once),
``eligibility``, ``healthz``, ``readyz`` and ``metrics``.
"""

from __future__ import annotations

import heapq
import json
import random
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import requests

from tests.support.custom_store_poller import CustomStorePoller

STATES = [("20500", "DC"), ("10001", "NY"), ("94105", "CA"), ("60601", "IL"), ("78701", "TX"),
          ("98101", "WA"), ("33101", "FL"), ("02108", "MA"), ("80202", "CO"), ("30303", "GA")]
NOTICE_ID = re.compile(r"OK notice (\d+) (stored|already received)")
PAGES = re.compile(rb'<Orders[^>]*\spages="(\d+)"')


def shipment(postal_code: str, state: str, weight: dict) -> dict:
    return {"ship_to": {"country": "US", "postal_code": postal_code, "state": state},
            "ship_from": {"postal_code": "78703"}, "package": {"weight": weight}}


HIT_SET = [shipment(zip_code, state, {"value": ounces, "units": "ounces"})
           for zip_code, state in STATES for ounces in (8, 24)]


class Load:
    def __init__(self, config: dict):
        self.url = config["url"]
        self.token = config["token"]
        self.store_user = config["store_user"]
        self.store_password = config["store_password"]
        self.seconds = float(config["seconds"])
        self.rates = {op: float(rate) for op, rate in config["rates"].items() if rate > 0}
        self.orders = [tuple(o) for o in config["orders"]]
        self.threads = int(config.get("threads", 32))
        self.rng = random.Random(config.get("seed", 1))
        self.records: list[dict] = []
        self.dropped = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._miss = 0
        self._notices: list[tuple[int, str, str]] = []  # posted (order id, reference, tracking)
        self._in_flight = 0

    # -- plumbing --------------------------------------------------------------------------
    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers["Authorization"] = f"Bearer {self.token}"
            self._local.pollers = {
                form: CustomStorePoller(self.url + "/shipstation/custom-store",
                                        self.store_user, self.store_password, auth=form,
                                        timeout=60)
                for form in ("basic", "query", "headers")}
        return self._local.session

    def poller(self) -> CustomStorePoller:
        self.session()
        return self._local.pollers[self.rng.choice(("basic", "query", "headers"))]

    def record(self, op: str, started: float, response: requests.Response | None,
               error: str | None = None, **extra) -> None:
        entry = {"t": started, "ms": round((time.time() - started) * 1000, 2), "op": op,
                 "status": response.status_code if response is not None else 0,
                 "code": error, "cache": None, **extra}
        if response is not None:
            entry["cache"] = response.headers.get("X-Cache")
            if response.status_code >= 400:
                entry["code"] = error_code(response)
        with self._lock:
            self.records.append(entry)

    def timed(self, op: str, send, **extra) -> requests.Response | None:
        started = time.time()
        try:
            response = send()
        except requests.RequestException as exc:
            self.record(op, started, None, error=type(exc).__name__, **extra)
            return None
        self.record(op, started, response, **extra)
        return response

    # -- operations ------------------------------------------------------------------------
    def quote_hit(self) -> None:
        body = self.rng.choice(HIT_SET)
        self.timed("quote_hit", lambda: self.session().post(self.url + "/v1/rates", json=body,
                                                            timeout=60))

    def quote_miss(self) -> None:
        with self._lock:
            self._miss += 1
            grams = 1000 + self._miss  # every weight new: a cache miss by construction
        zip_code, state = self.rng.choice(STATES)
        body = shipment(zip_code, state, {"value": grams, "units": "grams"})
        self.timed("quote_miss", lambda: self.session().post(self.url + "/v1/rates", json=body,
                                                             timeout=60))

    def export(self) -> None:
        poller = self.poller()
        end = datetime.now(UTC)
        start = end - timedelta(days=30)
        page, pages = 1, 1
        while page <= pages:
            response = self.timed("export", lambda p=page: poller.export_page(start, end, p))
            if response is None or response.status_code != 200:
                return
            match = PAGES.search(response.content[:500])
            pages = int(match.group(1)) if match else 1
            page += 1

    def shipnotify(self) -> None:
        with self._lock:
            repeat = bool(self._notices) and self.rng.random() < 0.1
            if repeat:
                order_id, reference, tracking = self.rng.choice(self._notices)
            else:
                order_id, reference = self.rng.choice(self.orders)
                tracking = f"1ZSOAK{len(self._notices) + 1:08d}"
                self._notices.append((order_id, reference, tracking))
        poller = self.poller()
        started = time.time()
        try:
            response = poller.ship_notify(
                order_number=reference, order_id=str(order_id), carrier="UPS",
                service="UPS Ground", tracking_number=tracking, shipping_cost="8.25",
                ship_date=datetime.now(UTC))
        except requests.RequestException as exc:
            self.record("shipnotify", started, None, error=type(exc).__name__,
                        order_id=order_id, tracking=tracking, repeat=bool(repeat))
            return
        match = NOTICE_ID.search(response.text) if response.status_code == 200 else None
        self.record("shipnotify", started, response, order_id=order_id, tracking=tracking,
                    repeat=bool(repeat), notice_id=int(match.group(1)) if match else None,
                    stored=match.group(2) == "stored" if match else None)

    def eligibility(self) -> None:
        order_id, _ = self.rng.choice(self.orders)
        self.timed("eligibility", lambda: self.session().get(
            f"{self.url}/v1/orders/{order_id}/eligibility", timeout=60))

    def healthz(self) -> None:
        self.timed("healthz", lambda: self.session().get(self.url + "/healthz", timeout=30))

    def readyz(self) -> None:
        self.timed("readyz", lambda: self.session().get(self.url + "/readyz", timeout=30))

    def metrics(self) -> None:
        self.timed("metrics", lambda: self.session().get(self.url + "/metrics", timeout=30))

    # -- schedule --------------------------------------------------------------------------
    def run(self) -> None:
        start = time.time()
        end = start + self.seconds
        queue = [(start + self.rng.uniform(0, 1 / rate), op) for op, rate in self.rates.items()]
        heapq.heapify(queue)
        with ThreadPoolExecutor(self.threads, thread_name_prefix="load") as pool:
            while queue:
                due, op = heapq.heappop(queue)
                if due >= end:
                    continue
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
                with self._lock:
                    saturated = self._in_flight >= self.threads * 4
                    if not saturated:
                        self._in_flight += 1
                if saturated:
                    self.dropped += 1  # the server is so slow the backlog would grow forever
                else:
                    pool.submit(self._run_one, op)
                interval = 1 / self.rates[op]
                heapq.heappush(queue, (due + interval * self.rng.uniform(0.8, 1.2), op))

    def _run_one(self, op: str) -> None:
        try:
            getattr(self, op)()
        except Exception as exc:  # noqa: BLE001 - a bug here must not stop the load
            self.record(op, time.time(), None, error=f"load generator: {exc!r}")
        finally:
            with self._lock:
                self._in_flight -= 1


def error_code(response: requests.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return str(body["error"].get("code"))
    except ValueError:
        pass
    return response.text.strip().splitlines()[0][:80] if response.text.strip() else ""


def main(argv: list[str]) -> int:
    config_path, out_path = argv
    with open(config_path, encoding="utf-8") as fh:
        load = Load(json.load(fh))
    load.run()
    with open(out_path, "w", encoding="utf-8") as fh:
        for entry in sorted(load.records, key=lambda r: r["t"]):
            fh.write(json.dumps(entry) + "\n")
        fh.write(json.dumps({"summary": True, "dropped": load.dropped}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
