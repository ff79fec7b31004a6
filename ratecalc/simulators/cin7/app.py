"""A Cin7 Omni API v1 simulator (Flask) for tests and the local sandbox.

Follows /work/shared/reference/cin7-omni-api.md.  Routes live under ``/api`` so a client's
base URL is ``{server.url}/api`` (Cin7's real base: ``https://api.cin7.com/api``):

* ``GET  /api/v1/SalesOrders`` (fields, where, order, page, rows), ``GET .../SalesOrders/{id}``
* ``PUT  /api/v1/SalesOrders`` (array of partial orders, <= 250, per-record envelope)
* ``GET  /api/v1/Products[/{id}]`` (productOptions nested), ``GET /api/v1/ProductOptions[/{id}]``
* ``GET  /api/v1/Stock``, ``GET /api/v1/Branches[/{id}]``

Route matching is case-insensitive (ASP.NET Web API), as are query-parameter names, field
names in ``where``/``order``/``fields`` and property names in request bodies.

Modules: :mod:`.cin7_fields` (field tables), :mod:`.cin7_records` (stored records and their
defaults), :mod:`.cin7_query` (GET lists), :mod:`.cin7_put` (PUT), :mod:`.cin7_where`
(``where`` clauses), :mod:`.cin7_http` (error bodies); :mod:`.cin7_data` seeds demo data.

Imports nothing from ``ratecalc`` outside ``ratecalc.simulators``.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import hmac
import json
import re
import threading
import time
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request

from . import data as cin7_data
from .fields import BRANCH_FIELDS, OPTION_FIELDS, ORDER_FIELDS, PRODUCT_FIELDS, STOCK_FIELDS
from .http import MSG_NOT_FOUND, MSG_RATE, MSG_UNAUTHORIZED, BadRequest, json_response
from .put import BATCH_LIMIT, PutMixin
from .query import MAX_ROWS, list_page, parse_fields, project
from .records import RecordsMixin
from .where import WhereError

__all__ = ["Cin7Simulator", "MAX_ROWS", "BATCH_LIMIT", "pascal_case"]

# Dictionaries keyed by the account's own names: serialisers leave their keys alone.
_DICTIONARIES = frozenset({"customFields", "priceColumns"})


def pascal_case(value: Any) -> Any:
    """Property names with their first letter upper-cased, all the way down."""
    if isinstance(value, list):
        return [pascal_case(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {(key[:1].upper() + key[1:] if isinstance(key, str) else key):
            (item if key in _DICTIONARIES else pascal_case(item))
            for key, item in value.items()}


class Cin7Simulator(RecordsMixin, PutMixin):
    """In-memory Cin7 Omni account behind a Flask app (see module docstring)."""

    def __init__(
        self,
        credentials: Iterable[tuple[str, str]] = (("demo-user", "demo-api-key"),),
        now: datetime | None = None,
        seed_demo: bool = True,
        per_second: int | None = 3,
        per_minute: int | None = 60,
        per_day: int | None = 5000,
        casing: str = "camel",
    ):
        self._lock = threading.RLock()
        self.casing = "camel"
        self.set_casing(casing)
        self.credentials: dict[str, str] = dict(credentials)
        self._clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.requests: list[dict] = []
        self.orders: dict[int, dict] = {}
        self.products: dict[int, dict] = {}
        self.product_options: dict[int, dict] = {}  # flat index of productOptions (same dicts)
        self.branches: dict[int, dict] = {}
        self.stock: list[dict] = []
        #: Stages the account knows; PUT stage values are matched case-insensitively
        #: against this list (custom stages must exist in the account).
        self.stages: list[str] = list(cin7_data.DEMO_STAGES)
        #: Seconds sent in a Retry-After header on 429; None = no header (UNCONFIRMED
        #: whether Cin7 sends one, reference §1.2).
        self.retry_after: int | None = None
        self._limits = {1.0: per_second, 60.0: per_minute, 86400.0: per_day}
        self._hits: dict[str, list[float]] = {}
        self._latency = 0.0
        self._outage: int | None = None
        self._fail_next: list[int] = []
        self._put_failures: dict[int, str] = {}
        self._refusals: dict[int, tuple[int, str, tuple[str, ...]]] = {}
        self._next_order_id = 1
        self._next_line_id = 50001
        self._next_product_id = 1
        self._next_option_id = 1
        self._next_invoice = 6001
        self.app = self._make_app()
        if seed_demo:
            cin7_data.seed(self, now or self.now())

    # ---------------------------------------------------------------- clock/faults

    def now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return now.astimezone(UTC)

    def set_clock(self, now_fn: Callable[[], datetime] | None) -> None:
        """Use ``now_fn()`` (aware UTC datetime) for modifiedDate and rate-limit windows."""
        with self._lock:
            self._clock = now_fn or (lambda: datetime.now(UTC))

    def set_casing(self, casing: str) -> None:
        """``"camel"`` (what Newtonsoft's camel-case resolver writes, the default) or
        ``"pascal"`` (the spec schemas' spelling): the JSON property names of every
        answer. Public material disagrees on which the live API sends."""
        if casing not in ("camel", "pascal"):
            raise ValueError("casing must be 'camel' or 'pascal'")
        self.casing = casing

    def set_latency(self, seconds: float) -> None:
        self._latency = max(0.0, float(seconds))

    def set_outage(self, status: int | None = 503) -> None:
        self._outage = status

    def fail_next(self, n: int, status: int = 500) -> None:
        with self._lock:
            self._fail_next.extend([status] * n)

    def fail_put_for(self, order_id: int,
                     message: str | None = "Simulated record failure.") -> None:
        with self._lock:
            if message is None:
                self._put_failures.pop(int(order_id), None)
            else:
                self._put_failures[int(order_id)] = message

    def refuse_requests_for(self, order_id: int, status: int = 414,
                            message: str = "Request-URI Too Long",
                            methods: tuple[str, ...] = ("GET", "PUT")) -> None:
        """Answer ``status`` to any request (of ``methods``) that names ``order_id`` in
        the path, the where clause or a PUT body: Cin7 refusing a whole request for
        one record."""
        with self._lock:
            self._refusals[int(order_id)] = (int(status), message, tuple(methods))

    def _refusal(self, rest: str, body: Any) -> tuple[int, str, tuple[str, ...]] | None:
        if not self._refusals:
            return None
        named = {int(n) for n in re.findall(r"\d+", rest + " " + request.args.get("where", ""))}
        if isinstance(body, list):
            named |= {int(r["id"]) for r in body if isinstance(r, dict)
                      and str(r.get("id", "")).isdigit()}
        with self._lock:
            return next((self._refusals[i] for i in sorted(named) if i in self._refusals
                         and request.method in self._refusals[i][2]), None)

    def set_rate_limits(self, per_second: int | None = None, per_minute: int | None = None,
                        per_day: int | None = None) -> None:
        """Replace all three limits (None = unlimited) and forget past calls."""
        with self._lock:
            self._limits = {1.0: per_second, 60.0: per_minute, 86400.0: per_day}
            self._hits.clear()

    def reset_faults(self) -> None:
        """Clear latency, outage, pending fail_next and fail_put_for (not rate limits)."""
        with self._lock:
            self._latency = 0.0
            self._outage = None
            self._fail_next.clear()
            self._put_failures.clear()
            self._refusals.clear()

    def calls(self, method: str | None = None, path: str | None = None) -> list[dict]:
        """Logged requests, optionally filtered by method and path.

        ``path`` matches case-insensitively with or without the ``/api`` prefix and may use
        shell wildcards: ``calls("PUT", "/v1/SalesOrders")``, ``calls(path="/api/v1/Products*")``.
        """
        with self._lock:
            log = list(self.requests)
        out = []
        for entry in log:
            if method and entry["method"].upper() != method.upper():
                continue
            if path:
                p = entry["path"].lower()
                short = p[4:] if p.startswith("/api/") else p
                pat = path.lower()
                if not (fnmatch.fnmatchcase(p, pat) or fnmatch.fnmatchcase(short, pat)):
                    continue
            out.append(entry)
        return out

    # ---------------------------------------------------------------- flask app

    def _make_app(self) -> Flask:
        app = Flask(f"cin7-sim-{id(self)}")

        methods = ["GET", "PUT", "POST", "DELETE", "PATCH"]

        @app.route("/api/<path:rest>", methods=methods)
        def api(rest: str):
            return self._handle(rest)

        @app.route("/", defaults={"rest": ""}, methods=methods)
        @app.route("/<path:rest>", methods=methods)
        def other(rest: str):
            return self._log(json_response(MSG_NOT_FOUND, 404))

        return app

    def _log(self, resp: Response, body: Any = None) -> Response:
        with self._lock:
            self.requests.append({
                "method": request.method,
                "path": request.path,
                "query": request.args.to_dict(flat=True),
                "json": body,
                "status": resp.status_code,
                "time": time.time(),
            })
        return resp

    def _auth_user(self) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic" or not token:
            return None
        try:
            user, sep, key = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        expected = self.credentials.get(user)
        if not sep or expected is None or not hmac.compare_digest(expected, key):
            return None
        return user

    def _rate_limited(self, user: str) -> bool:
        """Sliding windows per credential; rejected calls are not counted (INFERENCE)."""
        now = self.now().timestamp()
        with self._lock:
            hits = self._hits.setdefault(user, [])
            active = [w for w, lim in self._limits.items() if lim is not None]
            horizon = max(active, default=0.0)
            cut = bisect_right(hits, now - horizon)
            if cut:
                del hits[:cut]
            for window in active:
                limit = self._limits[window]
                if len(hits) - bisect_right(hits, now - window) >= limit:
                    return True
            if active:
                insort(hits, now)
            return False

    def _handle(self, rest: str) -> Response:
        body: Any = None
        # A body without a JSON content type does not bind in ASP.NET (-> malformed 400).
        if request.method in ("PUT", "POST") and request.is_json:
            try:
                body = json.loads(request.get_data(as_text=True) or "null")
            except ValueError:
                body = None
        if self._latency:
            time.sleep(self._latency)
        if self._outage is not None:
            return self._log(Response("Service Unavailable", status=self._outage,
                                      content_type="text/plain"), body)
        with self._lock:
            forced = self._fail_next.pop(0) if self._fail_next else None
        if forced is not None:
            # ASP.NET Web API's default error body.
            return self._log(json_response({"Message": "An error has occurred."}, forced), body)
        refused = self._refusal(rest, body)
        if refused is not None:
            return self._log(json_response(refused[1], refused[0]), body)
        user = self._auth_user()
        if user is None:
            return self._log(json_response(
                MSG_UNAUTHORIZED, 401, {"WWW-Authenticate": 'Basic realm="api.cin7.com"'}), body)
        if self._rate_limited(user):
            headers = {"Retry-After": str(self.retry_after)} if self.retry_after else None
            return self._log(json_response(MSG_RATE, 429, headers), body)
        try:
            resp = self._route(rest.strip("/"), body)
        except BadRequest as exc:
            resp = json_response(exc.message, exc.status)
        except WhereError as exc:
            # UNCONFIRMED wording; Cin7 answers a bad where clause with 400.
            resp = json_response(f"Invalid where clause: {exc}", 400)
        if self.casing == "pascal" and resp.is_json and resp.status_code < 300:
            resp = json_response(pascal_case(resp.get_json()), resp.status_code)
        return self._log(resp, body)

    def _route(self, rest: str, body: Any) -> Response:
        parts = rest.split("/")
        if len(parts) < 2 or parts[0].lower() != "v1":
            raise BadRequest(MSG_NOT_FOUND, 404)
        resource = parts[1].lower()
        ident = parts[2] if len(parts) == 3 else None
        if len(parts) > 3:
            raise BadRequest(MSG_NOT_FOUND, 404)
        method = request.method
        args = {k.lower(): v for k, v in request.args.items()}

        tables: dict[str, tuple[str, dict[str, str], Callable[[], list[dict]]]] = {
            "salesorders": ("order", ORDER_FIELDS, lambda: list(self.orders.values())),
            "products": ("product", PRODUCT_FIELDS, lambda: list(self.products.values())),
            "productoptions": ("option", OPTION_FIELDS,
                               lambda: list(self.product_options.values())),
            "branches": ("branch", BRANCH_FIELDS, lambda: list(self.branches.values())),
            "stock": ("stock", STOCK_FIELDS, lambda: list(self.stock)),
        }
        if resource not in tables:
            raise BadRequest(MSG_NOT_FOUND, 404)
        kind, schema, rows = tables[resource]

        if method == "PUT" and resource == "salesorders" and ident is None:
            return self._put_orders(body)
        if method != "GET" or (ident is not None and resource == "stock"):
            return json_response(
                {"Message": f"The requested resource does not support http method '{method}'."},
                405)
        if ident is not None:
            try:
                key = int(ident)
            except ValueError:
                raise BadRequest(MSG_NOT_FOUND, 404) from None
            with self._lock:
                table = {"salesorders": self.orders, "products": self.products,
                         "productoptions": self.product_options,
                         "branches": self.branches}[resource]
                record = copy.deepcopy(table.get(key))
            if record is None:
                raise BadRequest(MSG_NOT_FOUND, 404)
            proj = parse_fields(args["fields"], kind, schema) if args.get("fields") else None
            return json_response(project(record, proj))
        with self._lock:
            records = rows()
            if resource == "stock" and args.get("barcode"):
                records = [r for r in records if r.get("barcode") == args["barcode"]]
            page = list_page(records, kind, schema, args)
            page = copy.deepcopy(page)
        return json_response(page)

