"""``python -m tests.bench``: run every figure, print the table, write bench-results.json."""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from tests.bench import (
    fig_autofreight,
    fig_budget,
    fig_capacity,
    fig_coalesce,
    fig_export,
    fig_latency,
    fig_memory,
    fig_priority,
    fig_throughput,
    load,
    report,
)
from tests.bench.config import Config
from tests.bench.procs import Processes
from tests.bench.servers import Bench

#: (figure numbers, module, rows to report if the module fails: (id, name, target))
FIGURES = [
    ((1,), fig_throughput, [("1", "cached-quote throughput, ratecalc / bare Flask", ">= 0.85"),
                            ("1b", "the same at 64 connections", ">= 0.85"),
                            ("1c", "the same, cache in Redis", "beside 1")]),
    ((2, 3), fig_latency, [("2", "miss latency, ratecalc / direct getrates", "<= 1.10"),
                           ("3", "fan-out latency, 3 carriers / 1 carrier", "<= 1.25")]),
    ((4,), fig_coalesce, [("4", "coalescing, upstream calls / (requests x carriers)",
                           "= 0.01")]),
    ((5,), fig_budget, [("5", "budget use under overload, calls / limit per window",
                         "each window 0.9 .. 1.0, no 429"),
                        ("5b", "budget spent on answered quotes, fresh quotes / calls", "info")]),
    ((6,), fig_capacity, [("6a", "fresh 3-carrier quotes/min, V2 / V1", "see notes"),
                          ("6b", "cache hit ratio, replayed mix", "see notes")]),
    ((7,), fig_memory, [("7", "memory, bytes per cached quote", "see notes")]),
    ((8,), fig_export, [("8", "export, Cin7 calls / paging minimum", "<= 1.0")]),
    ((9,), fig_autofreight, [("9", "auto-freight, Cin7 calls per 1,000 priced orders", "<= 12")]),
    ((10,), fig_priority, [("10", "order-screen p95 latency, with / without auto-freight",
                            "<= 1.2")]),
]


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    config = Config()
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="ratecalc-bench-"))
    procs = Processes(workdir)
    bench = Bench(config, procs, workdir)
    started, clock = datetime.now(UTC), time.monotonic()
    figures: list[report.Figure] = []
    print(f"ratecalc benchmark: load from {load.generator_name(config)}; logs in {workdir}",
          file=sys.stderr)
    try:
        for numbers, module, rows in FIGURES:
            if not any(config.wants(n) for n in numbers):
                continue
            print(f"bench: figure {'/'.join(map(str, numbers))} ...", file=sys.stderr)
            began = time.monotonic()
            try:
                figures += module.run(bench)
            except Exception as exc:  # noqa: BLE001 - report it and go on with the others
                traceback.print_exc()
                figures += [report.failed(fid, name, target, exc) for fid, name, target in rows]
            print(f"bench:   done in {time.monotonic() - began:.0f}s", file=sys.stderr)
    except KeyboardInterrupt:
        print("bench: interrupted; stopping servers", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()
    print(report.table(figures))
    report.write(config.results_path, machine_info=report.machine(load.generator_name(config)),
                 config=config.as_dict(), figures=figures, started=started.isoformat(),
                 seconds=time.monotonic() - clock)
    print(f"\nwrote {config.results_path} ({time.monotonic() - clock:.0f}s)")
    if all(f.passed is not False for f in figures):
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"server logs kept in {workdir}", file=sys.stderr)
    # A missed target is a result, not an error; a figure that could not be measured is.
    return 1 if any("error" in f.details for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
