"""Every hostile request found so far, against a real `ratecalc serve`: 4xx answers, and no
request makes the server log a traceback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.conftest import TOKEN, base_env
from tests.shop.conftest import STORE_PASSWORD, STORE_USER

pytestmark = pytest.mark.slow
STORE = "/shipstation/custom-store"
JSON = {"Content-Type": "application/json"}
BEARER = {"Authorization": f"Bearer {TOKEN}"}
WINDOW = "start_date=01%2f01%2f2024+00%3a00&end_date=01%2f02%2f2024+00%3a00"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


EVIL_AGENT = 'curl\\q "quoted" \\u12 end'


@pytest.fixture
def served(shipstation, cin7, shop_env, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATECALC_")}
    env.update(base_env(shipstation.url))
    env.update({f"RATECALC_{k}": v for k, v in
                shop_env(f"sqlite:///{tmp_path}/shop.sqlite3").items()})
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
    log = open(tmp_path / "stderr.log", "w+b")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "ratecalc", "serve", "--port", str(port)],
                            env=env, stdout=log, stderr=log,  # access lines too
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(url + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("serve did not start")
            time.sleep(0.05)
        yield url, proc, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def notice(**elements) -> bytes:
    fields = {"OrderID": "1001", "OrderNumber": "#1050", "Carrier": "UPS",
              "TrackingNumber": "1Z999", **elements}
    return ("<ShipNotice>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
            + "</ShipNotice>").encode()


def corpus() -> list[tuple[str, str, dict]]:
    """(method, path, requests kwargs) of every hostile request known."""
    store_auth = {"auth": (STORE_USER, STORE_PASSWORD)}
    shipnotify = STORE + "?action=shipnotify"
    return [
        ("POST", shipnotify, {"data": notice(Items="<Item><Quantity>1e1999999</Quantity>"
                                                   "</Item>"), **store_auth}),
        ("POST", shipnotify, {"data": notice(ShippingCost="1e99999999"), **store_auth}),
        ("POST", shipnotify, {"data": notice(TrackingNumber="1Z" * 1500), **store_auth}),
        ("POST", shipnotify, {"data": notice(OrderID="9223372036854775808"), **store_auth}),
        ("POST", shipnotify, {"data": notice(OrderID="\u00b2"), **store_auth}),
        ("POST", shipnotify, {"data": notice(LabelCreateDate="9999-12-31T23:59:59-14:00"),
                              **store_auth}),
        ("GET", f"{STORE}?action=export&start_date=01%2f01%2f2024+00%3a00"
                "&end_date=12%2f31%2f9999+23%3a59", store_auth),
        ("GET", f"{STORE}?action=export&start_date=01%2f01%2f0001+00%3a00"
                "&end_date=01%2f02%2f2024+00%3a00", store_auth),
        ("GET", f"{STORE}?action=export&{WINDOW}&page=99999999999", store_auth),
        ("GET", f"{STORE}?action=export&{WINDOW}", {"headers": {"Authorization": b"Basic \xe9"}}),
        ("POST", "/v1/rates", {"data": b"[" * 1000 + b"]" * 1000, "headers": {**JSON, **BEARER}}),
        ("POST", "/v1/rates", {"data": b'{"ship_to":{},"ship_to":{}}',
                               "headers": {**JSON, **BEARER}}),
        ("POST", "/v1/orders/1001/freight", {"json": {"package": "x"}, "headers": BEARER}),
        ("POST", "/v1/orders/1001/freight", {"data": b'{"dry_run":true,"dry_run":false}',
                                             "headers": {**JSON, **BEARER}}),
        ("GET", "/v1/orders/\u0661\u0660\u0660\u0661/eligibility", {"headers": BEARER}),
        ("POST", "/v1/shipnotify/9223372036854775808/retry", {"headers": BEARER}),
        ("POST", "/v1/rates", {"data": b'{"ship_to":{"country":"US","postal_code":"   "},'
                                       b'"package":{"weight":{"value":1,"units":"pounds"}}}',
                               "headers": {**JSON, **BEARER}}),
    ]


def test_the_hostile_corpus_gets_4xx_and_no_traceback(served, cin7):
    url, proc, log = served
    for method, path, kwargs in corpus():
        response = requests.request(method, url + path, timeout=30, **kwargs)
        assert 400 <= response.status_code < 500, (method, path, response.status_code,
                                                   response.text[:200])
        assert "Traceback" not in response.text
    assert requests.get(url + "/healthz", timeout=5).ok
    assert requests.get(url + "/healthz", timeout=5, headers={"User-Agent": EVIL_AGENT}).ok
    assert cin7.calls("PUT") == []
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=15)
    log.seek(0)
    stderr = log.read().decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "serve logged nothing"
    for line in lines:  # gunicorn's own lines and its access lines: one JSON object each
        assert isinstance(json.loads(line), dict), line
    agents = [json.loads(line).get("agent") for line in lines]
    assert EVIL_AGENT in agents  # escaped, not broken, by the backslash and the quote
