"""What a quote is: each priced rate, the quote as a whole, and the failure of one.

The rating service (``service.py``) makes them; the API renders them (``render.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ratecalc.model import Rate, Shipment
from ratecalc.rating.pricing import Priced
from ratecalc.upstream.errors import http_status


class QuoteFailed(Exception):
    """No carrier produced a quote; ``code`` picks the HTTP answer."""

    def __init__(self, code: str, message: str, errors: list[dict],
                 retry_after: float | None = None):
        super().__init__(message)
        self.code = code
        self.status = http_status(code)
        self.message = message
        self.errors = errors
        self.retry_after = retry_after


@dataclass(frozen=True)
class PricedRate:
    rate: Rate
    freight_fee: Decimal
    pricing: Priced | None = None  # why the fee is what it is

    def sort_key(self):
        return (self.freight_fee, self.rate.carrier_cost, self.rate.service_code)


@dataclass
class Quote:
    shipment: Shipment
    markup_percent: Decimal
    currency: str
    quotes: list[PricedRate]
    errors: list[dict]
    cached: bool
    quoted_at: datetime
    carriers: list[str] = field(default_factory=list)
    stale: bool = False
    # The JSON body, once rendered: a quote given again from the cache is not re-rendered.
    rendered: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def selected(self) -> PricedRate:
        return self.quotes[0]
