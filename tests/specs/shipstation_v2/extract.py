"""Regenerate ``estimate_and_carriers.json`` from the published V2 OpenAPI document.

    python tests/specs/shipstation_v2/extract.py PATH/TO/shipstation-v2-openapi.yaml

Keeps the component schemas that ``POST /v2/rates/estimate`` and ``GET /v2/carriers``
use (the transitive closure of their ``$ref``s), rewritten from
``#/components/schemas/x`` to ``#/$defs/x``, verbatim except for the PATCHES below:
each mends a place where the literal text cannot be satisfied by any document (an
OpenAPI 3.0 habit that 3.1's JSON Schema reads differently), and says why.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOTS = ("estimate_rates_request_body", "estimate_rates_response_body",
         "list_carriers_response_body", "error_response_body")
SOURCE = ("ShipStation API v2 OpenAPI 3.1 (MIT), as kept in nukleas/n8n-nodes-shipstation "
          "openapi.yaml; copy: shared/reference/specs/shipstation-v2-openapi.yaml")
PATCHES = [
    "estimate_rates_request_body: additionalProperties:false beside allOf/oneOf forbids every "
    "property under JSON Schema 2020-12 (its properties live in allOf); read as "
    "unevaluatedProperties:false, which is what it means",
    "weigth.value: exclusiveMinimum 2 is OpenAPI 3.0's boolean exclusiveMinimum:true "
    "mis-converted; read as exclusiveMinimum 0 (a weight above zero)",
    "service.carrier_code: $ref se_id (a carrier *id* pattern) is a copy slip; read as "
    "carrier_code, the schema its name and description give",
    "estimate_rates_request_body.oneOf: neither branch requires its property, so a body "
    "with carrier_ids matches both and oneOf fails; each branch requires its own "
    "(carrier_id or carrier_ids), as the branch titles say",
    "get_carriers_response_body: allOf of list_carriers_response_body and "
    "error_response_body, both additionalProperties:false, admits no document; each "
    "part is taken without it and the whole with unevaluatedProperties:false",
]


def _refs(node, found: set, schemas: dict) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = value.rsplit("/", 1)[-1]
                if name not in found:
                    found.add(name)
                    _refs(schemas[name], found, schemas)
            else:
                _refs(value, found, schemas)
    elif isinstance(node, list):
        for item in node:
            _refs(item, found, schemas)


def extract(openapi: dict) -> dict:
    schemas = openapi["components"]["schemas"]
    keep = set(ROOTS)
    for root in ROOTS:
        _refs(schemas[root], keep, schemas)
    text = json.dumps({name: schemas[name] for name in sorted(keep)})
    defs = json.loads(text.replace('"#/components/schemas/', '"#/$defs/'))
    body = defs["estimate_rates_request_body"]
    del body["additionalProperties"]
    body["unevaluatedProperties"] = False
    for branch, name in zip(body["oneOf"], ("carrier_id", "carrier_ids"), strict=True):
        branch["required"] = [name]
    defs["weigth"]["properties"]["value"]["exclusiveMinimum"] = 0
    defs["service"]["properties"]["carrier_code"] = {"allOf": [{"$ref": "#/$defs/carrier_code"}]}
    parts = []
    for name in ("list_carriers_response_body", "error_response_body"):
        part = dict(defs[name])
        part.pop("additionalProperties", None)
        parts.append(part)
    defs["get_carriers_response_body"] = {"allOf": parts, "unevaluatedProperties": False}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$comment": f"Source: {SOURCE}. Patches: " + " | ".join(PATCHES), "$defs": defs}


if __name__ == "__main__":
    document = yaml.safe_load(Path(sys.argv[1]).read_text(encoding="utf-8"))
    out = Path(__file__).with_name("estimate_and_carriers.json")
    out.write_text(json.dumps(extract(document), indent=1, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    print(out)
