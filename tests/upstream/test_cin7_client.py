"""The Cin7 Omni client against the Cin7 simulator over real HTTP, and its WindowLimiter.

Paging, ``where`` quoting, PUT batches with per-record results, Cin7's rate limits
(kept client-side, 429 backed off), errors mapped to UpstreamError codes, the daily
budget metric. The limiter's window arithmetic is tested with a fake clock.
"""

from __future__ import annotations

import time

import pytest
from prometheus_client import REGISTRY

from ratecalc.simulators.cin7 import data as cin7_data
from ratecalc.upstream.cin7.client import DAY, Cin7Client, quote
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.limits.budget import BudgetExhausted, WindowLimiter
from ratecalc.upstream.transport import Deadline
from tests.support import FakeClock

USER, KEY = "demo-user", "demo-api-key"




def client(cin7, paced: bool = False, **kwargs) -> Cin7Client:
    """A client of the simulator; ``paced`` keeps Cin7's real 3/s, 60/min, 5,000/day."""
    if not paced:
        kwargs.setdefault("limiter", WindowLimiter([]))
    return Cin7Client(cin7.url, kwargs.pop("username", USER), kwargs.pop("api_key", KEY),
                      **kwargs)


def list_calls(cin7):
    return cin7.calls("GET", "/v1/SalesOrders")


class EmptyAnswers:
    """WSGI middleware: the next ``count`` calls get ``200`` with ``body`` (empty by default)."""

    def __init__(self, app, count: int, body: bytes = b""):
        self.app, self.count, self.body = app, count, body

    def __call__(self, environ, start_response):
        if self.count:
            self.count -= 1
            for _ in self.app(environ, lambda *args, **kwargs: None):
                pass
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(self.body)))])
            return [self.body]
        return self.app(environ, start_response)


# -- reading orders ------------------------------------------------------------------------------

def test_pages_until_an_empty_page(cin7):
    for order in cin7_data.make_orders(600, start_id=200001):
        cin7.add_order(order)
    total = len(cin7.orders)  # 600 + the demo orders
    pages = list(client(cin7).iter_sales_orders(where=None, order="id ASC"))
    assert [len(p) for p in pages] == [250, 250, total - 500]
    ids = [o["id"] for page in pages for o in page]
    assert ids == sorted(cin7.orders)
    calls = list_calls(cin7)
    assert [c["query"]["page"] for c in calls] == ["1", "2", "3", "4"]  # the 4th came back []
    assert all(c["query"]["rows"] == "250" for c in calls)
    assert all(c["query"]["order"] == "id ASC" for c in calls)


def test_a_short_page_is_not_taken_as_the_end(cin7):
    pages = list(client(cin7).iter_sales_orders(where="branchId = 1", order="id ASC",
                                                rows=5))
    expected = sorted(i for i, o in cin7.orders.items() if o["branchId"] == 1)
    assert [o["id"] for page in pages for o in page] == expected
    assert len(list_calls(cin7)) == len(pages) + 1


def test_rows_are_capped_at_250(cin7):
    orders = client(cin7).sales_orders_page(where=None, order="id ASC", page=1, rows=1000)
    assert len(orders) == len(cin7.orders)
    [call] = list_calls(cin7)
    assert call["query"]["rows"] == "250"
    assert call["status"] == 200


def test_one_order_by_id(cin7):
    c = client(cin7)
    assert c.sales_order(1001)["reference"] == "#1050"
    assert c.sales_order(987654) is None


def test_reference_with_quote_and_hash_is_matched_literally(cin7):
    cin7.add_order({"id": 5001, "reference": "O'Brien #42", "stage": "New"})
    c = client(cin7)
    found = c.sales_order_by_reference("O'Brien #42")
    assert found is not None and found["id"] == 5001
    [call] = list_calls(cin7)
    assert call["status"] == 200
    assert call["query"]["where"] == "reference IN ('O''Brien #42','#O''Brien #42')"


def test_a_quote_in_the_reference_cannot_widen_the_where(cin7):
    c = client(cin7)
    assert c.sales_order_by_reference("x' OR id > '0") is None
    assert c.sales_order_by_reference("') OR (id > 0") is None
    assert quote("it's") == "'it''s'"


def test_reference_with_and_without_hash(cin7):
    c = client(cin7)
    assert c.sales_order_by_reference("1050")["id"] == 1001  # stored as "#1050"
    assert c.sales_order_by_reference("#1050")["id"] == 1001
    assert c.sales_order_by_reference("#SO-1003")["id"] == 1003  # stored without "#"
    cin7.add_order({"id": 5002, "reference": "1050", "stage": "New"})
    assert c.sales_order_by_reference("1050")["id"] == 5002  # the exact one wins
    assert c.sales_order_by_reference("#1050")["id"] == 1001


def test_bad_where_is_an_upstream_error_without_retries(cin7):
    with pytest.raises(UpstreamError) as caught:
        client(cin7).sales_orders_page(where="reference === 'x", order="id ASC", page=1)
    assert caught.value.code == "upstream_error"
    assert caught.value.status == 400
    assert "where" in caught.value.message.lower()
    assert len(list_calls(cin7)) == 1


def test_products_fetched_in_one_call(cin7):
    products = client(cin7).products([101, 102, 101, 0, None])
    assert set(products) == {101, 102}
    assert products[101]["productOptions"]
    [call] = cin7.calls("GET", "/v1/Products")
    assert call["query"]["where"] == "id IN (101,102)"


# -- writing orders ------------------------------------------------------------------------------

def test_put_goes_in_batches_of_250_with_per_record_results(cin7):
    many = cin7_data.make_orders(300, start_id=400001)
    for order in many:
        cin7.add_order(order)
    cin7.fail_put_for(400261, "Sales order is locked.")
    records = [{"id": o["id"], "internalComments": f"note {o['id']}"} for o in many]
    results = client(cin7).put_sales_orders(records)
    puts = cin7.calls("PUT", "/v1/SalesOrders")
    assert [len(p["json"]) for p in puts] == [250, 50]
    assert [r.index for r in results] == list(range(300))
    failed = [r for r in results if not r.success]
    assert len(failed) == 1
    assert failed[0].index == 260
    assert failed[0].errors == ("Sales order is locked.",)
    assert all(r.id == o["id"] for r, o in zip(results, many, strict=True) if r.success)
    assert cin7.orders[400001]["internalComments"] == "note 400001"
    assert cin7.orders[400300]["internalComments"] == "note 400300"
    assert cin7.orders[400261]["internalComments"] == ""


def test_put_record_for_a_missing_order_fails_alone(cin7):
    results = client(cin7).put_sales_orders([{"id": 1001, "trackingCode": "A"},
                                             {"id": 987654, "trackingCode": "B"}])
    assert [r.success for r in results] == [True, False]
    assert "987654" in results[1].errors[0]
    assert cin7.orders[1001]["trackingCode"] == "A"


def test_put_of_nothing_calls_nothing(cin7):
    assert client(cin7).put_sales_orders([]) == []
    assert cin7.calls("PUT") == []


# -- rate limits ---------------------------------------------------------------------------------

def test_client_keeps_to_three_calls_a_second(cin7):
    c = client(cin7, paced=True)
    started = time.monotonic()
    for _ in range(7):
        c.sales_orders_page(where=None, order="id ASC", page=1, rows=1)
    elapsed = time.monotonic() - started
    assert elapsed >= 1.95  # calls 4-6 wait for second 1, call 7 for second 2
    assert elapsed < 4
    assert [c["status"] for c in list_calls(cin7)] == [200] * 7


def test_no_429_when_a_call_of_the_window_is_slow(cin7):
    cin7.set_rate_limits(per_second=3, per_minute=60, per_day=5000)
    cin7.retry_after = 1
    c = client(cin7, paced=True)
    cin7.set_latency(0.4)  # the first call takes a while to reach Cin7
    c.sales_orders_page(where=None, order="id ASC", page=1, rows=1)
    cin7.set_latency(0)
    for _ in range(3):
        c.sales_orders_page(where=None, order="id ASC", page=1, rows=1)
    assert 429 not in [call["status"] for call in list_calls(cin7)]


def test_429_with_retry_after_is_waited_out_and_retried(cin7):
    cin7.set_rate_limits(per_second=1)
    cin7.retry_after = 1
    c = client(cin7)
    started = time.monotonic()
    c.sales_orders_page(where=None, order="id ASC", page=1, rows=1)
    c.sales_orders_page(where=None, order="id ASC", page=1, rows=1)
    assert time.monotonic() - started >= 1.0
    assert [call["status"] for call in list_calls(cin7)] == [200, 429, 200]


def test_429_without_retry_after_backs_off_too(cin7):
    cin7.fail_next(1, 429)
    c = client(cin7)
    started = time.monotonic()
    c.sales_orders_page(where=None, order="id ASC", page=1, rows=1)
    assert time.monotonic() - started >= 1.0
    assert [call["status"] for call in list_calls(cin7)] == [429, 200]


def test_429_longer_than_the_deadline_is_rate_limited(cin7):
    cin7.fail_next(5, 429)
    c = client(cin7, call_deadline=1.0)
    with pytest.raises(UpstreamError) as caught:
        c.sales_orders_page(where=None, order="id ASC", page=1, rows=1)
    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after >= 1.0
    assert len(list_calls(cin7)) == 1


# -- errors -----------------------------------------------------------------------------------

def test_wrong_credentials_are_upstream_auth_without_retries(cin7):
    with pytest.raises(UpstreamError) as caught:
        client(cin7, api_key="k3y-not-valid").sales_order(1001)
    assert caught.value.code == "upstream_auth"
    assert caught.value.status == 401
    assert "RATECALC_CIN7_API_KEY" in caught.value.message
    assert "k3y-not-valid" not in caught.value.message
    assert len(cin7.calls()) == 1


def test_empty_200_body_is_an_upstream_error(cin7):
    cin7.app.wsgi_app = EmptyAnswers(cin7.app.wsgi_app, 1)
    with pytest.raises(UpstreamError) as caught:
        client(cin7).sales_orders_page(where=None, order="id ASC", page=1)
    assert caught.value.code == "upstream_error"
    assert "empty" in caught.value.message


def test_put_answered_with_an_empty_200_is_an_upstream_error(cin7):
    cin7.app.wsgi_app = EmptyAnswers(cin7.app.wsgi_app, 1)
    with pytest.raises(UpstreamError) as caught:
        client(cin7).put_sales_orders([{"id": 1001, "trackingCode": "X"}])
    assert caught.value.code == "upstream_error"


def test_html_200_body_is_an_upstream_error(cin7):
    cin7.app.wsgi_app = EmptyAnswers(cin7.app.wsgi_app, 1, b"<html>maintenance</html>")
    with pytest.raises(UpstreamError) as caught:
        client(cin7).sales_orders_page(where=None, order="id ASC", page=1)
    assert caught.value.code == "upstream_error"
    assert "not JSON" in caught.value.message


def test_5xx_is_retried_then_given_up(cin7):
    c = client(cin7)
    cin7.fail_next(2, 500)
    assert c.sales_order(1001)["id"] == 1001
    assert [call["status"] for call in cin7.calls()] == [500, 500, 200]
    cin7.fail_next(3, 503)
    with pytest.raises(UpstreamError) as caught:
        c.sales_order(1001)
    assert caught.value.code == "upstream_error"
    assert caught.value.status == 503
    assert len(cin7.calls()) == 6


def test_every_call_has_a_timeout(cin7):
    cin7.set_latency(1.0)
    c = client(cin7, timeout=0.3, call_deadline=0.8)
    started = time.monotonic()
    with pytest.raises(UpstreamError) as caught:
        c.sales_order(1001)
    assert caught.value.code == "upstream_timeout"
    assert time.monotonic() - started < 1.5


# -- daily budget --------------------------------------------------------------------------------

def test_daily_budget_is_exposed_as_a_metric(cin7):
    c = client(cin7, paced=True)
    for _ in range(3):
        c.sales_order(1001)
    assert c.daily_remaining() == 4997
    assert REGISTRY.get_sample_value("ratecalc_cin7_daily_budget_remaining") == 4997


# -- WindowLimiter with a fake clock -------------------------------------------------------------

class NoWait:
    """A deadline that allows no waiting: acquire either passes or says how long to wait."""

    def remaining(self) -> float:
        return 0.0


def wait_needed(limiter: WindowLimiter) -> float:
    """Acquire for an instant call (answered at once), or the wait it would need."""
    try:
        limiter.acquire(NoWait())
    except BudgetExhausted as exc:
        return exc.retry_after
    limiter.release()
    return 0.0


def test_limiter_counts_calls_in_flight_until_they_end():
    clock = FakeClock()
    limiter = WindowLimiter([(3, 1.0)], clock=clock)
    for _ in range(3):
        limiter.acquire(NoWait())  # three slow calls, still in flight
    clock.now += 5.0
    with pytest.raises(BudgetExhausted):
        limiter.acquire(NoWait())  # however long ago they were sent
    limiter.release()
    assert wait_needed(limiter) == pytest.approx(1.0)  # one answered just now: 1 s to age
    clock.now += 1.0
    assert wait_needed(limiter) == 0.0


def test_limiter_three_a_second_sliding():
    clock = FakeClock()
    limiter = WindowLimiter([(3, 1.0), (60, 60.0)], clock=clock)
    assert [wait_needed(limiter) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert wait_needed(limiter) == pytest.approx(1.0)
    clock.now += 0.999
    assert wait_needed(limiter) == pytest.approx(0.001)
    clock.now += 0.001
    # All three calls of second 0 are a second old: three new ones, then a wait again.
    assert [wait_needed(limiter) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert wait_needed(limiter) == pytest.approx(1.0)


def test_limiter_window_slides_rather_than_resets():
    clock = FakeClock()
    limiter = WindowLimiter([(3, 1.0)], clock=clock)
    for offset in (0.0, 0.5, 0.9):
        clock.now = 1000.0 + offset
        assert wait_needed(limiter) == 0.0
    clock.now = 1001.0
    assert wait_needed(limiter) == 0.0  # the call at 0.0 aged out
    assert wait_needed(limiter) == pytest.approx(0.5)  # the next frees at 1.5


def test_limiter_sixty_a_minute():
    clock = FakeClock()
    limiter = WindowLimiter([(3, 1.0), (60, 60.0), (5000, DAY)], clock=clock)
    for second in range(20):
        clock.now = 1000.0 + second
        assert [wait_needed(limiter) for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now = 1020.0
    assert limiter.remaining(60.0) == 0
    assert limiter.remaining(1.0) == 3
    assert wait_needed(limiter) == pytest.approx(40.0)  # until the first call is 60 s old
    clock.now = 1060.0
    assert wait_needed(limiter) == 0.0
    assert limiter.remaining(DAY) == 5000 - 61


def test_limiter_daily_budget():
    clock = FakeClock()
    limiter = WindowLimiter([(5000, DAY)], clock=clock)
    for n in range(5000):
        clock.now = 1000.0 + n
        assert wait_needed(limiter) == 0.0
    assert limiter.remaining(DAY) == 0
    assert wait_needed(limiter) == pytest.approx(DAY - 4999)
    clock.now = 1000.0 + DAY
    assert limiter.remaining(DAY) == 1
    assert wait_needed(limiter) == 0.0


def test_limiter_back_off_blocks_even_with_room():
    clock = FakeClock()
    limiter = WindowLimiter([(3, 1.0)], clock=clock)
    limiter.back_off(5.0)
    assert wait_needed(limiter) == pytest.approx(5.0)
    limiter.back_off(1.0)  # a shorter back-off does not shorten the longer one
    assert wait_needed(limiter) == pytest.approx(5.0)
    clock.now += 5.0
    assert wait_needed(limiter) == 0.0


def test_limiter_remaining_of_an_unknown_window_is_none():
    limiter = WindowLimiter([(3, 1.0)], clock=FakeClock())
    assert limiter.remaining(DAY) is None
    assert WindowLimiter([(0, 1.0)], clock=FakeClock()).windows == []


def test_limiter_waits_within_the_deadline_and_refuses_beyond_it():
    limiter = WindowLimiter([(2, 0.2)])
    started = time.monotonic()
    for _ in range(3):
        limiter.acquire(Deadline(5))
        limiter.release()
    assert time.monotonic() - started >= 0.19
    limiter.acquire(Deadline(5))
    limiter.release()
    started = time.monotonic()
    with pytest.raises(BudgetExhausted):
        limiter.acquire(Deadline(0.01))
    assert time.monotonic() - started < 0.1
