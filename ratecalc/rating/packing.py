"""Cached carrier answers packed into a few bytes each: about 26 bytes per rate.

A :class:`CarrierRates` as objects (dataclasses, Decimals, strings) takes about
3 KB; the same answer packed with :mod:`struct` takes under 200 bytes, so the
in-process quote cache holds ten times the answers in the same memory. Decoding
one costs microseconds, far less than the request around it.

* Money is stored as its Decimal coefficient and exponent, so it comes back
  exactly as it was, trailing zeros included ("12.30" stays "12.30"). An amount
  that does not fit in 64 bits is packed as JSON instead
  (:mod:`ratecalc.rating.codec`): exactness first.
* Strings (carrier and service codes and names, currency, delivery dates)
  repeat across answers; each is stored once in a process-wide table and
  referred to by its index. The table is bounded; once full, answers with new
  strings are packed as JSON, so no input can grow it without limit.
* :func:`pack_portable` is the same packing with the answer's own strings carried
  inside it (about 30 bytes more per service), for Redis, which every process reads.
"""

from __future__ import annotations

import struct
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ratecalc.model import CarrierRates, Rate
from ratecalc.rating import codec

MAX_STRINGS = 60_000
NONE = 0xFFFF  # "no string" (currency, delivery date)
NO_DAYS = -1
_HEADER = struct.Struct("<cqHHH")  # tag, quoted_at (epoch µs), carrier, currency, count
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# carrier, service code, service name, (coefficient, exponent) x 2 costs, days, date
_RATE = struct.Struct("<HHHqbqbhH")
_PACKED, _JSON, _PORTABLE = b"P", b"J", b"S"
_LENGTH = struct.Struct("<H")
_LIMIT = 2**63 - 1


class _Strings:
    """Each distinct string once, by index (bounded by MAX_STRINGS)."""

    def __init__(self, limit: int = MAX_STRINGS):
        self.limit = limit
        self._index: dict[str, int] = {}
        self._values: list[str] = []
        self._lock = threading.Lock()

    def index(self, value: str | None) -> int | None:
        """The string's index (NONE for None); None when the table is full."""
        if value is None:
            return NONE
        found = self._index.get(value)
        if found is not None:
            return found
        with self._lock:
            found = self._index.get(value)
            if found is None:
                if len(self._values) >= self.limit:
                    return None
                found = len(self._values)
                self._values.append(value)
                self._index[value] = found
            return found

    def value(self, index: int) -> str | None:
        return None if index == NONE else self._values[index]


STRINGS = _Strings()


def _exact(amount: Decimal) -> tuple[int, int] | None:
    """(coefficient, exponent) of the amount, or None when they do not fit."""
    if not amount.is_finite():
        return None
    sign, digits, exponent = amount.as_tuple()
    coefficient = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    if sign and not coefficient:
        return None  # -0 would come back as 0
    if not (-_LIMIT <= coefficient <= _LIMIT and -128 <= exponent <= 127):
        return None
    return coefficient, exponent


def _pack_rate(rate: Rate, strings: _Strings) -> bytes | None:
    indexes = [strings.index(v) for v in (rate.carrier_code, rate.service_code,
                                          rate.service_name, rate.estimated_delivery_date)]
    shipment, other = _exact(rate.shipment_cost), _exact(rate.other_cost)
    days = NO_DAYS if rate.delivery_days is None else rate.delivery_days
    if None in indexes or shipment is None or other is None or not -1 <= days <= 32_767:
        return None
    carrier, code, name, date = indexes
    return _RATE.pack(carrier, code, name, *shipment, *other, days, date)


def pack(value: CarrierRates, strings: _Strings | None = None) -> bytes:
    """The answer as bytes; :func:`unpack` gives back an equal CarrierRates."""
    strings = STRINGS if strings is None else strings
    carrier, currency = strings.index(value.carrier_code), strings.index(value.currency)
    rates = [_pack_rate(rate, strings) for rate in value.rates]
    if (carrier is None or currency is None or None in rates or len(rates) > 0xFFFF
            or value.quoted_at.tzinfo is None):
        return _JSON + codec.dumps(value).encode()
    micros = (value.quoted_at - _EPOCH) // timedelta(microseconds=1)  # exact, unlike a float
    header = _HEADER.pack(_PACKED, micros, carrier, currency, len(rates))
    return header + b"".join(rates)


def pack_portable(value: CarrierRates) -> bytes:
    """The answer as bytes that any process can unpack: its strings travel with it."""
    own = _Strings(limit=0xFFFF - 1)  # below NONE
    body = pack(value, own)
    if body[:1] == _JSON:
        return body
    texts = [text.encode() for text in own._values]
    if any(len(t) > 0xFFFF for t in texts):  # beyond a 2-byte length: exactness first
        return _JSON + codec.dumps(value).encode()
    return b"".join([_PORTABLE, _LENGTH.pack(len(texts)),
                     *(_LENGTH.pack(len(t)) + t for t in texts), body])


def _money(coefficient: int, exponent: int) -> Decimal:
    return Decimal(coefficient).scaleb(exponent)


def _portable_strings(data: bytes) -> tuple[list[str], int]:
    """The strings a portable packing carries, and where its packed body starts."""
    (count,), offset = _LENGTH.unpack_from(data, 1), 1 + _LENGTH.size
    texts = []
    for _ in range(count):
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        texts.append(data[offset:offset + length].decode())
        offset += length
    return texts, offset


def unpack(data: bytes) -> CarrierRates:
    if data[:1] == _JSON:
        return codec.loads(data[1:])
    value, offset = STRINGS.value, 0
    if data[:1] == _PORTABLE:
        texts, offset = _portable_strings(data)
        value = texts.__getitem__
    _, quoted_at, carrier, currency, count = _HEADER.unpack_from(data, offset)

    def text(index: int) -> str | None:
        return None if index == NONE else value(index)

    rates = []
    for n in range(count):
        c, code, name, s_coef, s_exp, o_coef, o_exp, days, date = _RATE.unpack_from(
            data, offset + _HEADER.size + n * _RATE.size)
        rates.append(Rate(carrier_code=text(c), service_code=text(code),
                          service_name=text(name),
                          shipment_cost=_money(s_coef, s_exp), other_cost=_money(o_coef, o_exp),
                          delivery_days=None if days == NO_DAYS else days,
                          estimated_delivery_date=text(date)))
    return CarrierRates(carrier_code=text(carrier), rates=tuple(rates),
                        quoted_at=_EPOCH + timedelta(microseconds=quoted_at),
                        currency=text(currency))
