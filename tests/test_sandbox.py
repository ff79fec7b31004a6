"""``ratecalc sandbox`` as a real subprocess answers the README's example with marked-up quotes."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import requests

from ratecalc.sandbox.run import DEMO_TOKEN
from tests.conftest import DC_REQUEST

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sandbox:
    def __init__(self, port: int):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("RATECALC_") and k != "PROMETHEUS_MULTIPROC_DIR"}
        self.url = f"http://127.0.0.1:{port}"
        self.stderr: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ratecalc", "sandbox", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("sandbox exited early:\n" + "\n".join(self.stderr))
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        else:
            pytest.fail("sandbox did not become healthy:\n" + "\n".join(self.stderr))
        while time.monotonic() < deadline and not self.curl_line():
            time.sleep(0.05)

    def curl_line(self) -> str | None:
        return next((line for line in self.stderr if "curl" in line), None)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def sandbox():
    box = Sandbox(free_port())
    try:
        box.wait_ready()
        yield box
    finally:
        box.stop()


def assert_marked_up_quotes(response, markup: Decimal = Decimal(10)):
    assert response.status_code == 200, response.text
    body = json.loads(response.text, parse_float=Decimal)
    assert body["markup_percent"] == markup
    assert len(body["quotes"]) >= 3
    factor = 1 + markup / 100
    for q in body["quotes"]:
        assert q["carrier_cost"] == q["shipment_cost"] + q["other_cost"]
        assert q["freight_fee"] == (q["carrier_cost"] * factor).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert q["freight_fee"] > q["carrier_cost"]
    assert body["freight_fee"] == body["selected"]["freight_fee"] == \
        min(q["freight_fee"] for q in body["quotes"])
    return body


def test_start_up_prints_the_token_and_a_curl_line(sandbox):
    text = "\n".join(sandbox.stderr)
    assert DEMO_TOKEN in text
    assert sandbox.url in text


def test_the_printed_curl_line_returns_marked_up_quotes(sandbox):
    line = sandbox.curl_line()
    assert line is not None
    url = re.search(r"(http://\S+/v1/rates)", line).group(1)
    token = re.search(r"Authorization: Bearer (\S+?)'", line).group(1)
    data = re.search(r"-d '(.*)'\s*$", line).group(1)
    r = requests.post(url, data=data, timeout=30, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert_marked_up_quotes(r)


def test_the_readme_example_returns_marked_up_quotes(sandbox):
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"curl -s -H 'Authorization: Bearer ([^']+)'[^`]*?/v1/rates -d '(\{.*?\})'",
                      readme, re.S)
    assert match, "README has no /v1/rates curl example"
    token, data = match.groups()
    assert token == DEMO_TOKEN
    r = requests.post(sandbox.url + "/v1/rates", data=data, timeout=30, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    body = assert_marked_up_quotes(r)
    assert {q["carrier_code"] for q in body["quotes"]} >= {"fedex", "ups", "stamps_com"}


def test_dc_request_with_the_demo_token(sandbox):
    r = requests.post(sandbox.url + "/v1/rates", json=DC_REQUEST, timeout=30,
                      headers={"Authorization": f"Bearer {DEMO_TOKEN}"})
    assert_marked_up_quotes(r)
    again = requests.post(sandbox.url + "/v1/rates", json=DC_REQUEST, timeout=30,
                          headers={"Authorization": f"Bearer {DEMO_TOKEN}"})
    assert again.headers["X-Cache"] == "HIT"


def test_the_sandbox_is_ready_and_needs_the_token(sandbox):
    assert requests.get(sandbox.url + "/readyz", timeout=5).status_code == 200
    assert requests.post(sandbox.url + "/v1/rates", json=DC_REQUEST, timeout=5).status_code == 401


def readme_shop_curls() -> list[list[str]]:
    """The README's shop-mode curl lines, joined and split into argv lists."""
    import shlex

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("Shop mode in the sandbox", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    joined = re.sub(r"\\\n\s*", " ", block)
    return [shlex.split(line) for line in joined.splitlines() if line.startswith("curl")]


def test_the_readme_shop_examples_work(sandbox):
    curls = readme_shop_curls()
    assert len(curls) == 4
    outputs = []
    for argv in curls:
        argv = [a.replace("http://127.0.0.1:8000", sandbox.url) for a in argv]
        done = subprocess.run(argv + ["-w", "\n%{http_code}"], capture_output=True, text=True,
                              timeout=60)
        body, status = done.stdout.rsplit("\n", 1)
        outputs.append((int(status), body))
    (export_status, export), (notify_status, notify), (why_status, why), \
        (freight_status, freight) = outputs
    assert export_status == 200 and "<Orders pages=" in export and "<OrderID>1001" in export
    assert notify_status == 200 and notify.startswith("OK")
    assert why_status == 200 and json.loads(why)["eligible"] is False
    assert freight_status == 200, freight
    assert json.loads(freight)["dry_run"] is True and json.loads(freight)["written"] is None
