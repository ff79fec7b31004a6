"""Fixtures for shared state on real engines: Redis through RATECALC_TEST_REDIS_URL.

Without a reachable Redis the tests are skipped with a message saying how to
run them; under ``CI=true`` a missing engine is a failure, so CI always runs them.
"""

from __future__ import annotations

import os
import uuid

import pytest

REDIS_DEFAULT = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_url():
    import redis

    url = os.environ.get("RATECALC_TEST_REDIS_URL", REDIS_DEFAULT)
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at RATECALC_TEST_REDIS_URL is required in CI: {exc}")
        pytest.skip("Redis not reachable; set RATECALC_TEST_REDIS_URL (e.g. "
                    f"redis://127.0.0.1:6379/15) to run these tests ({type(exc).__name__})")
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def unique_account():
    """A distinct ShipStation key per test, so budget keys never collide."""
    return f"key-{uuid.uuid4().hex[:8]}"
