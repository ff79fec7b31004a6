"""Shared HTTP plumbing for upstream clients: sessions, deadlines, timing."""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Protocol

import requests
from requests.adapters import HTTPAdapter

from ratecalc import metrics
from ratecalc.upstream import auth_watch
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.limits.budget import BudgetExhausted

USER_AGENT = "ratecalc/0.1 (+https://github.com/ratecalc)"


def make_session(pool_size: int = 32) -> requests.Session:
    """A pooled session. Retries are ours (deadline-aware), not urllib3's."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    # TLS verification stays on: requests verifies by default and nothing here
    # offers a way to turn it off.
    session.trust_env = False
    return session


class Deadline:
    """An absolute point in time that a whole operation must finish by."""

    def __init__(self, seconds: float, clock=time.monotonic):
        self._clock = clock
        self.expires_at = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self.expires_at - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def timeout(self, per_call: float) -> float:
        """The timeout for one call: its own limit, cut to what is left."""
        return min(per_call, self.remaining())


MAX_RETRIES = 2  # after a 5xx or a connection error; never after other 4xx
WAITED_SECONDS = 0.01  # an acquire slower than this waited for budget (for the metric)


def run_call(*, service: str, breaker, acquire, attempt, deadline: Deadline,
             release=None, max_retries: int = MAX_RETRIES):
    """One logical upstream call, the same way for every upstream.

    Each attempt passes the circuit breaker, takes call budget (``acquire``; a
    caller that gets none before its deadline gets ``rate_limited``), then runs
    ``attempt(tries)``, which returns ``("done", body)``, ``("retry", error)`` for
    a 5xx or a broken connection, or ``("throttled", None)`` after a 429 (the
    budget then holds the next attempt back); final errors it raises. Retries
    back off with jitter and stop at ``max_retries`` or the deadline.
    """
    with breaker.call():  # the attempts below count once for the breaker
        return _attempts(service, breaker, acquire, attempt, deadline, release, max_retries)


def _attempts(service, breaker, acquire, attempt, deadline, release, max_retries):
    failures = tries = 0
    while True:
        breaker.before_call()
        asked = time.perf_counter()
        try:
            acquire(deadline)
            if time.perf_counter() - asked > WAITED_SECONDS:
                metrics.rate_limit_waits.labels(service.lower()).inc()
        except BudgetExhausted as exc:
            breaker.release_probe()
            raise UpstreamError("rate_limited", f"{service} call budget exhausted",
                                retry_after=exc.retry_after) from None
        try:
            verdict, result = attempt(tries)
        except UpstreamError as exc:
            if exc.code == "upstream_auth":
                auth_watch.record(service, refused=True, message=exc.message, status=exc.status)
            raise
        finally:
            tries += 1
            if release is not None:
                release()
        if verdict == "done":
            auth_watch.record(service, refused=False)
            return result
        if verdict == "throttled":
            continue
        failures += 1
        delay = backoff_delay(failures)
        if failures > max_retries or delay >= deadline.remaining():
            raise result
        time.sleep(delay)


def backoff_delay(attempt: int, base: float = 0.2, cap: float = 2.0) -> float:
    """Exponential backoff with full jitter (attempt 1, 2, ...)."""
    return random.uniform(0, min(cap, base * (2 ** (attempt - 1))))  # noqa: S311 (jitter, not crypto)


@contextmanager
def timed(service: str, operation: str):
    """Time an upstream call and count it; the block sets ``outcome['status']``."""
    outcome = {"status": "error"}
    start = time.perf_counter()
    try:
        yield outcome
    finally:
        metrics.upstream_duration.labels(service, operation).observe(time.perf_counter() - start)
        metrics.upstream_requests.labels(service, operation, str(outcome["status"])).inc()


MAX_BODY_BYTES = 4 * 1024 * 1024


class BodyTooSlow(Exception):
    pass


def read_body(response: requests.Response, deadline: Deadline) -> None:
    """Read the whole body within the deadline.

    requests' timeout bounds each socket read, not the whole answer: a server
    dripping a byte at a time would hold a quote forever. A timer shuts the
    socket down when the deadline passes, which ends the blocked read. Half a
    body (the connection closed early) raises requests' own errors.
    """
    expired = threading.Event()
    try:
        fd = response.raw.fileno()
    except (OSError, ValueError, AttributeError):
        fd = None  # already read, or no socket: nothing can block

    def cut() -> None:
        expired.set()
        if fd is None:
            return
        try:
            # shutdown() acts on the connection, so a duplicate descriptor reaches it.
            with socket.socket(fileno=os.dup(fd)) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    timer = threading.Timer(max(0.0, deadline.remaining()), cut)
    timer.daemon = True
    timer.start()
    try:
        content = response.content
    except requests.exceptions.RequestException:
        if expired.is_set():
            raise BodyTooSlow from None
        raise
    finally:
        timer.cancel()
        response.close()
    if expired.is_set():
        raise BodyTooSlow
    if len(content) > MAX_BODY_BYTES:
        raise BodyTooSlow


class Classifier(Protocol):
    """What one upstream makes of each way an attempt can end.

    Each returns ("done", body) | ("retry", UpstreamError) | ("throttled", None) for
    :func:`run_call`, or raises a final :class:`UpstreamError`.
    """

    def no_time(self) -> tuple: ...
    def too_slow(self) -> tuple: ...
    def failed(self, exc: requests.exceptions.RequestException, timeout: float) -> tuple: ...
    def answered(self, response: requests.Response, tries: int,
                 deadline: Deadline) -> tuple: ...


def attempt(send: Callable[[float], requests.Response], *, classifier: Classifier,
            deadline: Deadline, timeout: float, service: str, operation: str,
            tries: int = 0) -> tuple:
    """One HTTP request within the deadline, timed, its outcome classified by the upstream.

    The one attempt skeleton every upstream shares; ``send(timeout)`` makes the request
    (with its method, URL, body and credentials).
    """
    timeout = deadline.timeout(timeout)
    if timeout <= 0:
        # No time left after waiting for budget or backing off (and requests refuses a
        # zero timeout with ValueError).
        return classifier.no_time()
    with timed(service, operation) as outcome:
        try:
            response = send(timeout)
            read_body(response, deadline)
            outcome["status"] = response.status_code
        except BodyTooSlow:
            outcome["status"] = "timeout"
            return classifier.too_slow()
        except requests.exceptions.RequestException as exc:
            if isinstance(exc, requests.exceptions.Timeout):
                outcome["status"] = "timeout"
            return classifier.failed(exc, timeout)
    return classifier.answered(response, tries, deadline)


def retry_after(response: requests.Response) -> float | None:
    """An upstream's ``Retry-After`` in seconds (never negative), if it gave a number."""
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
