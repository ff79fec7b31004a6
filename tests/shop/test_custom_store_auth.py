"""Who may call the Custom Store endpoint, and how it answers bad requests.

ShipStation authenticates with HTTP Basic, or with ``SS-UserName`` / ``SS-Password`` as
query parameters or headers; every form is exercised over real HTTP with the sandbox
poller, and every export document it gets is validated against the XSD.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_plus

import pytest
import requests

from ratecalc.simulators.cin7 import data as cin7_data
from tests.shop.conftest import STORE_PASSWORD, STORE_USER
from tests.support.custom_store_poller import CustomStorePoller, encode_date
from tests.support.xsd import validate

ENDPOINT = "/shipstation/custom-store"
IMPORTABLE = {s["id"] for s in cin7_data.SCENARIOS.values() if s["importable"]}
REALM = 'Basic realm="ratecalc"'
WINDOW = "start_date=01%2f23%2f2012+17%3a28&end_date=01%2f23%2f2012+17%3a33"




def window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(days=2), now + timedelta(minutes=1)


def assert_safe_body(response: requests.Response) -> None:
    body = response.text
    assert "Traceback" not in body and 'File "' not in body and "site-packages" not in body
    assert STORE_PASSWORD not in body


def assert_plain(response: requests.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    assert 0 < len(response.text) < 200
    assert_safe_body(response)


def get(api, query: str, **kwargs) -> requests.Response:
    return requests.get(f"{api.url}{ENDPOINT}?{query}", timeout=30, **kwargs)


def post(api, query: str, **kwargs) -> requests.Response:
    return requests.post(f"{api.url}{ENDPOINT}?{query}", timeout=30, **kwargs)


def basic(user: str, password: str) -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# ------------------------------------------------------------------ the three forms
@pytest.mark.parametrize("form", ["basic", "query", "headers", "both"])
def test_export_accepts_each_credential_form(shop_api, cin7, form):
    api = shop_api()
    poller = CustomStorePoller(api.url + ENDPOINT, STORE_USER, STORE_PASSWORD, auth=form,
                               schema_check=validate)
    result = poller.export(*window())
    assert result.problems == []
    assert result.statuses == [200]
    assert {int(o["OrderID"]) for o in result.orders} == IMPORTABLE


@pytest.mark.parametrize("form", ["basic", "query", "headers"])
def test_export_rejects_a_wrong_password_in_each_form(shop_api, cin7, form):
    api = shop_api()
    poller = CustomStorePoller(api.url + ENDPOINT, STORE_USER, "wrong-" + STORE_PASSWORD,
                               auth=form, schema_check=validate)
    response = poller.export_page(*window(), 1)
    assert_plain(response, 401)
    assert response.headers["WWW-Authenticate"] == REALM
    assert cin7.calls("GET", "/v1/SalesOrders") == []


BAD_CREDENTIALS = [
    ("", {}),                                                          # nothing at all
    ("&SS-UserName=shipstation", {}),                                  # no password
    (f"&SS-UserName=other&SS-Password={STORE_PASSWORD}", {}),          # wrong user
    (f"&SS-UserName=&SS-Password={STORE_PASSWORD}", {}),
    ("", {"SS-UserName": STORE_USER}),
    ("", basic(STORE_USER, "")),
    ("", basic("", STORE_PASSWORD)),
    ("", {"Authorization": "Basic !!!not-base64"}),
    ("", {"Authorization": "Bearer " + STORE_PASSWORD}),
    ("", basic(STORE_USER.upper(), STORE_PASSWORD)),                   # case matters
    ("", basic(STORE_USER, STORE_PASSWORD + " ")),
]


def test_export_rejects_missing_or_bad_credentials(shop_api, cin7):
    api = shop_api()
    for query, headers in BAD_CREDENTIALS:
        response = get(api, f"action=export&{WINDOW}{query}", headers=headers)
        assert_plain(response, 401)
        assert response.headers["WWW-Authenticate"] == REALM, (query, headers)
    assert cin7.calls() == []


def test_wrong_basic_is_not_rescued_by_right_query_credentials(shop_api, cin7):
    api = shop_api()
    response = get(api, f"action=export&{WINDOW}&SS-UserName={STORE_USER}"
                        f"&SS-Password={quote_plus(STORE_PASSWORD)}",
                   headers=basic(STORE_USER, "wrong"))
    assert_plain(response, 401)


@pytest.mark.parametrize("form", ["basic", "query", "headers"])
def test_shipnotify_accepts_each_credential_form(shop_api, cin7, form):
    api = shop_api()
    poller = CustomStorePoller(api.url + ENDPOINT, STORE_USER, STORE_PASSWORD, auth=form)
    response = poller.ship_notify(order_number="#1050", order_id="1001", carrier="UPS",
                                  service="Ground", tracking_number=f"1Z{form.upper()}")
    assert response.status_code == 200, response.text
    assert [n.tracking_number for n in api.shop.store.list_notices()] == [f"1Z{form.upper()}"]


def test_shipnotify_with_a_wrong_password_stores_nothing(shop_api, cin7):
    api = shop_api()
    poller = CustomStorePoller(api.url + ENDPOINT, STORE_USER, "nope", auth="both")
    response = poller.ship_notify(order_number="#1050", order_id="1001", carrier="UPS",
                                  tracking_number="1Z999")
    assert_plain(response, 401)
    assert response.headers["WWW-Authenticate"] == REALM
    assert api.shop.store.list_notices() == []


# ------------------------------------------------------------------ shop mode off
@pytest.mark.parametrize("missing", [
    {"STORE_USERNAME": "", "STORE_PASSWORD": ""},
    {"STORE_PASSWORD": ""},
    {"STORE_USERNAME": ""},
])
def test_shop_mode_off_is_404(shop_api, cin7, missing):
    api = shop_api(**missing)
    for response in (
        get(api, f"action=export&{WINDOW}", headers=basic(STORE_USER, STORE_PASSWORD)),
        get(api, f"action=export&{WINDOW}&SS-UserName={STORE_USER}&SS-Password="),
        get(api, f"action=export&{WINDOW}"),
        post(api, "action=shipnotify&order_number=1&tracking_number=2", data=b"<ShipNotice/>"),
    ):
        assert response.status_code == 404
        assert "WWW-Authenticate" not in response.headers
        assert_safe_body(response)
    assert cin7.calls() == []


def test_no_shop_configuration_at_all_is_404(make_api):
    api = make_api()
    response = get(api, f"action=export&{WINDOW}", headers=basic(STORE_USER, STORE_PASSWORD))
    assert response.status_code == 404
    assert_safe_body(response)


# ------------------------------------------------------------------ action and method
def test_missing_or_unknown_action_is_400(shop_api, cin7):
    api = shop_api()
    for method in ("GET", "POST"):
        for query in ("", "action=", "action=import", "action=exports", "foo=bar",
                      "action=export%00", f"Action=export&{WINDOW}"):
            response = requests.request(method, f"{api.url}{ENDPOINT}?{query}", timeout=30,
                                        headers=basic(STORE_USER, STORE_PASSWORD))
            assert_plain(response, 400)
            assert "action" in response.text, (method, query)
    assert cin7.calls() == []
    assert api.shop.store.list_notices() == []


def test_get_shipnotify_is_405(shop_api, cin7):
    api = shop_api()
    response = get(api, "action=shipnotify&order_number=%231050&carrier=UPS&tracking_number=1",
                   headers=basic(STORE_USER, STORE_PASSWORD))
    assert_plain(response, 405)
    assert response.headers["Allow"] == "POST"
    assert api.shop.store.list_notices() == []


def test_post_export_is_405(shop_api, cin7):
    api = shop_api()
    response = post(api, f"action=export&{WINDOW}", headers=basic(STORE_USER, STORE_PASSWORD))
    assert_plain(response, 405)
    assert response.headers["Allow"] == "GET"
    assert cin7.calls() == []


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_without_traceback(shop_api, cin7, method):
    api = shop_api()
    response = requests.request(method, f"{api.url}{ENDPOINT}?action=export&{WINDOW}",
                                headers=basic(STORE_USER, STORE_PASSWORD), timeout=30)
    assert response.status_code == 405
    assert_safe_body(response)


def test_error_bodies_never_carry_stack_traces(shop_api, cin7):
    """A tour of the failure answers; none may leak internals."""
    api = shop_api()
    auth = basic(STORE_USER, STORE_PASSWORD)
    start, end = window()
    dates = f"start_date={encode_date(start)}&end_date={encode_date(end)}"
    cin7.set_outage(503)
    responses = [
        get(api, f"action=export&{dates}", headers=auth),                    # Cin7 down
        get(api, "action=export&start_date=%ff%fe&end_date=%00", headers=auth),
        get(api, f"action=export&{dates}&page=99999999999999999999999", headers=auth),
        get(api, "action=export&start_date=99/99/9999+99%3a99&end_date=x", headers=auth),
        post(api, "action=shipnotify&order_number=1", headers=auth, data=b"<not xml"),
        post(api, "action=shipnotify", headers=auth,
             data=b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><ShipNotice>&a;'
                  b"</ShipNotice>"),
        post(api, "action=shipnotify", headers=auth, data=b"\xff\xfe\x00garbage"),
    ]
    for response in responses:
        assert 400 <= response.status_code < 600, response.text
        assert response.status_code != 500, response.text
        assert response.headers["Content-Type"].startswith("text/plain")
        assert len(response.text) < 300
        assert_safe_body(response)
    assert responses[0].status_code in (502, 503)
    assert api.shop.store.list_notices() == []


def test_the_store_password_can_be_rotated_without_a_window(shop_api):
    """RATECALC_STORE_PASSWORD takes a comma list: old and new both work meanwhile."""
    api = shop_api(STORE_PASSWORD=f"{STORE_PASSWORD},new-store-password-2")
    start, end = window()
    for password in (STORE_PASSWORD, "new-store-password-2"):
        poller = CustomStorePoller(api.url + ENDPOINT, STORE_USER, password, auth="basic")
        assert poller.export_page(start, end, 1).status_code == 200
    wrong = CustomStorePoller(api.url + ENDPOINT, STORE_USER, "new-store-password", auth="basic")
    assert_plain(wrong.export_page(start, end, 1), 401)
    joined = CustomStorePoller(api.url + ENDPOINT, STORE_USER,
                               f"{STORE_PASSWORD},new-store-password-2", auth="basic")
    assert_plain(joined.export_page(start, end, 1), 401)  # the list is not itself a password
