"""Child processes: start on a free port, wait until ready, and always stop them.

Each child runs in its own session (process group), so a Ctrl-C in the terminal
reaches only the benchmark, which then stops its children itself: SIGTERM to
the child's group, SIGKILL after a grace period.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StartError(RuntimeError):
    pass


class Proc:
    def __init__(self, name: str, popen: subprocess.Popen, url: str, log: Path):
        self.name, self.popen, self.url, self.log = name, popen, url, log

    @property
    def pid(self) -> int:
        return self.popen.pid

    def children(self) -> list[int]:
        """Direct children (gunicorn workers of a master)."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit()
                    and _ppid(int(d.name)) == self.pid]

    def tail(self, chars: int = 1500) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used (clock ticks of /proc/<pid>/stat)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Processes:
    """Every process the benchmark started; :meth:`stop_all` ends them."""

    def __init__(self, logdir: Path):
        self.logdir = logdir
        self._procs: list[Proc] = []

    def start(self, name: str, args: list[str], *, port: int, env: dict | None = None,
              ready_path: str = "/healthz", timeout: float = 60.0) -> Proc:
        log = self.logdir / f"{name}-{port}.log"
        handle = open(log, "wb")  # noqa: SIM115 (owned by the child from here on)
        popen = subprocess.Popen([sys.executable, *args], env=env, stdout=handle,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True, cwd=os.getcwd())
        handle.close()
        proc = Proc(name, popen, f"http://127.0.0.1:{port}", log)
        self._procs.append(proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if popen.poll() is not None:
                raise StartError(f"{name} exited with {popen.returncode}:\n{proc.tail()}")
            try:
                if requests.get(proc.url + ready_path, timeout=2).status_code == 200:
                    return proc
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise StartError(f"{name} not ready after {timeout:.0f}s:\n{proc.tail()}")

    def stop(self, proc: Proc, grace: float = 10.0) -> None:
        if proc in self._procs:
            self._procs.remove(proc)
        if proc.popen.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:  # the whole group, workers included
                _signal_group(proc.pid, signal.SIGKILL)
                proc.popen.wait(timeout=5)

    def stop_all(self) -> None:
        for proc in reversed(list(self._procs)):
            try:
                self.stop(proc)
            except Exception as exc:  # noqa: BLE001 - keep stopping the others
                print(f"bench: could not stop {proc.name} ({proc.pid}): {exc}", file=sys.stderr)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
