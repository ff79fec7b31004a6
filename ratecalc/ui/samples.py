"""A 60-minute ring buffer of ShipStation budget samples, for the ops page's sparkline.

A daemon thread samples every SAMPLE_SECONDS: the number of calls this process
has made to ShipStation (the ``ratecalc_upstream_requests`` counter) and the
``X-Rate-Limit-Remaining`` ShipStation last answered. Kept in memory, in this
process only: it is a glance at the last hour, not a record (Prometheus keeps
that). The sparkline is the calls made in each minute.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from prometheus_client import REGISTRY

SAMPLE_SECONDS = 15.0
WINDOW_SECONDS = 3600.0


def metric_value(name: str, **labels) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def shipstation_calls() -> float:
    """Every call this process made to ShipStation, whatever the operation or answer."""
    total = 0.0
    for family in REGISTRY.collect():
        if family.name != "ratecalc_upstream_requests":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels.get("service") == "shipstation":
                total += sample.value
    return total


@dataclass(frozen=True)
class Sample:
    at: float  # wall-clock seconds
    calls: float  # the counter's value then
    remaining: float | None


class BudgetSamples:
    def __init__(self, clock=time.time, read_calls=shipstation_calls):
        self._clock = clock
        self._read_calls = read_calls
        self._samples: deque[Sample] = deque(maxlen=int(WINDOW_SECONDS / SAMPLE_SECONDS) + 2)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def read(self) -> Sample:
        """The values now, without keeping them (page views must not crowd the buffer)."""
        remaining = metric_value("ratecalc_shipstation_rate_limit_remaining")
        calls = self._read_calls()
        known = remaining if calls > 0 else None  # the gauge reads 0 before any answer
        return Sample(self._clock(), calls, known)

    def sample(self) -> Sample:
        current = self.read()
        with self._lock:
            self._samples.append(current)
        return current

    def start(self) -> BudgetSamples:
        if self._thread is None:
            self.sample()
            self._thread = threading.Thread(target=self._run, name="ui-budget-samples",
                                            daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.sample()

    def stop(self) -> None:
        self._stop.set()

    def _with_now(self) -> tuple[Sample, list[Sample]]:
        now = self.read()
        with self._lock:
            return now, [*self._samples, now]

    def used_last_minute(self) -> int:
        """Calls in the last 60 s: now against the sample nearest a minute ago."""
        now, samples = self._with_now()
        older = [s for s in samples if s.at <= now.at - 60]
        base = older[-1] if older else samples[0]
        return max(0, int(now.calls - base.calls))

    def per_minute(self, minutes: int = 60) -> list[int]:
        """Calls made in each of the last ``minutes`` minutes, oldest first (0 when unknown)."""
        now, samples = self._with_now()
        out = []
        for m in range(minutes, 0, -1):
            start, end = now.at - m * 60, now.at - (m - 1) * 60
            inside = [s for s in samples if start <= s.at <= end]
            before = [s for s in samples if s.at < start]
            first = before[-1] if before else (inside[0] if inside else None)
            last = inside[-1] if inside else None
            out.append(max(0, int(last.calls - first.calls)) if first and last else 0)
        return out


def sparkline(values: list[int], width: int = 240, height: int = 40) -> dict:
    """Points of an inline SVG polyline (the template draws it); the top is the maximum."""
    top = max(values) if values and max(values) > 0 else 1
    step = width / max(1, len(values) - 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}"
                      for i, v in enumerate(values))
    return {"points": points, "width": width, "height": height, "top": top,
            "total": sum(values)}
