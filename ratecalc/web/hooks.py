"""Response hooks by path prefix, run by one ``after_request`` hook of the app.

Why: Flask runs every app-wide ``after_request`` function on every response, each
through ``ensure_sync`` and its own look at ``request``. The UI's security headers and
the Custom Store's "last export" notes concern a few paths only, so they register
here, and the cached-quote path (``POST /v1/rates``) pays one prefix check instead.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response

KEY = "ratecalc.response_hooks"
# On every API answer: the app's after_request adds them, POST /v1/rates builds them in.
API_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store"))


def on_response(app: Flask, prefix: str, hook: Callable[[Response], Response | None]) -> None:
    """Run ``hook(response)`` for every response to a path starting with ``prefix``."""
    app.extensions.setdefault(KEY, []).append((prefix, hook))


def run_response_hooks(app: Flask, path: str, response: Response) -> Response:
    for prefix, hook in app.extensions.get(KEY, ()):
        if path.startswith(prefix):
            response = hook(response) or response
    return response


def hooked(app: Flask, path: str) -> bool:
    """True when a response hook concerns ``path``."""
    return any(path.startswith(prefix) for prefix, _ in app.extensions.get(KEY, ()))
