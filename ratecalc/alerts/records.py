"""What an alert is: its fixed kinds, an observation of a condition, a stored alert.

An *observation* is what a detector (or :func:`ratecalc.alerts.raise_alert`)
reports; the hub turns it into an *alert* row, one open row per ``key``. Text is
bounded here, and scrubbed of every secret the process holds, before anything
is stored, so no alert can carry a password to a mailbox.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

# kind -> (severity, least minutes between two sends of one key)
KINDS: dict[str, tuple[str, int]] = {
    "notice_failed": ("warning", 0),
    "credentials_refused": ("critical", 0),
    "circuit_open": ("critical", 0),
    "export_silent": ("critical", 0),
    "orders_held": ("warning", 24 * 60),  # a daily digest
    "auto_freight_failed": ("warning", 0),
    "test": ("info", 0),
}
SEVERITIES = ("critical", "warning", "info")
MAX_KEY = 200
MAX_SUMMARY = 300
MAX_DETAILS_CHARS = 16_000
MAX_TEXT_FIELD = 2_000
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s:]*:[^/@\s]*@")


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("alert times must be aware datetimes")
    return moment.astimezone(UTC)


def ts(moment: datetime) -> str:
    """Fixed-width ISO-8601 UTC text: sorts in time order on both engines."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_ts(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


class Scrubber:
    """Masks the process's secrets (and any ``scheme://user:pass@``) in text."""

    def __init__(self, secrets=()):
        # Longest first, so a secret containing another is masked whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text) -> str:
        text = _URL_CREDENTIALS.sub(r"\1***@", str(text))
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def clip(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bounded(value, scrub: Scrubber, depth: int = 0):
    if depth > 4:
        return clip(scrub(json.dumps(value, default=str)), MAX_TEXT_FIELD)
    if isinstance(value, dict):
        return {clip(scrub(k), 100): _bounded(v, scrub, depth + 1)
                for k, v in list(value.items())[:100]}
    if isinstance(value, list | tuple):
        return [_bounded(v, scrub, depth + 1) for v in list(value)[:200]]
    if value is None or isinstance(value, bool | int | float):
        return value
    return clip(scrub(value), MAX_TEXT_FIELD)


def details_json(details: dict | None, scrub: Scrubber) -> str:
    """The details as bounded JSON text (lists cut, strings clipped, secrets masked)."""
    bounded = _bounded(dict(details or {}), scrub)
    text = json.dumps(bounded, ensure_ascii=False, sort_keys=True, default=str)
    while len(text) > MAX_DETAILS_CHARS:
        lists = [k for k, v in bounded.items() if isinstance(v, list) and len(v) > 1]
        if not lists:
            return json.dumps({"truncated": clip(text, MAX_DETAILS_CHARS - 100)})
        for name in lists:
            bounded[name] = bounded[name][: len(bounded[name]) // 2]
        bounded["truncated"] = True
        text = json.dumps(bounded, ensure_ascii=False, sort_keys=True, default=str)
    return text


@dataclass(frozen=True)
class Observation:
    """A condition seen now. ``bump``: how many occurrences to add to ``count``."""

    kind: str
    key: str
    summary: str
    details: dict = field(default_factory=dict)
    severity: str | None = None
    bump: int = 1

    def checked(self) -> Observation:
        if self.kind not in KINDS:
            raise ValueError(f"unknown alert kind {self.kind!r}; one of {', '.join(KINDS)}")
        if self.severity is not None and self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
        if not str(self.key).strip() or not str(self.summary).strip():
            raise ValueError("an alert needs a key and a summary")
        return self


@dataclass(frozen=True)
class Alert:
    id: int
    kind: str
    key: str
    severity: str
    summary: str
    details: dict
    state: str
    first_seen: datetime
    last_seen: datetime
    count: int
    resolved_at: datetime | None
    notified_at: datetime | None
    notify_due: datetime | None

    @property
    def resolved(self) -> bool:
        return self.state == "resolved"

    def to_json(self) -> dict:
        return {
            "id": self.id, "kind": self.kind, "key": self.key, "severity": self.severity,
            "summary": self.summary, "details": self.details,
            "first_seen": iso(self.first_seen), "last_seen": iso(self.last_seen),
            "count": self.count, "resolved": self.resolved, "state": self.state,
            "resolved_at": iso(self.resolved_at), "notified_at": iso(self.notified_at),
        }
