"""The alerts' tables in the shop database: alerts, the message outbox, time marks.

The tables come from migration 5 of :mod:`ratecalc.shop.store.schema`; this
module gets the opened store from the wiring and uses only its
``transaction(op, write=...)`` and ``engine``. Every write takes one lock (a
PostgreSQL advisory lock; SQLite's write transaction is one already), so
several processes raising, resolving and composing at once never send a key
twice or lose an update.
"""
# ruff: noqa: S608 - constant column lists; every value is a :named parameter

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timedelta

from ratecalc.alerts.records import Alert, Observation, Scrubber, clip, details_json, from_ts, ts

ALERT_COLUMNS = ("id, kind, alert_key, severity, summary, details, state, first_seen, last_seen,"
                 " count, resolved_at, notified_at, notify_due")
MESSAGE_COLUMNS = ("id, channel, subject, body, status, attempts, next_attempt_at, lease_until,"
                   " last_error, answer, created_at, sent_at")
# pg_advisory_xact_lock key of alert writes: the bytes of "rcalerts".
LOCK_KEY = int.from_bytes(b"rcalerts", "big", signed=True)
MAX_ERROR = 1000


def _alert(row) -> Alert:
    try:
        details = json.loads(row["details"])
    except ValueError:
        details = {}
    return Alert(
        id=int(row["id"]), kind=row["kind"], key=row["alert_key"], severity=row["severity"],
        summary=row["summary"], details=details, state=row["state"],
        first_seen=from_ts(row["first_seen"]), last_seen=from_ts(row["last_seen"]),
        count=int(row["count"]), resolved_at=from_ts(row["resolved_at"]),
        notified_at=from_ts(row["notified_at"]), notify_due=from_ts(row["notify_due"]))


class AlertTables:
    def __init__(self, store, scrub: Scrubber | None = None):
        self.store = store
        self.scrub = scrub or Scrubber()

    @contextmanager
    def _write(self, op: str):
        with self.store.transaction(op, write=True) as tx:
            if self.store.engine == "postgresql":
                tx.execute("SELECT pg_advisory_xact_lock(:key)", {"key": LOCK_KEY})
            yield tx

    # -- alerts ---------------------------------------------------------------------
    def upsert(self, obs: Observation, severity: str, now: datetime,
               repeat: timedelta) -> tuple[Alert, bool]:
        """Open the alert of ``obs.key``, or refresh the open one; (alert, created)."""
        values = {"key": clip(obs.key, 200), "kind": obs.kind, "severity": severity,
                  "summary": clip(self.scrub(obs.summary), 300),
                  "details": details_json(obs.details, self.scrub),
                  "now": ts(now), "bump": max(0, int(obs.bump))}
        with self._write("raise alert") as tx:
            row = tx.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_key = :key"
                             " AND state = 'open'", values).fetchone()
            if row is not None:
                tx.execute("UPDATE alerts SET summary = :summary, details = :details,"
                           " severity = :severity, last_seen = :now, count = count + :bump"
                           " WHERE id = :id", {**values, "id": row["id"]})
                created = False
            else:
                last = tx.execute("SELECT MAX(notified_at) AS last FROM alerts"
                                  " WHERE alert_key = :key", values).fetchone()["last"]
                due = now if last is None else max(now, from_ts(last) + repeat)
                tx.execute(
                    "INSERT INTO alerts (kind, alert_key, severity, summary, details, state,"
                    " first_seen, last_seen, count, notify_due) VALUES (:kind, :key, :severity,"
                    " :summary, :details, 'open', :now, :now, :first, :due)",
                    {**values, "first": max(1, values["bump"]), "due": ts(due)})
                created = True
            row = tx.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_key = :key"
                             " AND state = 'open'", values).fetchone()
        return _alert(row), created

    def resolve(self, key: str, now: datetime) -> bool:
        """Close the open alert of ``key``; a resolved message is due if it was sent."""
        with self._write("resolve alert") as tx:
            return tx.execute(
                "UPDATE alerts SET state = 'resolved', resolved_at = :now, notify_due ="
                " CASE WHEN notified_at IS NULL THEN NULL ELSE :now END"
                " WHERE alert_key = :key AND state = 'open'",
                {"key": key, "now": ts(now)}).rowcount == 1

    def open_keys(self, kind: str) -> list[str]:
        with self.store.transaction("open alerts", write=False) as tx:
            rows = tx.execute("SELECT alert_key FROM alerts WHERE kind = :kind AND"
                              " state = 'open'", {"kind": kind}).fetchall()
        return [row["alert_key"] for row in rows]

    def quiet_keys(self, kind: str, before: datetime) -> list[str]:
        """Open alerts of ``kind`` not seen since ``before``."""
        with self.store.transaction("quiet alerts", write=False) as tx:
            rows = tx.execute("SELECT alert_key FROM alerts WHERE kind = :kind AND"
                              " state = 'open' AND last_seen < :before",
                              {"kind": kind, "before": ts(before)}).fetchall()
        return [row["alert_key"] for row in rows]

    def listing(self, state: str | None = None, limit: int = 100) -> list[Alert]:
        where, params = "", {"limit": max(0, int(limit))}
        if state is not None:
            where, params["state"] = "WHERE state = :state", state
        with self.store.transaction("list alerts", write=False) as tx:
            rows = tx.execute(f"SELECT {ALERT_COLUMNS} FROM alerts {where}"
                              " ORDER BY last_seen DESC, id DESC LIMIT :limit", params).fetchall()
        return [_alert(row) for row in rows]

    # -- composing: due alerts become one message per channel -------------------------
    def compose(self, now: datetime, batch: timedelta, repeat_for, channels, render) -> int:
        """When the oldest due alert has waited ``batch``, write one message per channel
        holding every due alert, and mark them notified, in one transaction (persisted
        before anything is sent). Returns how many alerts went into the message."""
        with self._write("compose alerts") as tx:
            rows = tx.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE notify_due IS NOT"
                              " NULL AND notify_due <= :now ORDER BY notify_due, id",
                              {"now": ts(now)}).fetchall()
            due = [_alert(row) for row in rows]
            if not due or min(a.notify_due for a in due) > now - batch:
                return 0
            subject, body = render(due, now)
            for channel in channels:
                tx.execute("INSERT INTO alert_messages (channel, subject, body, status,"
                           " attempts, next_attempt_at, created_at) VALUES (:channel,"
                           " :subject, :body, 'pending', 0, :now, :now)",
                           {"channel": channel, "subject": subject, "body": body,
                            "now": ts(now)})
            for alert in due:
                next_due = None if alert.resolved else ts(now + repeat_for(alert.kind))
                tx.execute("UPDATE alerts SET notified_at = :now, notify_due = :due"
                           " WHERE id = :id",
                           {"now": ts(now), "due": next_due, "id": alert.id})
        return len(due)

    # -- the message outbox ------------------------------------------------------------
    def claim_messages(self, now: datetime, lease: timedelta, limit: int = 20) -> list[dict]:
        """Due messages, each claimed with a lease (one row per UPDATE, so two processes
        never both take one)."""
        params = {"now": ts(now), "lease": ts(now + lease), "limit": limit}
        with self.store.transaction("due messages", write=False) as tx:
            rows = tx.execute(
                "SELECT id FROM alert_messages WHERE (status = 'pending' AND"
                " next_attempt_at <= :now) OR (status = 'sending' AND lease_until <= :now)"
                " ORDER BY id LIMIT :limit", params).fetchall()
        claimed = []
        for row in rows:
            with self.store.transaction("claim message", write=True) as tx:
                got = tx.execute(
                    "UPDATE alert_messages SET status = 'sending', lease_until = :lease,"
                    " attempts = attempts + 1 WHERE id = :id AND ((status = 'pending' AND"
                    " next_attempt_at <= :now) OR (status = 'sending' AND lease_until <= :now))"
                    f" RETURNING {MESSAGE_COLUMNS}", {**params, "id": row["id"]}).fetchone()
            if got is not None:
                claimed.append(dict(got))
        return claimed

    def _message_update(self, op: str, sql: str, params: dict) -> None:
        with self.store.transaction(op, write=True) as tx:
            tx.execute(sql, params)

    def mark_sent(self, message_id: int, answer: str, now: datetime) -> None:
        self._message_update("message sent", "UPDATE alert_messages SET status = 'sent',"
                             " answer = :answer, sent_at = :now, lease_until = NULL"
                             " WHERE id = :id", {"id": message_id, "now": ts(now),
                                                 "answer": clip(self.scrub(answer), MAX_ERROR)})

    def mark_retry(self, message_id: int, error: str, next_attempt: datetime,
                   status: str = "pending") -> None:
        self._message_update("message retry", "UPDATE alert_messages SET status = :status,"
                             " last_error = :error, next_attempt_at = :next, lease_until = NULL"
                             " WHERE id = :id",
                             {"id": message_id, "status": status, "next": ts(next_attempt),
                              "error": clip(self.scrub(error), MAX_ERROR)})

    def messages(self, limit: int = 100) -> list[dict]:
        with self.store.transaction("list messages", write=False) as tx:
            rows = tx.execute(f"SELECT {MESSAGE_COLUMNS} FROM alert_messages ORDER BY id DESC"
                              " LIMIT :limit", {"limit": limit}).fetchall()
        return [dict(row) for row in rows]

    def outbox_stats(self) -> tuple[int, str | None]:
        """(unsent messages, the oldest's creation time)."""
        with self.store.transaction("outbox stats", write=False) as tx:
            row = tx.execute("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM"
                             " alert_messages WHERE status IN ('pending', 'sending')").fetchone()
        return int(row["n"] or 0), row["oldest"]

    # -- time marks ----------------------------------------------------------------------
    def mark(self, name: str, now: datetime) -> None:
        with self._write("time mark") as tx:
            tx.execute("INSERT INTO alert_marks (name, at) VALUES (:name, :at) ON CONFLICT"
                       " (name) DO UPDATE SET at = excluded.at", {"name": name, "at": ts(now)})

    def mark_once(self, name: str, now: datetime) -> datetime:
        """The mark ``name``, set to ``now`` if it did not exist yet."""
        with self._write("first mark") as tx:
            tx.execute("INSERT INTO alert_marks (name, at) VALUES (:name, :at) ON CONFLICT"
                       " (name) DO NOTHING", {"name": name, "at": ts(now)})
            row = tx.execute("SELECT at FROM alert_marks WHERE name = :name",
                             {"name": name}).fetchone()
        return from_ts(row["at"])

    def get_mark(self, name: str) -> datetime | None:
        with self.store.transaction("read mark", write=False) as tx:
            row = tx.execute("SELECT at FROM alert_marks WHERE name = :name",
                             {"name": name}).fetchone()
        return None if row is None else from_ts(row["at"])

    def claim_run(self, name: str, now: datetime, every: timedelta) -> bool:
        """True for exactly one process per ``every``: the one that moved the mark."""
        mark = "run:" + name
        with self._write("claim run") as tx:
            row = tx.execute("SELECT at FROM alert_marks WHERE name = :name",
                             {"name": mark}).fetchone()
            if row is not None and from_ts(row["at"]) > now - every:
                return False
            tx.execute("INSERT INTO alert_marks (name, at) VALUES (:name, :at) ON CONFLICT"
                       " (name) DO UPDATE SET at = excluded.at", {"name": mark, "at": ts(now)})
        return True
