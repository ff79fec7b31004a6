"""The words of an alert message: one subject and one text for every channel.

A message holds every alert that came due together (the five-minute batch).
The webhook's JSON is Slack-compatible (``text``) and carries the first alert's
fields at the top level (``kind``, ``key``, ``severity``, ``summary``,
``details``, ``first_seen``, ``last_seen``, ``count``, ``resolved``), and all of
them under ``alerts``. Critical alerts come first.
"""

from __future__ import annotations

import json
from datetime import datetime

from ratecalc.alerts.records import SEVERITIES, Alert, iso

WHAT_TO_DO = {
    "notice_failed": "Open GET /v1/shipnotify?status=failed, fix the cause in Cin7 and retry "
                     "it (POST /v1/shipnotify/<id>/retry).",
    "credentials_refused": "Check the credentials in the settings named above; ratecalc keeps "
                           "failing until they are right.",
    "circuit_open": "The upstream keeps failing; check its status page and the log.",
    "export_silent": "In ShipStation, check the store's connection (Settings > Selling "
                     "Channels) and that auto-import is still on; then 'Update store'.",
    "orders_held": "Fix each order in Cin7 (GET /v1/orders/<id>/eligibility explains it).",
    "auto_freight_failed": "Set the order's freight by hand or fix the cause, then retry.",
    "test": "Nothing: this is a test from 'ratecalc alerts test'.",
}


def _order(alert: Alert) -> tuple:
    return (alert.resolved, SEVERITIES.index(alert.severity)
            if alert.severity in SEVERITIES else 9, alert.id)


def fields(alert: Alert) -> dict:
    return {"kind": alert.kind, "key": alert.key, "severity": alert.severity,
            "summary": alert.summary, "details": alert.details,
            "first_seen": iso(alert.first_seen), "last_seen": iso(alert.last_seen),
            "count": alert.count, "resolved": alert.resolved}


def _details_lines(details: dict) -> list[str]:
    lines = []
    for name, value in details.items():
        if isinstance(value, list):
            lines.append(f"    {name}:")
            for item in value[:50]:
                text = json.dumps(item, ensure_ascii=False) if isinstance(item, dict) else item
                lines.append(f"      - {text}")
            if len(value) > 50:
                lines.append(f"      ... and {len(value) - 50} more")
        else:
            lines.append(f"    {name}: {value}")
    return lines


def alert_text(alert: Alert) -> list[str]:
    head = "RESOLVED" if alert.resolved else alert.severity.upper()
    lines = [f"[{head}] {alert.kind}: {alert.summary}",
             f"    key: {alert.key}; first seen {iso(alert.first_seen)}, last seen "
             f"{iso(alert.last_seen)}, {alert.count} time(s)"
             + (f"; resolved {iso(alert.resolved_at)}" if alert.resolved else "")]
    if not alert.resolved:
        lines += _details_lines(alert.details)
        lines.append(f"    what to do: {WHAT_TO_DO.get(alert.kind, '')}")
    return lines


def subject(alerts: list[Alert]) -> str:
    if len(alerts) == 1:
        (alert,) = alerts
        head = "RESOLVED" if alert.resolved else alert.severity.upper()
        return f"[ratecalc] {head} {alert.kind}: {alert.summary}"[:200]
    opened = sum(1 for a in alerts if not a.resolved)
    resolved = len(alerts) - opened
    parts = ([f"{opened} open"] if opened else []) + ([f"{resolved} resolved"] if resolved
                                                       else [])
    kinds = ", ".join(sorted({a.kind for a in alerts}))
    return f"[ratecalc] {len(alerts)} alerts ({', '.join(parts)}): {kinds}"[:200]


def render(alerts: list[Alert], now: datetime, where: str = "") -> tuple[str, str]:
    """(subject, body): the body is the webhook's JSON; its ``text`` is the mail's text."""
    alerts = sorted(alerts, key=_order)
    lines = [f"ratecalc{(' ' + where) if where else ''} at {iso(now)}:", ""]
    for alert in alerts:
        lines += alert_text(alert) + [""]
    lines.append("Open alerts: GET /v1/alerts?state=open")
    body = {"text": "\n".join(lines), **fields(alerts[0]),
            "alerts": [fields(a) for a in alerts]}
    return subject(alerts), json.dumps(body, ensure_ascii=False)
