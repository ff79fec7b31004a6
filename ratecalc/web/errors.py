"""The JSON error shape every endpoint answers with, and its handlers.

Every error is ``{"error": {"code", "message", "details"}}``. Unexpected
exceptions become a 500 ``internal_error`` whose body says nothing about the
code; the traceback goes to the log, never to the client.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with a stable machine-readable ``code`` for API callers."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, details: dict | None = None,
                   headers: dict | None = None):
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


_HTTP_CODES = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthorized", "Authentication is required."),
    403: ("forbidden", "Not allowed."),
    404: ("not_found", "No such endpoint."),
    405: ("method_not_allowed", "Method not allowed on this endpoint."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "The body must be JSON (Content-Type: application/json)."),
}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def handle_api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException):
        code, message = _HTTP_CODES.get(exc.code or 500, ("http_error", exc.name))
        if exc.code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            if limit:
                message = f"The request body is larger than {limit // 1024} KiB."
        headers = {"Allow": exc.valid_methods and ", ".join(exc.valid_methods)} \
            if getattr(exc, "valid_methods", None) else {}
        return error_response(exc.code or 500, code, message, headers=headers)

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unhandled error: %s", type(exc).__name__)
        return error_response(500, "internal_error", "An internal error occurred.")
