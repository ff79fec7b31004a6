import pytest

from ratecalc.shop.export.statuses import DEFAULT_STATUS_MAP, SHIPSTATION_STATUSES, StatusMap


@pytest.fixture
def default_map() -> StatusMap:
    return StatusMap.parse(DEFAULT_STATUS_MAP)


def test_default_map_parses(default_map):
    assert default_map.by_status == {
        "awaiting_payment": ("New",),
        "awaiting_shipment": ("Fully Picked",),
        "shipped": ("Dispatched",),
        "cancelled": ("Cancelled",),
    }
    assert tuple(default_map.by_status) == SHIPSTATION_STATUSES


def test_comma_lists_custom_stages_and_whitespace():
    status_map = StatusMap.parse(
        " awaiting_payment = New , Awaiting Payment ;\n"
        "awaiting_shipment=Fully Picked,Ready  To   Ship;shipped=Dispatched;"
    )
    assert status_map.by_status["awaiting_payment"] == ("New", "Awaiting Payment")
    assert status_map.by_status["awaiting_shipment"] == ("Fully Picked", "Ready To Ship")
    assert "cancelled" not in status_map.by_status
    assert status_map.order_status("ready to ship") == "Ready To Ship"


@pytest.mark.parametrize("stage, expected", [
    ("Fully Picked", "Fully Picked"),
    ("fully picked", "Fully Picked"),
    ("FULLY PICKED", "Fully Picked"),
    ("  Fully   Picked ", "Fully Picked"),
    ("new", "New"),
    ("dispatched", "Dispatched"),
])
def test_order_status_uses_configured_spelling(default_map, stage, expected):
    assert default_map.order_status(stage) == expected


@pytest.mark.parametrize("stage", ["Processing", "Partially Picked", "On Hold", "", None])
def test_unmapped_stage_is_none(default_map, stage):
    assert default_map.order_status(stage) is None
    assert default_map.shipstation_status(stage) is None


@pytest.mark.parametrize("stage, expected", [
    ("New", "awaiting_payment"),
    ("fully picked", "awaiting_shipment"),
    ("Dispatched", "shipped"),
    ("cancelled", "cancelled"),
])
def test_shipstation_status(default_map, stage, expected):
    assert default_map.shipstation_status(stage) == expected


@pytest.mark.parametrize("stage", ["Fully Picked", "Processing", None])
def test_voided_order_is_first_cancelled_stage(stage):
    status_map = StatusMap.parse("awaiting_shipment=Fully Picked;cancelled=Cancelled,Void")
    assert status_map.order_status(stage, voided=True) == "Cancelled"
    assert status_map.shipstation_status(stage, voided=True) == "cancelled"


def test_voided_without_cancelled_mapping_is_unmapped():
    status_map = StatusMap.parse("awaiting_shipment=Fully Picked")
    assert status_map.order_status("Fully Picked", voided=True) is None
    assert status_map.shipstation_status("Fully Picked", voided=True) is None


def test_on_hold_is_refused():
    with pytest.raises(ValueError, match="on_hold is not supported"):
        StatusMap.parse("awaiting_shipment=Fully Picked;on_hold=On Hold")


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("   ", "empty"),
    (";;", "empty"),
    ("awaiting_shipment", "has no '='"),
    ("paid=Fully Picked", "paid is not supported"),
    ("awaiting_shipment=", "awaiting_shipment has no stages"),
    ("awaiting_shipment=Fully Picked;awaiting_shipment=New", "awaiting_shipment is listed twice"),
    ("awaiting_payment=New;shipped=new", "'new' is listed in both awaiting_payment and shipped"),
    ("awaiting_payment=New,NEW", "listed twice in awaiting_payment"),
    ("shipped=" + "x" * 51, "longer than 50 characters"),
])
def test_parse_errors_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message) as info:
        StatusMap.parse(text)
    assert "\n" not in str(info.value)


def test_status_names_are_case_insensitive():
    status_map = StatusMap.parse("Awaiting_Shipment=Fully Picked")
    assert status_map.by_status == {"awaiting_shipment": ("Fully Picked",)}


def test_connection_fields_default(default_map):
    assert default_map.connection_fields() == [
        ("Unpaid Status", "New"),
        ("Paid Status", "Fully Picked"),
        ("Shipped Status", "Dispatched"),
        ("Cancelled Status", "Cancelled"),
        ("On-Hold Status", ""),
    ]


def test_connection_fields_join_with_commas_in_exact_case():
    status_map = StatusMap.parse("awaiting_shipment=Fully Picked,Ready to Ship;shipped=Dispatched")
    assert status_map.connection_fields() == [
        ("Unpaid Status", ""),
        ("Paid Status", "Fully Picked,Ready to Ship"),
        ("Shipped Status", "Dispatched"),
        ("Cancelled Status", ""),
        ("On-Hold Status", ""),
    ]


def test_every_exported_status_is_typed_into_the_form(default_map):
    # What ShipStation matches case-sensitively must be exactly what we export.
    typed = {s for _, value in default_map.connection_fields() for s in value.split(",") if s}
    for stage in ("new", "FULLY PICKED", "Dispatched", "cancelled"):
        assert default_map.order_status(stage) in typed
    assert default_map.order_status("x", voided=True) in typed
