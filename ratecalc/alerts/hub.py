"""The alert loop: detectors raise and resolve, due alerts are batched, messages sent.

One pass (:meth:`AlertHub.run_once`):

1. each detector that is due runs (see :mod:`ratecalc.alerts.detectors`) and
   raises or resolves alerts;
2. when the oldest alert due for a message has waited ``batch`` (five minutes),
   every due alert goes into one message per channel, written to the outbox in
   the same transaction that marks them sent -- persisted before sending;
3. due outbox messages are sent; a failure goes back with exponential backoff
   (30 s doubling to 15 minutes, jittered), for as long as it takes: nothing is
   dropped while the mail server is down.

An open key is sent again only after ``repeat`` (``RATECALC_ALERT_REPEAT_MINUTES``,
a day for the ``orders_held`` digest), a reopened key too; a ``resolved`` message
follows when the condition clears, if the alert had been sent.
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import UTC, datetime, timedelta

from ratecalc.alerts.channels import ChannelError
from ratecalc.alerts.outbox import AlertTables
from ratecalc.alerts.records import KINDS, Observation, Scrubber
from ratecalc.alerts.render import render

log = logging.getLogger("ratecalc.alerts")
BATCH = timedelta(minutes=5)
LEASE = timedelta(minutes=2)
BACKOFF_BASE, BACKOFF_CAP = 30.0, 900.0
POLL_SECONDS = 15.0


def utcnow() -> datetime:
    return datetime.now(UTC)


class AlertHub:
    def __init__(self, store, channels: dict, *, detectors=(), clock=utcnow,
                 repeat_minutes: int = 240, batch: timedelta = BATCH,
                 scrub: Scrubber | None = None, where: str = "",
                 poll_seconds: float = POLL_SECONDS):
        self.scrub = scrub or Scrubber()
        self.tables = AlertTables(store, self.scrub)
        self.channels = dict(channels)
        self.detectors = list(detectors)
        self.clock = clock
        self.repeat = timedelta(minutes=repeat_minutes)
        self.batch = batch
        self.where = where
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- raising and resolving ---------------------------------------------------------
    def repeat_for(self, kind: str) -> timedelta:
        return max(self.repeat, timedelta(minutes=KINDS.get(kind, ("", 0))[1]))

    def observe(self, obs: Observation) -> bool:
        """Raise (or refresh) an alert; True when it opened now."""
        obs = obs.checked()
        severity = obs.severity or KINDS[obs.kind][0]
        alert, created = self.tables.upsert(obs, severity, self.clock(),
                                            self.repeat_for(obs.kind))
        if created:
            log.warning("alert opened: %s %s: %s", alert.kind, alert.key, alert.summary)
        return created

    def raise_alert(self, kind: str, key: str, summary: str, details: dict | None = None,
                    *, severity: str | None = None) -> bool:
        return self.observe(Observation(kind, key, summary, details or {}, severity))

    def resolve_alert(self, kind: str, key: str) -> bool:
        """Close the open alert of ``key``; True when one was open."""
        done = self.tables.resolve(key, self.clock())
        if done:
            log.info("alert resolved: %s %s", kind, key)
        return done

    def settle(self, kind: str, seen: list[Observation], complete: bool = True) -> None:
        """A detector's full view of ``kind``: raise ``seen``, resolve every other open
        key of the kind (when ``complete``)."""
        keys = set()
        for obs in seen:
            keys.add(obs.key)
            self.observe(obs)
        if complete:
            for key in self.tables.open_keys(kind):
                if key not in keys:
                    self.resolve_alert(kind, key)

    # -- one pass ------------------------------------------------------------------------
    def run_detectors(self) -> None:
        for detector in self.detectors:
            try:
                detector.run(self, self.clock())
            except Exception as exc:  # one broken detector must not stop the others
                log.error("alert detector %s failed: %s", detector.name,
                          self.scrub(f"{type(exc).__name__}: {exc}"))

    def compose(self) -> int:
        return self.tables.compose(self.clock(), self.batch, self.repeat_for,
                                   sorted(self.channels),
                                   lambda alerts, now: render(alerts, now, self.where))

    def send_due(self) -> int:
        sent = 0
        for message in self.tables.claim_messages(self.clock(), LEASE):
            channel = self.channels.get(message["channel"])
            if channel is None:  # configuration changed since it was written
                self.tables.mark_retry(message["id"], "channel no longer configured",
                                       self.clock(), status="dropped")
                continue
            try:
                answer = channel.send(message["subject"], message["body"])
            except ChannelError as exc:
                delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, message["attempts"] - 1))
                delay *= random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not crypto)
                error = self.scrub(str(exc))
                log.warning("alert message %s via %s failed (attempt %s), retry in %.0fs: %s",
                            message["id"], message["channel"], message["attempts"], delay, error)
                self.tables.mark_retry(message["id"], error,
                                       self.clock() + timedelta(seconds=delay))
                continue
            self.tables.mark_sent(message["id"], answer, self.clock())
            log.info("alert message %s sent via %s: %s", message["id"], message["channel"],
                     self.scrub(answer))
            sent += 1
        return sent

    def run_once(self) -> int:
        self.run_detectors()
        self.compose()
        return self.send_due()

    # -- the background loop ----------------------------------------------------------------
    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # the database may be down: try again next pass
                log.error("alert loop: %s", self.scrub(f"{type(exc).__name__}: {exc}"))
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def nudge(self) -> None:
        self._wake.set()

    def start(self) -> AlertHub:
        self._thread = threading.Thread(target=self.run_forever, name="alert-loop", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
