"""Error messages, the 4xx exception and the JSON response helper of the Cin7 simulator."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

# Error bodies are bare JSON strings (reference §1.4).
MSG_UNAUTHORIZED = "Unauthorized access"
MSG_NOT_FOUND = "Resource not found"
MSG_MALFORMED = "Missing or malformed JSON data; please see the documentation for examples."
MSG_BATCH = "Batch limit is 250."
MSG_ROWS = "The rows argument cannot be greater than 250."
MSG_PAGE = "The page number is out of range; the value must be greater than or equal to 1."
MSG_RATE = "Rate limit exceeded. Retry after some time."


class BadRequest(Exception):
    """Abort the request with ``message`` as the JSON body (400 unless ``status``)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status,
        headers=headers,
        content_type="application/json; charset=utf-8",
    )
