"""Resource use of a gunicorn master and its workers, read from ``/proc`` (Linux)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field


@dataclass
class ProcessSample:
    pid: int
    rss_kib: int
    fds: int
    threads: int


@dataclass
class Sample:
    t: float
    processes: list[ProcessSample] = field(default_factory=list)

    @property
    def rss_kib(self) -> int:
        return sum(p.rss_kib for p in self.processes)

    @property
    def fds(self) -> int:
        return sum(p.fds for p in self.processes)

    @property
    def threads(self) -> int:
        return sum(p.threads for p in self.processes)

    @property
    def worker_pids(self) -> list[int]:
        return sorted(p.pid for p in self.processes[1:])


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                found.extend(int(c) for c in fh.read().split())
    except OSError:
        pass
    return sorted(set(found))


def process_sample(pid: int) -> ProcessSample | None:
    try:
        status = {}
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                status[key] = value.strip()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None  # it exited in between
    return ProcessSample(pid=pid, rss_kib=int(status.get("VmRSS", "0 kB").split()[0]),
                         fds=fds, threads=int(status.get("Threads", "0")))


def sample_tree(master: int) -> Sample:
    """The master first, then every worker (its children)."""
    sample = Sample(t=time.time())
    for pid in [master, *children(master)]:
        entry = process_sample(pid)
        if entry is not None:
            sample.processes.append(entry)
    return sample
