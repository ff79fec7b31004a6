"""Cin7 Omni records: the one place that knows Cin7's field names.

Reads go through thin read-only views over the API's dicts (:class:`SalesOrder`,
:class:`LineItem`, :class:`SizeEntry`, :class:`Product`, :class:`ProductOption`).
Their properties have Python names and return each value as Cin7 sent it, None
when missing; coercion stays with the caller, so a view is exactly as tolerant
as the dict it wraps. Keys match case-insensitively (an exact match is tried
first), so a record spelled in PascalCase reads like the camelCase the API
documents.

Writes (:func:`sales_order_update`, :func:`freight_update`), ``where`` clauses,
the per-record results of a PUT and the ``#`` spellings of a reference take
their field names from here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from ratecalc.upstream.cin7.dates import parse_cin7_datetime
from ratecalc.upstream.errors import UpstreamError

MAX_RECORDS = 250  # Cin7's limit: rows per page, records per PUT
MAX_TRACKING_CODE = 50  # trackingCode
MAX_FREIGHT_DESCRIPTION = 250  # freightDescription
ORDER_BY_ID = "id ASC"
ORDER_BY_MODIFIED = "modifiedDate ASC"
_BIN_KEYS = ("binLocation", "bin", "location")  # Cin7 documents no bin; use one if present

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def flag(value) -> bool:
    """A Cin7 boolean, also when it arrives as text ("true", "1", "yes")."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _word(value) -> str:
    return "" if value is None else " ".join(str(value).split()).upper()


class _Key:
    """A read-only property: one Cin7 field, as sent (None when missing)."""

    __slots__ = ("key",)

    def __init__(self, key: str):
        self.key = key

    def __get__(self, record: Record | None, owner=None) -> Any:
        return self if record is None else record.get(self.key)


class Record:
    """A read-only view of one Cin7 record; anything but a mapping reads as empty."""

    __slots__ = ("raw", "_folded")

    def __init__(self, raw: Mapping | None = None):
        self.raw: Mapping = raw if isinstance(raw, Mapping) else {}
        self._folded: dict[str, Any] | None = None

    @classmethod
    def of(cls, value):
        return value if isinstance(value, cls) else cls(value)

    def _fold(self) -> dict[str, Any]:
        if self._folded is None:  # built once, on the first key not spelled exactly
            folded: dict[str, Any] = {}
            for name in self.raw:
                folded.setdefault(str(name).casefold(), name)
            self._folded = folded
        return self._folded

    def get(self, key: str, default=None):
        if key in self.raw:
            return self.raw[key]
        name = self._fold().get(key.casefold(), _MISSING)
        return default if name is _MISSING else self.raw[name]

    def has(self, key: str) -> bool:
        return key in self.raw or key.casefold() in self._fold()

    def __bool__(self) -> bool:  # empty like the dict it wraps
        return bool(self.raw)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.raw!r})"


_MISSING = object()


class SalesOrder(Record):
    __slots__ = ()
    id = _Key("id")
    reference = _Key("reference")
    stage = _Key("stage")
    status = _Key("status")
    source = _Key("source")
    branch_id = _Key("branchId")
    created_date = _Key("createdDate")
    modified_date = _Key("modifiedDate")
    estimated_delivery_date = _Key("estimatedDeliveryDate")
    dispatched_date = _Key("dispatchedDate")
    member_id = _Key("memberId")
    member_email = _Key("memberEmail")
    email = _Key("email")
    phone = _Key("phone")
    mobile = _Key("mobile")
    first_name = _Key("firstName")
    last_name = _Key("lastName")
    company = _Key("company")
    delivery_first_name = _Key("deliveryFirstName")
    delivery_last_name = _Key("deliveryLastName")
    delivery_company = _Key("deliveryCompany")
    delivery_address1 = _Key("deliveryAddress1")
    delivery_address2 = _Key("deliveryAddress2")
    delivery_city = _Key("deliveryCity")
    delivery_state = _Key("deliveryState")
    delivery_postal_code = _Key("deliveryPostalCode")
    delivery_country = _Key("deliveryCountry")
    delivery_instructions = _Key("deliveryInstructions")
    billing_first_name = _Key("billingFirstName")
    billing_last_name = _Key("billingLastName")
    billing_company = _Key("billingCompany")
    billing_address1 = _Key("billingAddress1")
    billing_address2 = _Key("billingAddress2")
    billing_city = _Key("billingCity")
    billing_state = _Key("billingState")
    billing_postal_code = _Key("billingPostalCode")
    billing_country = _Key("billingCountry")
    currency_code = _Key("currencyCode")
    payment_terms = _Key("paymentTerms")
    total = _Key("total")
    product_total = _Key("productTotal")
    tax_total = _Key("taxTotal")
    tax_status = _Key("taxStatus")
    tax_rate = _Key("taxRate")
    surcharge = _Key("surcharge")
    discount_total = _Key("discountTotal")
    discount_description = _Key("discountDescription")
    freight_total = _Key("freightTotal")
    freight_description = _Key("freightDescription")
    logistics_carrier = _Key("logisticsCarrier")
    internal_comments = _Key("internalComments")

    @property
    def line_items(self) -> tuple[LineItem, ...]:
        """The lines that are records (anything else in ``lineItems`` is skipped)."""
        return tuple(LineItem(line) for line in self.get("lineItems") or ()
                     if isinstance(line, Mapping))

    @property
    def created_at(self) -> datetime | None:
        return parse_cin7_datetime(self.created_date)

    @property
    def modified_at(self) -> datetime | None:
        return parse_cin7_datetime(self.modified_date)

    @property
    def estimated_delivery_at(self) -> datetime | None:
        return parse_cin7_datetime(self.estimated_delivery_date)

    @property
    def is_void(self) -> bool:
        """Voided: ``isVoid`` set, or ``status`` VOID (any case and spacing)."""
        return flag(self.get("isVoid")) or _word(self.status) == "VOID"

    @property
    def is_draft(self) -> bool:
        """``status`` DRAFT, or ``isApproved`` false (a missing flag is approved)."""
        approved = self.get("isApproved")
        return _word(self.status) == "DRAFT" or (approved is not None and not flag(approved))

    def field(self, name: str):
        """A field named by the merchant: the order's own, else one of its ``customFields``."""
        if name in self.raw:
            return self.raw[name]
        custom = self.get("customFields")
        if isinstance(custom, Mapping):
            found = Record(custom).get(name, _MISSING)
            if found is not _MISSING:
                return found
        return self.get(name)


class SizeEntry(Record):
    """One size of a size-range line."""

    __slots__ = ()
    qty = _Key("qty")
    name = _Key("name")
    code = _Key("code")
    barcode = _Key("barcode")


class LineItem(Record):
    __slots__ = ()
    id = _Key("id")
    product_id = _Key("productId")
    product_option_id = _Key("productOptionId")
    code = _Key("code")
    name = _Key("name")
    barcode = _Key("barcode")
    qty = _Key("qty")
    qty_shipped = _Key("qtyShipped")
    unit_price = _Key("unitPrice")
    discount = _Key("discount")  # the whole line's discount, an amount

    def option(self, number: int):
        """``option1`` .. ``option3``: the line's colour, size..."""
        return self.get(f"option{number}")

    @property
    def sizes(self) -> list[SizeEntry]:
        """The size breakdown: ``sizes[]``, else the packed ``sizeCodes`` string."""
        sizes = [SizeEntry(s) for s in self.get("sizes") or () if isinstance(s, Mapping)]
        packed = self.get("sizeCodes")
        if not sizes and isinstance(packed, str):
            # Documented as a packed "Qty|Size|Code|Barcode" string; entries assumed
            # to be separated by newlines or semicolons (UNCONFIRMED).
            for entry in packed.replace("\r", "\n").replace(";", "\n").split("\n"):
                fields = [f.strip() for f in entry.split("|")]
                if len(fields) >= 3:
                    fields += [""] * (4 - len(fields))
                    sizes.append(SizeEntry({"qty": fields[0], "name": fields[1],
                                            "code": fields[2], "barcode": fields[3]}))
        return sizes


def image_link(value):
    """An image as Cin7 sends it (``{"link": ...}``) or a bare URL -> the URL."""
    return Record(value).get("link") if isinstance(value, Mapping) else value


class ProductOption(Record):
    __slots__ = ()
    id = _Key("id")
    code = _Key("code")
    option_code = _Key("productOptionCode")
    size_code = _Key("productOptionSizeCode")
    option_barcode = _Key("productOptionBarcode")
    size_barcode = _Key("productOptionSizeBarcode")
    weight = _Key("optionWeight")

    @property
    def codes(self) -> tuple:
        """The codes a line may name this option by, in order of preference."""
        return self.option_code, self.code, self.size_code

    @property
    def image(self):
        return image_link(self.get("image"))

    @property
    def bin_locations(self) -> tuple:
        return tuple(self.get(key) for key in _BIN_KEYS)


class Product(Record):
    __slots__ = ()
    id = _Key("id")
    weight = _Key("weight")

    def option_label(self, number: int):
        """``optionLabel1`` .. ``optionLabel3``: what a line's ``option<n>`` means."""
        return self.get(f"optionLabel{number}")

    @property
    def options(self) -> tuple[ProductOption, ...]:
        return tuple(ProductOption(o) for o in self.get("productOptions") or ()
                     if isinstance(o, Mapping))

    @property
    def images(self) -> tuple:
        return tuple(image_link(image) for image in self.get("images") or ())

    @property
    def bin_locations(self) -> tuple:
        return tuple(self.get(key) for key in _BIN_KEYS)


# ---------------------------------------------------------------- references and queries


def reference_spellings(reference: str) -> tuple[str, str]:
    """(with a leading ``#``, without): Shopify-sourced references start with '#', and
    ShipStation may drop it, or keep it."""
    bare = reference.lstrip("#")
    return "#" + bare, bare


def quote(value: str) -> str:
    """A string literal for a ``where`` clause: single quotes, embedded ones doubled."""
    return "'" + str(value).replace("'", "''") + "'"


def date_literal(moment: datetime) -> str:
    return quote(moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def where_ids(ids: Iterable[int]) -> str:
    return "id IN (" + ",".join(str(int(i)) for i in ids) + ")"


def where_references(references: Iterable[str]) -> str:
    return "reference IN (" + ",".join(quote(r) for r in references) + ")"


def where_modified(start: datetime, end: datetime) -> str:
    """Records modified in [start, end)."""
    return f"modifiedDate >= {date_literal(start)} AND modifiedDate < {date_literal(end)}"


def where_modified_since(start: datetime) -> str:
    """Records modified at or after ``start`` (until now)."""
    return f"modifiedDate >= {date_literal(start)}"


# ---------------------------------------------------------------- writes


def sales_order_update(order_id, *, tracking_code: str | None = None,
                       logistics_carrier: str | None = None,
                       internal_comments: str | None = None,
                       dispatched_date: str | None = None, stage: str | None = None) -> dict:
    """A sales-order PUT record: the id and every field given (None leaves a field as is)."""
    fields = {
        "trackingCode": tracking_code[:MAX_TRACKING_CODE] if tracking_code else None,
        "logisticsCarrier": logistics_carrier, "internalComments": internal_comments,
        "dispatchedDate": dispatched_date, "stage": stage,
    }
    return {"id": order_id, **{k: v for k, v in fields.items() if v is not None}}


def freight_fields(fee: Decimal, description: str) -> dict:
    """The freight fields written to an order, as reported back (the fee as given)."""
    return {"freightTotal": fee, "freightDescription": description[:MAX_FREIGHT_DESCRIPTION]}


def freight_update(order_id, fee: Decimal, description: str) -> dict:
    """The PUT record writing a freight fee and its description onto an order."""
    # Cin7 takes JSON numbers; the fee is already rounded to cents, which a float
    # represents and prints exactly.
    return {"id": order_id, **freight_fields(fee, description), "freightTotal": float(fee)}


@dataclass(frozen=True)
class PutResult:
    index: int
    success: bool
    id: int | None
    code: str | None
    errors: tuple[str, ...]


def put_results(body, batch: Sequence[Mapping], offset: int) -> list[PutResult]:
    """Each record's own result from a PUT's per-record envelope, in the batch's order."""
    if not isinstance(body, list):
        raise UpstreamError("upstream_error", "Cin7 answered the PUT without per-record results")
    by_index: dict[int, PutResult] = {}
    for n, item in enumerate(body):
        item = Record(item)
        index = item.get("index", n)
        errors = item.get("errors") or []
        by_index[int(index)] = PutResult(
            index=offset + int(index), success=bool(item.get("success")),
            id=item.get("id"), code=item.get("code"),
            errors=tuple(str(e) for e in (errors if isinstance(errors, list) else [errors])),
        )
    # A record Cin7 did not answer for is not known to be written.
    return [by_index.get(i) or PutResult(offset + i, False, Record(batch[i]).get("id"), None,
                                         ("Cin7 returned no result for this record",))
            for i in range(len(batch))]
