"""With the cache in Redis, the cached-quote door gives a kept answer only while Redis
still holds the very entries it came from: another instance's fresher entry wins."""

from __future__ import annotations

import copy

import redis

from ratecalc.rating.hits import CachedQuoteDoor
from tests.conftest import DC_REQUEST
from tests.rating.conftest import crafted_rates

QUOTE = dict(copy.deepcopy(DC_REQUEST), carriers=["fedex"])


def test_a_kept_answer_gives_way_to_an_entry_another_instance_wrote(
        make_api, shipstation, redis_url, unique_account):
    shipstation._credentials.add((unique_account, "s"))
    env = dict(REDIS_URL=redis_url, SHIPSTATION_API_KEY=unique_account,
               SHIPSTATION_API_SECRET="s", SHIPSTATION_API="v1")
    first, second = make_api(**env), make_api(**env)
    assert isinstance(first.app.wsgi_app, CachedQuoteDoor)
    answers = [first.post("/v1/rates", json=QUOTE) for _ in range(3)]  # the 3rd: the door's
    assert [a.headers["X-Cache"] for a in answers] == ["MISS", "HIT", "HIT"]
    old_fee = answers[2].json()["freight_fee"]

    client = redis.Redis.from_url(redis_url)
    prefix = first.services.rating.cache.prefix
    assert client.delete(*client.keys(prefix + "*")) >= 1  # the entry expires ...
    shipstation.force_status("fedex", 200, crafted_rates("v1", "fedex", [
        ("fedex_ground", 99.0, 0.5)]))
    fresh = second.post("/v1/rates", json=QUOTE)  # ... and the other instance refreshes it
    assert fresh.headers["X-Cache"] == "MISS" and fresh.json()["freight_fee"] == 99.5

    again = first.post("/v1/rates", json=QUOTE)
    assert again.headers["X-Cache"] == "HIT"
    assert again.json()["freight_fee"] == 99.5 != old_fee
