"""Cin7 Omni API v1 client: sales orders and products.

Quirks handled here (see the Cin7 reference notes): HTTP Basic; camelCase
JSON; ``where`` strings quoted with doubled single quotes (so a reference like
``O'Brien`` cannot change the clause) and ``#`` URL-encoded by requests;
``rows`` at most 250 and paging until an empty page (no total is given); PUT
takes at most 250 records and answers 200 with a per-record envelope whose
``success`` must be checked one by one; Cin7's 3/second, 60/minute and
5,000/day limits kept client-side, with 429 backed off.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from ratecalc import metrics
from ratecalc.upstream.breaker import CircuitBreaker
from ratecalc.upstream.budget import WindowLimiter
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.http import (
    BodyTooSlow,
    Deadline,
    make_session,
    read_body,
    run_call,
    timed,
)

SERVICE = "cin7"
MAX_ROWS = 250
MAX_PUT_BATCH = 250
DAY = 86_400.0
CIN7_WINDOWS = [(3, 1.0), (60, 60.0), (5000, DAY)]


def quote(value: str) -> str:
    """A string literal for a ``where`` clause: single quotes, embedded ones doubled."""
    return "'" + str(value).replace("'", "''") + "'"


def date_literal(moment: datetime) -> str:
    return quote(moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


@dataclass(frozen=True)
class PutResult:
    index: int
    success: bool
    id: int | None
    code: str | None
    errors: tuple[str, ...]


class Cin7Client:
    def __init__(self, base_url: str, username: str, api_key: str, *, timeout: float = 30.0,
                 limiter: WindowLimiter | None = None, session: requests.Session | None = None,
                 call_deadline: float = 120.0, breaker: CircuitBreaker | None = None):
        self.base_url = base_url.rstrip("/")
        self._auth = (username, api_key)
        self.timeout = timeout
        self.limiter = limiter or WindowLimiter(CIN7_WINDOWS)
        self.session = session or make_session(pool_size=8)
        self.call_deadline = call_deadline
        self.breaker = breaker or CircuitBreaker("cin7", failures=10**9)

    # -- sales orders ----------------------------------------------------------
    def sales_orders_page(self, *, where: str | None, order: str, page: int,
                          rows: int = MAX_ROWS, deadline: Deadline | None = None) -> list[dict]:
        params = {"order": order, "page": page, "rows": min(rows, MAX_ROWS)}
        if where:
            params["where"] = where
        body = self._call("GET", "/v1/SalesOrders", "list_sales_orders", params=params,
                          deadline=deadline)
        if not isinstance(body, list):
            raise UpstreamError("upstream_error", "Cin7 SalesOrders did not answer a list")
        return body

    def iter_sales_orders(self, *, where: str | None, order: str = "modifiedDate ASC",
                          rows: int = MAX_ROWS, deadline: Deadline | None = None
                          ) -> Iterator[list[dict]]:
        """Pages until an empty one: Cin7 reports no total, and a short page is no proof."""
        page = 1
        while True:
            orders = self.sales_orders_page(where=where, order=order, page=page, rows=rows,
                                            deadline=deadline)
            if not orders:
                return
            yield orders
            page += 1

    def sales_order(self, order_id: int, deadline: Deadline | None = None) -> dict | None:
        try:
            body = self._call("GET", f"/v1/SalesOrders/{int(order_id)}", "get_sales_order",
                              deadline=deadline)
        except UpstreamError as exc:
            if exc.status == 404:
                return None
            raise
        return body if isinstance(body, dict) and body.get("id") is not None else None

    def sales_order_by_reference(self, reference: str,
                                 deadline: Deadline | None = None) -> dict | None:
        candidates = [reference]
        # Shopify-sourced references start with '#'; ShipStation may drop it, or keep it.
        candidates.append(reference[1:] if reference.startswith("#") else "#" + reference)
        where = "reference IN (" + ",".join(quote(c) for c in candidates) + ")"
        orders = self.sales_orders_page(where=where, order="id ASC", page=1, rows=10,
                                        deadline=deadline)
        exact = [o for o in orders if o.get("reference") == reference]
        return (exact or orders or [None])[0]

    def put_sales_orders(self, records: list[dict],
                         deadline: Deadline | None = None) -> list[PutResult]:
        """PUT in batches of 250; every record's own result, in order."""
        results: list[PutResult] = []
        for start in range(0, len(records), MAX_PUT_BATCH):
            batch = records[start:start + MAX_PUT_BATCH]
            body = self._call("PUT", "/v1/SalesOrders", "put_sales_orders", json_body=batch,
                              deadline=deadline)
            results.extend(self._put_results(body, batch, start))
        return results

    @staticmethod
    def _put_results(body, batch: list[dict], offset: int) -> list[PutResult]:
        if not isinstance(body, list):
            raise UpstreamError("upstream_error",
                                "Cin7 answered the PUT without per-record results")
        by_index: dict[int, PutResult] = {}
        for n, item in enumerate(body):
            item = {str(k).lower(): v for k, v in item.items()} if isinstance(item, dict) else {}
            index = item.get("index", n)
            errors = item.get("errors") or []
            by_index[int(index)] = PutResult(
                index=offset + int(index), success=bool(item.get("success")),
                id=item.get("id"), code=item.get("code"),
                errors=tuple(str(e) for e in (errors if isinstance(errors, list) else [errors])),
            )
        # A record Cin7 did not answer for is not known to be written.
        return [by_index.get(i) or PutResult(offset + i, False, batch[i].get("id"), None,
                                             ("Cin7 returned no result for this record",))
                for i in range(len(batch))]

    # -- products --------------------------------------------------------------
    def products(self, product_ids: Iterable[int],
                 deadline: Deadline | None = None) -> dict[int, dict]:
        """Products (with their options) by id, fetched in as few calls as paging allows."""
        ids = sorted({int(i) for i in product_ids if i})
        found: dict[int, dict] = {}
        for start in range(0, len(ids), MAX_ROWS):
            chunk = ids[start:start + MAX_ROWS]
            body = self._call("GET", "/v1/Products", "list_products", params={
                "where": "id IN (" + ",".join(map(str, chunk)) + ")",
                "rows": MAX_ROWS, "page": 1, "order": "id ASC",
            }, deadline=deadline)
            for product in body if isinstance(body, list) else []:
                if isinstance(product, dict) and product.get("id") is not None:
                    found[int(product["id"])] = product
        return found

    def daily_remaining(self) -> int | None:
        return self.limiter.remaining(DAY)

    # -- transport ---------------------------------------------------------------
    def _call(self, method: str, path: str, operation: str, *, params: dict | None = None,
              json_body=None, deadline: Deadline | None = None):
        deadline = deadline or Deadline(self.call_deadline)

        def acquire(deadline: Deadline) -> None:
            try:
                self.limiter.acquire(deadline)
            finally:
                remaining = self.limiter.remaining(DAY)
                if remaining is not None:
                    metrics.cin7_daily_budget_remaining.set(remaining)

        return run_call(service="Cin7", breaker=self.breaker, acquire=acquire,
                        release=self.limiter.release, deadline=deadline,
                        attempt=lambda tries: self._attempt(method, path, operation, params,
                                                            json_body, deadline, tries))

    def _attempt(self, method, path, operation, params, json_body, deadline, tries):
        """One HTTP request -> ("done", body) | ("retry", error) | ("throttled", None)."""
        timeout = deadline.timeout(self.timeout)
        if timeout <= 0:
            self.breaker.release_probe()
            raise UpstreamError("upstream_timeout", "Cin7 call deadline passed")
        with timed(SERVICE, operation) as outcome:
            try:
                response = self.session.request(method, self.base_url + path, params=params,
                                                json=json_body, auth=self._auth,
                                                timeout=timeout, stream=True)
                read_body(response, deadline)
                outcome["status"] = response.status_code
            except BodyTooSlow:
                outcome["status"] = "timeout"
                self.breaker.record(False)
                return "retry", UpstreamError("upstream_timeout",
                                              "Cin7's answer arrived too slowly")
            except requests.exceptions.RequestException as exc:
                self.breaker.record(False)
                if isinstance(exc, requests.exceptions.Timeout):
                    outcome["status"] = "timeout"
                    return "retry", UpstreamError(
                        "upstream_timeout", f"Cin7 did not answer within {timeout:.1f}s")
                return "retry", UpstreamError("upstream_error", "could not connect to Cin7")
        status = response.status_code
        if status == 429:
            self.breaker.release_probe()
            wait = _retry_after(response) or min(8.0, 2.0 ** (tries + 1))
            self.limiter.back_off(wait)
            if wait >= deadline.remaining():
                raise UpstreamError("rate_limited", "Cin7 answered 429",
                                    retry_after=wait, status=429)
            return "throttled", None
        self.breaker.record(status < 500)
        if status in (401, 403):
            raise UpstreamError(
                "upstream_auth",
                f"Cin7 refused the API connection (HTTP {status}); check "
                "RATECALC_CIN7_USERNAME / RATECALC_CIN7_API_KEY and its permissions",
                status=status)
        if status < 400:
            return "done", _json(response)
        message = _error_text(response)
        if status < 500:
            raise UpstreamError("upstream_error", message, status=status)
        return "retry", UpstreamError("upstream_error", message, status=status)


def _json(response: requests.Response):
    if not response.content.strip():
        raise UpstreamError("upstream_error", "Cin7 answered an empty body",
                            status=response.status_code)
    try:
        return json.loads(response.content)
    except ValueError:
        raise UpstreamError("upstream_error", "Cin7 answered a body that is not JSON",
                            status=response.status_code) from None


def _error_text(response: requests.Response) -> str:
    """Cin7's errors are bare JSON strings ("Batch limit is 250.")."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, str):
        text = body
    elif isinstance(body, dict):
        text = str(body.get("message") or body.get("Message") or "")
    else:
        text = ""
    return f"Cin7 answered HTTP {response.status_code}" + (f": {text[:200]}" if text else "")


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
