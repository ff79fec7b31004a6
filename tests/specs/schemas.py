"""The spec excerpts under tests/specs/ as jsonschema validators (sources: README.md)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

HERE = Path(__file__).parent


@cache
def _v2_document() -> dict:
    return json.loads((HERE / "shipstation_v2" / "estimate_and_carriers.json").read_text())


@cache
def v1(name: str) -> Draft202012Validator:
    """A V1 excerpt by file stem, e.g. ``v1("getrates_body_doc_table")``."""
    schema = json.loads((HERE / "shipstation_v1" / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


@cache
def v2(name: str) -> Draft202012Validator:
    """A V2 component by name, e.g. ``v2("estimate_rates_request_body")``."""
    document = _v2_document()
    schema = {"$schema": document["$schema"], "$defs": document["$defs"],
              "$ref": f"#/$defs/{name}"}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def problems(validator: Draft202012Validator, instance) -> list[str]:
    """Every way ``instance`` breaks the schema, as "path: message" lines."""
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(instance)]


# Which excerpt each rate request of ratecalc's is held to (tests/conftest.py checks
# every one the ShipStation simulator records, in every test of the suite).
_REQUEST_SCHEMAS = {("POST", "/shipments/getrates"): lambda: v1("getrates_body_doc_table"),
                    ("POST", "/v2/rates/estimate"): lambda: v2("estimate_rates_request_body")}


def sent_by_ratecalc_problems(recorded: list[dict]) -> list[tuple[str, dict, list[str]]]:
    """(path, body, problems) of each rate request ratecalc sent that breaks its schema."""
    found = []
    for call in recorded:
        schema = _REQUEST_SCHEMAS.get((call["method"], call["path"]))
        if schema is None or not str(call.get("agent", "")).startswith("ratecalc/"):
            continue
        wrong = problems(schema(), call["json"])
        if wrong:
            found.append((call["path"], call["json"], wrong))
    return found
