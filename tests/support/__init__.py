"""Small helpers the tests share: waiting for a condition, and child processes that
cannot outlive the test that started them.

``wait_until(predicate)`` polls instead of sleeping a fixed time: it returns as
soon as the condition holds and fails with a message when the deadline passes.

``popen(...)`` starts a subprocess in a process group of its own and records it;
``stop(proc)`` ends the whole group (a gunicorn master *and* its workers), and
``leftovers()`` lists any recorded group, or any direct child of this process,
still alive: the session-finish hook in ``tests/conftest.py`` fails the run on it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.02,
               message: str | Callable[[], str] | None = None) -> T:
    """Call ``predicate`` until it returns something true (returned); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"not true within {timeout} s: "
                                 f"{text or getattr(predicate, '__name__', predicate)}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_STARTED: list[subprocess.Popen] = []


def popen(args, **kwargs) -> subprocess.Popen:
    """``subprocess.Popen`` in a new process group (its pid), recorded for the end-of-run check."""
    kwargs.setdefault("start_new_session", True)
    proc = subprocess.Popen(args, **kwargs)
    _STARTED.append(proc)
    return proc


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the process and everything in its group (what a crash would leave)."""
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM the process (a graceful stop), then SIGKILL whatever of its group is left."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    kill(proc)  # also the group's orphans, e.g. workers of a master that was killed


def _proc_stat(pid: str) -> tuple[str, int, int] | None:
    """(state, ppid, pgid) of a process from /proc, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[2])


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def leftovers() -> list[tuple[int, str]]:
    """(pid, command line) of live processes the tests started: a recorded process group,
    or a direct child of this process. Zombies do not count."""
    if not os.path.isdir("/proc"):
        return []
    groups = {proc.pid for proc in _STARTED}
    me = os.getpid()
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        stat = _proc_stat(pid)
        if stat is None or stat[0] in ("Z", "X"):
            continue
        _, ppid, pgid = stat
        if pgid in groups or ppid == me:
            found.append((int(pid), _cmdline(pid)))
    return found


def kill_leftovers() -> list[tuple[int, str]]:
    """SIGKILL what :func:`leftovers` finds; return what it found."""
    found = leftovers()
    for pid, _ in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for proc in _STARTED:
        if proc.poll() is None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    return found


def record_arrivals(app) -> list[tuple[str, str]]:
    """(method, path) of each request as it *arrives* at Flask ``app`` (a simulator's
    own log records a request only once it is answered)."""
    arrivals: list[tuple[str, str]] = []
    inner = app.wsgi_app

    def wsgi_app(environ, start_response):
        arrivals.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")))
        return inner(environ, start_response)

    app.wsgi_app = wsgi_app
    return arrivals


class InFlight:
    """Counts the requests Flask ``app`` is still handling (until their response is closed)."""

    def __init__(self, app):
        self._lock = threading.Lock()
        self.count = 0
        inner = app.wsgi_app

        def wsgi_app(environ, start_response):
            with self._lock:
                self.count += 1
            try:
                body = inner(environ, start_response)
            except BaseException:
                self._done()
                raise
            return _ClosingIterable(body, self._done)

        app.wsgi_app = wsgi_app

    def _done(self) -> None:
        with self._lock:
            self.count -= 1

    def idle(self) -> bool:
        with self._lock:
            return self.count == 0


class _ClosingIterable:
    def __init__(self, body, on_close):
        self._body, self._on_close = body, on_close

    def __iter__(self):
        return iter(self._body)

    def close(self) -> None:
        try:
            if hasattr(self._body, "close"):
                self._body.close()
        finally:
            self._on_close()


class FakeClock:
    """A clock the test moves: a number (monotonic seconds) or an aware datetime.

    ``clock()`` reads it; ``clock.advance(10)`` or ``clock.advance(days=1, hours=2)``
    moves it (seconds, or timedelta keywords); ``clock.now`` may also be set directly.
    Thread-safe, since servers under test read it from their own threads.
    """

    def __init__(self, start=1000.0):
        self._lock = threading.Lock()
        self.now = start

    def __call__(self):
        with self._lock:
            return self.now

    def advance(self, seconds: float = 0.0, **delta):
        from datetime import timedelta

        with self._lock:
            if isinstance(self.now, int | float):
                self.now += seconds + timedelta(**delta).total_seconds()
            else:
                self.now += timedelta(seconds=seconds, **delta)
            return self.now
