"""Wiring of the alerts: the hub, its detectors and channels, the endpoint, the loop.

The alerts live in the shop database, so they come with shop mode (the Custom
Store or Cin7 configured). ``serve`` runs the alert loop in each process unless
``RATECALC_ALERTS=off`` (then the process still stores the alerts it raises and
answers ``GET /v1/alerts``; a process with the loop sends them); the outbox and
its locks make several processes send each message once. The Custom Store's
export calls are timed here (a response hook, ``ratecalc.web.hooks``) for ``export_silent``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

from flask import Flask, request

from ratecalc import alerts
from ratecalc.alerts import detectors as d
from ratecalc.alerts.channels import build_channels
from ratecalc.alerts.hub import AlertHub
from ratecalc.alerts.records import Scrubber
from ratecalc.settings import Settings
from ratecalc.shop import watch
from ratecalc.upstream import auth_watch
from ratecalc.web.hooks import on_response

log = logging.getLogger("ratecalc.alerts")
EXPORT_MARK_EVERY = 60.0  # seconds: one database write a minute at most per process


def build_hub(settings: Settings, shop, breakers, *, clock=None, context=None) -> AlertHub:
    channels, warnings = build_channels(settings, context=context)
    for warning in warnings:
        log.warning("alerts: %s", warning)
    detectors = [
        d.NoticeFailed(shop.store, settings.alert_notice_pending_minutes),
        d.CredentialsRefused(auth_watch.take),
        d.CircuitOpen(breakers),
        d.ExportSilent(lambda now: watch.waiting_orders(shop, now),
                       settings.alert_export_silence_hours),
        d.OrdersHeld(lambda now, older: watch.held_orders(shop, now, older),
                     settings.alert_held_order_hours),
        d.AutoFreightFailed(shop.store),
    ]
    extra = {"clock": clock} if clock else {}
    return AlertHub(shop.store, channels, detectors=detectors,
                    repeat_minutes=settings.alert_repeat_minutes,
                    scrub=Scrubber(settings.secrets()), where=f"on {socket.gethostname()}",
                    **extra)


def _time_export_calls(app: Flask, hub: AlertHub) -> None:
    last = {"at": 0.0}
    lock = threading.Lock()

    def _export_called(response):
        if (request.path == "/shipstation/custom-store" and response.status_code != 401
                and (request.args.get("action") or "").strip().lower() == "export"):
            with lock:
                due = time.monotonic() - last["at"] >= EXPORT_MARK_EVERY
                if due:
                    last["at"] = time.monotonic()
            if due:
                try:
                    hub.tables.mark(d.EXPORT_CALLED, hub.clock())
                except Exception as exc:  # the database may be down; the export went out
                    log.error("alerts: export call not recorded: %s", hub.scrub(exc))
        return response

    on_response(app, "/shipstation/custom-store", _export_called)


def init_alerts(app: Flask) -> None:
    from ratecalc.alerts.api import bp

    services = app.extensions["ratecalc"]
    app.register_blueprint(bp)
    shop = services.extras.get("shop")
    settings = services.settings
    if shop is None:
        return
    hub = services.extras.get("alerts") or build_hub(settings, shop, services.breakers)
    services.extras["alerts"] = hub
    alerts.activate(hub)
    _time_export_calls(app, hub)
    log.info("alerts go to: %s", "; ".join(c.describe() for _, c in sorted(hub.channels.items())))

    def close() -> None:
        hub.stop()
        alerts.deactivate(hub)

    services.extras.setdefault("closers", []).insert(0, close)  # before the store closes
    if settings.alerts == "on":
        hub.start()



