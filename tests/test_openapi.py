"""/openapi.json: an OpenAPI 3 document generated from the marshmallow schemas."""

from __future__ import annotations

import pytest

from ratecalc.rating import schemas


@pytest.fixture
def doc(make_api) -> dict:
    r = make_api().get("/openapi.json", auth=False)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


def resolve(doc: dict, node: dict) -> dict:
    while "$ref" in node:
        *_, name = node["$ref"].split("/")
        node = doc["components"]["schemas"][name]
    return node


def test_is_openapi_3(doc):
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] and doc["info"]["version"]


def test_has_the_v1_paths(doc):
    assert "post" in doc["paths"]["/v1/rates"]
    assert "get" in doc["paths"]["/v1/carriers"]
    for path in ("/v1/rates", "/v1/carriers"):
        for operation in doc["paths"][path].values():
            assert operation["security"] == [{"bearer": []}]
    scheme = doc["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


def test_request_schema_requires_ship_to_and_package(doc):
    body = doc["paths"]["/v1/rates"]["post"]["requestBody"]
    assert body["required"] is True
    request = resolve(doc, body["content"]["application/json"]["schema"])
    assert set(request["required"]) == {"ship_to", "package"}
    ship_to = resolve(doc, request["properties"]["ship_to"])
    assert set(ship_to["required"]) == {"country", "postal_code"}
    package = resolve(doc, request["properties"]["package"])
    assert package["required"] == ["weight"]
    weight = resolve(doc, package["properties"]["weight"])
    assert set(weight["required"]) == {"value", "units"}
    assert set(weight["properties"]["units"]["enum"]) == {"pounds", "ounces", "grams",
                                                           "kilograms"}


def test_request_schema_is_derived_from_the_marshmallow_schemas(doc):
    pairs = {"RatesRequest": schemas.RatesRequestSchema, "ShipTo": schemas.ShipToSchema,
             "ShipFrom": schemas.ShipFromSchema, "Package": schemas.PackageSchema,
             "Weight": schemas.WeightSchema, "Dimensions": schemas.DimensionsSchema}
    for name, schema in pairs.items():
        component = doc["components"]["schemas"][name]
        assert set(component["properties"]) == set(schema().fields), name
        required = {n for n, f in schema().fields.items() if f.required}
        assert set(component.get("required", [])) == required, name
        assert component.get("additionalProperties") is False, name  # unknown fields: 400
    confirmation = doc["components"]["schemas"]["RatesRequest"]["properties"]["confirmation"]
    assert confirmation["enum"] == list(schemas.CONFIRMATIONS)


def test_responses_are_documented(doc):
    responses = doc["paths"]["/v1/rates"]["post"]["responses"]
    assert {"200", "400", "401", "413", "415", "422", "502", "503", "504"} <= set(responses)
    ok = resolve(doc, responses["200"]["content"]["application/json"]["schema"])
    assert set(ok["properties"]) == set(schemas.RatesResponseSchema().fields)
    assert "X-Cache" in responses["200"]["headers"]
    error = resolve(doc, responses["502"]["content"]["application/json"]["schema"])
    assert "error" in error["properties"]
    carriers = doc["paths"]["/v1/carriers"]["get"]["responses"]["200"]
    schema = resolve(doc, carriers["content"]["application/json"]["schema"])
    assert "carriers" in schema["properties"]


def test_every_ref_resolves(doc):
    refs = []

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"], ref
