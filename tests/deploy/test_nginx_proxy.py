"""deploy/nginx.conf in front of a real `ratecalc serve`: slow clients are held by the proxy.

Needs Debian's nginx (`apt-get install nginx-light`, which .ci/run does). Without
it the tests skip with that message; under CI=true a missing nginx is a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import TOKEN, base_env

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nginx.conf"
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                      else None)
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("nginx is required in CI (.ci/run installs it with apt-get)")
    pytest.skip("nginx not installed: `apt-get install nginx-light` to run the proxy tests")


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def serve(shipstation, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATECALC_")}
    env.update(base_env(shipstation.url))
    env.update({"RATECALC_DATA_DIR": str(tmp_path / "data"),
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")})
    proc = subprocess.Popen([sys.executable, "-m", "ratecalc", "serve", "--port", str(port),
                             "--workers", "1", "--threads", "4"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(url + "/healthz", timeout=1).ok, 30, "ratecalc serve")
        yield port
    finally:
        stop(proc)


@pytest.fixture
def proxy(serve, tmp_path):
    binary = nginx_binary()
    prefix = tmp_path / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    port = free_port()
    text = CONF.read_text()
    assert "server 127.0.0.1:8000;" in text and "listen 127.0.0.1:8080;" in text
    text = text.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{serve};")
    text = text.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{port};")
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    # nginx's workers run as nobody and keep request bodies under tmp/.
    os.chmod(prefix, 0o777)  # noqa: S103 - a throw-away test directory
    os.chmod(prefix / "tmp", 0o777)  # noqa: S103
    proc = subprocess.Popen([binary, "-p", str(prefix), "-e", "stderr", "-c", str(conf),
                             "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(url + "/healthz", timeout=1).ok, 15, "nginx")
        yield url, prefix
    finally:
        stop(proc)


class Tricklers:
    """Connections that each send one header byte at a time, reconnecting when dropped."""

    def __init__(self, port: int, count: int):
        self.port, self.count = port, count
        self.stopped = threading.Event()
        self.sockets: list[socket.socket | None] = [None] * count
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> socket.socket | None:
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=1)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            return s
        except OSError:
            return None

    def _run(self) -> None:
        while not self.stopped.is_set():
            for i in range(self.count):
                s = self.sockets[i] or self._open()
                try:
                    if s is not None:
                        s.sendall(b"X")
                except OSError:
                    s.close()
                    s = None
                self.sockets[i] = s
            self.stopped.wait(0.5)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=10)
        for s in self.sockets:
            if s is not None:
                s.close()

    def open_count(self) -> int:
        return sum(1 for s in self.sockets if s is not None)


def test_healthz_answers_through_the_proxy_while_200_clients_trickle(proxy):
    url, _ = proxy
    port = int(url.rsplit(":", 1)[1])
    slowest = 0.0
    probes = 0
    with Tricklers(port, 200) as tricklers:
        wait_until(lambda: tricklers.open_count() >= 150, 10, "the slow connections")
        until = time.monotonic() + 20
        while time.monotonic() < until:
            started = time.perf_counter()
            response = requests.get(url + "/healthz", timeout=2)
            took = time.perf_counter() - started
            assert response.status_code == 200
            slowest = max(slowest, took)
            probes += 1
            time.sleep(0.1)  # the probe interval, not synchronisation
    assert probes > 50
    assert slowest < 0.5, f"slowest /healthz through the proxy took {slowest:.3f}s"


def test_proxy_sets_the_client_address_and_refuses_big_bodies(proxy):
    url, prefix = proxy
    response = requests.post(url + "/v1/rates", data=b"x" * (2 * 1024 * 1024),
                             headers={"Authorization": f"Bearer {TOKEN}",
                                      "Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 413
    assert TOKEN not in response.text


def test_proxy_error_pages_echo_no_credentials(proxy):
    url, prefix = proxy
    host, port = url.removeprefix("http://").split(":")
    secret = "SS-Password-do-not-echo-1234"
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"GET /shipstation/custom-store?action=export&SS-Password=" + secret.encode()
                  + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + secret.encode()
                  + b"\r\nBad Header Line\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400")
    assert secret.encode() not in answer
    log = (prefix / "access.log").read_text()
    assert secret not in log
