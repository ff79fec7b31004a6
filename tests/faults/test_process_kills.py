"""SIGKILL at the worst moments: nothing lost, nothing applied twice."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from ratecalc.shop.store import open_store
from tests.conftest import TOKEN, base_env
from tests.shop.conftest import STORE_PASSWORD, STORE_USER

pytestmark = pytest.mark.slow
ORDERS = {1001: "#1050", 1002: "SO-1002", 1003: "SO-1003", 1015: "SO-1015", 1016: "SO-1016"}
AUTH = "Basic " + base64.b64encode(f"{STORE_USER}:{STORE_PASSWORD}".encode()).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(shipstation, cin7, database_url: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATECALC_")}
    env.update(base_env(shipstation.url))
    env.update({
        "RATECALC_CIN7_BASE_URL": cin7.url, "RATECALC_CIN7_USERNAME": "demo-user",
        "RATECALC_CIN7_API_KEY": "demo-api-key", "RATECALC_STORE_USERNAME": STORE_USER,
        "RATECALC_STORE_PASSWORD": STORE_PASSWORD, "RATECALC_DATABASE_URL": database_url,
        "RATECALC_CIN7_BRANCH_IDS": "1,2", "RATECALC_DELIVERY_LEASE_SECONDS": "2",
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


def start_serve(env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ratecalc", "serve", "--port", str(port),
                             "--threads", "16"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=1).ok:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("ratecalc serve did not start")


def test_worker_killed_mid_batch_then_restarted(make_api, shop_env, shipstation, cin7,
                                                sqlite_url):
    api = make_api(**shop_env(sqlite_url))  # stores the notices; its own worker is off
    trackings = {f"1Z-KILL-{order_id}": order_id for order_id in ORDERS}
    for tracking, order_id in trackings.items():
        assert post_notice(api.url, order_id, tracking) == 200
    cin7.set_latency(1.0)  # the worker's GET and PUT each take a second
    env = env_for(shipstation, cin7, sqlite_url)
    worker = subprocess.Popen([sys.executable, "-m", "ratecalc", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not cin7.calls("GET", "/v1/SalesOrders"):  # read done (recorded after answering)
        assert time.monotonic() < deadline, "the worker never read the orders"
        time.sleep(0.02)
    time.sleep(0.4)  # now its PUT is on the wire, the simulator still working on it
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    store = open_store(sqlite_url)
    assert {n.status for n in store.list_notices()} == {"delivering"}  # claimed by the dead
    time.sleep(1.5)  # the simulator finishes the PUT the dead worker sent
    cin7.set_latency(0)
    time.sleep(2.0)  # the dead worker's lease (2 s) runs out
    again = subprocess.run([sys.executable, "-m", "ratecalc", "worker", "--once"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr[-2000:]
    assert {n.status for n in store.list_notices()} == {"delivered"}
    assert set(comment_counts(cin7, trackings).values()) == {1}
    assert all(cin7.orders[o]["stage"] == "Dispatched" for o in ORDERS)
    store.close()


def test_serve_killed_while_notices_arrive(shipstation, cin7, sqlite_url):
    env = env_for(shipstation, cin7, sqlite_url)
    trackings = {f"1Z-SERVE-{order_id}-{n}": order_id for order_id in ORDERS for n in range(6)}
    proc, url = start_serve(env)
    with ThreadPoolExecutor(16) as pool:
        futures = {t: pool.submit(post_notice, url, o, t) for t, o in trackings.items()}
        time.sleep(0.15)
        proc.send_signal(signal.SIGKILL)  # mid-stream: some stored, some answered, some not
        results = {t: f.result() for t, f in futures.items()}
    proc.wait()
    proc, url = start_serve(env)
    try:
        # ShipStation sends again what did not get a 2xx, and repeats some that did.
        for tracking, order_id in trackings.items():
            if results[tracking] != 200 or tracking.endswith("-0"):
                assert post_notice(url, order_id, tracking) == 200
        deadline = time.monotonic() + 30
        while set(comment_counts(cin7, trackings).values()) != {1}:
            if time.monotonic() > deadline:
                store = open_store(sqlite_url)
                states = {(n.tracking_number, n.status, n.last_error) for n in
                          store.list_notices(limit=500)}
                pytest.fail(f"{comment_counts(cin7, trackings)} {states} {results}")
            time.sleep(0.2)
        pending = requests.get(url + "/v1/shipnotify", params={"status": "pending"},
                               headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert pending.json()["notifications"] == []
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert set(comment_counts(cin7, trackings).values()) == {1}
