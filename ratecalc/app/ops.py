"""Operations endpoints, no token: health, readiness, metrics, OpenAPI."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from ratecalc import metrics
from ratecalc.app.openapi import openapi_document
from ratecalc.web.auth import require_bearer

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    services = current_app.extensions["ratecalc"]
    problems = services.settings.problems()
    for check in services.extras.get("readiness", ()):
        problems.extend(check())
    # An open circuit is reported, not failed on: the process can still answer
    # (stale quotes, stored notifications), so it should keep receiving traffic.
    circuits = {name: breaker.state for name, breaker in services.breakers().items()}
    if problems:
        return jsonify(status="unavailable", reasons=problems, circuits=circuits), 503
    return jsonify(status="ok", circuits=circuits)


@bp.get("/metrics")
def prometheus_metrics():
    token = current_app.extensions["ratecalc"].settings.metrics_token
    if token is not None:
        require_bearer((token,))
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
