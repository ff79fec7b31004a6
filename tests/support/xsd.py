"""Validation of Custom Store export documents against ShipStation's XSD.

The shipped schema (``shipstation-custom-store.xsd``, the copy the
solidus_shipstation project validates against) predates two elements the
current Custom Store guide documents and shows in its example:
``Order/CurrencyCode`` (ISO 4217, 3 characters) and ``Item/UPC`` (0-12
characters). :func:`validate` therefore checks documents against a copy of the
schema, built in memory, with those two elements added as *optional*; the file
on disk stays exactly as published. Everything else is validated as is.
"""

from __future__ import annotations

import copy
import functools
import threading
from importlib import resources

from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"
_NS = {"xs": XS}
SCHEMA_FILE = "shipstation-custom-store.xsd"

_local = threading.local()


def _hardened_parser() -> etree.XMLParser:
    """No DTDs, no entity expansion, no network: safe for any input."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=True)


def _restricted(name: str, *, min_length: int | None, max_length: int) -> etree._Element:
    simple = etree.Element(f"{{{XS}}}simpleType", name=name)
    restriction = etree.SubElement(simple, f"{{{XS}}}restriction", base="xs:string")
    if min_length is not None:
        etree.SubElement(restriction, f"{{{XS}}}minLength", value=str(min_length))
    etree.SubElement(restriction, f"{{{XS}}}maxLength", value=str(max_length))
    return simple


def _optional(name: str, type_name: str) -> etree._Element:
    return etree.Element(f"{{{XS}}}element", name=name, type=type_name, minOccurs="0")


@functools.lru_cache(maxsize=1)
def original_schema_bytes() -> bytes:
    """The XSD exactly as shipped in the package."""
    return resources.files("tests.support").joinpath(SCHEMA_FILE).read_bytes()


@functools.lru_cache(maxsize=1)
def _extended_schema_doc() -> etree._ElementTree:
    # The schema is our own package data, parsed with the hardened parser all the same.
    root = etree.fromstring(original_schema_bytes(), _hardened_parser())
    order_all = root.find("xs:element[@name='Orders']/xs:complexType/xs:sequence/"
                          "xs:element[@name='Order']/xs:complexType/xs:all", _NS)
    item_all = order_all.find("xs:element[@name='Items']/xs:complexType/xs:sequence/"
                              "xs:element[@name='Item']/xs:complexType/xs:all", _NS)
    order_all.append(_optional("CurrencyCode", "StringExactly3"))
    item_all.append(_optional("UPC", "String12"))
    root.append(_restricted("StringExactly3", min_length=3, max_length=3))
    root.append(_restricted("String12", min_length=None, max_length=12))
    return etree.ElementTree(root)


def extended_schema_bytes() -> bytes:
    """The in-memory schema actually used by :func:`validate` (for inspection and tests)."""
    return etree.tostring(_extended_schema_doc(), xml_declaration=True, encoding="utf-8")


def _schema() -> etree.XMLSchema:
    # lxml schema objects are not documented as thread-safe; keep one per thread.
    schema = getattr(_local, "schema", None)
    if schema is None:
        schema = etree.XMLSchema(copy.deepcopy(_extended_schema_doc()))
        _local.schema = schema
    return schema


def validate(document: bytes) -> list[str]:
    """Schema errors in an export document (``line N: message``); empty when valid."""
    try:
        tree = etree.fromstring(document, _hardened_parser())  # hardened, see above
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed: {exc}"]
    schema = _schema()
    if schema.validate(tree):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]
