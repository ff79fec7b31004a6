"""Faults below HTTP: resets, half-written bodies, slow drip, an accept that never comes.

For each, what a caller of POST /v1/rates sees, and that the quote deadline
(not just per-read timeouts) bounds the wait.
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.conftest import DC_REQUEST

DEADLINE = 2.0


@pytest.fixture
def quick(make_api):
    def start(**env):
        env.setdefault("CARRIERS", "fedex")
        env.setdefault("QUOTE_DEADLINE_SECONDS", str(DEADLINE))
        env.setdefault("UPSTREAM_TIMEOUT_SECONDS", "1.5")
        env.setdefault("BREAKER_FAILURES", "1000")
        return make_api(**env)

    return start


def timed_quote(api):
    started = time.monotonic()
    response = api.post("/v1/rates", json=DC_REQUEST)
    return response, time.monotonic() - started


@pytest.mark.parametrize("kind", ["reset", "half"])
def test_broken_connections_are_upstream_errors(quick, shipstation, kind):
    api = quick()
    shipstation.force_transport("fedex", kind)
    response, took = timed_quote(api)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_error"
    assert took < DEADLINE + 1
    shipstation.clear_faults()
    assert api.post("/v1/rates", json=DC_REQUEST).status_code == 200  # nothing stuck


def test_transient_reset_is_retried(quick, shipstation):
    api = quick()
    shipstation.force_transport("fedex", "reset", times=1)
    response, _ = timed_quote(api)
    assert response.status_code == 200
    assert response.headers["X-Cache"] == "MISS"


def test_slow_drip_is_cut_at_the_deadline(quick, shipstation):
    # Every byte arrives well within the per-read timeout; only the deadline stops it.
    api = quick()
    shipstation.force_transport("fedex", "drip", seconds=0.3)
    response, took = timed_quote(api)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert took < DEADLINE + 1.0


def test_an_accept_that_never_comes_times_out(quick, shipstation):
    with socket.socket() as silent:  # listens, never accepts: the kernel queues us
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        api = quick()
        api.services.rating.backend.base_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        response, took = timed_quote(api)
    assert response.status_code == 504
    assert took < DEADLINE + 1.0
