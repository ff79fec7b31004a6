"""``GET /v1/alerts?state=open|resolved``: the alerts, newest first (bearer token).

Without ``state``, both. Each alert has the webhook's fields (kind, key,
severity, summary, details, first_seen, last_seen, count, resolved) plus its
id, state and when it was last sent; the answer also names the channels and
the outbox's unsent messages, so ops see at once whether alerts get out.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ratecalc import bounds
from ratecalc.alerts.records import from_ts, iso
from ratecalc.web.auth import require_bearer
from ratecalc.web.errors import ApiError

bp = Blueprint("alerts_api", __name__)
STATES = ("open", "resolved")


def hub():
    found = current_app.extensions["ratecalc"].extras.get("alerts")
    if found is None:
        raise ApiError(404, "alerts_off", "Alerts are off on this server (they need the shop "
                       "database; RATECALC_ALERTS=on).")
    return found


@bp.before_request
def _require_token():
    require_bearer(current_app.extensions["ratecalc"].settings.api_tokens)


@bp.get("/v1/alerts")
def list_alerts():
    state = request.args.get("state")
    if state is not None and state not in STATES:
        raise ApiError(400, "invalid_request", "state: must be open or resolved.",
                       details={"field": "state"})
    try:
        limit = bounds.integer(request.args.get("limit"), "limit", minimum=1, maximum=500)
    except bounds.OutOfBounds as exc:
        raise ApiError(400, "invalid_request", f"limit: {exc.message}.",
                       details={"field": "limit"}) from None
    alerts = hub()
    unsent, oldest = alerts.tables.outbox_stats()
    return jsonify({
        "state": state,
        "alerts": [a.to_json() for a in alerts.tables.listing(state, limit or 100)],
        "channels": [channel.describe() for _, channel in sorted(alerts.channels.items())],
        "outbox": {"unsent": unsent, "oldest_unsent": iso(from_ts(oldest))},
    })
