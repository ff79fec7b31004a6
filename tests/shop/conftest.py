"""Shop-mode fixtures: the Cin7 simulator and ratecalc in shop mode, on real HTTP.

``shop_api(**env)`` starts ratecalc with the Custom Store enabled, pointed at the
``cin7`` simulator (demo orders seeded, Cin7's rate limits lifted so tests run
fast unless a test sets them) and at the ShipStation simulator, with its store
on the database given by ``store_url`` (SQLite per test, or PostgreSQL). The
delivery worker does not run in the background: tests drive it with
``api.shop.worker.run_once()`` so each step is deterministic.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest

from ratecalc.simulators.cin7.app import Cin7Simulator
from ratecalc.simulators.server import ServerThread

STORE_USER = "shipstation"
STORE_PASSWORD = "store-password-for-tests"  # noqa: S105
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def running_cin7(casing: str = "camel"):
    sim = Cin7Simulator(casing=casing)
    sim.set_rate_limits(per_second=None, per_minute=None, per_day=None)
    server = ServerThread(sim.app).start()
    sim.url = server.url + "/api"
    try:
        yield sim
    finally:
        server.stop()


@pytest.fixture(params=["camel", "pascal"])
def cin7(request):
    """The Cin7 simulator, answering camelCase (what Newtonsoft's camel-case resolver
    writes) and, in a second run of every shop test, PascalCase (the spec schemas'
    spelling): public material disagrees on which the live API sends."""
    with running_cin7(request.param) as sim:
        yield sim


def _postgres_url() -> str | None:
    url = os.environ.get("RATECALC_TEST_DATABASE_URL", PG_DEFAULT)
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3):
            return url
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at RATECALC_TEST_DATABASE_URL is required in CI: {exc}")
        pytest.skip("PostgreSQL not reachable; set RATECALC_TEST_DATABASE_URL to run these "
                    f"tests against it ({type(exc).__name__})")
    return None


@contextmanager
def fresh_postgres_schema():
    """A PostgreSQL URL whose search_path is a new, empty schema (dropped afterwards)."""
    import psycopg

    base = _postgres_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A fresh, empty database for one test, on each engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/shop.sqlite3"
        return
    with fresh_postgres_schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path}/shop.sqlite3"


#: Cin7's limits for ratecalc's own client-side pacing, where a test is not about them.
#: The simulators' limits are off too; tests of pacing keep Cin7's real 3/s and 60/min.
UNPACED_CIN7 = {"CIN7_REQUESTS_PER_SECOND": "1000", "CIN7_REQUESTS_PER_MINUTE": "60000"}


@pytest.fixture
def shop_env(cin7):
    def env(database_url: str, **extra) -> dict:
        values = {
            **UNPACED_CIN7,
            "CIN7_BASE_URL": cin7.url,
            "CIN7_USERNAME": "demo-user",
            "CIN7_API_KEY": "demo-api-key",
            "STORE_USERNAME": STORE_USER,
            "STORE_PASSWORD": STORE_PASSWORD,
            "DATABASE_URL": database_url,
            "CIN7_BRANCH_IDS": "1,2",
            "DELIVERY_WORKER": "off",
        }
        values.update(extra)
        return values

    return env


@pytest.fixture
def shop_api(make_api, shop_env, store_url):
    """``shop_api(database_url=None, **env)`` -> Api with ``.shop`` (the ShopServices).

    Its database is ``store_url``'s: every shop test runs on SQLite and PostgreSQL.
    """

    def start(database_url: str | None = None, **env):
        api = make_api(**shop_env(database_url or store_url, **env))
        api.shop = api.services.extras["shop"]
        return api

    return start
