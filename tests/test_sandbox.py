"""``ratecalc sandbox`` as a real subprocess answers the README's example with marked-up quotes."""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
import tomllib
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import requests

from ratecalc.sandbox import DEMO_TOKEN
from tests import support
from tests.conftest import DC_REQUEST
from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env() -> dict:
    return {k: v for k, v in os.environ.items()
            if not k.startswith("RATECALC_") and k != "PROMETHEUS_MULTIPROC_DIR"}


class Sandbox:
    def __init__(self, port: int, *args: str, cwd: Path = ROOT):
        self.url = f"http://127.0.0.1:{port}"
        self.stderr: list[str] = []
        self.proc = support.popen(
            [sys.executable, "-m", "ratecalc", "sandbox", "--port", str(port), *args],
            cwd=cwd, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float = 30.0) -> None:
        def healthy() -> bool:
            if self.proc.poll() is not None:
                pytest.fail("sandbox exited early:\n" + "\n".join(self.stderr))
            try:
                return requests.get(self.url + "/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, timeout=timeout, interval=0.05,
                   message=lambda: "sandbox did not become healthy:\n" + "\n".join(self.stderr))
        wait_until(self.curl_line, timeout=timeout, interval=0.05,
                   message="sandbox printed no curl line")

    def curl_line(self) -> str | None:
        return next((line for line in self.stderr if "curl" in line), None)

    def stop(self) -> None:
        support.stop(self.proc, timeout=10)


@pytest.fixture(scope="module")
def sandbox():
    box = Sandbox(free_port())
    try:
        box.wait_ready()
        yield box
    finally:
        box.stop()


EXAMPLE_PRICING = ROOT / "deploy" / "pricing.example.toml"


def example_fee(line: dict, country: str = "US") -> Decimal:
    """The fee deploy/pricing.example.toml gives a line, worked out here independently."""
    rules = tomllib.loads(EXAMPLE_PRICING.read_text())
    terms = dict(rules["defaults"])
    for rule in rules.get("rule", []):
        if (rule.get("carrier", line["carrier_code"]) == line["carrier_code"]
                and rule.get("service", line["service_code"]) == line["service_code"]
                and country in rule.get("country", [country])):
            terms.update({k: v for k, v in rule.items()
                          if k not in ("name", "carrier", "service", "country")})
            break
    d = {k: Decimal(v) for k, v in terms.items() if isinstance(v, str)}
    fee = line["carrier_cost"] * (1 + d["markup_percent"] / 100) + d["handling_fee"]
    step = d["round_up_to"]
    fee = math.ceil(fee / step) * step
    fee = min(max(fee, d["minimum_fee"]), d["maximum_fee"])
    return fee.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def assert_marked_up_quotes(response, markup: Decimal = Decimal(10)):
    """Quotes priced by the sandbox's example pricing rules (its markup is 10 %)."""
    assert response.status_code == 200, response.text
    body = json.loads(response.text, parse_float=Decimal)
    assert body["markup_percent"] == markup
    assert len(body["quotes"]) >= 3
    for q in body["quotes"]:
        assert q["carrier_cost"] == q["shipment_cost"] + q["other_cost"]
        assert q["freight_fee"] == example_fee(q), q
        assert q["freight_fee"] > q["carrier_cost"]
        assert q["service_code"] != "usps_priority_mail_express"  # excluded by the example
        assert q["pricing"]["free"] is False
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


def test_the_sandbox_uses_the_example_pricing_rules(sandbox):
    auth = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    rules = requests.get(sandbox.url + "/v1/pricing", headers=auth, timeout=10).json()
    assert rules["file"] == str(EXAMPLE_PRICING)
    assert [r["name"] for r in rules["rules"]] == ["canada-mexico", "ups-next-day"]
    assert "pricing rules: " + str(EXAMPLE_PRICING) in "\n".join(sandbox.stderr)
    body = dict(DC_REQUEST, order_value={"amount": "150.00", "currency": "USD"})
    r = requests.post(sandbox.url + "/v1/rates", json=body, headers=auth, timeout=30)
    assert r.status_code == 200, r.text
    quotes = r.json()["quotes"]
    free = {q["service_code"] for q in quotes if q["pricing"]["free"]}
    assert free == {"usps_priority_mail", "ups_ground", "fedex_ground"}
    assert all(q["freight_fee"] == 0 for q in quotes if q["pricing"]["free"])
    assert r.json()["freight_fee"] == 0 and r.json()["selected"]["service_code"] in free


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


# -- the CLI against a running sandbox, and the sandbox's own clean-up --------------------
def ratecalc(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ratecalc", *args], cwd=cwd,
                          env={**clean_env(), **(env or {})}, capture_output=True, text=True,
                          timeout=60)


def sandbox_env(cwd: Path) -> dict:
    """What `eval "$(ratecalc sandbox --print-env)"` puts in a shell's environment."""
    printed = ratecalc("sandbox", "--print-env", cwd=cwd)
    assert printed.returncode == 0, printed.stderr
    script = printed.stdout + "\nenv -0\n"
    out = subprocess.run(["bash", "-c", script], env={}, capture_output=True, timeout=10)
    pairs = (item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)
    return {k: v for k, v in pairs if k.startswith("RATECALC_")}


@pytest.fixture
def own_sandbox(tmp_path):
    started = []

    def start(*args: str) -> Sandbox:
        box = Sandbox(free_port(), *args, cwd=tmp_path)
        started.append(box)
        box.wait_ready()
        return box

    try:
        yield start
    finally:
        for box in started:
            box.stop()


def data_dir(box: Sandbox) -> Path:
    line = next(line for line in box.stderr if "data directory:" in line)
    return Path(line.split("data directory:", 1)[1].split(" (")[0].strip())


def test_the_banner_names_every_credential_and_the_data_directory(sandbox):
    text = "\n".join(sandbox.stderr)
    for value in ("demo-key", "demo-secret", "demo-v2-key", "demo-user", "demo-api-key",
                  "sandbox-store-password", "data directory:", "--print-env"):
        assert value in text


def test_quote_and_shop_why_work_against_a_running_sandbox(own_sandbox, tmp_path):
    box = own_sandbox()
    env = sandbox_env(tmp_path)
    assert env["RATECALC_SHIPSTATION_BASE_URL"].startswith("http://127.0.0.1:")
    quote = ratecalc("quote", "--to-country", "US", "--to-postal-code", "20500",
                     "--to-state", "DC", "--weight", "24oz", "--json", cwd=tmp_path,
                     env={k: v for k, v in env.items() if k != "RATECALC_API_TOKENS"})
    assert quote.returncode == 0, quote.stderr
    assert json.loads(quote.stdout)["markup_percent"] == 10
    why = ratecalc("shop", "why", "1001", "--json", cwd=tmp_path, env=env)
    assert why.returncode == 0, why.stderr
    assert json.loads(why.stdout)["reference"] == "#1050"
    # the same database as the sandbox's own API answers from
    api = requests.get(box.url + "/v1/orders/1001/eligibility", timeout=10,
                       headers={"Authorization": f"Bearer {DEMO_TOKEN}"}).json()
    assert json.loads(why.stdout) == api


def test_the_env_file_is_the_owners_alone_and_prints_only_export_lines(own_sandbox, tmp_path):
    own_sandbox()
    path = tmp_path / "var" / "sandbox.env"
    assert path.stat().st_mode & 0o777 == 0o600  # it holds the sandbox's credentials
    printed = ratecalc("sandbox", "--print-env", cwd=tmp_path).stdout.splitlines()
    assert printed and all(line.startswith("export RATECALC_") for line in printed)


def test_a_stopping_sandbox_leaves_another_ones_env_file(own_sandbox, tmp_path):
    box = own_sandbox()
    path = tmp_path / "var" / "sandbox.env"
    path.write_text(f"# ratecalc sandbox, pid {os.getpid()}\nexport RATECALC_X=1\n")
    support.stop(box.proc, timeout=10)
    assert path.exists()  # not the stopping sandbox's file any more


def test_print_env_without_a_running_sandbox_is_one_line(tmp_path):
    result = ratecalc("sandbox", "--print-env", cwd=tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "no sandbox" in result.stderr


@pytest.mark.parametrize("keep", [False, True])
def test_the_temporary_data_directory_goes_unless_kept(own_sandbox, tmp_path, keep):
    box = own_sandbox(*(["--keep"] if keep else []))
    folder = data_dir(box)
    assert folder.is_dir()
    support.stop(box.proc, timeout=10)  # SIGTERM: a clean exit
    assert box.proc.returncode == 0
    assert folder.exists() is keep
    assert not (tmp_path / "var" / "sandbox.env").exists()


def test_the_sandbox_serves_the_web_pages_and_prints_how_to_log_in(sandbox):
    text = "\n".join(sandbox.stderr)
    assert f"{sandbox.url}/ui/ (log in with the staff token {DEMO_TOKEN})" in text
    session = requests.Session()
    login = session.get(sandbox.url + "/ui/login", timeout=10)
    assert login.status_code == 200 and "Staff token" in login.text
    csrf = login.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    done = session.post(sandbox.url + "/ui/login", timeout=10,
                        data={"token": DEMO_TOKEN, "csrf_token": csrf})
    assert done.status_code == 200 and "Freight quote" in done.text
    assert session.get(sandbox.url + "/ui/orders/1001", timeout=30).status_code == 200
def test_the_sandbox_sends_alerts_to_its_log_and_a_local_mailbox(sandbox):
    text = "\n".join(sandbox.stderr)
    line = next(line for line in text.splitlines() if "alerts go to:" in line)
    assert "alerts.mbox" in line and "the log" in line
    answer = requests.get(sandbox.url + "/v1/alerts?state=open", timeout=10,
                          headers={"Authorization": f"Bearer {DEMO_TOKEN}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["alerts"] == [] and len(answer.json()["channels"]) == 2


# -- automatic freight on the demo orders -----------------------------------------------
def test_the_sandbox_prices_its_demo_orders_automatically(sandbox):
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}

    def written():
        body = requests.get(sandbox.url + "/v1/freight/runs?status=written", headers=headers,
                            timeout=5).json()
        return body["runs"]

    # The worker polls at start-up and every 10 s: fees appear within one interval.
    runs = wait_until(written, timeout=30, interval=0.5)
    assert any("auto-freight: on" in line for line in sandbox.stderr)
    order_id = runs[0]["order_id"]
    history = requests.get(f"{sandbox.url}/v1/orders/{order_id}/freight/history",
                           headers=headers, timeout=5).json()["history"]
    assert history[0]["action"] == "written" and Decimal(history[0]["new_fee"]) >= 0
    why = requests.get(f"{sandbox.url}/v1/orders/{order_id}/eligibility", headers=headers,
                       timeout=5).json()
    assert why["freight_status"]["action"] == "written"
    # #1050 (order 1001) keeps the freight a person typed.
    kept = requests.get(f"{sandbox.url}/v1/orders/1001/freight/history", headers=headers,
                        timeout=5).json()["history"]
    assert (kept[-1]["action"], kept[-1]["reason"]) == ("skipped", "manual_freight")
    assert "written" not in {r["action"] for r in kept}  # (later: dispatched by a notice)
