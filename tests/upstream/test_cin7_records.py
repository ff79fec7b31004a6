"""The typed access to Cin7 records: case-insensitive keys, tolerance, writes, helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ratecalc.upstream.cin7.records import (
    MAX_RECORDS,
    MAX_TRACKING_CODE,
    LineItem,
    Product,
    SalesOrder,
    chunks,
    freight_fields,
    freight_update,
    put_results,
    reference_spellings,
    sales_order_update,
    where_ids,
    where_modified,
    where_references,
)


def test_keys_match_case_insensitively_exact_spelling_first():
    order = SalesOrder({"DeliveryCountry": "NZ", "id": 7, "ID": 8})
    assert order.delivery_country == "NZ"
    assert order.id == 7
    assert order.get("deliverycountry") == "NZ"
    assert order.has("DELIVERYCOUNTRY") and not order.has("deliveryCity")


def test_a_pascal_case_record_reads_like_a_camel_case_one():
    camel = SalesOrder({"id": 1, "lineItems": [{"qtyShipped": 2, "productId": 13}],
                        "createdDate": "2024-05-01T02:10:00Z"})
    pascal = SalesOrder({"Id": 1, "LineItems": [{"QtyShipped": 2, "ProductId": 13}],
                         "CreatedDate": "2024-05-01T02:10:00Z"})
    for order in (camel, pascal):
        assert order.id == 1
        assert [(line.qty_shipped, line.product_id) for line in order.line_items] == [(2, 13)]
        assert order.created_at == datetime(2024, 5, 1, 2, 10, tzinfo=UTC)


def test_missing_and_odd_values_read_as_none_or_empty():
    assert SalesOrder(None).id is None
    assert not SalesOrder(None) and not SalesOrder({}) and SalesOrder({"id": 1})
    assert SalesOrder({"lineItems": None}).line_items == ()
    assert SalesOrder({"lineItems": [{"id": 1}, "junk", None]}).line_items[0].id == 1
    assert len(SalesOrder({"lineItems": [{"id": 1}, "junk", None]}).line_items) == 1
    assert SalesOrder({"createdDate": "not a date"}).created_at is None
    assert Product({"productOptions": None}).options == ()
    assert Product({"images": [{"Link": "https://x.example/a.jpg"}, "b"]}).images == (
        "https://x.example/a.jpg", "b")
    with pytest.raises(TypeError):  # data Cin7 never sends stays an error for the caller
        LineItem({"sizes": True}).sizes  # noqa: B018


@pytest.mark.parametrize("fields, void", [
    ({"isVoid": True}, True),
    ({"isVoid": "true"}, True),
    ({"IsVoid": 1}, True),
    ({"status": " void "}, True),
    ({"status": "VOID", "isVoid": False}, True),
    ({"isVoid": False, "status": "APPROVED"}, False),
    ({"isVoid": "false"}, False),
    ({}, False),
])
def test_one_void_test(fields, void):
    assert SalesOrder(fields).is_void is void


@pytest.mark.parametrize("fields, draft", [
    ({"status": "DRAFT"}, True),
    ({"isApproved": False}, True),
    ({"isApproved": "no"}, True),
    ({"isApproved": None}, False),  # a missing flag is approved
    ({"isApproved": True, "status": "APPROVED"}, False),
])
def test_draft(fields, draft):
    assert SalesOrder(fields).is_draft is draft


def test_merchant_fields_top_level_then_custom_fields():
    order = SalesOrder({"customerOrderNo": "PO-1",
                        "CustomFields": {"orders_1000": "Gate", "Orders_1001": "VIP"}})
    assert order.field("customerOrderNo") == "PO-1"
    assert order.field("orders_1000") == "Gate"
    assert order.field("ORDERS_1001") == "VIP"
    assert order.field("CUSTOMERORDERNO") == "PO-1"
    assert order.field("nope") is None


def test_packed_size_codes_when_there_is_no_sizes_list():
    line = LineItem({"sizeCodes": "1|30|J-30|940\n2|32|J-32;bad", "sizes": []})
    assert [(s.qty, s.name, s.code, s.barcode) for s in line.sizes] == [
        ("1", "30", "J-30", "940"), ("2", "32", "J-32", "")]


def test_reference_spellings():
    assert reference_spellings("#1050") == ("#1050", "1050")
    assert reference_spellings("1050") == ("#1050", "1050")
    assert reference_spellings("") == ("#", "")


def test_chunks_at_cin7s_record_limit():
    assert MAX_RECORDS == 250
    parts = list(chunks(list(range(501)), MAX_RECORDS))
    assert [len(p) for p in parts] == [250, 250, 1]
    assert list(chunks([], MAX_RECORDS)) == []


def test_where_clauses():
    assert where_ids([3, 4]) == "id IN (3,4)"
    assert where_references(["O'Brien", "#1"]) == "reference IN ('O''Brien','#1')"
    start = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    assert where_modified(start, start) == ("modifiedDate >= '2024-05-01T02:00:00Z' AND "
                                            "modifiedDate < '2024-05-01T02:00:00Z'")


def test_sales_order_update_sends_only_the_fields_given():
    assert sales_order_update(5) == {"id": 5}
    record = sales_order_update(5, tracking_code="X" * 60, stage="Dispatched",
                                dispatched_date="2024-05-01T00:00:00Z")
    assert record == {"id": 5, "trackingCode": "X" * MAX_TRACKING_CODE, "stage": "Dispatched",
                      "dispatchedDate": "2024-05-01T00:00:00Z"}


def test_freight_update():
    assert freight_fields(Decimal("12.50"), "D" * 300) == {
        "freightTotal": Decimal("12.50"), "freightDescription": "D" * 250}
    assert freight_update(9, Decimal("12.50"), "Courier") == {
        "id": 9, "freightTotal": 12.5, "freightDescription": "Courier"}


def test_put_results_read_the_envelope_case_insensitively():
    body = [{"Index": 1, "Success": False, "Id": 2, "Errors": ["no"]},
            {"index": 0, "success": True, "id": 1}]
    results = put_results(body, [{"id": 1}, {"id": 2}, {"id": 3}], 10)
    assert [(r.index, r.success, r.id, r.errors) for r in results] == [
        (10, True, 1, ()), (11, False, 2, ("no",)),
        (12, False, 3, ("Cin7 returned no result for this record",))]
