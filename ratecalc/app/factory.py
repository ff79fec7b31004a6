"""The Flask application factory: ``create_app(settings)`` and its register_* steps."""

from __future__ import annotations

import logging
import time
from decimal import Decimal

from flask import Flask, g, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

from ratecalc.app.services import Services, build_services
from ratecalc.logs import configure_logging
from ratecalc.settings import Settings
from ratecalc.web.errors import register_error_handlers
from ratecalc.web.hooks import API_HEADERS, hooked, run_response_hooks
from ratecalc.web.paths import CONVERTERS

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
    app.url_map.converters.update(CONVERTERS)
    # No redirects at all: werkzeug's slash redirects build Location from the Host header
    # (POST /v1/orders/1001%2f/freight with Host: evil.example -> 308 to evil.example).
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    app.url_map.redirect_defaults = False
    # Never debug mode (FLASK_DEBUG in the environment would turn it on): it can
    # show tracebacks and run code from the browser.
    app.debug = False
    app.json = JSONProvider(app)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False)
    app.extensions["ratecalc"] = services or build_services(settings)
    if settings.trusted_proxies:
        # Behind deploy/nginx.conf: the client's address and scheme come from the
        # proxy's X-Forwarded-* headers, believed for exactly that many hops.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    register_error_handlers(app)
    register_request_hooks(app)
    register_blueprints(app)
    register_cached_quote_door(app)
    return app


def register_cached_quote_door(app: Flask) -> None:
    """Repeated quotes are answered before Flask (``rating/hits.py``), unless something
    must see every quote answer: a response hook on its path, or the DEBUG access line."""
    from ratecalc.rating.hits import PATH, CachedQuoteDoor

    if log.isEnabledFor(logging.DEBUG) or hooked(app, PATH):
        return
    services = app.extensions["ratecalc"]
    app.wsgi_app = CachedQuoteDoor(app.wsgi_app, services.rating, services.settings.api_tokens)


def register_blueprints(app: Flask) -> None:
    from ratecalc.app import ops
    from ratecalc.rating import api as rating_api

    app.register_blueprint(ops.bp)
    app.register_blueprint(rating_api.bp)
    settings = app.extensions["ratecalc"].settings
    if settings.shop_enabled or settings.cin7_configured:
        from ratecalc.shop.wiring import init_app as init_shop

        init_shop(app)
    from ratecalc.ui import init_app as init_ui

    init_ui(app)  # after the shop: the pages use its services
    from ratecalc.app.alerting import init_alerts

    init_alerts(app)


def register_request_hooks(app: Flask) -> None:
    # Timed only for the DEBUG access line: the clock costs every request otherwise.
    if log.isEnabledFor(logging.DEBUG):
        @app.before_request
        def _start_timer():
            g.started = time.perf_counter()

    @app.after_request
    def _headers_and_log(response):
        path = request.path
        # POST /v1/rates sets these with its other headers (the cached-quote path).
        if not getattr(response, "ratecalc_headers_set", False):
            (nosniff, _), (cache_control, no_store) = API_HEADERS
            response.headers.setdefault(nosniff, "nosniff")
            if path.startswith("/v1/") or request.headers.get("Authorization"):
                response.headers[cache_control] = no_store
        response = run_response_hooks(app, path, response)
        # The path only: query strings may carry the Custom Store password. DEBUG:
        # gunicorn's access log already has a line per request in production.
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s", request.method, path, response.status_code, extra={
                "method": request.method, "path": path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter()))
                                     * 1000, 1),
            })
        return response


def make_app(settings: Settings | None = None) -> Flask:
    """The app of a serving process: settings from the environment, JSON logs."""
    settings = settings or Settings.from_env().require_complete()
    configure_logging(settings.log_level)
    return create_app(settings)
