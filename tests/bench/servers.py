"""Starting the benchmark's servers: simulators, ratecalc under gunicorn, reference apps."""

from __future__ import annotations

import os
from pathlib import Path

import requests

from tests.bench.config import CARRIERS, TOKEN, Config
from tests.bench.procs import Proc, Processes, free_port
from tests.conftest import base_env


class Bench:
    """The run's processes, settings and scratch directory, handed to every figure."""

    def __init__(self, config: Config, procs: Processes, workdir: Path):
        self.config, self.procs, self.workdir = config, procs, workdir
        self._shipstation: Proc | None = None

    # -- the ShipStation simulator (one process for the whole run) -----------------
    def shipstation(self, *, latency: float = 0.0, limit: int = 100_000, window: float = 60.0,
                    v2_limit: int = 100_000) -> Proc:
        """The simulator, reset: its record emptied, latency and limits set."""
        if self._shipstation is None:
            port = free_port()
            self._shipstation = self.procs.start(
                "shipstation-sim", ["-m", "tests.bench.simrunner", "shipstation",
                                    "--port", str(port)],
                port=port, env=clean_env(), ready_path="/_bench/healthz")
        requests.post(self._shipstation.url + "/_bench/reset", timeout=10, json={
            "latency": latency, "limit": limit, "window": window, "v2_limit": v2_limit,
        }).raise_for_status()
        return self._shipstation

    def upstream_calls(self, path: str) -> list[list]:
        """``[time, status, carrier_codes]`` of every recorded call to ``path``."""
        response = requests.get(self._shipstation.url + "/_bench/calls",
                                params={"path": path}, timeout=30)
        response.raise_for_status()
        return response.json()["calls"]

    # -- ratecalc --------------------------------------------------------------------
    def ratecalc(self, name: str, threads: int | None = None, **settings) -> Proc:
        """``ratecalc serve`` (gunicorn) against the ShipStation simulator; ``settings`` are
        RATECALC_* overrides without the prefix, e.g. ``CARRIERS="fedex"``."""
        port = free_port()
        env = self.gunicorn_env(port, RATECALC_DATA_DIR=str(self.workdir / f"data-{port}"))
        env.update(ratecalc_env(self._shipstation.url))
        env.update({f"RATECALC_{k}": str(v) for k, v in settings.items()})
        return self.procs.start(name, ["-m", "ratecalc", "serve", "--port", str(port),
                                       "--workers", str(self.config.workers),
                                       "--threads", str(threads or self.config.threads)],
                                port=port, env=env)

    def gunicorn_env(self, port: int, **extra) -> dict:
        """Own metrics and run directories: gunicorn's control socket lives in
        $XDG_RUNTIME_DIR, so servers started side by side do not share one."""
        run = self.workdir / f"run-{port}"
        run.mkdir(mode=0o700)
        return clean_env(PROMETHEUS_MULTIPROC_DIR=str(self.workdir / f"metrics-{port}"),
                         XDG_RUNTIME_DIR=str(run), **extra)

    def bare_app(self, body: bytes) -> Proc:
        port = free_port()
        body_file = self.workdir / "bare-body.json"
        body_file.write_bytes(body)
        env = self.gunicorn_env(port)
        return self.procs.start("bare-flask", [
            "-m", "tests.bench.bareapp", "flask", "--port", str(port), "--workers",
            str(self.config.workers), "--threads", str(self.config.threads),
            "--body", str(body_file)], port=port, env=env)

    def trivial(self) -> Proc:
        port = free_port()
        return self.procs.start("trivial", ["-m", "tests.bench.bareapp", "trivial",
                                            "--port", str(port)], port=port, env=clean_env())

    def cin7(self, orders: int, *, no_freight: bool = False) -> Proc:
        port = free_port()
        flags = ["--no-freight"] if no_freight else []
        return self.procs.start("cin7-sim", ["-m", "tests.bench.simrunner", "cin7", "--port",
                                             str(port), "--orders", str(orders), *flags],
                                port=port, env=clean_env(), ready_path="/_bench/healthz",
                                timeout=180)


def clean_env(**extra) -> dict:
    """This environment without any RATECALC_* or Prometheus setting of the caller's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RATECALC_", "PROMETHEUS_", "BENCH_"))}
    env.update(extra)
    return env


def ratecalc_env(shipstation_url: str) -> dict:
    """What the test suite sets (tests/conftest.py ``base_env``), plus the carriers."""
    return {**base_env(shipstation_url), "RATECALC_API_TOKENS": TOKEN,
            "RATECALC_CARRIERS": ",".join(CARRIERS), "RATECALC_DELIVERY_WORKER": "off"}
