"""Rate request bodies: ratecalc's ``POST /v1/rates`` and the matching direct V1 call."""

from __future__ import annotations

import json
import random

from tests.bench.config import TOKEN

ORIGIN = {"postal_code": "78703", "city": "AUSTIN", "state": "TX"}
STATES = ("CA", "NY", "TX", "FL", "WA", "IL", "PA", "OH", "GA", "NC", "MI", "AZ", "CO", "MA")
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def rate_request(*, postal_code: str = "20500", state: str = "DC", city: str = "WASHINGTON",
                 grams: int = 680, dims_cm=(18, 13, 15), residential: bool = False,
                 carriers=None) -> dict:
    """A ratecalc request already in normal form (grams, cm, upper case), so the body
    ratecalc sends upstream is exactly :func:`getrates_body` of the same arguments."""
    body = {
        "ship_to": {"country": "US", "postal_code": postal_code, "state": state, "city": city,
                    "residential": residential},
        "ship_from": dict(ORIGIN),
        "package": {"weight": {"value": grams, "units": "grams"},
                    "dimensions": {"length": dims_cm[0], "width": dims_cm[1],
                                   "height": dims_cm[2], "units": "centimeters"}},
    }
    if carriers:
        body["carriers"] = list(carriers)
    return body


def getrates_body(carrier: str, *, postal_code: str = "20500", state: str = "DC",
                  city: str = "WASHINGTON", grams: int = 680, dims_cm=(18, 13, 15),
                  residential: bool = False) -> dict:
    """What ratecalc's V1 client posts to ``/shipments/getrates`` for :func:`rate_request`."""
    return {
        "carrierCode": carrier, "fromPostalCode": ORIGIN["postal_code"], "toCountry": "US",
        "toPostalCode": postal_code, "toState": state, "toCity": city,
        "weight": {"value": float(grams), "units": "grams"}, "residential": residential,
        "dimensions": {"length": float(dims_cm[0]), "width": float(dims_cm[1]),
                       "height": float(dims_cm[2]), "units": "centimeters"},
    }


def post(body: dict, *, target: int = 0, headers: dict | None = None,
         path: str = "/v1/rates") -> dict:
    """A load-generator request (see :mod:`tests.bench.loadgen`)."""
    return {"t": target, "method": "POST", "path": path,
            "headers": AUTH if headers is None else headers, "body": json.dumps(body)}


def distinct(n: int, *, postal_code: str, carriers=None, start_grams: int = 100) -> list[dict]:
    """``n`` quotes that differ only in weight (1 g apart): every one a cache miss."""
    return [rate_request(postal_code=postal_code, grams=start_grams + i, carriers=carriers)
            for i in range(n)]


def replay_mix(n: int, *, seed: int = 20240611, destinations: int = 300,
               packages: int = 60) -> list[dict]:
    """A fixed, seeded day of quotes: a few hundred destinations and package sizes, both
    Zipf-distributed (a few places and products dominate, as in real order books).
    Residential and city belong to the destination, dimensions to the package."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test data)
    places = [(f"{rng.randint(10000, 99999)}", rng.choice(STATES), f"CITY {k}",
               rng.random() < 0.6) for k in range(destinations)]
    boxes = [(rng.randint(100, 20000), (rng.randint(10, 60), rng.randint(10, 40),
                                        rng.randint(5, 30))) for _ in range(packages)]
    place_weights = [1 / (k + 1) for k in range(destinations)]
    box_weights = [1 / (k + 1) for k in range(packages)]
    out = []
    for place, box in zip(rng.choices(places, place_weights, k=n),
                          rng.choices(boxes, box_weights, k=n), strict=True):
        postal_code, state, city, residential = place
        out.append(rate_request(postal_code=postal_code, state=state, city=city,
                                residential=residential, grams=box[0], dims_cm=box[1]))
    return out
