"""Data the pages show from parts that may not be installed: alerts and auto-freight.

Recent alerts (``GET /v1/alerts``) and the freight history
(``GET /v1/orders/<id>/freight/history``, ``GET /v1/freight/runs``) belong to
other packages. The pages read them through their published JSON endpoints,
dispatched inside this process with the first API token, so they depend on the
contract and not on those packages' code; while an endpoint does not exist the
panel says "not enabled". The token never leaves the server.
"""

from __future__ import annotations

import logging

from flask import current_app
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def has_endpoint(path: str, method: str = "GET") -> bool:
    adapter = current_app.url_map.bind("localhost")
    try:
        adapter.match(path.split("?", 1)[0], method)
    except HTTPException:
        return False
    return True


def internal_json(path: str) -> dict | None:
    """The JSON of ``GET path`` from this app, or None if the endpoint is absent or fails."""
    tokens = current_app.extensions["ratecalc"].settings.api_tokens
    if not tokens or not has_endpoint(path):
        return None
    try:
        response = current_app.test_client().get(
            path, headers={"Authorization": f"Bearer {tokens[0].reveal()}"})
    except Exception as exc:  # noqa: BLE001 - a panel must not take the page down
        log.warning("ui: reading %s failed: %s", path.split("?", 1)[0], type(exc).__name__)
        return None
    if response.status_code != 200 or not response.is_json:
        return None
    body = response.get_json(silent=True)
    return body if isinstance(body, dict) else None


def first_list(body: dict | None, *keys: str) -> list[dict] | None:
    """The first list of objects under one of ``keys`` (the shape may vary by version)."""
    if body is None:
        return None
    for key in keys:
        value = body.get(key)
        if isinstance(value, list):
            return [v for v in value if isinstance(v, dict)]
    return []


def recent_alerts(limit: int = 10) -> list[dict] | None:
    """Open alerts, newest first; None while ``GET /v1/alerts`` does not exist."""
    body = internal_json("/v1/alerts?state=open")
    alerts = first_list(body, "alerts", "items", "data")
    return None if alerts is None else alerts[:limit]


def freight_history(order_id: int, limit: int = 20) -> list[dict] | None:
    """Freight decisions for one order (automatic and manual); None while not enabled."""
    body = internal_json(f"/v1/orders/{order_id}/freight/history")
    history = first_list(body, "history", "runs", "decisions", "items")
    return None if history is None else history[:limit]
