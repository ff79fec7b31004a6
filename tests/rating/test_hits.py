"""The cached-quote door (``rating/hits.py``): a repeated quote answered before Flask.

Each test drives ratecalc over real HTTP. The door answers only a request whose bytes
were validated before and whose whole-hit quote is kept; it must give exactly what the
Flask view gives, count the same metrics, and hand everything else on untouched.
"""

from __future__ import annotations

import copy
import json
import logging

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from ratecalc.app.factory import create_app, register_cached_quote_door
from ratecalc.rating.hits import CachedQuoteDoor
from ratecalc.web.hooks import on_response
from tests.conftest import DC_REQUEST, TOKEN
from tests.rating.conftest import rate_calls
from tests.test_metrics import scrape, value

QUOTE = dict(copy.deepcopy(DC_REQUEST), carriers=["fedex", "ups"])
BODY = json.dumps(QUOTE).encode()
JSON = {"Content-Type": "application/json"}
SAME_EVERY_TIME = ("Date", "Server")  # the server's own headers, not the answer's


class Counting:
    """Counts the quote requests that get past the door (to Flask), passing all on as is."""

    def __init__(self, app):
        self.app, self.calls = app, 0

    def __call__(self, environ, start_response):
        self.calls += environ["PATH_INFO"] == "/v1/rates"
        return self.app(environ, start_response)


@pytest.fixture
def door(api):
    """The api's door, with a count of the requests it handed on to Flask."""
    assert isinstance(api.app.wsgi_app, CachedQuoteDoor)
    counting = Counting(api.app.wsgi_app.app)
    api.app.wsgi_app.app = counting
    return counting


def answer(response: requests.Response) -> tuple:
    headers = {k: v for k, v in response.headers.items() if k not in SAME_EVERY_TIME}
    return response.status_code, headers, response.content


def warm(api) -> requests.Response:
    """Three sightings: a miss, a hit that keeps the rendered answer, then the door's."""
    first = api.post("/v1/rates", data=BODY, headers=JSON)
    assert first.headers["X-Cache"] == "MISS", first.text
    kept = api.post("/v1/rates", data=BODY, headers=JSON)
    assert kept.headers["X-Cache"] == "HIT"
    return kept


def test_a_repeated_quote_is_answered_by_the_door_exactly_as_by_flask(api, door, shipstation,
                                                                       backend):
    from_flask = warm(api)
    assert door.calls == 2
    calls = len(rate_calls(shipstation, backend))
    from_door = api.post("/v1/rates", data=BODY, headers=JSON)
    assert door.calls == 2, "the third sighting went to Flask"
    assert answer(from_door) == answer(from_flask)
    assert from_door.headers["Content-Length"] == str(len(from_door.content))
    assert len(rate_calls(shipstation, backend)) == calls  # nothing sent upstream


def test_the_door_counts_the_same_metrics_as_the_view(api, door):
    warm(api)
    before = scrape(api)
    for _ in range(3):
        assert api.post("/v1/rates", data=BODY, headers=JSON).headers["X-Cache"] == "HIT"
    after = scrape(api)
    assert door.calls == 2
    assert value(after, "ratecalc_quote_requests_total", outcome="cached") - value(
        before, "ratecalc_quote_requests_total", outcome="cached") == 3
    assert value(after, "ratecalc_cache_lookups_total", result="hit") - value(
        before, "ratecalc_cache_lookups_total", result="hit") == 3 * 2  # 2 carriers each
    assert value(after, "ratecalc_quote_duration_seconds_count") - value(
        before, "ratecalc_quote_duration_seconds_count") == 3


@pytest.mark.parametrize("case", ["no token", "wrong token", "text/plain", "chunked",
                                  "too large"])
def test_what_the_door_may_not_answer_goes_to_flask_with_its_rule(api, door, case):
    warm(api)
    headers = {"Authorization": f"Bearer {TOKEN}", **JSON}
    data: bytes | object = BODY
    expected = {"no token": (401, "unauthorized"), "wrong token": (401, "unauthorized"),
                "text/plain": (415, "unsupported_media_type"), "chunked": (200, None),
                "too large": (413, "payload_too_large")}[case]
    if case == "no token":
        del headers["Authorization"]
    elif case == "wrong token":
        headers["Authorization"] = "Bearer not-" + TOKEN
    elif case == "text/plain":
        headers["Content-Type"] = "text/plain"
    elif case == "chunked":
        data = iter([BODY[:40], BODY[40:]])  # requests sends a generator chunked
    else:
        data = BODY[:-1] + b" " * (64 * 1024) + b"}"
    r = api.post("/v1/rates", data=data, headers=headers, auth=False)
    assert door.calls == 3, "the door answered a request it must hand on"
    assert r.status_code == expected[0], r.text
    if expected[1]:
        assert r.json()["error"]["code"] == expected[1]
    else:
        assert r.headers["X-Cache"] == "HIT"  # Flask read the whole chunked body


def test_a_body_the_door_read_reaches_flask_whole_when_the_kept_answer_is_outdated(
        api, door, shipstation, backend):
    warm(api)
    api.services.rating.cache.clear()  # the entries the kept answer came from are gone
    calls = len(rate_calls(shipstation, backend))
    r = api.post("/v1/rates", data=BODY, headers=JSON)
    assert door.calls == 3
    assert r.status_code == 200, r.text
    assert r.headers["X-Cache"] == "MISS"  # Flask parsed the body the door had read
    assert len(rate_calls(shipstation, backend)) > calls
    again = api.post("/v1/rates", data=BODY, headers=JSON)
    assert again.headers["X-Cache"] == "HIT" and door.calls == 4  # kept anew by Flask
    api.post("/v1/rates", data=BODY, headers=JSON)
    assert door.calls == 4


def test_new_and_invalid_bodies_always_go_to_flask(api, door):
    warm(api)
    bad = dict(QUOTE, package={"weight": {"value": -1, "units": "ounces"}})
    for _ in range(3):
        r = api.post("/v1/rates", json=bad)
        assert r.status_code == 400
        assert r.json()["error"]["details"]["field"].startswith("package.weight")
    assert door.calls == 2 + 3


def test_a_body_with_its_white_space_changed_is_validated_anew(api, door):
    warm(api)
    r = api.post("/v1/rates", data=BODY + b" ", headers=JSON)
    assert r.status_code == 200 and door.calls == 3


@pytest.fixture
def access_debug():
    access = logging.getLogger("ratecalc.access")
    level = access.level
    access.setLevel(logging.DEBUG)
    yield
    access.setLevel(level)


def test_no_door_while_the_debug_access_line_is_on(make_api, access_debug):
    assert not isinstance(make_api().app.wsgi_app, CachedQuoteDoor)  # the line needs Flask


def test_no_door_when_a_response_hook_watches_the_path(make_settings):
    app = create_app(make_settings())
    try:
        app.wsgi_app = app.wsgi_app.app  # as the factory left it before the door
        on_response(app, "/v1/", lambda response: None)
        register_cached_quote_door(app)
        assert not isinstance(app.wsgi_app, CachedQuoteDoor)  # the hook must see quotes
    finally:
        app.extensions["ratecalc"].close()


def test_the_door_answers_under_gunicorn(gunicorn):
    url, _ = gunicorn(workers=1, threads=4)
    session = requests.Session()
    headers = {"Authorization": f"Bearer {TOKEN}", **JSON}
    answers = [session.post(url + "/v1/rates", data=BODY, headers=headers, timeout=30)
               for _ in range(4)]
    assert [a.headers["X-Cache"] for a in answers] == ["MISS", "HIT", "HIT", "HIT"]
    assert len({a.content for a in answers[1:]}) == 1
    assert answer(answers[3]) == answer(answers[1])
    metrics = session.get(url + "/metrics", timeout=10).text
    families = {f.name: f for f in text_string_to_metric_families(metrics)}
    assert value(families, "ratecalc_quote_requests_total", outcome="cached") == 3
