"""Benchmark knobs (``BENCH_*`` environment variables) and shared constants."""

from __future__ import annotations

import os
import shutil


def _number(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def _int(name: str, default: int) -> int:
    return int(_number(name, default))


TOKEN = "bench-token-0123456789abcdef"  # noqa: S105 (a local benchmark token)
CARRIERS = ("fedex", "stamps_com", "ups")


class Config:
    """Everything a run may vary. Defaults keep a run near 4.5 minutes on 2 cores."""

    def __init__(self):
        #: seconds of load per throughput series (figure 1)
        self.seconds = _number("BENCH_SECONDS", 10)
        #: figure 1: rounds of ABBA those seconds are split over
        self.rounds = _int("BENCH_ROUNDS", 3)
        #: sequential samples per latency series (figures 2 and 3)
        self.latency_samples = _int("BENCH_LATENCY_SAMPLES", 40)
        #: added latency of every simulated ShipStation call
        self.upstream_latency = _number("BENCH_UPSTREAM_LATENCY", 0.150)
        #: figure 4: identical requests arriving at once
        self.burst = _int("BENCH_BURST", 100)
        #: figure 5: length of the run (3 windows), and the simulator's window (V1's real
        #: 60 s; a shorter one scales the limit, but ratecalc's own 60 s budget does not)
        self.budget_seconds = _number("BENCH_BUDGET_SECONDS", 125)
        self.budget_window = _number("BENCH_BUDGET_WINDOW", 60)
        self.budget_quotes = _int("BENCH_BUDGET_QUOTES", 1000)
        #: figure 6: each backend's short run within its first (60 s) window
        self.qpm_seconds = _number("BENCH_QPM_SECONDS", 8)
        self.replay_quotes = _int("BENCH_REPLAY_QUOTES", 10_000)
        #: figure 7: quotes cached before reading the worker's RSS
        self.memory_entries = _int("BENCH_MEMORY_ENTRIES", 10_000)
        #: figure 7: distinct quotes before the first RSS reading (one-time growth)
        self.memory_warmup = _int("BENCH_MEMORY_WARMUP", 200)
        #: figure 8: eligible Cin7 orders to export
        self.export_orders = _int("BENCH_EXPORT_ORDERS", 5000)
        #: figure 9: Cin7 orders without freight for auto-freight to price
        self.autofreight_orders = _int("BENCH_AUTOFREIGHT_ORDERS", 1000)
        #: figure 10: seconds of paced order-screen quotes, without and with auto-freight
        self.priority_seconds = _number("BENCH_PRIORITY_SECONDS", 40)
        #: gunicorn settings shared by ratecalc and the bare app (ratecalc's defaults)
        self.workers = _int("BENCH_WORKERS", 1)
        self.threads = _int("BENCH_THREADS", 16)
        #: load generator: "wrk" when installed, else "python"; connections for figure 1
        wanted = os.environ.get("BENCH_LOADGEN", "").strip().lower()
        self.loadgen = wanted or ("wrk" if shutil.which("wrk") else "python")
        self.connections = _int("BENCH_CONNECTIONS", 16)
        #: Python generator processes: half the CPUs (the servers need the rest)
        cpus = len(os.sched_getaffinity(0))
        self.loadgen_procs = _int("BENCH_LOADGEN_PROCS", max(1, cpus // 2))
        #: run only these figures (comma list of numbers), default all
        only = os.environ.get("BENCH_ONLY", "").strip()
        self.only = {int(x) for x in only.split(",") if x.strip()} if only else None
        #: BENCH_QUICK=1: figures 1, 4 and 7 only, in about a minute, for quick checks
        self.quick = os.environ.get("BENCH_QUICK", "").strip() not in ("", "0")
        if self.quick and self.only is None:
            self.only = {1, 4, 7}
        #: seconds of warm-up before each figure 1 shape (caches, pools, keep-alive)
        self.warmup_seconds = _number("BENCH_WARMUP_SECONDS", 2)
        # Quick: under 90 s on a slow 2-core machine (issue 13). Figure 1's main shape
        # only, in one round of ABBA; figure 7 over 3,000 cached quotes after a warm-up of
        # 1,000, which takes the worker's one-time growth (about 1.3 MiB: over 200 it
        # would add ~450 B to each of 3,000 entries); an explicit BENCH_* setting wins.
        quick_defaults = {"BENCH_SECONDS": ("seconds", 5), "BENCH_ROUNDS": ("rounds", 1),
                          "BENCH_WARMUP_SECONDS": ("warmup_seconds", 1),
                          "BENCH_MEMORY_ENTRIES": ("memory_entries", 3000),
                          "BENCH_MEMORY_WARMUP": ("memory_warmup", 1000)}
        for variable, (attribute, value) in quick_defaults.items():
            if self.quick and variable not in os.environ:
                setattr(self, attribute, value)
        self.results_path = os.environ.get("BENCH_RESULTS", "bench-results.json")

    def wants(self, figure: int) -> bool:
        return self.only is None or figure in self.only

    def as_dict(self) -> dict:
        return {k: sorted(v) if isinstance(v, set) else v for k, v in vars(self).items()}
