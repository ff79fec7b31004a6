"""Web pages for people under ``/ui/``: staff quotes, "what happened to this order", ops.

Rendered on the server (Jinja2), with a small hand-written stylesheet and no
JavaScript at all, so there is no build step and the CSP can be
``default-src 'self'``. The pages are on only when RATECALC_UI_SECRET_KEY is set
(and RATECALC_UI is not ``off``); otherwise ``/ui/`` is a 404 and start-up says
in one line how to turn them on, so existing deployments start unchanged.

``init_app(app)`` is called by the app factory after shop mode is wired, since
the order page and the quote page's "apply" use the shop's services.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from flask import Flask, Response, request

from ratecalc.ui.samples import BudgetSamples
from ratecalc.ui.session import LoginLimiter, Sessions
from ratecalc.web.hooks import on_response

log = logging.getLogger(__name__)


@dataclass
class UiState:
    sessions: Sessions
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    samples: BudgetSamples = field(default_factory=BudgetSamples)
    last_export_at: float | None = None  # when ShipStation last called the export (here)


def init_app(app: Flask) -> None:
    services = app.extensions["ratecalc"]
    settings = services.settings
    if settings.ui == "off":
        log.info("web pages under /ui/ are off (RATECALC_UI=off)")
        return
    if settings.ui_secret_key is None:
        log.info("web pages under /ui/ are off: set RATECALC_UI_SECRET_KEY (a secret of 32+ "
                 "characters) to turn them on; staff log in with RATECALC_UI_TOKENS")
        return
    tokens = settings.ui_tokens or settings.api_tokens
    if not tokens:
        log.warning("web pages under /ui/ are on, but no staff can log in: set "
                    "RATECALC_UI_TOKENS or RATECALC_API_TOKENS")
    from ratecalc.ui import ops, orders, views  # noqa: F401 - their routes join the blueprint

    state = _ui_state(settings, tokens)
    services.extras["ui"] = state
    state.samples.start()
    services.extras.setdefault("closers", []).append(state.samples.stop)
    app.register_blueprint(views.bp)
    on_response(app, "/ui", views.security_headers)
    on_response(app, "/shipstation/custom-store", lambda response: _note_export(state, response))
    app.add_url_rule("/", "ui_root", lambda: Response(status=303,
                                                      headers={"Location": "/ui/"}))


def _ui_state(settings, tokens) -> UiState:
    """The login limit and logouts in Redis when configured, so every process shares them."""
    if not settings.redis_url:
        return UiState(sessions=Sessions(settings.ui_secret_key, tokens))
    from ratecalc.redis_guard import connect
    from ratecalc.ui.shared import RedisEndedSessions, RedisLoginLimiter

    guard = connect(settings.redis_url.reveal())
    return UiState(sessions=Sessions(settings.ui_secret_key, tokens,
                                     ended=RedisEndedSessions(guard)),
                   limiter=RedisLoginLimiter(guard))


def _note_export(state: UiState, response: Response) -> Response:
    """ShipStation's export calls that got past the password: the ops page's "last called"."""
    if request.path == "/shipstation/custom-store" and response.status_code not in (401, 404) \
            and (request.args.get("action") or "").strip().lower() == "export":
        state.last_export_at = time.time()
    return response
