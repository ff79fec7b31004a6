"""The bulkhead: a slow ShipStation never takes the threads ops and ShipStation need.

Real gunicorn (one worker, 8 threads, so 6 quote slots), the ShipStation simulator
answering after 5 s, 40 concurrent quotes for different shipments. Meanwhile
``/healthz``, ``/metrics`` and the Custom Store endpoint keep answering at once.
"""

from __future__ import annotations

import copy
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import DC_REQUEST, TOKEN
from tests.support import wait_until

pytestmark = pytest.mark.slow
THREADS = 8
LATENCY = 5.0


def quote(url: str, n: int) -> requests.Response:
    body = copy.deepcopy(DC_REQUEST)
    body["ship_to"]["postal_code"] = f"{20500 + n:05d}"  # a different shipment each: misses
    return requests.post(url + "/v1/rates", json=body, timeout=60,
                         headers={"Authorization": f"Bearer {TOKEN}"})


def test_forty_slow_quotes_leave_healthz_and_metrics_fast(gunicorn, shipstation):
    url, _ = gunicorn(workers=1, threads=THREADS)
    shipstation.set_latency(LATENCY)
    probes: dict[str, list[float]] = {"/healthz": [], "/metrics": [], "/readyz": []}
    done = threading.Event()

    def probe() -> None:
        while not done.is_set():
            for path, times in probes.items():
                started = time.monotonic()
                status = requests.get(url + path, timeout=10).status_code
                times.append(time.monotonic() - started)
                assert status in (200, 503)  # readyz may say not ready; it must answer
            time.sleep(0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        with ThreadPoolExecutor(40) as pool:
            responses = list(pool.map(lambda n: quote(url, n), range(40)))
    finally:
        done.set()
        prober.join(30)
    statuses = sorted(r.status_code for r in responses)
    codes = sorted(r.json()["error"]["code"] for r in responses if r.status_code != 200)
    assert statuses.count(200) == THREADS - 2, codes
    busy = [r for r in responses if r.status_code == 503]
    assert len(busy) == 40 - (THREADS - 2)
    assert all(r.json()["error"]["code"] == "busy" and int(r.headers["Retry-After"]) >= 1
               for r in busy)
    for path, times in probes.items():
        times.sort()
        assert len(times) >= 20, (path, len(times))
        p99 = times[int(len(times) * 0.99) - 1]
        assert p99 < 0.2, (path, p99, times[-5:])
    wait_until(lambda: requests.get(url + "/metrics", timeout=10).text.count(
        "ratecalc_quote_slots_in_use 0.0") == 1, timeout=20, interval=0.1,
        message="the slots were not given back")


def test_cache_hits_need_no_slot(gunicorn, shipstation):
    url, _ = gunicorn(workers=1, threads=THREADS)
    assert quote(url, 0).status_code == 200  # now cached
    shipstation.set_latency(LATENCY)
    slow = ThreadPoolExecutor(THREADS - 2)
    try:
        pending = [slow.submit(quote, url, n) for n in range(1, THREADS - 1)]
        wait_until(lambda: "ratecalc_quote_slots_in_use 6.0" in requests.get(
            url + "/metrics", timeout=10).text, timeout=20, interval=0.05,
            message="the slow quotes never took every slot")
        started = time.monotonic()
        hit = quote(url, 0)
        assert hit.status_code == 200 and hit.headers.get("X-Cache") == "HIT"
        assert time.monotonic() - started < 1.0
        assert all(f.result().status_code == 200 for f in pending)
    finally:
        slow.shutdown(wait=True)
