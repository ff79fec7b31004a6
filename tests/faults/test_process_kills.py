"""SIGKILL at the worst moments: nothing lost, nothing applied twice."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests

from ratecalc.shop.store.engines import open_store
from tests import support
from tests.conftest import TOKEN, base_env
from tests.shop.conftest import STORE_PASSWORD, STORE_USER, UNPACED_CIN7
from tests.support import free_port, kill, record_arrivals, wait_until

pytestmark = pytest.mark.slow
ORDERS = {1001: "#1050", 1002: "SO-1002", 1003: "SO-1003", 1015: "SO-1015", 1016: "SO-1016"}
AUTH = "Basic " + base64.b64encode(f"{STORE_USER}:{STORE_PASSWORD}".encode()).decode()


def env_for(shipstation, cin7, database_url: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATECALC_")}
    env.update(base_env(shipstation.url))
    env.update({
        "RATECALC_CIN7_BASE_URL": cin7.url, "RATECALC_CIN7_USERNAME": "demo-user",
        "RATECALC_CIN7_API_KEY": "demo-api-key", "RATECALC_STORE_USERNAME": STORE_USER,
        "RATECALC_STORE_PASSWORD": STORE_PASSWORD, "RATECALC_DATABASE_URL": database_url,
        "RATECALC_CIN7_BRANCH_IDS": "1,2", "RATECALC_DELIVERY_LEASE_SECONDS": "2",
        **{f"RATECALC_{k}": v for k, v in UNPACED_CIN7.items()},
    })
    env.update({f"RATECALC_{k}": v for k, v in extra.items()})
    return env


def notice(order_id: int, tracking: str) -> bytes:
    return (f"<ShipNotice><OrderID>{order_id}</OrderID><OrderNumber>{ORDERS[order_id]}"
            f"</OrderNumber><Carrier>UPS</Carrier><Service>Ground</Service><TrackingNumber>"
            f"{tracking}</TrackingNumber><ShipDate>11/27/2026</ShipDate>"
            "</ShipNotice>").encode()


def post_notice(url: str, order_id: int, tracking: str) -> int:
    try:
        return requests.post(url + "/shipstation/custom-store", timeout=10, data=notice(
            order_id, tracking), headers={"Authorization": AUTH}, params={
            "action": "shipnotify", "order_number": ORDERS[order_id], "carrier": "UPS",
            "tracking_number": tracking}).status_code
    except requests.RequestException:
        return 0  # the connection died with the server: ShipStation will send it again


def comment_counts(cin7, trackings: dict[str, int]) -> dict[str, int]:
    return {t: cin7.orders[o]["internalComments"].count(f"tracking {t},")
            for t, o in trackings.items()}


def start_serve(spawn, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = spawn([sys.executable, "-m", "ratecalc", "serve", "--port", str(port),
                  "--threads", "16"], env=env,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, "ratecalc serve exited"
        try:
            return requests.get(url + "/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    wait_until(healthy, timeout=30, interval=0.1, message="ratecalc serve did not start")
    return proc, url


def test_worker_killed_mid_batch_then_restarted(make_api, shop_env, shipstation, cin7,
                                                sqlite_url, spawn):
    api = make_api(**shop_env(sqlite_url))  # stores the notices; its own worker is off
    trackings = {f"1Z-KILL-{order_id}": order_id for order_id in ORDERS}
    for tracking, order_id in trackings.items():
        assert post_notice(api.url, order_id, tracking) == 200
    cin7.set_latency(1.0)  # the worker's GET and PUT each take a second
    env = env_for(shipstation, cin7, sqlite_url)
    arrivals = record_arrivals(cin7.app)
    worker = spawn([sys.executable, "-m", "ratecalc", "worker"], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: any(m == "PUT" for m, _ in arrivals), timeout=20,
               message="the worker never sent its PUT")
    # Its PUT is on the wire now, the simulator still working on it (a second).
    kill(worker)
    store = open_store(sqlite_url)
    assert {n.status for n in store.list_notices()} == {"delivering"}  # claimed by the dead
    puts_sent = sum(m == "PUT" for m, _ in arrivals)
    wait_until(lambda: len(cin7.calls("PUT")) >= puts_sent, timeout=10,
               message="the simulator never finished the PUT the dead worker sent")
    cin7.set_latency(0)
    leases = [n.lease_until for n in store.list_notices()]
    wait_until(lambda: datetime.now(UTC) > max(leases), timeout=10, interval=0.05,
               message="the dead worker's lease (2 s) never ran out")
    again = subprocess.run([sys.executable, "-m", "ratecalc", "worker", "--once"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr[-2000:]
    assert {n.status for n in store.list_notices()} == {"delivered"}
    assert set(comment_counts(cin7, trackings).values()) == {1}
    assert all(cin7.orders[o]["stage"] == "Dispatched" for o in ORDERS)
    store.close()


def test_serve_killed_while_notices_arrive(shipstation, cin7, sqlite_url, spawn):
    env = env_for(shipstation, cin7, sqlite_url)
    trackings = {f"1Z-SERVE-{order_id}-{n}": order_id for order_id in ORDERS for n in range(6)}
    proc, url = start_serve(spawn, env)
    answered = []

    def send(order_id: int, tracking: str) -> int:
        status = post_notice(url, order_id, tracking)
        answered.append(status)
        return status

    with ThreadPoolExecutor(16) as pool:
        futures = {t: pool.submit(send, o, t) for t, o in trackings.items()}
        # Mid-stream: some stored and answered, the others still on the wire.
        wait_until(lambda: len(answered) >= 3, timeout=20, interval=0.005,
                   message="serve answered no notice")
        proc.send_signal(signal.SIGKILL)  # the master; its orphaned worker is ended with the test
        results = {t: f.result() for t, f in futures.items()}
    proc.wait()
    proc, url = start_serve(spawn, env)
    # ShipStation sends again what did not get a 2xx, and repeats some that did.
    for tracking, order_id in trackings.items():
        if results[tracking] != 200 or tracking.endswith("-0"):
            assert post_notice(url, order_id, tracking) == 200

    def states() -> str:
        store = open_store(sqlite_url)
        found = {(n.tracking_number, n.status, n.last_error)
                 for n in store.list_notices(limit=500)}
        store.close()
        return f"{comment_counts(cin7, trackings)} {found} {results}"

    wait_until(lambda: set(comment_counts(cin7, trackings).values()) == {1}, timeout=30,
               interval=0.1, message=states)
    pending = requests.get(url + "/v1/shipnotify", params={"status": "pending"},
                           headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert pending.json()["notifications"] == []
    support.stop(proc)  # a graceful stop, then nothing is delivered twice
    assert set(comment_counts(cin7, trackings).values()) == {1}
