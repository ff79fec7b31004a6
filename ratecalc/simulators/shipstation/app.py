"""A ShipStation API simulator (V1 rates + carriers, V2 carriers + rate estimates).

Spec: shared/reference/shipstation-api.md sections 1, 2, 3 and 7. This module is the HTTP
side (auth, rate limits, fault switches, routing); the carrier catalog and prices live in
``rates.py``, request validation and reply shapes in ``wire.py``, canned replies and
faults in ``responses.py``. Choices on open points:

* V1 401 has an empty body. V1 429 carries no ``Retry-After`` (only the X-Rate-Limit-* headers).
* V1 validation (bad JSON, missing field, wrong type, bad enum, weight <= 0, toCountry not two
  letters) -> 400 ModelState keyed by the JSON path (``weight.units``); a body that is not a JSON
  object is keyed ``rateOptions``. Business errors (UPS without toState, carrier not connected,
  no service left after filtering) -> 500 with the ASP.NET ``ExceptionMessage`` shape.
* A connected carrier the catalog doesn't know (custom ``carriers=``) rates as 200 ``[]``.
* getcarrier/listservices/listpackages with an unknown carrierCode -> 500 ExceptionMessage.
* V1 ``confirmation: "direct_signature"`` for any carrier but FedEx -> 400 ModelState keyed
  ``confirmation`` (the V1 spec: FedEx only).
* USPS (``stamps_com``) answers one row per service and package type when no ``packageCode``
  is sent (see ``rates.py``).
* V2 unknown carrier_id -> 400 ``invalid_field_value``. A known carrier with no applicable
  service, or one that does not offer the confirmation asked for -> one Rate with
  ``error_messages`` (other carriers still rate). V2 error bodies name ``error_source``
  ``ShipStation`` (the spec's enum: carrier, order_source, ShipStation).
* Switches: a carrier-specific latency applies to rating calls for that carrier; the ``None``
  latency to every authenticated call; when both apply the larger wins. Forced faults are
  consumed in the order they were set, carrier-specific ones before ``None`` ones.
* V2 carrier ids are ``se-<shippingProviderId>`` unless a carrier dict gives ``carrier_id``.

Run standalone: ``python -m ratecalc.simulators.shipstation.app --port 8081``.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
import uuid

from flask import Flask, Response, g, request

from . import rates, wire
from .responses import (
    Fault,
    Reply,
    aspnet_error,
    forced,
    json_reply,
    model_state,
    v1_default,
    v2_error,
)

DEFAULT_CARRIERS = (
    {"name": "Stamps.com", "code": "stamps_com", "accountNumber": "SS123",
     "requiresFundedAccount": True, "balance": 24.27, "shippingProviderId": 12345, "primary": True},
    {"name": "UPS", "code": "ups", "accountNumber": "ABCR80", "requiresFundedAccount": False,
     "balance": 0, "shippingProviderId": 12347, "primary": True},
    {"name": "FedEx", "code": "fedex", "accountNumber": "297929999", "requiresFundedAccount": False,
     "balance": 0, "nickname": "SS", "shippingProviderId": 12348, "primary": True},
)
class ShipStationSimulator:
    """A Flask app that behaves like ShipStation V1 (root paths) and V2 (``/v2/``)."""

    def __init__(self, credentials=(("demo-key", "demo-secret"),), v2_api_keys=("demo-v2-key",),
                 requests_per_window=40, window_seconds=60.0, v2_requests_per_window=200,
                 carriers=None, clock=time.monotonic):
        self.clock = clock  # rate-limit windows run on it (tests move it)
        self._lock = threading.Lock()
        self._credentials = {(str(k), str(s)) for k, s in credentials}
        self._v2_keys = set(v2_api_keys)
        self._limit, self._window = int(requests_per_window), float(window_seconds)
        self._v2_limit = int(v2_requests_per_window)
        self._windows: dict[tuple, list[float]] = {}  # key -> [window start, count]
        self._latency: dict[str | None, float] = {}
        self._faults: list[Fault] = []
        self.requests: list[dict] = []
        self.carriers: list[dict] = []  # V1 carrier objects, as GET /carriers returns them
        self._by_id: dict[str, dict] = {}  # V2 carrier_id -> V1 carrier object
        for i, c in enumerate(DEFAULT_CARRIERS if carriers is None else carriers):
            account = {"name": c["name"], "code": c["code"],
                       "accountNumber": c.get("accountNumber", ""),
                       "requiresFundedAccount": c.get("requiresFundedAccount", False),
                       "balance": c.get("balance", 0)}
            if c.get("nickname"):
                account["nickname"] = c["nickname"]
            account["shippingProviderId"] = c.get("shippingProviderId", 20000 + i)
            account["primary"] = c.get("primary", True)
            self.carriers.append(account)
            self._by_id[c.get("carrier_id") or f"se-{account['shippingProviderId']}"] = account
        self.app = self._build_app()

    # ---- switches and record -----------------------------------------------------------
    def calls(self, path=None, carrier_code=None) -> list[dict]:
        with self._lock:
            record = list(self.requests)
        return [r for r in record if (path is None or r["path"] == path)
                and (carrier_code is None or carrier_code in r["carrier_codes"])]

    def set_latency(self, seconds: float, carrier_code: str | None = None) -> None:
        with self._lock:
            self._latency[carrier_code] = float(seconds)

    def force_status(self, carrier_code: str | None, status: int, body: str | None = None,
                     times: int | None = None) -> None:
        self._add_fault(Fault(carrier_code, "status", int(status), body, times))

    def force_malformed(self, carrier_code: str | None, times: int | None = None) -> None:
        self._add_fault(Fault(carrier_code, "malformed", remaining=times))

    def force_transport(self, carrier_code: str | None, kind: str, times: int | None = None,
                        seconds: float = 0.2) -> None:
        """Faults below HTTP: ``reset`` closes the connection without an answer, ``half``
        sends headers and half the body then closes, ``drip`` sends a valid body one
        byte every ``seconds``."""
        if kind not in ("reset", "half", "drip"):
            raise ValueError(f"unknown transport fault {kind!r}")
        self._add_fault(Fault(carrier_code, kind, body=str(seconds), remaining=times))

    def force_empty(self, carrier_code: str) -> None:
        self._add_fault(Fault(carrier_code, "empty"))

    def set_rate_limit(self, requests_per_window: int, window_seconds: float,
                       v2_requests_per_window: int | None = None) -> None:
        """Change the limits (V2 keeps its own unless given); current windows restart."""
        with self._lock:
            self._limit, self._window = int(requests_per_window), float(window_seconds)
            if v2_requests_per_window is not None:
                self._v2_limit = int(v2_requests_per_window)
            self._windows.clear()

    def clear_faults(self) -> None:
        with self._lock:
            self._latency.clear()
            self._faults.clear()

    def reset(self) -> None:
        with self._lock:
            self._latency.clear()
            self._faults.clear()
            self.requests.clear()
            self._windows.clear()

    def _add_fault(self, fault: Fault) -> None:
        if fault.remaining is None or fault.remaining > 0:
            with self._lock:
                self._faults.append(fault)

    def _take_fault(self, codes, kinds=("status", "malformed", "empty", "reset", "half",
                                        "drip")) -> Fault | None:
        with self._lock:
            live = [f for f in self._faults if f.kind in kinds]
            matching = [f for f in live if f.carrier_code in codes]
            matching += [f for f in live if f.carrier_code is None]
            if not matching:
                return None
            fault = matching[0]
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
            return fault

    def _is_empty(self, code: str) -> bool:
        with self._lock:
            return any(f.kind == "empty" and f.carrier_code == code for f in self._faults)

    def _delay(self, codes=()) -> None:
        with self._lock:
            seconds = max(self._latency.get(c, 0.0) for c in (None, *codes))
        if seconds > 0:
            time.sleep(seconds)

    def _take_slot(self, key: tuple, limit: int) -> tuple[bool, int, int]:
        """Count one call in ``key``'s fixed window: (allowed, remaining, reset seconds)."""
        with self._lock:  # read the clock under the lock: a window never starts after "now"
            now = self.clock()
            window = self._windows.get(key)
            if window is None or now >= window[0] + self._window:
                window = self._windows[key] = [now, 0]
            reset = max(1, math.ceil(window[0] + self._window - now))
            if window[1] >= limit:
                return False, 0, reset
            window[1] += 1
            return True, int(limit - window[1]), reset

    # ---- plumbing ----------------------------------------------------------------------
    def _build_app(self) -> Flask:
        app = Flask("shipstation_simulator")
        app.json.sort_keys = False
        app.json.ensure_ascii = False
        app.before_request(self._gate)
        app.after_request(self._finish)
        for path, view, method in [
            ("/carriers", self.v1_carriers, "GET"),
            ("/carriers/getcarrier", self.v1_getcarrier, "GET"),
            ("/carriers/listservices", self.v1_listservices, "GET"),
            ("/carriers/listpackages", self.v1_listpackages, "GET"),
            ("/shipments/getrates", self.v1_getrates, "POST"),
            ("/v2/carriers", self.v2_carriers, "GET"),
            ("/v2/rates/estimate", self.v2_estimate, "POST"),
        ]:
            app.add_url_rule(path, view.__name__, view, methods=[method])
        app.register_error_handler(Reply, lambda exc: exc.response)
        app.register_error_handler(404, self._not_found)
        app.register_error_handler(405, self._not_allowed)
        return app

    def _gate(self):
        """Record, authenticate and rate-limit every request before routing."""
        g.rec = {"method": request.method, "path": request.path, "json": self._body()[0],
                 "carrier_code": None, "carrier_codes": [], "status": None, "time": time.time(),
                 "agent": request.headers.get("User-Agent", "")}
        if request.path.startswith("/v2/"):
            key = request.headers.get("API-Key")
            if key not in self._v2_keys:
                return v2_error(401, ("security", "unauthorized",
                                      "The API key is invalid. Please check your API-Key header."))
            ok, _, reset = self._take_slot(("v2", key), self._v2_limit)
            if ok:
                return None
            resp = v2_error(429, ("system", "rate_limit_exceeded",
                                  "You have exceeded the rate limit. Please try again later."))
            resp.headers["Retry-After"] = str(reset)
            return resp
        auth = request.authorization
        pair = (auth.username, auth.password) if auth and auth.type == "basic" else None
        if pair not in self._credentials:
            return Response("", status=401)
        ok, remaining, reset = self._take_slot(("v1", *pair), self._limit)
        g.rate_headers = {"X-Rate-Limit-Limit": str(self._limit),
                          "X-Rate-Limit-Remaining": str(remaining),
                          "X-Rate-Limit-Reset": str(reset)}
        return None if ok else json_reply({"message": "Too Many Requests"}, 429)

    def _finish(self, resp: Response) -> Response:
        resp.headers.update(g.get("rate_headers", {}))
        if resp.status_code == 429 and "X-Rate-Limit-Remaining" in resp.headers:
            resp.headers["X-Rate-Limit-Remaining"] = "0"
        rec = g.get("rec")
        if rec is not None:
            rec["status"] = resp.status_code
            # What was answered, for the spec tests (streamed faults have no body to keep).
            rec["response"] = (None if resp.direct_passthrough or resp.is_streamed
                               or resp.mimetype != "application/json"
                               else resp.get_json(silent=True))
            with self._lock:
                self.requests.append(rec)
        return resp

    @staticmethod
    def _body():
        """(parsed JSON body or None, parse error or None), cached per request."""
        if "parsed" not in g:
            raw = request.get_data(cache=True)
            try:
                g.parsed = (json.loads(raw), None) if raw.strip() else (None, "Empty body.")
            except ValueError as exc:
                g.parsed = (None, f"Unexpected character encountered while parsing: {exc}")
        return g.parsed

    @staticmethod
    def _note(codes) -> None:
        g.rec["carrier_codes"] = list(codes)
        g.rec["carrier_code"] = codes[0] if codes else None

    def _not_found(self, _exc):
        if request.path.startswith("/v2/"):
            return v2_error(404, ("validation", "unspecified", f"No route for {request.path}."))
        return v1_default(404)

    def _not_allowed(self, _exc):
        if request.path.startswith("/v2/"):
            return v2_error(405, ("validation", "invalid_field_value",
                                  f"Method {request.method} is not allowed here."))
        return json_reply({"Message": "The requested resource does not support http method "
                                 f"'{request.method}'."}, 405)

    def _account(self, code) -> dict | None:
        return next((c for c in self.carriers if c["code"] == code), None)

    def _carrier_arg(self) -> str:
        self._delay()
        code = request.args.get("carrierCode")
        if not code:
            raise Reply(model_state({"carrierCode": ["The carrierCode field is required."]}))
        self._note([code])
        if self._account(code) is None:
            raise Reply(aspnet_error(f"The carrier '{code}' is not connected to this account."))
        return code

    # ---- V1 ----------------------------------------------------------------------------
    def v1_carriers(self):
        self._delay()
        return json_reply(self.carriers)

    def v1_getcarrier(self):
        return json_reply(self._account(self._carrier_arg()))

    def v1_listservices(self):
        return json_reply(wire.v1_catalog_rows(self._carrier_arg(), "services"))

    def v1_listpackages(self):
        return json_reply(wire.v1_catalog_rows(self._carrier_arg(), "packages"))

    def v1_getrates(self):
        body, parse_error = self._body()
        code = body.get("carrierCode") if isinstance(body, dict) else None
        codes = [code] if isinstance(code, str) and code else []
        self._note(codes)
        self._delay(codes)
        fault = self._take_fault(codes)
        if fault is not None:
            return forced(fault, v2=False)
        if not isinstance(body, dict):
            return model_state({"rateOptions": [parse_error or "Cannot deserialize the current "
                                                "JSON value into type 'RateOptions'. Path ''."]})
        errors = wire.v1_errors(body)
        if errors:
            return model_state(errors)
        if self._account(code) is None:
            return aspnet_error(rates.NO_SERVICES)
        if code == "ups" and not body.get("toState"):
            return aspnet_error("The toState field is required for UPS rate requests.")
        if not rates.confirmation_supported(code, body.get("confirmation")):
            return model_state({"confirmation": [
                f"The confirmation '{body['confirmation']}' is not supported by carrier "
                f"'{code}'."]})
        if code not in rates.CATALOG:
            return json_reply([])
        quotes = rates.quote(code, wire.v1_shipment(body), body.get("serviceCode"),
                             body.get("packageCode"))
        if not quotes:
            return aspnet_error(rates.NO_SERVICES)
        return json_reply(wire.v1_rate_rows(code, quotes))

    # ---- V2 ----------------------------------------------------------------------------
    def v2_carriers(self):
        self._delay()
        return json_reply({"carriers": [wire.v2_carrier(cid, a) for cid, a in self._by_id.items()],
                      "request_id": str(uuid.uuid4()), "errors": []})

    def v2_estimate(self):
        body, parse_error = self._body()
        ids = wire.v2_carrier_ids(body) if isinstance(body, dict) else []
        known = [(cid, self._by_id[cid]) for cid in ids if cid in self._by_id]
        codes = list(dict.fromkeys(a["code"] for _, a in known))
        self._note(codes)
        self._delay(codes)
        fault = self._take_fault(codes, kinds=("status", "malformed"))
        if fault is not None:
            return forced(fault, v2=True)
        if not isinstance(body, dict):
            message = f"The request body must be a JSON object. {parse_error or ''}".strip()
            return v2_error(400, ("validation", "invalid_field_value", message))
        errors = wire.v2_errors(body, ids)
        errors += [("validation", "invalid_field_value", f"carrier_id '{cid}' was not found.")
                   for cid in ids if cid not in self._by_id]
        if "ups" in codes and not body.get("to_state_province"):
            errors.append(("validation", "field_value_required",
                           "to_state_province is required for UPS rate requests."))
        if errors:
            return v2_error(400, *errors)
        shipment = wire.v2_shipment(body)
        ship_date = wire.parse_date(body["ship_date"])
        out = []
        for cid, account in known:
            if account["code"] not in rates.CATALOG or self._is_empty(account["code"]):
                continue
            if not rates.confirmation_supported(account["code"], body.get("confirmation")):
                out.append(wire.v2_rate(cid, account, None, ship_date, error=(
                    f"The confirmation '{body['confirmation']}' is not supported by this "
                    "carrier.")))
                continue
            quotes = rates.quote(account["code"], shipment)
            out += [wire.v2_rate(cid, account, q, ship_date) for q in quotes] or [
                wire.v2_rate(cid, account, None, ship_date)]
        return json_reply(out)


def create_app() -> Flask:
    """App factory for ``flask --app`` / gunicorn: a simulator with the default settings."""
    return ShipStationSimulator().app


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="ShipStation API simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    create_app().run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
