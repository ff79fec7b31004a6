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
from contextlib import contextmanager
from contextvars import ContextVar

import requests

from ratecalc import metrics
from ratecalc.upstream.breaker import CircuitBreaker
from ratecalc.upstream.cin7.records import (
    MAX_RECORDS,
    ORDER_BY_ID,
    ORDER_BY_MODIFIED,
    Product,
    PutResult,
    SalesOrder,
    chunks,
    put_results,
    reference_spellings,
    where_ids,
    where_references,
)
from ratecalc.upstream.cin7.records import date_literal as date_literal  # re-exported
from ratecalc.upstream.cin7.records import quote as quote  # re-exported
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.limits.budget import WindowLimiter
from ratecalc.upstream.transport import Deadline, attempt, make_session, retry_after, run_call

SERVICE = "cin7"
MAX_ROWS = MAX_RECORDS
MAX_PUT_BATCH = MAX_RECORDS
DAY = 86_400.0
CIN7_WINDOWS = [(3, 1.0), (60, 60.0), (5000, DAY)]
DAILY_CALLS = CIN7_WINDOWS[-1][0]

_COUNTERS: ContextVar[list[int] | None] = ContextVar("cin7_calls", default=None)


@contextmanager
def counting_calls() -> Iterator[list[int]]:
    """``with counting_calls() as n:`` -- ``n[0]`` is the Cin7 requests this thread sent
    inside the block (retries included): what an export costs of the daily budget."""
    counter = [0]
    token = _COUNTERS.set(counter)
    try:
        yield counter
    finally:
        _COUNTERS.reset(token)


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

    def iter_sales_orders(self, *, where: str | None, order: str = ORDER_BY_MODIFIED,
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
        return body if isinstance(body, dict) and SalesOrder(body).id is not None else None

    def sales_order_by_reference(self, reference: str,
                                 deadline: Deadline | None = None) -> dict | None:
        # The reference as given first, then its other '#' spellings.
        candidates = dict.fromkeys((reference, *reference_spellings(reference)))
        orders = self.sales_orders_page(where=where_references(candidates), order=ORDER_BY_ID,
                                        page=1, rows=10, deadline=deadline)
        exact = [o for o in orders if SalesOrder(o).reference == reference]
        return (exact or orders or [None])[0]

    def put_sales_orders(self, records: list[dict],
                         deadline: Deadline | None = None) -> list[PutResult]:
        """PUT in batches of 250; every record's own result, in order."""
        results: list[PutResult] = []
        for batch in chunks(records, MAX_PUT_BATCH):
            body = self._call("PUT", "/v1/SalesOrders", "put_sales_orders", json_body=batch,
                              deadline=deadline)
            results.extend(put_results(body, batch, len(results)))
        return results

    # -- products --------------------------------------------------------------
    def products(self, product_ids: Iterable[int],
                 deadline: Deadline | None = None) -> dict[int, dict]:
        """Products (with their options) by id, fetched in as few calls as paging allows."""
        ids = sorted({int(i) for i in product_ids if i})
        found: dict[int, dict] = {}
        for chunk in chunks(ids, MAX_ROWS):
            body = self._call("GET", "/v1/Products", "list_products", params={
                "where": where_ids(chunk), "rows": MAX_ROWS, "page": 1, "order": ORDER_BY_ID,
            }, deadline=deadline)
            for product in body if isinstance(body, list) else []:
                product_id = Product(product).id
                if isinstance(product, dict) and product_id is not None:
                    found[int(product_id)] = product
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

        def send(timeout: float) -> requests.Response:
            counter = _COUNTERS.get()
            if counter is not None:
                counter[0] += 1
            return self.session.request(method, self.base_url + path, params=params,
                                        json=json_body, auth=self._auth, timeout=timeout,
                                        stream=True)

        return run_call(service="Cin7", breaker=self.breaker, acquire=acquire,
                        release=self.limiter.release, deadline=deadline,
                        attempt=lambda tries: attempt(send, classifier=self, deadline=deadline,
                                                      timeout=self.timeout, service=SERVICE,
                                                      operation=operation, tries=tries))

    # -- the classifier of attempt(): what each outcome means for Cin7 -----------------
    def no_time(self) -> tuple:
        self.breaker.release_probe()
        raise UpstreamError("upstream_timeout", "Cin7 call deadline passed")

    def too_slow(self) -> tuple:
        self.breaker.record(False)
        return "retry", UpstreamError("upstream_timeout", "Cin7's answer arrived too slowly")

    def failed(self, exc: requests.exceptions.RequestException, timeout: float) -> tuple:
        self.breaker.record(False)
        if isinstance(exc, requests.exceptions.Timeout):
            return "retry", UpstreamError(
                "upstream_timeout", f"Cin7 did not answer within {timeout:.1f}s")
        return "retry", UpstreamError("upstream_error", "could not connect to Cin7")

    def answered(self, response: requests.Response, tries: int, deadline: Deadline) -> tuple:
        status = response.status_code
        if status == 429:
            self.breaker.release_probe()
            wait = retry_after(response) or min(8.0, 2.0 ** (tries + 1))
            self.limiter.back_off(wait)
            if wait >= deadline.remaining():  # the wait must fit in the call's deadline
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
