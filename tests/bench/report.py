"""Figures, the printed table and ``bench-results.json``."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Figure:
    id: str
    name: str
    value: float | None
    target: str
    passed: bool | None  # None: reported without a pass/fail (or could not be measured)
    notes: str = ""
    details: dict = field(default_factory=dict)

    @property
    def result(self) -> str:
        return {True: "PASS", False: "FAIL", None: "info"}[self.passed]


def failed(fid: str, name: str, target: str, error: BaseException) -> Figure:
    return Figure(fid, name, None, target, False, f"not measured: {type(error).__name__}: "
                  f"{error}"[:600], {"error": repr(error)})


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def table(figures: list[Figure]) -> str:
    rows = [("#", "figure", "value", "target", "result")]
    rows += [(f.id, f.name, fmt(f.value), f.target, f.result) for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
        else:
            figure = figures[n - 1]
            lines += textwrap.wrap(figure.notes, 110, initial_indent=" " * 6,
                                   subsequent_indent=" " * 6)
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(loadgen: str) -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False, timeout=5).stdout.strip() or None
    except OSError:
        commit = None
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_generator": loadgen,
        "ratecalc_commit": commit,
    }


def write(path: str, *, machine_info: dict, config: dict, figures: list[Figure],
          started: str, seconds: float) -> None:
    document = {"started_at": started, "duration_seconds": round(seconds, 1),
                "machine": machine_info, "config": config,
                "figures": [asdict(f) | {"result": f.result} for f in figures]}
    Path(path).write_text(json.dumps(document, indent=2, default=str) + "\n")
