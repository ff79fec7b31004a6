"""The soak run: ratecalc under gunicorn, a steady mixed load, injected upstream faults.

``make soak`` (``python -m tests.soak``) does, in order:

1. starts the ShipStation and Cin7 simulators on threads of this process (so
   faults can be switched on and off directly), with 60 extra eligible Cin7
   orders for ship notices and exports;
2. starts ``python -m ratecalc serve --workers 2`` (gunicorn, gthread) as a
   subprocess, its delivery worker in-process (the default under ``serve``), on
   PostgreSQL and Redis when they answer (a fresh schema; the keys of this run
   are deleted at the end), else on SQLite and in-process state;
3. runs :mod:`tests.soak.load` in another process for ``SOAK_SECONDS``
   (default 300) while this process injects faults once per period: a
   ShipStation latency spike, ShipStation 500s for one carrier, ShipStation
   503s for every call, and a Cin7 outage; each lasts a few seconds;
4. samples RSS, open descriptors and threads of the gunicorn master and
   workers from ``/proc`` every few seconds;
5. waits (up to ``SOAK_DRAIN_SECONDS``) until the outbox is empty, then checks
   that every ship notice ratecalc acknowledged was applied to its Cin7 order
   exactly once (``[ratecalc notice N]`` markers in ``internalComments``).

It passes when: no 5xx is unexpected (502/503/504 count as expected only for
the operations that depend on the upstream being broken, while it is broken
and for a grace period after, which covers the breaker's cool-down; a ship
notice must never fail); no other request failed; RSS and open descriptors at
the end are within ``start x 1.3 + a small constant`` of their values after the
warm-up; threads stay within what the bounded pools allow; no worker was
restarted; nothing was logged at error level; and every notice was delivered
exactly once. It prints a table and exits 1 otherwise.

Settings (environment): ``SOAK_SECONDS`` (300), ``SOAK_WORKERS`` (2),
``SOAK_SCALE`` (1.0, multiplies every rate), ``SOAK_FAULT_PERIOD`` (60, or less
for short runs), ``SOAK_DRAIN_SECONDS`` (240), ``SOAK_DATABASE_URL`` /
``SOAK_REDIS_URL`` (``off`` for none; default: the test engines when they
answer, Redis database 14), ``SOAK_KEEP=1`` keeps the work directory (logs, raw results).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from ratecalc.simulators.cin7 import data as cin7_data
from ratecalc.simulators.cin7.app import Cin7Simulator
from ratecalc.simulators.server import ServerThread
from ratecalc.simulators.shipstation.app import ShipStationSimulator
from tests.soak.procinfo import Sample, sample_tree

ROOT = Path(__file__).resolve().parents[2]
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_DEFAULT = "redis://127.0.0.1:6379/15"
TOKEN = "soak-token-0123456789abcdef"  # noqa: S105 - a test credential
STORE_USER, STORE_PASSWORD = "shipstation", "soak-store-password"
CIN7_USER, CIN7_KEY = "soak-user", "soak-cin7-key"
RATES = {  # requests a second, before SOAK_SCALE
    "quote_hit": 8.0, "quote_miss": 1.0, "export": 0.1, "shipnotify": 0.25,
    "eligibility": 0.1, "healthz": 0.1, "readyz": 0.1, "metrics": 0.05,
}
BREAKER_RESET_SECONDS = 5.0
UPSTREAM_TIMEOUT_SECONDS = 5.0
GRACE_SECONDS = BREAKER_RESET_SECONDS + 5.0  # breaker cool-down + a retry in flight
SAMPLE_EVERY_SECONDS = 5.0
RSS_SLACK_KIB, FD_SLACK, THREAD_SLACK = 16 * 1024, 16, 8  # the "small constant"
MARKER = re.compile(r"\[ratecalc notice (\d+)\]")
DEPENDS_ON = {"shipstation": {"quote_hit", "quote_miss"},
              "cin7": {"export", "eligibility"}}


@dataclass
class Config:
    seconds: float
    workers: int
    scale: float
    fault_period: float
    drain_seconds: float
    database_url: str | None
    redis_url: str | None
    keep: bool

    @classmethod
    def from_env(cls) -> Config:
        seconds = float(os.environ.get("SOAK_SECONDS", "300"))
        warmup = warmup_seconds(seconds)
        default_period = max(20.0, min(60.0, seconds - warmup - 10))
        return cls(seconds=seconds, workers=int(os.environ.get("SOAK_WORKERS", "2")),
                   scale=float(os.environ.get("SOAK_SCALE", "1")),
                   fault_period=float(os.environ.get("SOAK_FAULT_PERIOD", default_period)),
                   drain_seconds=float(os.environ.get("SOAK_DRAIN_SECONDS", "240")),
                   database_url=os.environ.get("SOAK_DATABASE_URL") or None,
                   redis_url=os.environ.get("SOAK_REDIS_URL") or None,
                   keep=os.environ.get("SOAK_KEEP") == "1")


def warmup_seconds(seconds: float) -> float:
    return min(30.0, seconds * 0.2)


@dataclass
class Fault:
    name: str
    upstream: str
    start: float
    end: float
    expects_errors: bool


# -- infrastructure --------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Simulators:
    def __init__(self, soak_orders: int = 60):
        self.shipstation = ShipStationSimulator(
            credentials=(("soak-key", "soak-secret"),), requests_per_window=1_000_000)
        self.cin7 = Cin7Simulator(credentials=((CIN7_USER, CIN7_KEY),))
        self.cin7.set_rate_limits(None, None, None)
        self.orders = []
        for order in cin7_data.make_orders(soak_orders, seed=7, start_id=200_001):
            stored = self.cin7.add_order(order)
            self.orders.append((stored["id"], stored["reference"]))
        self.ss_server = ServerThread(self.shipstation.app).start()
        self.cin7_server = ServerThread(self.cin7.app).start()

    def forget_calls(self) -> None:
        """The simulators record every call; the soak has no use for the record."""
        self.shipstation.requests.clear()
        self.cin7.requests.clear()

    def clear(self) -> None:
        self.shipstation.clear_faults()
        self.cin7.set_outage(None)

    def stop(self) -> None:
        self.ss_server.stop()
        self.cin7_server.stop()


def database(config: Config) -> tuple[str, str, callable]:
    """(url, description, cleanup)."""
    if config.database_url and config.database_url != "off":
        return config.database_url, "given (SOAK_DATABASE_URL)", lambda: None
    if config.database_url != "off":
        try:
            import psycopg

            base = os.environ.get("RATECALC_TEST_DATABASE_URL", PG_DEFAULT)
            schema = f"soak_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(base, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')

            def drop():
                with psycopg.connect(base, autocommit=True, connect_timeout=3) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

            sep = "&" if "?" in base else "?"
            return (f"{base}{sep}options=-csearch_path%3D{schema}",
                    f"PostgreSQL (schema {schema})", drop)
        except Exception as exc:  # noqa: BLE001 - any failure: fall back to SQLite
            log(f"PostgreSQL not reachable ({type(exc).__name__}); using SQLite")
    path = Path(tempfile.mkdtemp(prefix="ratecalc-soak-db-")) / "shop.sqlite3"
    return f"sqlite:///{path}", "SQLite", lambda: shutil.rmtree(path.parent, True)


def redis_url(config: Config) -> tuple[str | None, str]:
    if config.redis_url == "off":
        return None, "off (in-process state per worker)"
    url = config.redis_url or soak_redis_db(
        os.environ.get("RATECALC_TEST_REDIS_URL", REDIS_DEFAULT))
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001
        if config.redis_url:
            raise SystemExit(f"soak: SOAK_REDIS_URL does not answer: {exc}") from None
        return None, f"off (Redis not reachable: {type(exc).__name__})"
    return url, "Redis"


def soak_redis_db(test_url: str) -> str:
    """The test Redis, but database 14: the test suite flushes its own database (15),
    which would turn the soak's cache hits into misses if ``make test`` runs meanwhile."""
    parts = urlsplit(test_url)
    if parts.scheme in ("redis", "rediss"):
        return urlunsplit(parts._replace(path="/14"))
    return test_url


def drop_redis_keys(url: str, account: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"ratecalc:*{account}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start:start + 500])
    except redis.RedisError:
        pass
    finally:
        client.close()


class Gunicorn:
    def __init__(self, env: dict, workdir: Path, workers: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "serve.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        full = {k: v for k, v in os.environ.items()
                if not k.startswith("RATECALC_") and k != "PROMETHEUS_MULTIPROC_DIR"}
        full.update(env)
        full["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / "metrics")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ratecalc", "serve", "--port", str(self.port),
             "--workers", str(workers)],
            env=full, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if requests.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise SystemExit("soak: ratecalc serve did not become ready:\n"
                         + self.log_path.read_text(errors="replace")[-3000:])

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._log.close()
                return None
        self._log.close()
        return self.proc.returncode


class Sampler(threading.Thread):
    def __init__(self, master: int):
        super().__init__(name="soak-sampler", daemon=True)
        self.master = master
        self.samples: list[Sample] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append(sample_tree(self.master))
            self._halt.wait(SAMPLE_EVERY_SECONDS)

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


class Injector(threading.Thread):
    """One round of faults per period, each a few seconds long, none overlapping."""

    def __init__(self, sims: Simulators, start: float, end: float, period: float):
        super().__init__(name="soak-faults", daemon=True)
        self.sims, self.start_at, self.end_at, self.period = sims, start, end, period
        self.faults: list[Fault] = []
        self._halt = threading.Event()
        ss, cin7 = sims.shipstation, sims.cin7
        # (offset in the period as a fraction, seconds, name, upstream, on, expects errors)
        self.plan = [
            (0.0, 5.0, "ShipStation slow (0.4 s a call)", "shipstation",
             lambda: ss.set_latency(0.4), False),
            (0.25, 6.0, "ShipStation 500s for fedex", "shipstation",
             lambda: ss.force_status("fedex", 500), False),
            (0.5, 4.0, "ShipStation 503 on every call", "shipstation",
             lambda: ss.force_status(None, 503), True),
            (0.75, 5.0, "Cin7 outage (503)", "cin7", lambda: cin7.set_outage(503), True),
        ]

    def run(self) -> None:
        round_start = self.start_at
        while not self._halt.is_set() and round_start < self.end_at:
            for fraction, seconds, name, upstream, switch_on, expects in self.plan:
                begin = round_start + fraction * self.period
                if begin + seconds > self.end_at - 3 or not self._sleep_until(begin):
                    continue
                switch_on()
                fault = Fault(name, upstream, time.time(), 0.0, expects)
                self._sleep_until(begin + seconds)
                self.sims.clear()
                fault.end = time.time()
                self.faults.append(fault)
                self.sims.forget_calls()
            round_start += self.period

    def _sleep_until(self, moment: float) -> bool:
        delay = moment - time.time()
        return delay <= 0 or not self._halt.wait(delay)

    def stop(self) -> None:
        self._halt.set()
        self.join(30)
        self.sims.clear()


# -- analysis --------------------------------------------------------------------------------
@dataclass
class Analysis:
    records: list[dict]
    faults: list[Fault]
    dropped: int
    expected: Counter = field(default_factory=Counter)
    unexpected: Counter = field(default_factory=Counter)
    unexpected_examples: list[dict] = field(default_factory=list)

    def classify(self) -> None:
        for r in self.records:
            if 200 <= r["status"] < 300:
                continue
            key = (r["op"], r["status"], r["code"] or "")
            if self.excused(r):
                self.expected[key] += 1
            else:
                self.unexpected[key] += 1
                if len(self.unexpected_examples) < 20:
                    self.unexpected_examples.append(r)

    def excused(self, r: dict) -> bool:
        if r["status"] not in (502, 503, 504):
            return False
        begin, end = r["t"], r["t"] + r["ms"] / 1000
        for fault in self.faults:
            if (fault.expects_errors and r["op"] in DEPENDS_ON[fault.upstream]
                    and begin <= fault.end + GRACE_SECONDS and end >= fault.start):
                return True
        return False


def percentiles(values: list[float]) -> tuple[float, float, float, float]:
    if not values:
        return (0.0, 0.0, 0.0, 0.0)
    if len(values) == 1:
        return (values[0],) * 3 + (values[0],)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98], max(values)


def check_deliveries(records: list[dict], db_url: str, sims: Simulators,
                     drain_seconds: float) -> tuple[dict, list[str]]:
    """Wait for the outbox to empty, then match ratecalc's store against Cin7's orders."""
    from ratecalc.shop.store.engines import open_store

    problems: list[str] = []
    store = open_store(db_url, migrate=False)
    try:
        deadline = time.monotonic() + drain_seconds
        started = time.monotonic()
        while True:
            notices = store.list_notices(limit=1_000_000)
            waiting = [n for n in notices if n.status in ("pending", "delivering")]
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(2)
        drain = time.monotonic() - started
    finally:
        store.close()
    if waiting:
        problems.append(f"{len(waiting)} notice(s) still undelivered after {drain_seconds:.0f} s "
                        f"(e.g. {[(n.id, n.status, n.last_error) for n in waiting[:3]]})")
    failed = [n for n in notices if n.status == "failed"]
    if failed:
        problems.append(f"{len(failed)} notice(s) failed: "
                        f"{[(n.id, n.last_error) for n in failed[:3]]}")

    # What the load generator was told.
    acked: dict[str, set[int]] = {}
    posts = [r for r in records if r["op"] == "shipnotify"]
    for r in posts:
        if r["status"] == 200 and r.get("notice_id") is not None:
            acked.setdefault(r["tracking"], set()).add(r["notice_id"])
    for tracking, ids in acked.items():
        if len(ids) != 1:
            problems.append(f"tracking {tracking} was stored as several notices: {sorted(ids)}")
    stored = {n.id: n for n in notices}
    acked_ids = {i for ids in acked.values() for i in ids}
    missing = sorted(acked_ids - set(stored))
    if missing:
        problems.append(f"acknowledged but not in the store: {missing[:10]}")

    # What Cin7 holds: every stored notice applied once, on its own order, nothing else.
    markers: Counter = Counter()
    where: dict[int, set[int]] = {}
    with sims.cin7._lock:  # the simulator's own lock: read a consistent picture
        orders = {oid: dict(o) for oid, o in sims.cin7.orders.items()}
    for oid, order in orders.items():
        for found in MARKER.findall(order.get("internalComments") or ""):
            markers[int(found)] += 1
            where.setdefault(int(found), set()).add(oid)
    twice = {i: c for i, c in markers.items() if c > 1}
    if twice:
        problems.append(f"applied more than once: {dict(list(twice.items())[:10])}")
    never = sorted(i for i, n in stored.items() if n.status == "delivered" and i not in markers)
    if never:
        problems.append(f"marked delivered but not on any Cin7 order: {never[:10]}")
    strangers = sorted(set(markers) - set(stored))
    if strangers:
        problems.append(f"markers of unknown notices on Cin7 orders: {strangers[:10]}")
    wrong_order = sorted(i for i, oids in where.items()
                         if i in stored and stored[i].order_id not in oids)
    if wrong_order:
        problems.append(f"applied to the wrong order: {wrong_order[:10]}")
    repeats = sum(1 for r in posts if r.get("repeat") and r["status"] == 200)
    summary = {
        "posted": len(posts), "acknowledged": sum(1 for r in posts if r["status"] == 200),
        "repeats acknowledged": repeats, "distinct notices": len(acked),
        "in store": len(stored),
        "delivered": sum(1 for n in notices if n.status == "delivered"),
        "applied once in Cin7": sum(1 for i in stored if markers.get(i) == 1),
        "drain seconds": round(drain, 1),
    }
    return summary, problems


def log_problems(path: Path) -> Counter:
    counts: Counter = Counter()
    for line in path.read_text(errors="replace").splitlines():
        if '"level": "error"' in line or '"level": "critical"' in line:
            counts["error-level log lines"] += 1
        if "[CRITICAL]" in line or "[ERROR]" in line:
            counts["gunicorn errors"] += 1
        if "WORKER TIMEOUT" in line:
            counts["worker timeouts"] += 1
        if "Traceback" in line:
            counts["tracebacks"] += 1
    return counts


# -- report ----------------------------------------------------------------------------------
def table(rows: list[tuple], header: tuple) -> str:
    rows = [tuple(str(c) for c in row) for row in [header, *rows]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def thread_ceiling(config: Config) -> int:
    """Every pool full: gunicorn's 16 request threads and the 16 ShipStation fan-out
    threads per worker, plus a few fixed ones (main, delivery worker, heartbeat...).
    Threads grow lazily up to their pools' sizes, so a ratio to the warm-up count
    would be noise; more than this is a leak."""
    return 2 + config.workers * (16 + 16 + THREAD_SLACK)


def flat(start: float, end: float, slack: float) -> bool:
    return end <= start * 1.3 + slack


def report(config: Config, engines: str, analysis: Analysis, start: Sample, end: Sample,
           peak: Sample, deliveries: dict, delivery_problems: list[str], log_counts: Counter,
           exit_status: int | None, elapsed: float) -> bool:
    records = analysis.records
    failures: list[str] = []
    print()
    print(f"ratecalc soak: {elapsed:.0f} s of load, {config.workers} gunicorn workers, "
          f"{engines}")
    print()
    ops = sorted({r["op"] for r in records}, key=list(RATES).index)
    rows = []
    for op in [*ops, "all"]:
        mine = [r for r in records if op == "all" or r["op"] == op]
        ok = sum(1 for r in mine if 200 <= r["status"] < 300)
        p50, p95, p99, top = percentiles([r["ms"] for r in mine])
        rows.append((op, len(mine), ok, len(mine) - ok, f"{p50:.1f}", f"{p95:.1f}",
                     f"{p99:.1f}", f"{top:.0f}"))
    print(table(rows, ("operation", "requests", "2xx", "other", "p50 ms", "p95 ms",
                       "p99 ms", "max ms")))
    cache = Counter(r["cache"] for r in records if r["op"].startswith("quote") and r["cache"])
    print(f"\nX-Cache: {dict(cache)}   rate: {len(records) / max(1.0, elapsed):.1f} req/s"
          f"   dropped by the load generator (server too slow): {analysis.dropped}")

    print("\nfaults injected:")
    if analysis.faults:
        t0 = records[0]["t"] if records else 0
        print(table([(f.name, f"{f.start - t0:.0f}", f"{f.end - f.start:.1f}",
                      "yes" if f.expects_errors else "no") for f in analysis.faults],
                    ("fault", "at s", "for s", "5xx allowed")))
    else:
        print("  none (the run was too short)")

    print("\nnon-2xx answers by operation, status and code:")
    rows = [(op, status, code or "-", analysis.expected[(op, status, code)], 0)
            for (op, status, code) in sorted(analysis.expected)]
    rows += [(op, status, code or "-", 0, n) for (op, status, code), n in
             sorted(analysis.unexpected.items())]
    print(table(rows, ("operation", "status", "code", "expected", "UNEXPECTED"))
          if rows else "  none")
    if analysis.unexpected:
        failures.append(f"{sum(analysis.unexpected.values())} unexpected non-2xx answer(s)")
        for example in analysis.unexpected_examples[:5]:
            print(f"  e.g. {json.dumps(example)}")

    print("\nresources of gunicorn (master + workers), after warm-up -> end (peak):")
    rows = [
        ("RSS", mib(start.rss_kib), mib(end.rss_kib), mib(peak.rss_kib),
         f"{mib(int(start.rss_kib * 1.3 + RSS_SLACK_KIB))}",
         "ok" if flat(start.rss_kib, end.rss_kib, RSS_SLACK_KIB) else "GROWING"),
        ("open fds", start.fds, end.fds, peak.fds, int(start.fds * 1.3 + FD_SLACK),
         "ok" if flat(start.fds, end.fds, FD_SLACK) else "GROWING"),
        ("threads", start.threads, end.threads, peak.threads, thread_ceiling(config),
         "ok" if end.threads <= thread_ceiling(config) else "TOO MANY"),
    ]
    print(table(rows, ("resource", "start", "end", "peak", "limit", "verdict")))
    for name, s, e, slack in (("RSS", start.rss_kib, end.rss_kib, RSS_SLACK_KIB),
                              ("open fds", start.fds, end.fds, FD_SLACK)):
        if not flat(s, e, slack):
            failures.append(f"{name} grew from {s} to {e}")
    if end.threads > thread_ceiling(config):
        failures.append(f"{end.threads} threads at the end, more than the pools allow "
                        f"({thread_ceiling(config)})")
    per = ", ".join(f"{p.pid}: {mib(p.rss_kib)}/{p.fds} fds/{p.threads} thr"
                    for p in end.processes)
    print(f"  per process at the end: {per}")
    if start.worker_pids != end.worker_pids:
        failures.append(f"workers restarted: {start.worker_pids} -> {end.worker_pids}")

    print("\nship notices:")
    print(table(list(deliveries.items()), ("", "count")))
    for problem in delivery_problems:
        print(f"  PROBLEM: {problem}")
    failures.extend(delivery_problems)
    if deliveries.get("distinct notices", 0) == 0:
        failures.append("no ship notice was acknowledged: the soak proved nothing about them")

    bad_logs = {k: v for k, v in log_counts.items() if v}
    print(f"\nserver log: {dict(bad_logs) or 'no errors'}; exit status after SIGTERM: "
          f"{exit_status}")
    failures.extend(f"{v} {k} in the server log" for k, v in bad_logs.items())
    if exit_status not in (0,):
        failures.append(f"ratecalc serve exited with {exit_status} on SIGTERM")

    print()
    if failures:
        print("SOAK FAILED:")
        for failure in failures:
            print(f"  - {failure}")
    else:
        print("SOAK PASSED")
    return not failures


# -- main ------------------------------------------------------------------------------------
def main() -> int:
    config = Config.from_env()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the simulators' request lines
    workdir = Path(tempfile.mkdtemp(prefix="ratecalc-soak-"))
    warmup = warmup_seconds(config.seconds)
    sims = Simulators()
    db_url, db_desc, drop_db = database(config)
    r_url, r_desc = redis_url(config)
    ss_url = sims.ss_server.url
    from ratecalc.rating.keys import account_fingerprint

    account = account_fingerprint("v1", ss_url, "soak-key")
    env = {
        "RATECALC_SHIPSTATION_BASE_URL": ss_url,
        "RATECALC_SHIPSTATION_API_KEY": "soak-key",
        "RATECALC_SHIPSTATION_API_SECRET": "soak-secret",
        "RATECALC_SHIPSTATION_REQUESTS_PER_MINUTE": "2400",
        "RATECALC_API_TOKENS": TOKEN,
        "RATECALC_SHIP_FROM_POSTAL_CODE": "78703",
        "RATECALC_SHIP_FROM_CITY": "Austin",
        "RATECALC_SHIP_FROM_STATE": "TX",
        "RATECALC_CIN7_BASE_URL": sims.cin7_server.url + "/api",
        "RATECALC_CIN7_USERNAME": CIN7_USER,
        "RATECALC_CIN7_API_KEY": CIN7_KEY,
        "RATECALC_CIN7_BRANCH_IDS": "1,2",
        "RATECALC_STORE_USERNAME": STORE_USER,
        "RATECALC_STORE_PASSWORD": STORE_PASSWORD,
        "RATECALC_DATABASE_URL": db_url,
        "RATECALC_UPSTREAM_TIMEOUT_SECONDS": str(UPSTREAM_TIMEOUT_SECONDS),
        "RATECALC_BREAKER_RESET_SECONDS": str(BREAKER_RESET_SECONDS),
        "RATECALC_CACHE_MAX_ENTRIES": "2000",  # reached early: eviction is part of the soak
    }
    if r_url:
        env["RATECALC_REDIS_URL"] = r_url
    engines = f"database: {db_desc}, rating state: {r_desc}"
    log(f"work directory {workdir}; {engines}")
    server = Gunicorn(env, workdir, config.workers)
    ok = False
    try:
        server.wait_ready()
        log(f"ratecalc serve on {server.url} (master pid {server.proc.pid}); load for "
            f"{config.seconds:.0f} s, warm-up {warmup:.0f} s, faults every "
            f"{config.fault_period:.0f} s")
        load_config = workdir / "load.json"
        results = workdir / "results.jsonl"
        load_config.write_text(json.dumps({
            "url": server.url, "token": TOKEN, "store_user": STORE_USER,
            "store_password": STORE_PASSWORD, "seconds": config.seconds,
            "rates": {op: rate * config.scale for op, rate in RATES.items()},
            "orders": sims.orders, "seed": 1, "threads": 32}))
        sampler = Sampler(server.proc.pid)
        sampler.start()
        began = time.time()
        load = subprocess.Popen([sys.executable, "-m", "tests.soak.load", str(load_config),
                                 str(results)], cwd=ROOT)
        injector = Injector(sims, began + warmup, began + config.seconds, config.fault_period)
        injector.start()
        while load.poll() is None:
            time.sleep(1)
            if time.time() > began + config.seconds + 180:
                load.kill()
                raise SystemExit("soak: the load generator did not finish")
        elapsed = time.time() - began
        injector.stop()
        end = sample_tree(server.proc.pid)
        sampler.stop()
        if load.returncode != 0:
            raise SystemExit(f"soak: the load generator failed ({load.returncode})")
        lines = [json.loads(line) for line in results.read_text().splitlines()]
        summary = next(line for line in lines if line.get("summary"))
        records = [line for line in lines if not line.get("summary")]
        analysis = Analysis(records, injector.faults, summary["dropped"])
        analysis.classify()
        after_warmup = [s for s in sampler.samples if s.t >= began + warmup]
        start = after_warmup[0] if after_warmup else sampler.samples[-1]
        peak = max([*sampler.samples, end], key=lambda s: s.rss_kib)
        log(f"load done ({len(records)} requests); waiting for the outbox to drain")
        deliveries, problems = check_deliveries(records, db_url, sims, config.drain_seconds)
        exit_status = server.stop()
        ok = report(config, engines, analysis, start, end, peak, deliveries, problems,
                    log_problems(server.log_path), exit_status, elapsed)
    finally:
        server.stop()
        sims.stop()
        drop_db()
        if r_url:
            drop_redis_keys(r_url, account)
        if config.keep or not ok:
            log(f"logs and raw results kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1
