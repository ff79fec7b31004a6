"""The Flask application factory: ``create_app(settings)`` and its register_* steps."""

from __future__ import annotations

import logging
import time
from decimal import Decimal

from flask import Flask, g, request
from flask.json.provider import DefaultJSONProvider

from ratecalc.errors import register_error_handlers
from ratecalc.services import Services, build_services
from ratecalc.settings import Settings

log = logging.getLogger("ratecalc.access")
MAX_BODY_BYTES = 1024 * 1024  # the largest body any endpoint takes (ship notices)


class JSONProvider(DefaultJSONProvider):
    """Money is Decimal inside; on the wire it is a JSON number (``9.44``, not ``"9.44"``).

    Amounts are already rounded to cents, and float's shortest repr prints such
    values exactly, so the conversion happens only at the last step.
    """

    sort_keys = False

    @staticmethod
    def default(o):
        if isinstance(o, Decimal):
            return float(o)
        return DefaultJSONProvider.default(o)


def create_app(settings: Settings, services: Services | None = None) -> Flask:
    app = Flask("ratecalc")
    # Never debug mode (FLASK_DEBUG in the environment would turn it on): it can
    # show tracebacks and run code from the browser.
    app.debug = False
    app.json = JSONProvider(app)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False)
    app.extensions["ratecalc"] = services or build_services(settings)
    register_error_handlers(app)
    register_request_hooks(app)
    register_blueprints(app)
    return app


def register_blueprints(app: Flask) -> None:
    from ratecalc import ops
    from ratecalc.rating import api as rating_api

    app.register_blueprint(ops.bp)
    app.register_blueprint(rating_api.bp)
    settings = app.extensions["ratecalc"].settings
    if settings.shop_enabled or settings.cin7_configured:
        from ratecalc.shop.wiring import init_app as init_shop

        init_shop(app)


def register_request_hooks(app: Flask) -> None:
    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def _headers_and_log(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.headers.get("Authorization") or request.path.startswith("/v1/"):
            response.headers["Cache-Control"] = "no-store"
        # The path only: query strings may carry the Custom Store password. DEBUG:
        # gunicorn's access log already has a line per request in production.
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s", request.method, request.path, response.status_code, extra={
                "method": request.method, "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter()))
                                     * 1000, 1),
            })
        return response
