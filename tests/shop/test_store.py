"""The shop store (exported orders, ship-notification queue) on SQLite and PostgreSQL.

Every test of the interface runs on both engines (``db_url`` is parametrized).
PostgreSQL comes from ``RATECALC_TEST_DATABASE_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``); each test gets its own schema.
If PostgreSQL is unreachable its variants are skipped -- or fail when CI=true.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import sqlite3
import tempfile
import threading
import traceback
import uuid
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote, urlencode

import psycopg
import pytest
from psycopg import sql

from ratecalc.shop.store import postgres as store_postgres  # loaded before fork()
from ratecalc.shop.store import sqlite as store_sqlite  # noqa: F401 - loaded before fork()
from ratecalc.shop.store.engines import open_store
from ratecalc.shop.store.migrations import (
    LATEST_VERSION,
    MIGRATIONS,
    Migration,
    current_version,
    upgrade,
)
from ratecalc.shop.store.records import (
    ExportRecord,
    NewNotice,
    StoredNotice,
    StoreError,
)
from ratecalc.shop.store.urls import first_line, redact_url

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = os.environ.get("RATECALC_TEST_DATABASE_URL", PG_DEFAULT)
T0 = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def pg_base_url() -> str:
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        message = (f"PostgreSQL is not reachable at {redact_url(PG_URL)} ({first_line(exc)}); "
                   "start it, or point RATECALC_TEST_DATABASE_URL=postgresql://user@host:port/db "
                   "at one, to run the PostgreSQL variants")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return PG_URL


def with_params(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params, quote_via=quote)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database on each engine: a new file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/shop/store.sqlite3"
        return
    base = request.getfixturevalue("pg_base_url")
    schema = f"test_store_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    yield with_params(base, options=f"-csearch_path={schema}", application_name=schema)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                             " WHERE application_name = %s"), [schema])
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def opened():
    """``opened(url, **kw)`` -> a store that is closed after the test."""
    stores = []

    def open_(url: str, **kwargs):
        store = open_store(url, **kwargs)
        stores.append(store)
        return store

    yield open_
    for store in stores:
        store.close()


@pytest.fixture
def store(db_url, opened):
    return opened(db_url)


def new_notice(n: int = 1, *, order_id: int | None = None, order_number: str | None = None,
               key: str | None = None, payload: dict | None = None,
               resolved: bool = True) -> NewNotice:
    """A notice as intake stores it; ``resolved`` when intake could ask Cin7 for its order."""
    order_id = order_id if order_id is not None else 1000 + n
    return NewNotice(
        dedupe_key=key or f"order-{n}|1Z{n:08d}|ups",
        order_id=order_id,
        order_number=order_number or f"SO-{1000 + n}",
        carrier="ups",
        service="UPS Ground",
        tracking_number=f"1Z{n:08d}",
        payload=payload if payload is not None else {"items": [{"sku": "A", "quantity": n}]},
        raw_xml=f"<ShipNotice><OrderID>{1000 + n}</OrderID></ShipNotice>",
        resolved_order_id=order_id if resolved else None,
    )


def add(store, count: int, now: datetime = T0, step: timedelta = timedelta(seconds=1)):
    return [store.add_notice(new_notice(i), now + i * step)[0] for i in range(count)]


def run_threads(count: int, target) -> list:
    """Run ``target(i)`` in ``count`` threads started together; results in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = target(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


# --- migrations ------------------------------------------------------------------------------

def test_migrations_are_idempotent(db_url, opened):
    store = opened(db_url)
    assert current_version(store) == LATEST_VERSION
    assert upgrade(store) == []
    again = opened(db_url)  # opening migrates again: nothing to do
    assert upgrade(again) == []
    assert current_version(again) == LATEST_VERSION
    again.ping()


def test_concurrent_upgrades_apply_each_migration_once(db_url, opened):
    stores = [opened(db_url, migrate=False) for _ in range(2)]
    applied = run_threads(2, lambda i: upgrade(stores[i]))
    assert sorted(v for versions in applied for v in versions) == [m.version for m in MIGRATIONS]
    for store in stores:
        assert current_version(store) == LATEST_VERSION
        store.ping()


def test_pending_migrations_apply_in_order_and_a_failing_one_rolls_back(store):
    broken = (*MIGRATIONS, Migration(LATEST_VERSION + 1, "broken", (
        "CREATE TABLE shop_test_extra (x INTEGER)",
        "THIS IS NOT SQL",
    )))
    with pytest.raises(StoreError, match="migrate failed"):
        upgrade(store, broken)
    assert current_version(store) == LATEST_VERSION
    fixed = (*MIGRATIONS, Migration(LATEST_VERSION + 1, "extra table", (
        "CREATE TABLE shop_test_extra (x INTEGER)",  # fails if the broken one left it behind
    )), Migration(LATEST_VERSION + 2, "extra index", (
        "CREATE INDEX shop_test_extra_x ON shop_test_extra (x)",
    )))
    assert upgrade(store, fixed) == [LATEST_VERSION + 1, LATEST_VERSION + 2]
    assert upgrade(store, fixed) == []
    assert current_version(store) == LATEST_VERSION + 2


def test_ping_fails_on_an_unmigrated_database(db_url, opened):
    store = opened(db_url, migrate=False)
    with pytest.raises(StoreError):
        store.ping()
    upgrade(store)
    store.ping()


# --- ship notifications: add / get ---------------------------------------------------------

def test_add_notice_round_trips_and_dedupes(store):
    payload = {"items": [{"sku": "Ä-1", "quantity": 2}], "ship_date": "2025-01-02",
               "cost": "12.50", "notes": None, "nested": {"ok": True}}
    first, created = store.add_notice(new_notice(1, payload=payload), T0)
    assert created
    assert isinstance(first, StoredNotice)
    assert first.dedupe_key == "order-1|1Z00000001|ups"
    assert (first.order_id, first.order_number) == (1001, "SO-1001")
    assert (first.carrier, first.service, first.tracking_number) == ("ups", "UPS Ground",
                                                                      "1Z00000001")
    assert first.payload == payload
    assert (first.status, first.attempts, first.last_error) == ("pending", 0, None)
    assert first.created_at == first.next_attempt_at == T0
    assert first.created_at.tzinfo is not None and first.created_at.utcoffset() == timedelta(0)
    assert (first.delivered_at, first.claimed_by, first.lease_until) == (None, None, None)
    assert store.get_notice(first.id) == first

    again, created = store.add_notice(new_notice(1, payload={"different": 1}), T0 + timedelta(1))
    assert not created
    assert again == first  # the stored row, unchanged
    assert store.get_notice(first.id + 1000) is None
    assert len(store.list_notices()) == 1


def test_add_notice_without_order_fields(store):
    bare = NewNotice(dedupe_key="k", order_id=None, order_number=None, carrier=None,
                     service=None, tracking_number=None, payload={}, raw_xml="<ShipNotice/>")
    row, created = store.add_notice(bare, T0)
    assert created
    assert (row.order_id, row.order_number, row.carrier, row.payload) == (None, None, None, {})


def test_concurrent_duplicates_make_one_row(store):
    results = run_threads(20, lambda i: store.add_notice(new_notice(7), T0 + timedelta(seconds=i)))
    assert sum(created for _, created in results) == 1
    assert len({row.id for row, _ in results}) == 1
    assert [n.dedupe_key for n in store.list_notices()] == [new_notice(7).dedupe_key]


def test_times_are_normalised_to_utc_and_naive_ones_refused(store):
    tz = timezone(timedelta(hours=-5))
    row, _ = store.add_notice(new_notice(1), T0.astimezone(tz))
    assert row.created_at == T0 and row.created_at.tzinfo == UTC
    with pytest.raises(ValueError, match="aware"):
        store.add_notice(new_notice(2), datetime(2025, 1, 1))  # naive on purpose
    with pytest.raises(ValueError, match="aware"):
        store.claim_due("w", datetime(2025, 1, 1))  # naive on purpose


# --- claiming and delivery -----------------------------------------------------------------

def test_claims_are_exclusive_across_threads(store):
    notices = add(store, 200, step=timedelta(milliseconds=1))
    now = T0 + timedelta(minutes=1)

    def worker(i: int) -> list[StoredNotice]:
        claimed = []
        while batch := store.claim_due(f"worker-{i}", now, limit=7):
            claimed += batch
        return claimed

    results = run_threads(4, worker)
    ids = [n.id for batch in results for n in batch]
    assert len(ids) == 200
    assert set(ids) == {n.id for n in notices}
    for i, batch in enumerate(results):
        assert all(n.status == "delivering" and n.claimed_by == f"worker-{i}" and n.attempts == 1
                   for n in batch)
    assert store.claim_due("late", now) == []


def test_claim_takes_due_notices_oldest_first(store):
    notices = add(store, 5)
    claimed = store.claim_due("w1", T0 + timedelta(seconds=2), limit=2, lease_seconds=60)
    assert [n.id for n in claimed] == [notices[0].id, notices[1].id]
    assert all(n.lease_until == T0 + timedelta(seconds=62) for n in claimed)
    # notices[2] is due at T0+2s, the later ones are not due yet
    assert [n.id for n in store.claim_due("w2", T0 + timedelta(seconds=2))] == [notices[2].id]
    assert store.claim_due("w2", T0 + timedelta(seconds=2), limit=0) == []
    assert len(store.claim_due("w3", T0 + timedelta(seconds=30))) == 2
    assert len(store.claim_due("w4", T0 + timedelta(hours=1))) == 5  # all leases expired


def test_expired_lease_is_reclaimed(store):
    notice = add(store, 1)[0]
    [claim] = store.claim_due("w1", T0, lease_seconds=120)
    assert (claim.id, claim.attempts, claim.claimed_by) == (notice.id, 1, "w1")
    # w1 dies without marking anything
    assert store.claim_due("w2", T0 + timedelta(seconds=119)) == []
    [reclaim] = store.claim_due("w2", T0 + timedelta(seconds=120), lease_seconds=120)
    assert (reclaim.id, reclaim.attempts, reclaim.claimed_by) == (notice.id, 2, "w2")
    assert reclaim.lease_until == T0 + timedelta(seconds=240)
    assert not store.mark_delivered(notice.id, "w1", T0 + timedelta(seconds=121))
    assert store.mark_delivered(notice.id, "w2", T0 + timedelta(seconds=122))
    done = store.get_notice(notice.id)
    assert (done.status, done.delivered_at, done.lease_until, done.claimed_by) == (
        "delivered", T0 + timedelta(seconds=122), None, "w2")
    assert store.claim_due("w3", T0 + timedelta(days=2)) == []


def test_only_the_claiming_worker_can_mark(store):
    a, b = add(store, 2)
    store.claim_due("w1", T0 + timedelta(seconds=5), lease_seconds=3600)
    later = T0 + timedelta(minutes=5)
    for other in ("w2", ""):
        assert not store.mark_delivered(a.id, other, T0)
        assert not store.mark_retry(a.id, other, "boom", later)
        assert not store.mark_failed(a.id, other, "boom")
    assert store.get_notice(a.id).status == "delivering"

    assert store.mark_retry(a.id, "w1", "HTTP 503 from Cin7", later)
    retried = store.get_notice(a.id)
    assert (retried.status, retried.last_error, retried.next_attempt_at) == (
        "pending", "HTTP 503 from Cin7", later)
    assert (retried.claimed_by, retried.lease_until, retried.attempts) == (None, None, 1)
    assert not store.mark_delivered(a.id, "w1", T0)  # no longer claimed
    assert store.claim_due("w1", later - timedelta(seconds=1)) == []
    [again] = store.claim_due("w1", later)
    assert (again.id, again.attempts, again.last_error) == (a.id, 2, "HTTP 503 from Cin7")

    assert store.mark_failed(b.id, "w1", "HTTP 400: order is cancelled")
    failed = store.get_notice(b.id)
    assert (failed.status, failed.last_error, failed.lease_until) == (
        "failed", "HTTP 400: order is cancelled", None)
    assert not store.mark_delivered(b.id, "w1", T0)
    assert not store.mark_retry(b.id, "w1", "x", later)
    assert not store.mark_failed(999_999, "w1", "x")


def test_retry_of_a_failed_notice(store):
    a, b = add(store, 2)
    store.claim_due("w1", T0 + timedelta(seconds=5), lease_seconds=30 * 86400)
    store.mark_failed(a.id, "w1", "gave up")
    now = T0 + timedelta(days=3)
    assert store.retry(a.id, now)
    row = store.get_notice(a.id)
    assert (row.status, row.next_attempt_at, row.last_error, row.claimed_by) == (
        "pending", now, "gave up", None)
    assert not store.retry(a.id, now)  # pending, not failed
    assert not store.retry(b.id, now)  # delivering
    assert not store.retry(123_456, now)  # unknown
    assert [n.id for n in store.claim_due("w2", now)] == [a.id]


def test_long_errors_are_clipped(store):
    notice = add(store, 1)[0]
    store.claim_due("w", T0)
    assert store.mark_retry(notice.id, "w", "x" * 10_000, T0)
    assert len(store.get_notice(notice.id).last_error) <= 2000


# --- listing and stats -----------------------------------------------------------------------

def test_list_notices_filters_newest_first(store):
    notices = add(store, 6)
    store.claim_due("w", T0 + timedelta(seconds=1), limit=2)
    store.mark_delivered(notices[0].id, "w", T0)
    ids = [n.id for n in notices]
    assert [n.id for n in store.list_notices()] == ids[::-1]
    assert [n.id for n in store.list_notices(limit=2)] == ids[:-3:-1]
    assert [n.id for n in store.list_notices(status="delivered")] == [ids[0]]
    assert [n.id for n in store.list_notices(status="delivering")] == [ids[1]]
    assert [n.id for n in store.list_notices(status="pending")] == ids[:1:-1]
    assert store.list_notices(status="failed") == []
    assert [n.id for n in store.list_notices(order_id=1003)] == [ids[3]]
    assert store.list_notices(status="pending", order_id=1001) == []
    assert store.list_notices(limit=0) == []


def test_notices_for_order_match_either_key(store):
    first, _ = store.add_notice(new_notice(1, order_id=55, order_number="SO-55"), T0)
    by_number, _ = store.add_notice(
        NewNotice("k2", None, "SO-55", "fedex", None, "F2", {}, "<x/>"), T0 + timedelta(1))
    by_id, _ = store.add_notice(
        NewNotice("k3", 55, None, "usps", None, "U3", {}, "<x/>"), T0 + timedelta(2))
    store.add_notice(new_notice(9), T0)
    store.claim_due("w", T0)
    store.mark_delivered(first.id, "w", T0)
    expected = [first.id, by_number.id, by_id.id]
    assert [n.id for n in store.notices_for_order(55, "SO-55")] == expected
    assert [n.id for n in store.notices_for_order(55, None)] == [first.id, by_id.id]
    assert [n.id for n in store.notices_for_order(None, "SO-55")] == [first.id, by_number.id]
    assert store.notices_for_order(None, None) == []
    assert store.notices_for_order(404, "SO-404") == []


def test_pending_stats(store):
    assert store.pending_stats(T0) == (0, 0.0)
    a, b, c = add(store, 3, step=timedelta(minutes=1))
    assert store.pending_stats(T0 + timedelta(minutes=10)) == (3, 600.0)
    store.claim_due("w", T0, limit=1)  # a: delivering, still counted
    assert store.pending_stats(T0 + timedelta(minutes=10)) == (3, 600.0)
    store.mark_delivered(a.id, "w", T0)
    assert store.pending_stats(T0 + timedelta(minutes=10)) == (2, 540.0)
    store.claim_due("w", T0 + timedelta(minutes=1), limit=1)
    store.mark_failed(b.id, "w", "no")
    assert store.pending_stats(T0 + timedelta(minutes=10)) == (1, 480.0)
    assert store.pending_stats(T0) == (1, 0.0)  # never negative


# --- exported orders -------------------------------------------------------------------------

def test_exported_upsert(store):
    assert store.exported([]) == {}
    assert store.exported([1, 2]) == {}
    store.mark_exported([], T0)
    store.mark_exported([(1, "Paid"), (2, "On-Hold")], T0)
    later = T0 + timedelta(hours=1)
    store.mark_exported(iter([(2, "Paid"), (3, "Shipped")]), later)
    assert store.exported(iter([1, 2, 3, 4, 2])) == {
        1: ExportRecord(1, "Paid", T0),
        2: ExportRecord(2, "Paid", later),
        3: ExportRecord(3, "Shipped", later),
    }
    many = [(order_id, "Paid") for order_id in range(10_000, 11_500)]
    store.mark_exported(many, T0)
    assert len(store.exported(range(10_000, 12_000))) == 1500


# --- engine behaviour ------------------------------------------------------------------------

def test_store_is_usable_from_many_threads_and_closes(db_url, opened):
    store = opened(db_url)
    assert store.engine in ("sqlite", "postgresql")
    assert store.url_for_display == redact_url(db_url)
    run_threads(12, lambda i: [store.add_notice(new_notice(i * 10 + j), T0) for j in range(5)])
    assert len(store.list_notices(limit=1000)) == 60
    store.ping()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_notices()


def test_sqlite_layout(tmp_path, monkeypatch, opened):
    monkeypatch.chdir(tmp_path)
    store = opened("sqlite:///var/deep/dir/shop.sqlite3")  # relative, parents created
    path = tmp_path / "var/deep/dir/shop.sqlite3"
    assert path.exists() and store.engine == "sqlite"
    store.add_notice(new_notice(1), T0.astimezone(timezone(timedelta(hours=2))))
    store.mark_exported([(5, "Paid")], T0)
    absolute = opened(f"sqlite:///{path}")  # sqlite:////abs/path
    assert absolute.exported([5])[5].exported_at == T0
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT created_at FROM shop_notices").fetchone()[0] == \
            "2025-01-02T03:04:05.678901+00:00"  # UTC text that sorts in time order
    raw.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:",
                                 "mysql://u:secretpw@h/db", "nonsense"])
def test_unusable_urls(url):
    with pytest.raises(StoreError) as info:
        open_store(url)
    assert "secretpw" not in str(info.value)


# --- PostgreSQL specifics --------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "postgresql://u:secretpw@127.0.0.1:1/x",
    "postgres://u:secretpw@127.0.0.1:1/x?sslmode=disable",
    "postgresql://u@127.0.0.1:1/x?password=secretpw",
])
def test_connection_errors_hide_the_password(url):
    with pytest.raises(StoreError) as info:
        open_store(url)
    message = str(info.value)
    assert message.startswith("cannot open database ")
    assert "secretpw" not in message and "***" in message
    assert "\n" not in message
    assert "refused" in message.lower()
    assert "secretpw" not in "".join(traceback.format_exception(info.value))


def test_redact_url():
    assert redact_url("postgresql://u:pw@h:5432/db?sslmode=require") == \
        "postgresql://u:***@h:5432/db?sslmode=require"
    assert redact_url("postgres://u@h/db?password=pw&x=1") == "postgres://u@h/db?password=***&x=1"
    assert redact_url("postgresql://h/db") == "postgresql://h/db"
    assert redact_url("sqlite:////var/lib/x.sqlite3") == "sqlite:////var/lib/x.sqlite3"


def _terminate(url_app_name: str) -> int:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        return len(conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE application_name = %s AND pid <> pg_backend_pid()",
                                [url_app_name]).fetchall())


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgres_reconnects_after_a_lost_connection(db_url, opened):
    store = opened(db_url)
    store.add_notice(new_notice(1), T0)
    app_name = db_url.rsplit("application_name=", 1)[1]
    assert _terminate(app_name) >= 1
    with pytest.raises(StoreError, match="lost the connection") as info:
        store.list_notices()
    assert "\n" not in str(info.value)
    assert len(store.list_notices()) == 1  # the next call reconnects
    store.ping()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgres_checks_idle_connections(db_url, opened):
    opened(db_url).close()  # migrated
    store = store_postgres.PostgresStore(db_url, idle_check=0)
    try:
        store.ping()
        _terminate(db_url.rsplit("application_name=", 1)[1])
        store.ping()  # the dead idle connection is noticed and replaced
    finally:
        store.close()


# --- SQLite: read-only, disk full ------------------------------------------------------------

def in_child(fn, *, unprivileged: bool = False, max_file_bytes: int | None = None) -> str:
    """Run ``fn()`` in a forked child (as ``nobody`` if we are root and ``unprivileged``);
    returns its result or "ExceptionName: message"."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read_end)
        try:
            if unprivileged and os.geteuid() == 0:  # root ignores file permissions
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            if max_file_bytes:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG
                resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
            result = str(fn())
        except BaseException as exc:  # reported to the parent
            result = f"{type(exc).__name__}: {exc}"
        os.write(write_end, result.encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


@pytest.fixture
def shared_dir():
    """A directory that the unprivileged child can reach (pytest's tmp_path is 0700)."""
    path = tempfile.mkdtemp(prefix="ratecalc-store-")
    os.chmod(path, 0o755)  # noqa: S103 - readable, not writable, by the child
    yield path
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)  # noqa: S103 - restores a test dir made read-only
    shutil.rmtree(path)


def test_sqlite_read_only_directory(shared_dir):
    readonly = os.path.join(shared_dir, "ro")
    os.mkdir(readonly)
    os.chmod(readonly, 0o555)  # noqa: S103 - read-only on purpose

    def attempt():
        open_store(f"sqlite:///{readonly}/shop.sqlite3")
        return "opened"

    outcome = in_child(attempt, unprivileged=True)
    assert outcome.startswith("StoreError: cannot open database sqlite:///"), outcome
    nested = in_child(lambda: open_store(f"sqlite:///{readonly}/sub/shop.sqlite3"),
                      unprivileged=True)
    assert nested.startswith("StoreError: cannot open database"), nested
    assert "cannot create directory" in nested


def test_sqlite_read_only_file(shared_dir):
    folder = os.path.join(shared_dir, "db")
    os.mkdir(folder)
    url = f"sqlite:///{folder}/shop.sqlite3"
    open_store(url).close()
    os.chmod(f"{folder}/shop.sqlite3", 0o444)
    if os.geteuid() == 0:
        os.chown(folder, 65534, 65534)  # the directory stays writable for the child

    def attempt():
        store = open_store(url, migrate=False)
        outcomes = []
        for call in (store.ping,
                     lambda: store.add_notice(new_notice(1), T0),
                     lambda: store.mark_exported([(1, "Paid")], T0)):
            try:
                call()
                outcomes.append("ok")
            except StoreError as exc:
                outcomes.append(f"StoreError: {exc}")
        return "\n".join(outcomes)

    outcomes = in_child(attempt, unprivileged=True).splitlines()
    assert len(outcomes) == 3, outcomes
    for outcome in outcomes:
        assert outcome.startswith("StoreError: ") and "read-only" in outcome, outcome


def test_sqlite_disk_full(tmp_path):
    url = f"sqlite:///{tmp_path}/shop.sqlite3"
    open_store(url).close()

    def attempt():
        store = open_store(url)
        store.add_notice(new_notice(1, payload={"big": "x" * 400_000}), T0)
        return "stored"

    outcome = in_child(attempt, max_file_bytes=200_000)
    assert outcome.startswith("StoreError: add_notice failed on sqlite:///"), outcome
    store = open_store(url)
    try:
        assert store.list_notices() == []  # nothing half-written
        store.ping()
    finally:
        store.close()


# -- resolving notices stored before their Cin7 order was known ---------------------------------

def test_unresolved_notices_wait_for_resolution_then_are_claimed(store):
    waiting, _ = store.add_notice(new_notice(1, resolved=False), T0)
    assert store.claim_due("w", T0 + timedelta(seconds=1)) == []
    assert [n.id for n in store.unresolved_due(T0 + timedelta(seconds=1))] == [waiting.id]
    assert store.resolve_notice(waiting.id, 1001, "1001|1Z00000001|ups") is True
    assert store.unresolved_due(T0 + timedelta(seconds=1)) == []
    [claimed] = store.claim_due("w", T0 + timedelta(seconds=1))
    assert (claimed.id, claimed.resolved_order_id, claimed.dedupe_key) == \
        (waiting.id, 1001, "1001|1Z00000001|ups")


def test_resolving_to_an_identity_already_stored_removes_the_repeat(store):
    first, _ = store.add_notice(new_notice(1, key="1001|1Z|ups"), T0)
    repeat, _ = store.add_notice(new_notice(2, key="?#1050|1Z|ups", resolved=False), T0)
    assert store.resolve_notice(repeat.id, 1001, "1001|1Z|ups") is False
    assert [n.id for n in store.list_notices()] == [first.id]


def test_unresolved_notices_are_deferred_or_failed(store):
    a, _ = store.add_notice(new_notice(1, resolved=False), T0)
    b, _ = store.add_notice(new_notice(2, resolved=False), T0)
    assert store.defer_unresolved(a.id, "Cin7 down", T0 + timedelta(hours=1))
    assert store.fail_unresolved(b.id, "no Cin7 sales order with id 1002")
    assert store.unresolved_due(T0 + timedelta(minutes=59)) == []
    assert [n.id for n in store.unresolved_due(T0 + timedelta(hours=1))] == [a.id]
    failed = store.get_notice(b.id)
    assert (failed.status, failed.last_error, failed.attempts) == \
        ("failed", "no Cin7 sales order with id 1002", 1)
    assert store.retry(b.id, T0)  # a failed one can be retried by hand, and is resolved again
    assert b.id in [n.id for n in store.unresolved_due(T0 + timedelta(hours=1))]
    # Resolved notices are not touched by the unresolved operations.
    c, _ = store.add_notice(new_notice(3), T0)
    assert not store.defer_unresolved(c.id, "x", T0)
    assert not store.fail_unresolved(c.id, "x")


def test_a_lease_is_renewed_only_by_its_holder(store):
    a, _ = store.add_notice(new_notice(1), T0)
    b, _ = store.add_notice(new_notice(2), T0)
    store.claim_due("w1", T0, lease_seconds=2)
    assert store.renew_lease([a.id, b.id], "w1", T0 + timedelta(seconds=1), 2) == {a.id, b.id}
    # Past the renewed lease another worker takes them over; w1 holds nothing any more.
    assert len(store.claim_due("w2", T0 + timedelta(seconds=4))) == 2
    assert store.renew_lease([a.id, b.id], "w1", T0 + timedelta(seconds=4), 2) == set()
