"""The /ui/ pages over real HTTP: on/off, login, cookies, headers, CSRF, limits, hygiene."""

from __future__ import annotations

import logging

import pytest
import requests

from ratecalc.secrets import Secret
from ratecalc.settings import ConfigError, Settings
from ratecalc.ui.session import SESSION_SECONDS, Sessions
from tests.ui.conftest import UI_KEY, csrf_of, logged_in

PAGES = ("/ui/quote", "/ui/orders", "/ui/orders/1001", "/ui/ops")


def test_without_a_secret_key_the_pages_are_404_and_startup_says_how(make_api, caplog):
    with caplog.at_level(logging.INFO, logger="ratecalc.ui"):
        api = make_api()
    assert api.get("/ui/login", auth=False).status_code == 404
    assert api.get("/ui/quote", auth=False).status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "ratecalc.ui"]
    assert len(lines) == 1 and "RATECALC_UI_SECRET_KEY" in lines[0]
    assert api.post("/v1/rates", json={}).status_code == 400  # the API is unchanged


def test_ui_off_disables_the_pages_even_with_a_key(ui_api):
    api = ui_api(UI="off")
    assert api.get("/ui/login", auth=False).status_code == 404


def test_every_ui_response_carries_the_security_headers(ui_api):
    api = ui_api(UI_FRAME_ANCESTORS="https://*.cin7.com")
    session = logged_in(api)
    for path in ("/ui/login", "/ui/nonexistent", "/ui/static/ui.css", *PAGES):
        response = session.get(api.url + path, timeout=30, allow_redirects=False)
        assert response.headers["Content-Security-Policy"] == \
            "default-src 'self'; frame-ancestors https://*.cin7.com", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Cache-Control"] == "no-store", path
    default = ui_api().get("/ui/login", auth=False)
    assert default.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")


def test_login_sets_an_httponly_lax_cookie_and_a_bad_token_is_refused(ui_api):
    api = ui_api()
    session = requests.Session()
    page = session.get(api.url + "/ui/login")
    bad = session.post(api.url + "/ui/login", data={"token": "wrong-token-0123456789",
                                                   "csrf_token": csrf_of(page.text)})
    assert bad.status_code == 401 and "not valid" in bad.text
    assert session.get(api.url + "/ui/quote", allow_redirects=False).status_code == 303
    good = session.post(api.url + "/ui/login", allow_redirects=False,
                        data={"token": api.token, "csrf_token": csrf_of(bad.text)})
    assert good.status_code == 303 and good.headers["Location"] == "/ui/quote"
    cookie = good.headers["Set-Cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/ui/" in cookie
    assert "secure" not in cookie  # plain HTTP, not forced
    assert f"max-age={SESSION_SECONDS}" in cookie
    assert session.get(api.url + "/ui/quote").status_code == 200


@pytest.mark.parametrize("env,headers", [
    ({"UI_SECURE_COOKIES": "on"}, {}),
    ({"TRUSTED_PROXIES": "1"}, {"X-Forwarded-Proto": "https"}),
])
def test_the_cookie_is_secure_on_https_or_when_forced(ui_api, env, headers):
    api = ui_api(**env)
    response = requests.get(api.url + "/ui/login", headers=headers, timeout=10)
    assert "; secure" in response.headers["Set-Cookie"].lower()


def test_staff_tokens_default_to_the_api_tokens_and_can_be_their_own(ui_api):
    staff = "staff-token-abcdefghijklmnop"
    api = ui_api(UI_TOKENS=staff)
    logged_in(api, staff)
    session = requests.Session()
    page = session.get(api.url + "/ui/login")
    refused = session.post(api.url + "/ui/login",
                           data={"token": api.token, "csrf_token": csrf_of(page.text)})
    assert refused.status_code == 401


def test_a_post_without_a_valid_csrf_token_is_400(ui_api):
    api = ui_api()
    session = logged_in(api)
    form = {"country": "US", "postal_code": "20500", "state": "DC", "weight": "2"}
    assert session.post(api.url + "/ui/quote", data=form).status_code == 400
    assert session.post(api.url + "/ui/quote",
                        data={**form, "csrf_token": "forged"}).status_code == 400
    assert session.post(api.url + "/ui/logout").status_code == 400
    assert session.get(api.url + "/ui/quote").status_code == 200  # still logged in
    # A token from another session is no good either.
    other = logged_in(api)
    theirs = csrf_of(other.get(api.url + "/ui/quote").text)
    assert session.post(api.url + "/ui/quote", data={**form, "csrf_token": theirs}
                        ).status_code == 400


def test_login_attempts_are_limited_to_ten_a_minute_per_address(ui_api):
    api = ui_api()
    session = requests.Session()
    csrf = csrf_of(session.get(api.url + "/ui/login").text)
    statuses = [session.post(api.url + "/ui/login",
                             data={"token": f"wrong-token-{i:08d}", "csrf_token": csrf}
                             ).status_code for i in range(11)]
    assert statuses == [401] * 10 + [429]
    refused = session.post(api.url + "/ui/login", data={"token": api.token, "csrf_token": csrf})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_logout_ends_the_session_even_for_a_copied_cookie(ui_api):
    api = ui_api()
    session = logged_in(api)
    copied = dict(session.cookies)
    csrf = csrf_of(session.get(api.url + "/ui/quote").text)
    out = session.post(api.url + "/ui/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.status_code == 303 and out.headers["Location"].startswith("/ui/login")
    assert session.get(api.url + "/ui/quote", allow_redirects=False).status_code == 303
    replay = requests.get(api.url + "/ui/quote", cookies=copied, allow_redirects=False,
                          timeout=10)
    assert replay.status_code == 303


def test_sessions_last_twelve_hours():
    now = [1_000_000.0]
    token = Secret("staff-token-abcdefghijklmnop")
    sessions = Sessions(Secret(UI_KEY), (token,), clock=lambda: now[0])
    cookie = sessions.dump(sessions.login(token.reveal()))
    now[0] += SESSION_SECONDS - 60
    assert sessions.load(cookie).logged_in
    now[0] += 120
    assert sessions.load(cookie) is None
    assert sessions.login("another-token-abcdefghij") is None
    # A token removed from the settings ends the sessions opened with it.
    fresh = sessions.dump(sessions.login(token.reveal()))
    rotated = Sessions(Secret(UI_KEY), (Secret("new-token-abcdefghijklmnop"),),
                       clock=lambda: now[0])
    assert rotated.load(fresh) is None
    assert Sessions(Secret("k" * 40), (token,), clock=lambda: now[0]).load(fresh) is None


def test_no_secret_appears_in_any_page(ui_api):
    staff = "staff-token-abcdefghijklmnop"
    api = ui_api(UI_TOKENS=staff)
    session = logged_in(api, staff)
    pages = [session.get(api.url + path, timeout=30).text for path in PAGES]
    csrf = csrf_of(pages[0])
    pages.append(session.post(api.url + "/ui/quote", timeout=30, data={
        "csrf_token": csrf, "country": "US", "postal_code": "20500", "state": "DC",
        "weight": "2", "weight_units": "pounds"}).text)
    pages.append(session.post(api.url + "/ui/quote/apply", timeout=30, data={
        "csrf_token": csrf, "order_id": "1001", "step": "preview"}).text)
    secrets = api.services.settings.secrets() + [api.shop.settings.cin7_username]
    assert staff in secrets and UI_KEY in secrets
    for text in pages:
        for secret in secrets:
            assert secret not in text


@pytest.mark.parametrize("name,value,needle", [
    ("RATECALC_UI_SECRET_KEY", "short-key", "at least 32"),
    ("RATECALC_UI_TOKENS", "short", "16 characters"),
    ("RATECALC_UI_FRAME_ANCESTORS", "'self'; script-src *", "frame-ancestors source"),
    ("RATECALC_UI", "maybe", "on, off"),
])
def test_bad_ui_settings_are_one_line_naming_the_variable(name, value, needle):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    message = str(caught.value)
    assert message.startswith(name) and needle in message and "\n" not in message
    if "SECRET" in name or "TOKENS" in name:
        assert value not in message


def test_the_secret_key_can_come_from_a_file(tmp_path):
    path = tmp_path / "key"
    path.write_text(UI_KEY + "\n")
    settings = Settings.from_env({"RATECALC_UI_SECRET_KEY_FILE": str(path)})
    assert settings.ui_secret_key.reveal() == UI_KEY
