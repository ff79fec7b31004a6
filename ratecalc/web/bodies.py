"""Reading request bodies within a size limit, with clear errors.

An oversized body is drained (up to a hard cap) before the 413 is sent, so the
client reads a real response instead of a connection reset.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

from flask import request

from ratecalc.web.errors import ApiError

DRAIN_CAP_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large",
                    f"The request body is larger than {limit // 1024} KiB.",
                    details={"limit_bytes": limit})


def raw_body(limit: int) -> bytes:
    try:
        return _read(limit)
    except ApiError:
        raise
    except Exception:  # a broken chunked encoding, a client gone mid-body ...
        raise ApiError(400, "invalid_body", "The request body could not be read.") from None


def _read(limit: int) -> bytes:
    length = request.content_length
    stream = request.environ["wsgi.input"]
    if length is not None and length > limit:
        remaining = min(length, DRAIN_CAP_BYTES)
        while remaining > 0:
            chunk = stream.read(min(65536, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
        raise _too_large(limit)
    data = request.get_data(cache=True) if length is None else stream.read(length)
    if len(data) > limit:
        raise _too_large(limit)
    return data


def json_bytes(limit: int) -> bytes:
    """The raw body of a JSON request (415 unless it says it is JSON)."""
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(415, "unsupported_media_type",
                       "The body must be JSON (Content-Type: application/json).")
    return raw_body(limit)


def json_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text (brackets inside strings aside)."""
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(accumulate(_DEPTH_STEP[b] for b in brackets), default=0)


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict:
    seen = {}
    for key, value in pairs:
        if key in seen:
            # {"dry_run": true, "dry_run": false}: which one a reader honours differs.
            raise ApiError(400, "invalid_json", f"{key}: the key appears twice.",
                           details={"field": key})
        seen[key] = value
    return seen


def parse_json(data: bytes):
    """JSON with no duplicate keys and at most MAX_JSON_DEPTH levels (else a 400)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if json_depth(data) > MAX_JSON_DEPTH:
        raise ApiError(400, "invalid_json",
                       f"The body nests deeper than {MAX_JSON_DEPTH} levels.")
    try:
        return json.loads(data, object_pairs_hook=_refuse_duplicates)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", f"The body is not valid JSON: {exc}") from None


def json_body(limit: int, *, allow_empty: bool = False):
    """The parsed JSON body; with ``allow_empty``, no body at all is ``{}``."""
    mimetype = request.mimetype or ""
    is_json = mimetype == "application/json" or mimetype.endswith("+json")
    unsupported = ApiError(415, "unsupported_media_type",
                           "The body must be JSON (Content-Type: application/json).")
    if not is_json and not allow_empty:
        raise unsupported
    data = raw_body(limit)
    if allow_empty and not data.strip():
        return {}
    if not is_json:
        raise unsupported
    return parse_json(data)
