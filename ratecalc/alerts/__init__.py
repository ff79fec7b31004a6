"""Errors sent to a person ("Send errors to"): alerts by e-mail, webhook, mailbox, log.

Detectors (:mod:`.detectors`) watch for the fixed kinds (``notice_failed``,
``credentials_refused``, ``circuit_open``, ``export_silent``, ``orders_held``,
``auto_freight_failed``); the hub (:mod:`.hub`) stores them, batches what comes
due within five minutes into one message per channel, writes it to an outbox in
the database before sending, retries with backoff and sends ``resolved`` when a
condition clears.

Other code raises an alert through the hook below, e.g. auto-freight::

    from ratecalc import alerts
    alerts.raise_alert("auto_freight_failed", f"auto_freight_failed:{order_id}",
                       f"auto-freight failed for order {order_id}: {reason}",
                       {"order_id": order_id, "reason": reason})
    alerts.resolve_alert("auto_freight_failed", f"auto_freight_failed:{order_id}")

(``ratecalc.shop`` is a room beside this one and may not import it: the wiring
hands shop code these two functions as callbacks.)  Without an active hub
(alerts off, no database) the hook logs the alert and returns False.
"""

from __future__ import annotations

import logging

log = logging.getLogger("ratecalc.alerts")
_active: dict = {}


def activate(hub) -> None:
    """Make ``hub`` the one :func:`raise_alert` and :func:`resolve_alert` use."""
    _active["hub"] = hub


def deactivate(hub) -> None:
    if _active.get("hub") is hub:
        _active.pop("hub", None)


def active_hub():
    return _active.get("hub")


def raise_alert(kind: str, key: str, summary: str, details: dict | None = None, *,
                severity: str | None = None) -> bool:
    """Raise (or refresh) alert ``key`` of ``kind``; True when it was stored.

    Never raises for a database outage (logged instead): a caller's own work must
    not fail because alerting did. A bad kind or an empty key/summary is a
    ValueError (a programming error).
    """
    hub = active_hub()
    if hub is None:
        log.warning("alert (alerts inactive) %s %s: %s", kind, key, summary)
        return False
    try:
        hub.raise_alert(kind, key, summary, details, severity=severity)
    except ValueError:
        raise
    except Exception as exc:
        log.error("alert %s %s not stored: %s", kind, key, hub.scrub(f"{type(exc).__name__}: "
                                                                        f"{exc}"))
        return False
    return True


def resolve_alert(kind: str, key: str) -> bool:
    """Resolve alert ``key`` (a ``resolved`` message follows if it had been sent)."""
    hub = active_hub()
    if hub is None:
        return False
    try:
        return hub.resolve_alert(kind, key)
    except Exception as exc:
        log.error("alert %s %s not resolved: %s", kind, key, hub.scrub(f"{type(exc).__name__}:"
                                                                         f" {exc}"))
        return False
