"""Bearer tokens on /v1/*; the operations endpoints need none.

Authentication happens before any backend is involved, so these run on the
default (V1) backend only.
"""

from __future__ import annotations

import pytest

from tests.conftest import DC_REQUEST

TOKEN_A = "token-a-0123456789abcdef"
TOKEN_B = "token-b-fedcba9876543210"
TOKEN_C = "token-c-aaaaaaaaaaaaaaaa"
QUOTE = dict(DC_REQUEST, carriers=["fedex"])


@pytest.fixture
def rotating(make_api):
    return make_api(API_TOKENS=f"{TOKEN_A}, {TOKEN_B},{TOKEN_C}")


def assert_401(response, error: str | None = None):
    assert response.status_code == 401, response.text
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.split()[0] == "Bearer"
    if error:
        assert f'error="{error}"' in challenge
    body = response.json()["error"]
    assert body["code"] == "unauthorized"
    assert body["message"]


ENDPOINTS = [("POST", "/v1/rates"), ("GET", "/v1/carriers")]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_missing_token(make_api, shipstation, method, path):
    api = make_api()
    assert_401(api.request(method, path, auth=False, json=QUOTE))
    assert shipstation.calls() == []


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("header", [
    "Bearer wrong-token-0123456789",
    "Bearer test-token-0123456789abcde",     # a prefix of the real one
    "Bearer test-token-0123456789abcdefX",   # the real one plus a character
    "Bearer TEST-TOKEN-0123456789ABCDEF",    # tokens are case-sensitive
])
def test_wrong_token(make_api, shipstation, method, path, header):
    api = make_api()
    r = api.request(method, path, auth=False, json=QUOTE, headers={"Authorization": header})
    assert_401(r, error="invalid_token")
    assert shipstation.calls() == []


@pytest.mark.parametrize("header", [
    "Basic dGVzdC10b2tlbi0wMTIzNDU2Nzg5YWJjZGVmOg==",  # the token as a Basic user name
    "Token test-token-0123456789abcdef",
    "test-token-0123456789abcdef",
    "Bearer",
    "Bearer    ",
    "",
])
def test_other_scheme_or_malformed_header(make_api, header):
    api = make_api()
    r = api.post("/v1/rates", auth=False, json=QUOTE, headers={"Authorization": header})
    assert_401(r)


def test_token_is_accepted(make_api):
    r = make_api().post("/v1/rates", json=QUOTE)
    assert r.status_code == 200, r.text


def test_scheme_is_case_insensitive(make_api):
    api = make_api()
    r = api.post("/v1/rates", auth=False, json=QUOTE,
                 headers={"Authorization": f"bearer {api.token}"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("token", [TOKEN_A, TOKEN_B, TOKEN_C])
def test_each_token_of_a_rotation_works(rotating, token):
    headers = {"Authorization": f"Bearer {token}"}
    r = rotating.post("/v1/rates", auth=False, json=QUOTE, headers=headers)
    assert r.status_code == 200, r.text
    assert rotating.get("/v1/carriers", auth=False, headers=headers).status_code == 200


def test_a_retired_token_is_refused(rotating):
    r = rotating.post("/v1/rates", auth=False, json=QUOTE,
                      headers={"Authorization": "Bearer test-token-0123456789abcdef"})
    assert_401(r, error="invalid_token")


def test_tokens_from_a_file(make_api, tmp_path):
    path = tmp_path / "tokens"
    path.write_text(f"{TOKEN_A},{TOKEN_B}\n")
    api = make_api(API_TOKENS="", API_TOKENS_FILE=str(path))
    r = api.post("/v1/rates", auth=False, json=QUOTE,
                 headers={"Authorization": f"Bearer {TOKEN_B}"})
    assert r.status_code == 200, r.text


def test_401_does_not_echo_the_token(make_api):
    api = make_api()
    r = api.post("/v1/rates", auth=False, json=QUOTE,
                 headers={"Authorization": "Bearer secret-guess-0123456789"})
    assert "secret-guess" not in r.text
    assert "secret-guess" not in str(r.headers)


def test_responses_are_not_cacheable(make_api):
    api = make_api()
    assert api.post("/v1/rates", json=QUOTE).headers["Cache-Control"] == "no-store"
    assert api.post("/v1/rates", auth=False, json=QUOTE).headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json"])
def test_operations_endpoints_need_no_token(make_api, path):
    r = make_api().get(path, auth=False)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json"])
def test_operations_endpoints_ignore_a_wrong_token(make_api, path):
    r = make_api().get(path, auth=False, headers={"Authorization": "Bearer nope-nope-nope-nope"})
    assert r.status_code == 200, r.text


def test_healthz_and_readyz_bodies(make_api):
    api = make_api()
    assert api.get("/healthz", auth=False).json() == {"status": "ok"}
    assert api.get("/readyz", auth=False).json()["status"] == "ok"


def test_readyz_is_503_naming_the_missing_setting(make_api):
    api = make_api(API_TOKENS="")
    r = api.get("/readyz", auth=False)
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable"
    assert any("RATECALC_API_TOKENS" in reason for reason in body["reasons"])
    assert api.get("/healthz", auth=False).status_code == 200


def test_no_tokens_configured_refuses_everyone(make_api):
    api = make_api(API_TOKENS="")
    assert_401(api.post("/v1/rates", json=QUOTE), error="invalid_token")


def test_metrics_token_when_configured(make_api):
    api = make_api(METRICS_TOKEN="metrics-token-0123456789")
    assert_401(api.get("/metrics", auth=False))
    r = api.get("/metrics", auth=False,
                headers={"Authorization": "Bearer metrics-token-0123456789"})
    assert r.status_code == 200


def test_unknown_path_is_a_json_404(make_api):
    r = make_api().get("/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
