"""schemathesis against the live /openapi.json of a running ratecalc.

Every documented operation, with generated valid and invalid inputs: never a
5xx, every response conforming to the schema, and the bearer token enforced.
``make test`` runs a bounded number of examples; ``make fuzz`` many more
(``RATECALC_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import TOKEN

EXAMPLE_PRICING = Path(__file__).resolve().parents[1] / "deploy" / "pricing.example.toml"

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES = int(os.environ.get("RATECALC_FUZZ_EXAMPLES", "30"))


def operations(api):
    schema = schemathesis.openapi.from_url(api.url + "/openapi.json")
    found = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in found} == {
        "POST /v1/rates", "GET /v1/carriers", "GET /v1/pricing"}
    return found


@pytest.fixture
def live_api(make_api, shipstation):
    # Budgets the fuzzer cannot exhaust (ours and the simulator's): a 503 for an
    # exhausted budget is documented, and would hide a real 5xx.
    shipstation.set_rate_limit(1_000_000, 60.0, 1_000_000)
    # With the example pricing rules, so the `pricing` blocks of real rules are checked too.
    return make_api(SHIPSTATION_REQUESTS_PER_MINUTE="1000000", CACHE_MAX_ENTRIES="100000",
                    PRICING_FILE=str(EXAMPLE_PRICING))


def test_api_conforms_to_its_schema(live_api):
    for operation in operations(live_api):
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            # Not the positive/negative "acceptance" checks: ratecalc is deliberately more
            # lenient than its schema (country codes in any case, numbers as strings)
            # and has rules a schema cannot say (UPS needs a state).
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                                   checks=CHECKS)

        check()


def test_every_operation_needs_the_token(live_api):
    for operation in operations(live_api):
        @given(case=operation.as_strategy())
        @settings(max_examples=5, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call(headers={"Authorization": "Bearer wrong-token-0000000000"})
            assert response.status_code == 401
            headers = {k.lower(): v for k, v in response.headers.items()}
            assert "bearer" in str(headers["www-authenticate"]).lower()
            assert response.json()["error"]["code"] == "unauthorized"

        check()


def test_schema_is_served_without_a_token(make_api):
    api = make_api()
    assert requests.get(api.url + "/openapi.json", timeout=10).json()["openapi"].startswith("3.")
