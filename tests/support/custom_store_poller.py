"""The ShipStation side of the Custom Store protocol, for tests and demos.

It calls a store's export like ShipStation does — URL-encoded UTC dates
(``01%2f23%2f2012+17%3a28``), Basic auth and/or ``SS-UserName``/``SS-Password``,
page after page until ``page == pages`` — checks every document against the
protocol's rules, and posts ship notices. It imports nothing of ratecalc, so it
judges ratecalc from the outside.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 (parses our own test server's answers)
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote_plus

import requests

DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}(:\d{2})?( ?[AaPp][Mm])?$")
DECIMAL = re.compile(r"^-?\d{1,7}(\.\d{1,2})?$")  # up to two places (the guide's "8")
# (path, max length, required) per the field table (the stricter of table and XSD).
TEXT_FIELDS = [
    ("OrderID", 50, False), ("OrderNumber", 50, True), ("OrderStatus", 50, True),
    ("ShippingMethod", 100, False), ("PaymentMethod", 50, False), ("CurrencyCode", 3, False),
    ("CustomerNotes", 1000, False), ("InternalNotes", 1000, False),
    ("GiftMessage", 1000, False), ("CustomField1", 100, False), ("CustomField2", 100, False),
    ("CustomField3", 100, False), ("Customer/CustomerCode", 50, True),
    ("Customer/BillTo/Name", 100, True), ("Customer/BillTo/Company", 100, False),
    ("Customer/BillTo/Phone", 50, False), ("Customer/BillTo/Email", 100, False),
    ("Customer/ShipTo/Name", 100, True), ("Customer/ShipTo/Company", 100, False),
    ("Customer/ShipTo/Address1", 200, True), ("Customer/ShipTo/Address2", 200, False),
    ("Customer/ShipTo/City", 100, True), ("Customer/ShipTo/State", 100, False),
    ("Customer/ShipTo/PostalCode", 50, True), ("Customer/ShipTo/Country", 2, True),
    ("Customer/ShipTo/Phone", 50, False),
]
ITEM_FIELDS = [("LineItemID", 50, False), ("SKU", 50, True), ("Name", 200, True),
               ("ImageUrl", 500, False), ("Location", 100, False), ("UPC", 12, False)]


@dataclass
class PollResult:
    pages: int = 0
    documents: list[bytes] = field(default_factory=list)
    orders: list[dict] = field(default_factory=list)  # flattened, see _order()
    problems: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


def _negative(value: str | None) -> bool:
    try:
        return float(value or "") < 0
    except ValueError:
        return False


def encode_date(moment: datetime) -> str:
    """``MM/dd/yyyy HH:mm`` in UTC, encoded the way ShipStation does (``%2f``, ``+``).

    (requests re-cases percent escapes to ``%2F`` on the wire; a server must
    decode both, and tests that need the exact bytes use http.client.)"""
    return quote_plus(moment.strftime("%m/%d/%Y %H:%M")).replace("%2F", "%2f").replace(
        "%3A", "%3a")


class CustomStorePoller:
    def __init__(self, url: str, username: str, password: str, *,
                 status_fields: dict[str, str] | None = None, auth: str = "both",
                 schema_check=None, timeout: float = 60.0):
        """``status_fields``: ShipStation status -> what the merchant typed (comma list);
        ``auth``: "basic", "query", "headers" or "both" (Basic + query, as ShipStation);
        ``schema_check``: optional callable(bytes) -> list of XSD errors."""
        self.url = url
        self.username = username
        self.password = password
        self.auth = auth
        self.schema_check = schema_check
        self.timeout = timeout
        self.session = requests.Session()
        self.status_of: dict[str, str] = {}
        for status, typed in (status_fields or {}).items():
            for value in typed.split(","):
                if value.strip():
                    self.status_of[value.strip()] = status  # case-sensitive, like ShipStation

    def _request(self, method: str, query: str, **kwargs) -> requests.Response:
        url = f"{self.url}?{query}"
        if self.auth in ("query", "both"):
            url += (f"&SS-UserName={quote_plus(self.username)}"
                    f"&SS-Password={quote_plus(self.password)}")
        if self.auth in ("basic", "both"):
            kwargs["auth"] = (self.username, self.password)
        if self.auth == "headers":
            kwargs["headers"] = {**kwargs.get("headers", {}), "SS-UserName": self.username,
                                 "SS-Password": self.password}
        return self.session.request(method, url, timeout=self.timeout, **kwargs)

    # -- export ----------------------------------------------------------------
    def export_page(self, start: datetime, end: datetime, page: int) -> requests.Response:
        return self._request("GET", f"action=export&start_date={encode_date(start)}"
                                    f"&end_date={encode_date(end)}&page={page}")

    def export(self, start: datetime, end: datetime, max_pages: int = 1000) -> PollResult:
        result = PollResult()
        page = 1
        while page <= max_pages:
            response = self.export_page(start, end, page)
            result.statuses.append(response.status_code)
            if response.status_code != 200:
                result.problems.append(f"page {page}: HTTP {response.status_code}: "
                                       f"{response.text[:200]}")
                return result
            result.documents.append(response.content)
            pages = self.check_document(response.content, result, page)
            result.pages = pages
            if page >= pages:
                return result
            page += 1
        result.problems.append(f"more than {max_pages} pages")
        return result

    def check_document(self, document: bytes, result: PollResult, page: int) -> int:
        where = f"page {page}"
        try:
            root = ET.fromstring(document)  # noqa: S314 (our own server, in tests)
        except ET.ParseError as exc:
            result.problems.append(f"{where}: not well-formed XML: {exc}")
            return 0
        if self.schema_check is not None:
            result.problems.extend(f"{where}: XSD: {e}" for e in self.schema_check(document))
        if root.tag != "Orders":
            result.problems.append(f"{where}: root is {root.tag}, not Orders")
            return 0
        try:
            pages = int(root.get("pages", ""))
        except ValueError:
            result.problems.append(f"{where}: Orders has no numeric pages attribute")
            return 0
        for order in root.findall("Order"):
            result.orders.append(self._order(order, result.problems, where))
        return pages

    def _order(self, order, problems: list[str], where: str) -> dict:
        number = order.findtext("OrderNumber")
        here = f"{where} order {number}"

        def text(path, limit, required, base=order, label=None):
            node = base.find(path)
            value = node.text if node is not None else None
            if required and (node is None or not (value or "").strip()):
                problems.append(f"{here}: {label or path} is required")
            if value is not None and len(value) > limit:
                problems.append(f"{here}: {label or path} longer than {limit}")
            return value

        flat = {path: text(path, limit, req) for path, limit, req in TEXT_FIELDS}
        for name in ("OrderDate", "LastModified"):
            value = order.findtext(name) or ""
            if not DATE.match(value):
                problems.append(f"{here}: {name} {value!r} is not MM/dd/yyyy HH:mm")
            flat[name] = value
        for name, required in (("OrderTotal", True), ("TaxAmount", False),
                               ("ShippingAmount", False)):
            value = order.findtext(name)
            if value is None:
                if required:
                    problems.append(f"{here}: {name} is required")
            elif not DECIMAL.match(value):
                problems.append(f"{here}: {name} {value!r} is not a 2-decimal number")
            flat[name] = value
        flat["Gift"] = order.findtext("Gift")
        country = flat.get("Customer/ShipTo/Country") or ""
        if not re.fullmatch(r"[A-Z]{2}", country):
            problems.append(f"{here}: ShipTo/Country {country!r} is not ISO alpha-2")
        status = flat.get("OrderStatus")
        if self.status_of and status not in self.status_of:
            problems.append(f"{here}: OrderStatus {status!r} is not mapped in ShipStation")
        flat["shipstation_status"] = self.status_of.get(status)
        items = []
        for item in order.findall("Items/Item"):
            adjustment = item.findtext("Adjustment") == "true"
            entry = {name: text(name, limit, req and not (adjustment and name == "SKU"), item,
                                f"Item/{name}")
                     for name, limit, req in ITEM_FIELDS}  # an adjustment may have no SKU
            if item.find("UnitPrice") is None:
                problems.append(f"{here}: Item/UnitPrice is required")
            for name in ("UnitPrice", "Weight"):
                value = item.findtext(name)
                if value is not None and not DECIMAL.match(value):
                    problems.append(f"{here}: Item/{name} {value!r} is not a 2-decimal number")
                entry[name] = value
            quantity = item.findtext("Quantity") or ""
            if not quantity.isdigit() or not 1 <= int(quantity) <= 99999:
                problems.append(f"{here}: Item/Quantity {quantity!r} is not 1..99999")
            entry["Quantity"] = quantity
            entry["WeightUnits"] = item.findtext("WeightUnits")
            entry["Adjustment"] = item.findtext("Adjustment")
            if entry["Adjustment"] == "true" and not _negative(entry["UnitPrice"]):
                problems.append(f"{here}: an Adjustment needs a negative UnitPrice")
            entry["Options"] = [(o.findtext("Name"), o.findtext("Value"))
                                for o in item.findall("Options/Option")]
            items.append(entry)
        if order.find("Items") is None:
            problems.append(f"{here}: Items is required")
        flat["items"] = items
        return flat

    # -- shipnotify --------------------------------------------------------------
    def ship_notify(self, *, order_number: str, order_id: str | None, carrier: str,
                    tracking_number: str, service: str = "", ship_date: datetime | None = None,
                    shipping_cost: str | None = None, items: list[dict] | None = None,
                    notes_to_customer: str | None = None, body: bytes | None = None
                    ) -> requests.Response:
        if body is None:
            body = self.notice_xml(order_number=order_number, order_id=order_id,
                                   carrier=carrier, service=service,
                                   tracking_number=tracking_number, ship_date=ship_date,
                                   shipping_cost=shipping_cost, items=items,
                                   notes_to_customer=notes_to_customer)
        query = (f"action=shipnotify&order_number={quote_plus(order_number)}"
                 f"&carrier={quote_plus(carrier)}&service={quote_plus(service)}"
                 f"&tracking_number={quote_plus(tracking_number)}")
        return self._request("POST", query, data=body,
                             headers={"Content-Type": "application/xml; charset=utf-8"})

    @staticmethod
    def notice_xml(*, order_number, order_id, carrier, service, tracking_number,
                   ship_date=None, shipping_cost=None, items=None,
                   notes_to_customer=None) -> bytes:
        root = ET.Element("ShipNotice")
        values = {"OrderNumber": order_number, "OrderID": order_id, "Carrier": carrier,
                  "Service": service, "TrackingNumber": tracking_number,
                  "ShipDate": ship_date.strftime("%m/%d/%Y") if ship_date else None,
                  "ShippingCost": shipping_cost, "NotesToCustomer": notes_to_customer}
        for name, value in values.items():
            if value is not None:
                ET.SubElement(root, name).text = str(value)
        if items is not None:
            items_el = ET.SubElement(root, "Items")
            for item in items:
                item_el = ET.SubElement(items_el, "Item")
                for name in ("SKU", "Name", "Quantity", "LineItemID"):
                    if item.get(name) is not None:
                        ET.SubElement(item_el, name).text = str(item[name])
        return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8")
