"""The cached-quote door: a repeated ``POST /v1/rates`` answered before Flask.

Why: Cin7's order screen asks the same question again and again, and the answer to a
repeated question is already rendered and kept (``RatingService.kept_answer``). Handing
such a request to Flask costs a request context, werkzeug's request and response
objects and the after-request hook: most of a cache hit's time, more than ratecalc's
own work. This WSGI middleware answers exactly that case, with the status, headers and
body the Flask view gives and the same metrics:

* ``POST /v1/rates`` with ``Content-Type: application/json`` and a ``Content-Length``
  within the endpoint's limit (no chunked body);
* a bearer token that matches one of ``RATECALC_API_TOKENS`` (constant time);
* bytes validated before (the request cache of ``rating/api.py``), so no body is
  answered here that was not parsed and checked first;
* a kept whole-hit quote whose cache entries are still the ones it came from.

Anything else, every error included, goes on to Flask unchanged, with the body it read
put back, so each rule (415, 413, 401, 400, misses, stale answers) keeps one home.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable

from ratecalc import metrics
from ratecalc.rating import api
from ratecalc.secrets import Secret, any_matches
from ratecalc.web.auth import bearer_in
from ratecalc.web.hooks import API_HEADERS

PATH = "/v1/rates"
_CACHED = metrics.quote_requests.labels("cached")
_TYPE = ("Content-Type", "application/json")
_HEADERS = (_TYPE, ("X-Cache", "HIT"), *API_HEADERS)  # as the view's, Content-Length aside


def _is_json(content_type: str) -> bool:
    mimetype = content_type.partition(";")[0].strip().lower()
    return mimetype == "application/json" or mimetype.endswith("+json")


class CachedQuoteDoor:
    """WSGI middleware in front of the Flask app (the factory's ``register_cached_quote_door``)."""

    def __init__(self, app: Callable, rating, tokens: tuple[Secret, ...]):
        self.app = app  # Flask's wsgi_app (behind ProxyFix, if configured)
        self.rating = rating
        self.tokens = tokens

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        started = time.perf_counter()
        size = self._answerable_size(environ)
        if size is not None:
            body = environ["wsgi.input"].read(size)
            request = api.known_request(body) if len(body) == size else None
            quote = None if request is None else self.rating.kept_answer(request)
            if quote is not None and quote.rendered is not None:
                _CACHED.inc()
                metrics.quote_duration.observe(time.perf_counter() - started)
                start_response("200 OK", [*_HEADERS,
                                          ("Content-Length", str(len(quote.rendered)))])
                return [quote.rendered]
            environ["wsgi.input"] = io.BytesIO(body)  # read: put back for Flask
        return self.app(environ, start_response)

    def _answerable_size(self, environ: dict) -> int | None:
        """The body's length if this door may answer the request, else None."""
        length = environ.get("CONTENT_LENGTH", "")
        if not (length.isascii() and length.isdigit()) or "HTTP_TRANSFER_ENCODING" in environ:
            return None
        size = int(length)
        if not 0 < size <= api.MAX_BODY_BYTES or not _is_json(environ.get("CONTENT_TYPE", "")):
            return None
        token = bearer_in(environ.get("HTTP_AUTHORIZATION", ""))
        if token is None or not any_matches(self.tokens, token):
            return None  # Flask answers the 401
        return size
