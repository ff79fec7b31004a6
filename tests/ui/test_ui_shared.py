"""With RATECALC_REDIS_URL, every process shares the login limit and the logouts.

Two ratecalc instances (as two workers or replicas would be) on one real Redis: ten
attempts a minute per address in all, not ten per process, and a logout in one ends
the copied cookie in the other. With Redis unreachable each keeps its own.
"""

from __future__ import annotations

import pytest
import redis
import requests

from ratecalc.redis_guard import PREFIX
from tests.scale.conftest import redis_url  # noqa: F401 - the fixture
from tests.ui.conftest import csrf_of, logged_in

DOWN = "redis://127.0.0.1:1/0"


@pytest.fixture
def pair(ui_api, redis_url):  # noqa: F811 - redis_url is the imported fixture
    client = redis.Redis.from_url(redis_url)

    def forget() -> None:  # this test's attempts are from 127.0.0.1, as every test's are
        for key in client.scan_iter(f"{PREFIX}ui:*"):
            client.delete(key)

    forget()
    yield ui_api(REDIS_URL=redis_url), ui_api(REDIS_URL=redis_url)
    forget()


def attempts(api, n: int, session: requests.Session | None = None) -> list[int]:
    session = session or requests.Session()
    csrf = csrf_of(session.get(api.url + "/ui/login", timeout=10).text)
    return [session.post(api.url + "/ui/login", timeout=10,
                         data={"token": f"wrong-token-{i:08d}", "csrf_token": csrf}
                         ).status_code for i in range(n)]


def test_the_login_limit_counts_the_attempts_made_in_every_process(pair):
    first, second = pair
    assert attempts(first, 6) == [401] * 6
    assert attempts(second, 5) == [401] * 4 + [429]  # ten in all, not ten each
    assert attempts(first, 1) == [429]


def test_a_logout_in_one_process_ends_the_copied_cookie_in_the_others(pair):
    first, second = pair
    session = logged_in(first)
    copied = dict(session.cookies)
    assert requests.get(second.url + "/ui/quote", cookies=copied, allow_redirects=False,
                        timeout=10).status_code == 200  # one cookie, good in either
    csrf = csrf_of(session.get(first.url + "/ui/quote").text)
    assert session.post(first.url + "/ui/logout", data={"csrf_token": csrf},
                        allow_redirects=False).status_code == 303
    replay = requests.get(second.url + "/ui/quote", cookies=copied, allow_redirects=False,
                          timeout=10)
    assert replay.status_code == 303 and replay.headers["Location"].startswith("/ui/login")


def test_with_redis_unreachable_each_process_keeps_its_own_limit_and_logouts(ui_api):
    api = ui_api(REDIS_URL=DOWN)
    assert attempts(api, 11) == [401] * 10 + [429]
    other = ui_api(REDIS_URL=DOWN)
    session = logged_in(other)
    copied = dict(session.cookies)
    csrf = csrf_of(session.get(other.url + "/ui/quote").text)
    session.post(other.url + "/ui/logout", data={"csrf_token": csrf})
    assert requests.get(other.url + "/ui/quote", cookies=copied, allow_redirects=False,
                        timeout=10).status_code == 303
