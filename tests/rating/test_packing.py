"""Packed cache entries come back exactly as they went in, and stay small."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratecalc.model import CarrierRates, Rate
from ratecalc.rating import codec, packing
from ratecalc.rating.packing import pack, pack_portable, unpack

money = st.decimals(allow_nan=False, allow_infinity=False, places=None,
                    min_value=Decimal("-1e6"), max_value=Decimal("1e6"))
text = st.text(min_size=0, max_size=40)


@st.composite
def answer(draw):
    code = draw(text)  # a carrier's rows carry its code (the JSON form relies on it)
    rates = draw(st.lists(st.builds(
        Rate, carrier_code=st.just(code), service_code=text, service_name=text,
        shipment_cost=money, other_cost=money, delivery_days=st.none() | st.integers(0, 400),
        estimated_delivery_date=st.none() | text), max_size=8))
    return CarrierRates(code, tuple(rates), draw(st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))),
        draw(st.none() | st.sampled_from(["USD", "CAD"])))


@pytest.mark.parametrize("packer", [pack, pack_portable])
@given(value=answer())
def test_every_answer_round_trips_exactly(packer, value):
    back = unpack(packer(value))
    assert back == value
    # Decimal equality ignores trailing zeros; the text must not change either.
    assert [(str(r.shipment_cost), str(r.other_cost)) for r in back.rates] == \
        [(str(r.shipment_cost), str(r.other_cost)) for r in value.rates]
    assert back.quoted_at == value.quoted_at


def fedex(n: int = 0) -> CarrierRates:
    return CarrierRates("fedex", tuple(
        Rate("fedex", f"fedex_{k}", f"FedEx Service {k}", Decimal(f"{10 + n}.30"), Decimal("0"),
             3, "2026-12-05") for k in range(5)), datetime.now(UTC), "USD")


def test_a_typical_answer_packs_into_a_few_bytes_per_rate():
    assert len(pack(fedex())) <= 20 + 5 * 30


def test_an_amount_beyond_64_bits_or_an_offset_time_is_still_exact():
    huge = Rate("ups", "ups_ground", "UPS Ground", Decimal("1" * 30), Decimal("0.000000001"))
    value = CarrierRates("ups", (huge,), datetime.now(timezone(timedelta(hours=-5))))
    assert unpack(pack(value)) == value


def test_a_full_string_table_falls_back_to_json(monkeypatch):
    monkeypatch.setattr(packing, "STRINGS", packing._Strings(limit=3))
    value = fedex(7)
    packed = pack(value)
    assert packed[:1] == b"J"
    assert unpack(packed) == value


def test_a_portable_packing_unpacks_in_another_process(monkeypatch):
    value = fedex(3)
    packed = pack_portable(value)
    assert packed[:1] == b"S"
    monkeypatch.setattr(packing, "STRINGS", packing._Strings())  # a process that never saw it
    assert unpack(packed) == value
    assert unpack(pack(value)) == value  # and it packs its own way as before


def test_a_portable_packing_is_a_fraction_of_the_json():
    value = fedex()
    assert len(pack_portable(value)) <= len(pack(value)) + 5 * 40 + 30
    assert len(pack_portable(value)) * 2 < len(codec.dumps(value).encode())


def test_a_string_beyond_a_two_byte_length_travels_as_json():
    value = CarrierRates("ups", (Rate("ups", "ups_ground", "U" * 70_000, Decimal("9.10"),
                                      Decimal("0")),), datetime.now(UTC), "USD")
    packed = pack_portable(value)
    assert packed[:1] == b"J"
    assert unpack(packed) == value
