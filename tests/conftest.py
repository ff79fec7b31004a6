"""Shared fixtures: simulators and ratecalc itself, each a real HTTP server.

Also the run-wide rules: under ``CI=true`` hypothesis is derandomised (the ``ci``
profile); under pytest-xdist each worker gets its own Redis database; and a run
fails if any process a test started is still alive at its end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from hypothesis import settings as hypothesis_settings

from ratecalc.app.factory import create_app
from ratecalc.settings import Settings
from ratecalc.simulators.server import ServerThread
from ratecalc.simulators.shipstation.app import ShipStationSimulator
from tests import support

TOKEN = "test-token-0123456789abcdef"  # noqa: S105

# `make fuzz` runs the property tests with this profile: many more examples.
# Random even where CI is set (hypothesis' own defaults derandomise under CI).
hypothesis_settings.register_profile("fuzz", max_examples=2000, deadline=None,
                                     derandomize=False)
# CI runs the same examples every time (schemathesis draws through hypothesis too):
# a red CI is then a change, not bad luck. `make fuzz` stays random.
hypothesis_settings.register_profile("ci", derandomize=True, database=None,
                                     print_blob=True)

REDIS_DEFAULT = "redis://127.0.0.1:6379/15"


def _worker_redis_url(url: str, worker: str) -> str:
    """``url`` on database (its own - n) for xdist worker ``gw<n>``: workers never
    flush or read each other's keys."""
    n = int(worker.removeprefix("gw") or 0)
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base - n) % 16}"))


def pytest_configure(config):
    if os.environ.get("CI") == "true" and not config.getoption("hypothesis_profile", None):
        hypothesis_settings.load_profile("ci")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        os.environ["RATECALC_TEST_REDIS_URL"] = _worker_redis_url(
            os.environ.get("RATECALC_TEST_REDIS_URL", REDIS_DEFAULT), worker)
    config._ratecalc_leftovers = []


def pytest_collection_modifyitems(config, items):
    """Cin7's casing and the store's engine are independent of each other (one is how
    Cin7 records are read, the other where notices are kept), so the shop tests run
    pairwise: camelCase on both engines and PascalCase on SQLite. Every shop test
    still runs with each casing and on each engine, at three runs instead of four."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        pair = (params.get("store_url"), params.get("cin7"))
        (dropped if pair == ("postgresql", "pascal") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    # xdist hands out whole files in collection order, so the longest files go first:
    # started last, one of them would run alone at the end of the run.
    items.sort(key=lambda item: LONGEST_FILES.get(item.path.name, len(LONGEST_FILES)))


#: the files that take longest (time make test --junitxml, 2026-12-07), longest first
LONGEST_FILES = {name: rank for rank, name in enumerate((
    "test_shop_cli.py", "test_custom_store_export.py", "test_delivery.py",
    "test_secret_hygiene.py", "test_auto_freight_budgets.py", "test_ui_browser.py",
    "test_shipnotify.py", "test_nginx_proxy.py", "test_sandbox.py", "test_cli.py",
    "test_bulkhead.py", "test_notice_confinement.py", "test_freight.py",
    "test_process_kills.py", "test_eligibility_api.py"))}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist controller: collect what each worker found still running."""
    output = getattr(node, "workeroutput", None) or {}  # none if the worker crashed
    node.config._ratecalc_leftovers.extend(output.get("ratecalc_leftovers", []))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """Fail the run if a process started by a test outlived it (and kill it)."""
    config = session.config
    if config.pluginmanager.getplugin("dsession") is None:  # not the xdist controller
        found = [f"{pid} {cmd}" for pid, cmd in support.kill_leftovers()]
        if hasattr(config, "workeroutput"):
            config.workeroutput["ratecalc_leftovers"] = found
            return
    else:
        found = config._ratecalc_leftovers
    if found:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        lines = ["processes started by tests were still running at the end (killed now):",
                 *(f"  {line}" for line in found)]
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line("\n".join(lines), red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def spawn():
    """``spawn(args, **popen_kwargs)``: a subprocess (own process group) ended with the test,
    however the test ends."""
    started = []

    def start(args, **kwargs):
        proc = support.popen(args, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        support.stop(proc)


class Api:
    """A client of a running ratecalc: ``api.post("/v1/rates", json=...)``."""

    def __init__(self, url: str, app, token: str = TOKEN):
        self.url = url
        self.app = app
        self.session = requests.Session()
        self.token = token

    @property
    def services(self):
        return self.app.extensions["ratecalc"]

    def request(self, method: str, path: str, *, auth: bool = True, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        if auth:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.url + path, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)


class QuickServerThread(ServerThread):
    """A :class:`ServerThread` that stops at once (polls for shutdown every 5 ms)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        super().__init__(app, host, port, poll_interval=0.005)


@pytest.fixture
def shipstation():
    sim = ShipStationSimulator()
    server = QuickServerThread(sim.app).start()
    sim.url = server.url
    yield sim
    server.stop()
    # Every rate request ratecalc sent in the test, held to the published spec.
    from tests.specs.schemas import sent_by_ratecalc_problems

    found = sent_by_ratecalc_problems(sim.requests)
    assert found == [], f"ratecalc sent requests the published spec refuses: {found[:3]}"


def base_env(shipstation_url: str) -> dict:
    return {
        "RATECALC_SHIPSTATION_BASE_URL": shipstation_url,
        "RATECALC_SHIPSTATION_API_KEY": "demo-key",
        "RATECALC_SHIPSTATION_API_SECRET": "demo-secret",
        "RATECALC_SHIPSTATION_V2_API_KEY": "demo-v2-key",
        "RATECALC_API_TOKENS": TOKEN,
        "RATECALC_SHIP_FROM_POSTAL_CODE": "78703",
        "RATECALC_SHIP_FROM_CITY": "Austin",
        "RATECALC_SHIP_FROM_STATE": "TX",
    }


@pytest.fixture
def make_settings(shipstation):
    def make(**env) -> Settings:
        merged = base_env(shipstation.url)
        merged.update({k if k.startswith("RATECALC_") else f"RATECALC_{k.upper()}": str(v)
                       for k, v in env.items()})
        return Settings.from_env(merged)

    return make


@pytest.fixture
def make_api(make_settings):
    started = []

    def start(settings: Settings | None = None, **env) -> Api:
        settings = settings or make_settings(**env)
        app = create_app(settings)
        server = QuickServerThread(app).start()
        started.append((server, app))
        return Api(server.url, app)

    yield start
    for server, app in started:
        server.stop()
        app.extensions["ratecalc"].close()


@pytest.fixture
def api(make_api) -> Api:
    return make_api()


DC_REQUEST = {
    "ship_to": {"country": "US", "postal_code": "20500", "state": "DC", "city": "Washington",
                "residential": False},
    "ship_from": {"postal_code": "78703"},
    "package": {"weight": {"value": 24, "units": "ounces"},
                "dimensions": {"length": 7, "width": 5, "height": 6, "units": "inches"}},
}


@pytest.fixture
def gunicorn(shipstation, tmp_path, spawn):
    """``gunicorn(workers, **env)`` -> (url, metrics dir); every one started is stopped
    (its whole process group) when the test ends, passed or failed."""

    def start(workers: int = 2, threads: int = 8, **env):
        port = support.free_port()
        full = {k: v for k, v in os.environ.items() if not k.startswith("RATECALC_")}
        full.update(base_env(shipstation.url))
        full.update({f"RATECALC_{k}": str(v) for k, v in env.items()})
        full["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / f"metrics-{port}")
        proc = spawn(
            [sys.executable, "-m", "ratecalc", "serve", "--port", str(port),
             "--workers", str(workers), "--threads", str(threads)],
            env=full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            assert proc.poll() is None, "gunicorn exited: " + proc.stderr.read().decode()[-2000:]
            try:
                return requests.get(url + "/healthz", timeout=1).status_code == 200
            except requests.RequestException:  # refused, or a read timeout while booting
                return False

        support.wait_until(healthy, timeout=30, interval=0.1, message="gunicorn did not start")
        return url, full["PROMETHEUS_MULTIPROC_DIR"]

    return start
