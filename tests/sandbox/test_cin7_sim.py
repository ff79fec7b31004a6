"""The Cin7 Omni simulator's own rules, exercised over real HTTP."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from ratecalc.simulators.cin7 import data as cin7_data
from ratecalc.simulators.cin7.app import Cin7Simulator
from ratecalc.simulators.cin7.where import WhereError, compile_where
from ratecalc.simulators.server import ServerThread
from tests.support import FakeClock

AUTH = ("demo-user", "demo-api-key")
NOW = datetime(2025, 6, 15, 12, 0, 0, tzinfo=UTC)


class Api:
    def __init__(self, base: str):
        self.base = base
        self.s = requests.Session()
        self.s.auth = AUTH

    def get(self, path, auth=AUTH, **params):
        return self.s.get(self.base + path, params=params or None, auth=auth, timeout=5)

    def put(self, path, body, **kw):
        return self.s.put(self.base + path, json=body, timeout=5, **kw)

    def orders(self, **params) -> list[dict]:
        r = self.get("/v1/SalesOrders", rows=250, **params)
        assert r.status_code == 200, r.text
        return r.json()

    def ids(self, where: str, **params) -> list[int]:
        return sorted(o["id"] for o in self.orders(where=where, fields="id", **params))


@pytest.fixture(scope="module")
def server():
    """One real server for the module; each test plugs its own simulator in."""
    holder: dict = {}

    def app(environ, start_response):
        return holder["app"](environ, start_response)

    srv = ServerThread(app).start()
    srv.holder = holder
    yield srv
    srv.stop()


@pytest.fixture
def clock():
    return FakeClock(NOW)


@pytest.fixture
def sim(server, clock):
    s = Cin7Simulator(now=NOW)
    s.set_clock(clock)
    s.set_rate_limits(None, None, None)
    server.holder["app"] = s.app
    return s


@pytest.fixture
def api(server, sim):
    return Api(server.url + "/api")


DEMO_IDS = sorted(s["id"] for s in cin7_data.SCENARIOS.values())


# --------------------------------------------------------------------------- auth


def test_basic_auth(api):
    assert api.get("/v1/SalesOrders/1001").status_code == 200
    r = requests.get(api.base + "/v1/SalesOrders/1001", timeout=5)
    assert r.status_code == 401 and r.json() == "Unauthorized access"
    assert "Basic" in r.headers["WWW-Authenticate"]
    r = requests.get(api.base + "/v1/SalesOrders/1001", timeout=5,
                     headers={"Authorization": "Basic !!notbase64"})
    assert r.status_code == 401
    assert api.get("/v1/SalesOrders", auth=("demo-user", "wrong")).status_code == 401
    assert api.get("/v1/SalesOrders", auth=("nobody", "demo-api-key")).status_code == 401


def test_second_credential(server):
    s = Cin7Simulator(credentials=(("a", "k1"), ("b", "k2")), seed_demo=False)
    server.holder["app"] = s.app
    base = server.url + "/api/v1/SalesOrders"
    assert requests.get(base, auth=("b", "k2"), timeout=5).json() == []
    assert requests.get(base, auth=("b", "k1"), timeout=5).status_code == 401


def test_plain_server_thread_usage():
    sim = Cin7Simulator(seed_demo=False, per_second=None, per_minute=None, per_day=None)
    with ServerThread(sim.app) as srv:
        r = requests.get(f"{srv.url}/api/v1/SalesOrders", auth=AUTH, timeout=5)
        assert r.status_code == 200 and r.json() == []


# ----------------------------------------------------------------- single / shape


def test_get_by_id_and_404(api):
    r = api.get("/v1/SalesOrders/1001")
    assert r.status_code == 200
    o = r.json()
    assert o["reference"] == "#1050" and o["status"] == "APPROVED"
    assert o["deliveryCountry"] == "New Zealand" and o["stage"] == "Fully Picked"
    assert o["createdDate"].endswith("Z") and o["lineItems"][0]["transactionId"] == 1001
    assert api.get("/v1/SalesOrders/999999").status_code == 404
    assert api.get("/v1/SalesOrders/abc").json() == "Resource not found"
    assert api.get("/v1/Nope").status_code == 404
    # Routes are case-insensitive like ASP.NET.
    assert api.get("/v1/salesorders/1001").json()["id"] == 1001


def test_demo_scenarios(api, sim):
    assert sorted(sim.orders) == DEMO_IDS
    by = {name: api.get(f"/v1/SalesOrders/{s['id']}").json()
          for name, s in cin7_data.SCENARIOS.items()}
    assert by["draft"]["status"] == "DRAFT" and not by["draft"]["isApproved"]
    assert by["void"]["status"] == "VOID"
    assert by["eligible_us_gift"]["phone"] == "" and by["eligible_us_gift"]["mobile"]
    assert by["eligible_us_gift"]["deliveryCountry"] == "United States"
    assert by["eligible_etd_only"]["deliveryCountry"] == "USA"
    assert by["no_delivery_country"]["deliveryCountry"] == ""
    assert by["other_branch"]["branchId"] == 3
    assert {o["stage"] for o in by.values()} >= {
        "New", "Fully Picked", "Dispatched", "Cancelled", "Ready for Courier"}
    assert [ln["qtyShipped"] for ln in by["line_not_dispatched"]["lineItems"]] == [1.0, 0.0]
    size_line = by["size_range"]["lineItems"][0]
    assert "sizes" not in size_line  # published Cin7 line items have no sizes[] array
    assert [e.split("|")[2] for e in size_line["sizeCodes"].split(";")] == [
        "TRS-BLU-9", "TRS-BLU-10"]
    assert size_line["qty"] == 3.0
    assert by["discount"]["discountTotal"] == 10.0
    sc = by["special_chars"]
    assert "]]>" in sc["deliveryInstructions"] and "&" in sc["deliveryCompany"]
    assert "<" in sc["deliveryCompany"] and "🌿" in sc["deliveryFirstName"]
    now = NOW
    old = now - timedelta(days=60)

    def d(v):
        return datetime.fromisoformat(v.replace("Z", "+00:00"))

    etd_only = by["eligible_etd_only"]
    assert d(etd_only["createdDate"]) < old < d(etd_only["estimatedDeliveryDate"])
    assert d(by["too_old"]["createdDate"]) < old and d(by["too_old"]["estimatedDeliveryDate"]) < old


def test_make_orders_eligible_and_deterministic():
    a = cin7_data.make_orders(300, NOW, seed=7)
    assert a == cin7_data.make_orders(300, NOW, seed=7)
    assert [o["id"] for o in a] == list(range(100001, 100301))
    for o in a:
        assert o["isApproved"] and o["stage"] == "Fully Picked" and o["deliveryCountry"]
        assert o["branchId"] in cin7_data.DEFAULT_IMPORT_BRANCHES
        assert NOW - timedelta(days=60) < datetime.fromisoformat(o["createdDate"]) <= NOW
        assert o["modifiedDate"] <= cin7_data.iso(NOW)
        assert all(ln["qtyShipped"] == ln["qty"] > 0 for ln in o["lineItems"])


# ----------------------------------------------------------------- paging / order


@pytest.fixture
def big(server, clock):
    s = Cin7Simulator(now=NOW, seed_demo=False)
    s.set_clock(clock)
    s.set_rate_limits(None, None, None)
    for o in cin7_data.make_orders(120, NOW, seed=1):
        s.add_order(o)
    server.holder["app"] = s.app
    return Api(server.url + "/api")


def test_paging(big):
    pages = [big.get("/v1/SalesOrders", page=p, rows=50, order="id ASC").json()
             for p in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [50, 50, 20, 0]
    ids = [o["id"] for p in pages for o in p]
    assert ids == list(range(100001, 100121))
    assert len(big.get("/v1/SalesOrders").json()) == 50  # default rows
    assert len(big.get("/v1/SalesOrders", rows=250).json()) == 120
    r = big.get("/v1/SalesOrders", rows=251)
    assert r.status_code == 400 and r.json() == "The rows argument cannot be greater than 250."
    assert big.get("/v1/SalesOrders", page=0).status_code == 400
    assert big.get("/v1/SalesOrders", rows=0).status_code == 400
    assert big.get("/v1/SalesOrders", page="x").status_code == 400
    # Query parameter names are case-insensitive.
    assert len(big.get("/v1/SalesOrders", Rows=10, Page=2).json()) == 10


def test_ordering(big):
    def dates(rows):
        return [o["modifiedDate"] for o in rows]

    asc = big.orders(order="modifiedDate ASC", fields="id,modifiedDate")
    assert dates(asc) == sorted(dates(asc))
    assert set(asc[0]) == {"id", "modifiedDate"}
    desc = big.orders(order="modifiedDate")  # default direction is DESC
    assert dates(desc) == sorted(dates(desc), reverse=True)
    ids = [o["id"] for o in big.orders(order="id DESC")]
    assert ids == sorted(ids, reverse=True)
    multi = big.orders(order="branchId asc, id DESC")
    keys = [(o["branchId"], -o["id"]) for o in multi]
    assert keys == sorted(keys)
    assert big.get("/v1/SalesOrders", order="nope ASC").status_code == 400
    assert big.get("/v1/SalesOrders", order="id SIDEWAYS").status_code == 400
    assert big.get("/v1/SalesOrders", order="lineItems ASC").status_code == 400


def test_watermark_paging_sees_every_order_once(big):
    seen = []
    page = 1
    while True:
        rows = big.get("/v1/SalesOrders", where="modifiedDate>='2000-01-01T00:00:00Z'",
                       order="modifiedDate ASC", rows=25, page=page).json()
        if not rows:
            break
        seen += [o["id"] for o in rows]
        page += 1
    assert sorted(seen) == list(range(100001, 100121))


def test_fields_projection(api):
    rows = api.orders(fields="id,reference,lineItems(code,qtyShipped)", where="id=1001")
    assert rows == [{"id": 1001, "reference": "#1050", "lineItems": [
        {"code": "MCT-BLK-M", "qtyShipped": 2.0}, {"code": "CPO-WHT", "qtyShipped": 1.0}]}]
    one = api.get("/v1/SalesOrders/1001", fields="ID,Stage").json()
    assert one == {"id": 1001, "stage": "Fully Picked"}
    assert api.get("/v1/SalesOrders", fields="id,bogus").status_code == 400
    assert api.get("/v1/SalesOrders", fields="id(code)").status_code == 400
    assert api.get("/v1/SalesOrders", fields="lineItems(code").status_code == 400


# -------------------------------------------------------------------- where (HTTP)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("id = 1001", [1001]),
        ("ID=1001", [1001]),
        ("id <> 1001", [i for i in DEMO_IDS if i != 1001]),
        ("id < 1003", [1001, 1002]),
        ("id > 1017", [1018, 1019]),
        ("id <= 1002", [1001, 1002]),
        ("id >= 1018", [1018, 1019]),
        ("Reference = '#1050'", [1001]),
        ("stage = 'fully picked' AND branchId = 3", [1011]),
        ("isApproved = false", [1005]),
        ("isVoid = true", [1006]),
        ("status = 'Draft'", [1005]),
        # AND binds tighter than OR.
        ("id = 1001 OR id = 1007 AND stage = 'Fully Picked'", [1001]),
        ("(id = 1001 OR id = 1007) AND stage = 'New'", [1007]),
        ("(id = 1001 OR (id = 1002 AND branchId = 2)) AND isApproved = true", [1001, 1002]),
        ("id IN (1001, 1003,1005)", [1001, 1003, 1005]),
        ("id IN(1001)", [1001]),
        ("reference IN ('#1050', '#1051', 'nope')", [1001, 1002]),
        ("dispatchedDate IS NOT NULL", [1012]),
        ("dispatchedDate is null AND stage = 'Dispatched'", []),
        ("fax IS NULL AND id = 1001", [1001]),
        ("lastName = 'O''Brien'", [1017]),
        ("deliveryCompany = 'Smith & Sons <Wholesale>'", [1017]),
        ("deliveryCountry = ''", [1008]),
        ("reference LIKE '#105%'", [1001, 1002, 1007, 1015, 1016]),
        ("reference NOT LIKE 'SO-%'", [1001, 1002, 1007, 1012, 1015, 1016]),
        ("createdDate < '2025-04-16T12:00:00Z'", [1003, 1004]),
        ("createdDate < 2025-04-16T12:00:00Z", [1003, 1004]),
        ("createdDate < '2025-04-16'", [1003, 1004]),
        ("estimatedDeliveryDate >= '2025-04-16T12:00:00Z' AND createdDate < '2025-04-16'",
         [1003]),
        ("freightTotal = 8.5 AND id = 1001", [1001]),
        ("total > 100000", []),
        ("id = '1001'", [1001]),  # SQL-style implicit conversion of a numeric string
        # An injection attempt is just a string literal.
        ("reference = 'x'' OR 1=1 --'", []),
        ("reference = 'x'' OR ''1''=''1'", []),
    ],
)
def test_where(api, where, expected):
    assert api.ids(where) == expected


def test_where_modified_since(api, sim, clock):
    cutoff = cin7_data.iso(NOW - timedelta(hours=2, minutes=30))
    expected = sorted(i for i, o in sim.orders.items() if o["modifiedDate"] >= cutoff)
    assert expected and len(expected) < len(DEMO_IDS)
    assert api.ids(f"modifiedDate >= '{cutoff}'") == expected


@pytest.mark.parametrize(
    "where",
    [
        "id == 1",
        "id != 1",
        "foo = 1",
        "id =",
        "(id = 1",
        "id = 1)",
        "id = 1 AND",
        "lineItems = 1",
        "id = 'abc'",
        "stage = New",
        "stage = 5",
        "id = 1; DROP TABLE SalesOrders",
        "reference = 'x' OR 1=1 --",
        "reference = 'x' --",
        "isApproved > true",
        "id IN ()",
        "stage = 'unterminated",
        "NOT id = 1",
        "id BETWEEN 1 AND 2",
        "modifiedDate > 'yesterday'",
        "id LIKE '1%'",
        "1 = 1",
        "id = 1 id = 2",
        "stage IN ('New' 'Fully Picked')",
        "id IS 5",
    ],
)
def test_where_invalid_is_400(api, where):
    r = api.get("/v1/SalesOrders", where=where)
    assert r.status_code == 400, (where, r.text)
    assert isinstance(r.json(), str)


def test_where_unit_semantics():
    types = {"a": "int", "s": "str", "d": "date", "b": "bool", "n": "number"}
    rec = {"a": None, "s": "Hello", "d": "2024-01-31T10:00:00Z", "b": True, "n": 1.5}
    assert not compile_where("a = 1", types)(rec)
    assert not compile_where("a <> 1", types)(rec)  # NULL comparisons are never true
    assert compile_where("a IS NULL", types)(rec)
    assert compile_where("s = 'HELLO'", types)(rec)
    assert compile_where("s > 'apple' AND s < 'zebra'", types)(rec)
    assert compile_where("d > '2024-01-31T09:59:59Z' AND d < '2024-02-01'", types)(rec)
    assert compile_where("d = '2024-01-31T23:00:00+13:00'", types)(rec)
    assert compile_where("b = 1 AND b = 'true'", types)(rec)
    assert compile_where("n >= 1.5 AND n < 2", types)(rec)
    assert compile_where("s LIKE 'h_llo' AND s NOT LIKE '%x%'", types)(rec)
    assert compile_where("", types)(rec)
    with pytest.raises(WhereError):
        compile_where("S = 'x' OR", types)
    with pytest.raises(WhereError):
        compile_where("a = __import__('os')", types)


# --------------------------------------------------------------------------- PUT


def put_orders(api, body):
    r = api.put("/v1/SalesOrders", body)
    assert r.status_code == 200, r.text
    return r.json()


def test_put_envelope_and_modified_bump(api, sim, clock):
    before = api.get("/v1/SalesOrders/1001").json()
    clock.advance(90)
    res = put_orders(api, [{"id": 1001, "trackingCode": "1Z999", "logisticsCarrier": "UPS"}])
    assert res == [{"index": 0, "success": True, "id": 1001, "code": "#1050", "errors": []}]
    after = api.get("/v1/SalesOrders/1001").json()
    assert after["trackingCode"] == "1Z999" and after["logisticsCarrier"] == "UPS"
    assert after["modifiedDate"] == cin7_data.iso(NOW + timedelta(seconds=90))
    assert after["modifiedDate"] > before["modifiedDate"]
    # The bumped order shows up in an incremental poll.
    assert api.ids(f"modifiedDate >= '{after['modifiedDate']}'") == [1001]


def test_put_clear_keep_readonly(api, sim):
    put_orders(api, [{"id": 1002, "internalComments": "note", "trackingCode": "T1"}])
    o = sim.orders[1002]
    res = put_orders(api, [{
        "id": 1002,
        "internalComments": "",          # clears
        "trackingCode": None,            # keeps
        "estimatedDeliveryDate": "",     # clears a date
        "status": "VOID",                # read-only: ignored
        "invoiceNumber": 42,             # read-only
        "source": "Hacked",              # read-only
        "createdDate": "2000-01-01T00:00:00Z",
        "total": 1.0,                    # computed
        "someUnknownField": "x",         # unknown: ignored
        "lineItems": [{"id": o["lineItems"][0]["id"], "qtyShipped": 0}],  # read-only line field
    }])
    assert res[0]["success"], res
    after = api.get("/v1/SalesOrders/1002").json()
    assert after["internalComments"] == ""
    assert after["trackingCode"] == "T1"
    assert after["estimatedDeliveryDate"] is None
    assert after["status"] == "APPROVED" and after["invoiceNumber"] is None
    assert after["source"] == "Shopify" and after["createdDate"] == o["createdDate"]
    assert after["total"] == o["total"] and "someUnknownField" not in after
    assert after["lineItems"][0]["qtyShipped"] == o["lineItems"][0]["qtyShipped"]
    assert after["deliveryCity"] == "San Francisco"  # absent: kept


def test_put_record_level_errors(api, sim):
    before = dict(sim.orders[1009])
    res = put_orders(api, [
        {"id": 1001, "trackingCode": "OK1"},
        {"id": 424242, "trackingCode": "X"},
        {"id": 1009, "trackingCode": "Y" * 51},
        {"id": 1009, "stage": "Teleported"},
        {"id": 1006, "trackingCode": "void"},
        {"trackingCode": "no id"},
        {"id": 1001, "lineItems": [{"id": 1, "unitPrice": 3}]},
    ])
    assert [r["index"] for r in res] == list(range(7))
    assert [r["success"] for r in res] == [True, False, False, False, False, False, False]
    for r in res[1:]:
        assert r["id"] == 0 and r["code"] == "" and r["errors"] and isinstance(r["errors"][0], str)
    assert sim.orders[1001]["trackingCode"] == "OK1"
    assert sim.orders[1009]["modifiedDate"] == before["modifiedDate"]  # failed: untouched
    assert sim.orders[1009]["trackingCode"] == before["trackingCode"]


def test_put_request_level_errors(api):
    r = api.put("/v1/SalesOrders", {"id": 1001})
    assert r.status_code == 400 and r.json().startswith("Missing or malformed JSON")
    r = api.s.put(api.base + "/v1/SalesOrders", data="[{", timeout=5,
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = api.s.put(api.base + "/v1/SalesOrders", data='[{"id": 1001}]', timeout=5,
                  headers={"Content-Type": "text/plain"})
    assert r.status_code == 400
    assert api.put("/v1/SalesOrders", [{"id": 1001, "freightTotal": "lots"}]).status_code == 400
    assert api.put("/v1/SalesOrders", [{"id": 1001, "dispatchedDate": "soon"}]).status_code == 400
    assert api.put("/v1/SalesOrders", [1001]).status_code == 400
    r = api.put("/v1/SalesOrders", [{"id": 1001}] * 251)
    assert r.status_code == 400 and r.json() == "Batch limit is 250."
    res = api.put("/v1/SalesOrders", [{"id": 1001}] * 250).json()
    assert len(res) == 250 and all(x["success"] for x in res)
    assert api.put("/v1/SalesOrders", []).json() == []
    assert api.put("/v1/SalesOrders/1001", [{"id": 1001}]).status_code == 405


def test_put_dispatch(api, sim, clock):
    order = sim.orders[1009]
    assert [ln["qtyShipped"] for ln in order["lineItems"]] == [1.0, 0.0]
    clock.advance(5)
    res = put_orders(api, [{
        "id": 1009, "dispatchedDate": "2025-06-15T12:00:05Z", "trackingCode": "NZP1",
        "logisticsCarrier": "NZ Post", "internalComments": "shipped",
    }])
    assert res[0]["success"]
    after = api.get("/v1/SalesOrders/1009").json()
    assert after["dispatchedDate"] == "2025-06-15T12:00:05Z"
    assert after["stage"] == "Dispatched"
    assert all(ln["qtyShipped"] == ln["qty"] for ln in after["lineItems"])
    assert after["lineItems"][1]["stockMovements"][0]["quantity"] == 1.0
    # Offsets are normalised to UTC Z; an explicit stage in the same record wins.
    put_orders(api, [{"id": 1001, "dispatchedDate": "2025-06-16T09:00:00+12:00",
                      "stage": "ready for courier"}])
    o = api.get("/v1/SalesOrders/1001").json()
    assert o["dispatchedDate"] == "2025-06-15T21:00:00Z" and o["stage"] == "Ready for Courier"
    # A draft cannot be dispatched.
    res = put_orders(api, [{"id": 1005, "dispatchedDate": "2025-06-15T12:00:00Z"}])
    assert not res[0]["success"] and sim.orders[1005]["dispatchedDate"] is None


def test_put_stage_and_keys_case_insensitive(api, sim):
    res = put_orders(api, [{"ID": 1007, "Stage": "FULLY PICKED", "TrackingCode": "abc"}])
    assert res[0]["success"]
    o = sim.orders[1007]
    assert o["stage"] == "Fully Picked" and o["trackingCode"] == "abc"
    # Moving to Fully Picked fills the dispatch quantities (reference §2.3).
    assert all(ln["qtyShipped"] == ln["qty"] for ln in o["lineItems"])


def test_put_freight_lines_and_branch(api, sim):
    o = sim.orders[1016]
    put_orders(api, [{"id": 1016, "freightTotal": 12.5, "freightDescription": "UPS Ground"}])
    after = sim.orders[1016]
    assert after["freightTotal"] == 12.5 and after["total"] == round(o["total"] + 4.0, 2)
    first, second = after["lineItems"]
    put_orders(api, [{"id": 1016, "lineItems": [{"id": second["id"], "unitPrice": "10"}]}])
    after = sim.orders[1016]
    assert after["lineItems"][0] == first and after["lineItems"][1]["unitPrice"] == 10.0
    assert after["productTotal"] == round(o["productTotal"] - 59.0 + 10.0, 2)
    # branchId is not updatable once dispatched.
    res = put_orders(api, [{"id": 1012, "branchId": 2}])
    assert not res[0]["success"] and sim.orders[1012]["branchId"] == 1
    # customFields merge per key; "" removes a key.
    put_orders(api, [{"id": 1002, "customFields": {"isGift": "", "wrap": "red"}}])
    assert sim.orders[1002]["customFields"] == {"giftMessage": "Happy birthday, Sam!",
                                                "wrap": "red"}


def test_fail_put_for(api, sim):
    sim.fail_put_for(1001, "Order is locked")
    res = put_orders(api, [{"id": 1001, "trackingCode": "x"}, {"id": 1002, "trackingCode": "y"}])
    assert res[0] == {"index": 0, "success": False, "id": 0, "code": "", "errors":
                      ["Order is locked"]}
    assert res[1]["success"]
    sim.fail_put_for(1001, None)
    assert put_orders(api, [{"id": 1001, "trackingCode": "x"}])[0]["success"]


# ------------------------------------------------------------------ sim helpers


def test_touch_and_add_order(api, sim, clock):
    clock.advance(3600)
    sim.touch(1007, stage="Fully Picked", deliveryCountry="Australia")
    o = api.get("/v1/SalesOrders/1007").json()
    assert o["stage"] == "Fully Picked"
    assert o["modifiedDate"] == cin7_data.iso(NOW + timedelta(hours=1))
    sim.touch(1001, isVoid=True)
    assert sim.orders[1001]["status"] == "VOID"
    new = sim.add_order({"deliveryCountry": "NZ", "lineItems": [
        {"code": "CPO-WHT", "qty": 2, "unitPrice": 10}]})
    assert new["id"] == 1020 and new["reference"] == "SO-1020"
    line = new["lineItems"][0]
    assert line["id"] and line["productOptionId"] == 1021
    assert line["name"] == "Ceramic Pour-Over Set"
    assert new["productTotal"] == 20.0 and new["createdDate"] == cin7_data.iso(clock())
    with pytest.raises(ValueError):
        sim.add_order({"id": 1001})


# ----------------------------------------------------------------------- products


def test_products(api):
    rows = api.get("/v1/Products", rows=250).json()
    assert [p["id"] for p in rows] == [101, 102, 103, 104, 105, 106, 107]
    tee = api.get("/v1/Products/101").json()
    assert tee["optionLabel1"] == "Colour" and tee["images"][0]["link"].startswith("https://")
    opt = tee["productOptions"][0]
    assert opt["productOptionCode"] == "MCT-BLK-M" and opt["optionWeight"] == 0.22
    assert opt["productId"] == 101 and opt["image"]["link"]
    batch = api.get("/v1/Products", where="id IN (101,103)",
                    fields="id,weight,productOptions(productOptionSizeCode,optionWeight)").json()
    assert [p["id"] for p in batch] == [101, 103]
    assert batch[1]["productOptions"][1] == {"productOptionSizeCode": "TRS-BLU-10",
                                             "optionWeight": 0.82}
    assert api.get("/v1/Products/999").status_code == 404
    assert api.get("/v1/Products", where="productOptions = 1").status_code == 400
    opts = api.get("/v1/ProductOptions", where="productOptionCode = 'mct-blk-m'").json()
    assert [o["id"] for o in opts] == [1011]
    assert api.get("/v1/ProductOptions/1032").json()["size"] == "10"
    stock = api.get("/v1/Stock", barcode="9400000000011").json()
    assert {s["branchId"] for s in stock} == {1, 2}
    branch = api.get("/v1/Branches/1").json()
    assert branch["branchLocations"][0]["bins"][0] == "A-01-01"


# ---------------------------------------------------------------------- rate limits


def test_rate_limit_per_second(api, sim, clock):
    sim.set_rate_limits(per_second=2)
    assert [api.get("/v1/SalesOrders/1001").status_code for _ in range(3)] == [200, 200, 429]
    r = api.get("/v1/SalesOrders/1001")
    assert r.status_code == 429 and r.json() == "Rate limit exceeded. Retry after some time."
    assert "Retry-After" not in r.headers
    clock.advance(1.01)
    assert api.get("/v1/SalesOrders/1001").status_code == 200
    sim.retry_after = 1
    api.get("/v1/SalesOrders/1001")
    assert api.get("/v1/SalesOrders/1001").headers["Retry-After"] == "1"


def test_rate_limit_minute_day_and_per_credential(server, clock):
    s = Cin7Simulator(credentials=(AUTH, ("other", "k")), now=NOW, per_second=None,
                      per_minute=3, per_day=5)
    s.set_clock(clock)
    server.holder["app"] = s.app
    url = server.url + "/api/v1/SalesOrders/1001"

    def get(auth=AUTH):
        return requests.get(url, auth=auth, timeout=5).status_code

    assert get(("demo-user", "bad")) == 401  # not counted
    assert [get() for _ in range(4)] == [200, 200, 200, 429]
    assert get(("other", "k")) == 200  # separate budget per credential
    clock.advance(30)
    assert get() == 429  # still inside the minute
    clock.advance(31)
    assert [get(), get(), get()] == [200, 200, 429]  # day budget (5) exhausted
    clock.advance(3600)
    assert get() == 429
    clock.advance(86400)
    assert get() == 200


def test_default_limits_are_cin7s(server):
    s = Cin7Simulator(seed_demo=False)
    server.holder["app"] = s.app
    url = server.url + "/api/v1/SalesOrders"
    codes = [requests.get(url, auth=AUTH, timeout=5).status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429  # 3/s (fast loop)


# ------------------------------------------------------------------------ switches


def test_outage_fail_next_latency_and_log(api, sim):
    sim.set_outage(503)
    assert api.get("/v1/SalesOrders/1001").status_code == 503
    assert requests.get(api.base + "/v1/SalesOrders/1001", timeout=5).status_code == 503
    sim.set_outage(None)
    sim.fail_next(2, 502)
    codes = [api.get("/v1/SalesOrders/1001").status_code for _ in range(3)]
    assert codes == [502, 502, 200]
    sim.fail_next(1)
    assert api.put("/v1/SalesOrders", [{"id": 1001, "trackingCode": "z"}]).status_code == 500
    assert sim.orders[1001]["trackingCode"] == ""  # the failed call changed nothing
    sim.set_latency(0.2)
    t = time.monotonic()
    api.get("/v1/SalesOrders/1001")
    assert time.monotonic() - t >= 0.2
    sim.fail_next(5)
    sim.set_outage(500)
    sim.reset_faults()
    assert api.get("/v1/SalesOrders/1001").status_code == 200

    puts = sim.calls("PUT", "/v1/SalesOrders")
    assert len(puts) == 1 and puts[0]["status"] == 500
    assert puts[0]["json"] == [{"id": 1001, "trackingCode": "z"}]
    assert puts[0]["path"] == "/api/v1/SalesOrders"
    gets = sim.calls("get", "/api/v1/salesorders/*")
    assert [c["status"] for c in gets] == [503, 503, 502, 502, 200, 200, 200]
    assert sim.calls(path="/v1/Products") == []
    api.get("/v1/SalesOrders", where="id=1001", rows=5)
    last = sim.calls()[-1]
    assert last["query"] == {"where": "id=1001", "rows": "5"} and last["json"] is None
    assert isinstance(last["time"], float)


def test_concurrent_requests_are_safe(api, sim):
    errors = []

    def worker(k):
        try:
            for j in range(5):
                r = requests.put(api.base + "/v1/SalesOrders", auth=AUTH, timeout=5,
                                 json=[{"id": 1001, "internalComments": f"{k}-{j}"}])
                assert r.status_code == 200 and r.json()[0]["success"]
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(sim.calls("PUT")) == 30


def test_put_void_and_invoice(api, sim):
    res = put_orders(api, [{"id": 1013, "invoiceDate": "2025-06-15T00:00:00Z"},
                           {"id": 1014, "isVoid": True}])
    assert all(r["success"] for r in res)
    assert sim.orders[1013]["invoiceNumber"] == 6001
    voided = api.get("/v1/SalesOrders/1014").json()
    assert voided["status"] == "VOID" and voided["cancellationDate"] == cin7_data.iso(NOW)
    # Voiding is irreversible: further edits fail at record level.
    res = put_orders(api, [{"id": 1014, "isVoid": False}])
    assert not res[0]["success"] and sim.orders[1014]["isVoid"]


def test_pascal_case_switch(api, sim):
    """The casing switch renames every property of every answer (not the account's own
    customFields keys), and nothing else; the stored records stay camelCase."""
    camel = api.get("/v1/SalesOrders/1002").json()
    sim.set_casing("pascal")
    upper = api.get("/v1/SalesOrders/1002").json()
    assert upper["Id"] == 1002 and "id" not in upper
    assert upper["ModifiedDate"] == camel["modifiedDate"]
    assert upper["CustomFields"] == camel["customFields"]  # {"isGift": ..., "giftMessage": ...}
    assert {k[:1].lower() + k[1:] for k in upper} == set(camel)
    line = upper["LineItems"][0]
    assert line["Option1"] == camel["lineItems"][0]["option1"] and "Qty" in line
    assert "Sizes" not in line and "SizeCodes" in line
    page = api.get("/v1/Products", where="id = 101").json()
    assert page[0]["ProductOptions"][0]["ProductOptionCode"] == "MCT-BLK-M"
    put = api.put("/v1/SalesOrders", [{"id": 1002, "internalComments": "x"}]).json()
    assert put[0]["Success"] is True
    assert sim.orders[1002]["internalComments"] == "x"
    missing = api.get("/v1/SalesOrders/999999")
    assert missing.status_code == 404 and missing.json() == "Resource not found"
    with pytest.raises(ValueError):
        sim.set_casing("snake")
