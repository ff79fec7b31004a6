"""ShipStation API V1 client: carriers and rates, one carrier per call.

The request/response mapping lives here and nowhere else; the rating service
sees only :class:`~ratecalc.model.Shipment` in and
:class:`~ratecalc.model.CarrierRates` out.

Retries: 5xx and connection errors at most twice with jittered backoff, 429
after the advertised reset, all within the caller's deadline; other 4xx never.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import requests
from cachetools import TTLCache

from ratecalc import metrics
from ratecalc.model import TWO_LETTER_STATE, Carrier, CarrierRates, Rate, Shipment
from ratecalc.upstream.breaker import CircuitBreaker
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.limits.budget import BudgetExhausted, CallBudget, reserved
from ratecalc.upstream.transport import (
    WAITED_SECONDS,
    Deadline,
    attempt,
    make_session,
    retry_after,
    run_call,
)

SERVICE = "shipstation"
CARRIER_LIST_TTL_SECONDS = 3600.0
NO_SERVICES = "no applicable services"


# A row's " - <package type>" suffix ("USPS Priority Mail - Flat Rate Envelope"): USPS
# answers one row per service and package type; only the requested type is a price.
_PACKAGE_WORDS = re.compile(r"package|envelope|box|pak|tube|letter|flat|pack|card", re.I)


def row_package(service_name: str) -> str | None:
    """The package code a row's name ends in, or None when it names no package type."""
    _, sep, tail = service_name.rpartition(" - ")
    if not sep or not _PACKAGE_WORDS.search(tail):
        return None
    return re.sub(r"[^a-z0-9]+", "_", tail.lower()).strip("_") or None


def _lower_keys(obj):
    """ShipStation answers camelCase; some middlewares re-case it. Match case-insensitively."""
    return {str(k).lower(): v for k, v in obj.items()} if isinstance(obj, dict) else obj


def _error_message(response: requests.Response) -> str:
    """The useful sentence from an ASP.NET-style error body, without echoing secrets."""
    try:
        body = _lower_keys(response.json())
    except ValueError:
        return f"ShipStation answered HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"ShipStation answered HTTP {response.status_code}"
    parts = [str(body.get("exceptionmessage") or body.get("message") or "").strip()]
    model_state = body.get("modelstate")
    if isinstance(model_state, dict):
        for field, messages in model_state.items():
            text = "; ".join(map(str, messages)) if isinstance(messages, list) else messages
            parts.append(f"{field}: {text}")
    message = " ".join(p for p in parts if p)
    return message[:300] or f"ShipStation answered HTTP {response.status_code}"


class ShipStationTransport:
    """Budgeted, deadline-bound calls with ShipStation's retry rules (V1 and V2)."""

    def __init__(self, base_url: str, *, timeout: float, budget: CallBudget,
                 session: requests.Session | None = None, pool_size: int = 32,
                 breaker: CircuitBreaker | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.budget = budget
        self.breaker = breaker or CircuitBreaker("shipstation", failures=10**9)
        self.session = session or make_session(pool_size=pool_size)
        # The account's carriers, fetched at most once an hour and once at a time.
        self._carriers: TTLCache = TTLCache(maxsize=1, ttl=CARRIER_LIST_TTL_SECONDS)
        self._carriers_lock = threading.Lock()

    credential_settings = "RATECALC_SHIPSTATION_API_KEY and _SECRET"

    def list_carriers(self, deadline: Deadline) -> list[Carrier]:
        raise NotImplementedError

    def account_carriers(self, deadline: Deadline) -> list[Carrier]:
        """The account's carriers (one per code), cached for an hour.

        Concurrent callers on a cold cache make one call, not one each.
        """
        with self._carriers_lock:
            carriers = self._carriers.get("all")
            if carriers is None:
                carriers = self.list_carriers(deadline)
                self._carriers["all"] = carriers
            return carriers

    def carriers_cached(self) -> bool:
        """True when account_carriers answers without calling ShipStation."""
        return self._carriers.get("all") is not None

    def request_kwargs(self) -> dict:
        """Authentication for every call."""
        raise NotImplementedError

    def error_message(self, response: requests.Response) -> str:
        return _error_message(response)

    def is_no_rates(self, response: requests.Response, message: str) -> bool:
        return NO_SERVICES in message.lower()

    def is_unsupported_option(self, response: requests.Response) -> bool:
        """A 400 that refuses the confirmation (V1: ModelState keyed ``confirmation``)."""
        try:
            state = _lower_keys(_lower_keys(response.json()).get("modelstate"))
        except (ValueError, AttributeError):
            return False
        return isinstance(state, dict) and any(k.endswith("confirmation") for k in state)

    def close(self) -> None:
        self.session.close()

    def _call(self, method: str, path: str, operation: str, deadline: Deadline,
              json_body: dict | None = None):
        def send(timeout: float) -> requests.Response:
            return self.session.request(method, self.base_url + path, json=json_body,
                                        timeout=timeout, stream=True, **self.request_kwargs())

        return run_call(service="ShipStation", breaker=self.breaker,
                        acquire=self.budget.acquire, deadline=deadline,
                        attempt=lambda tries: attempt(send, classifier=self, deadline=deadline,
                                                      timeout=self.timeout, service=SERVICE,
                                                      operation=operation, tries=tries))

    # -- the classifier: every attempt settles the budget and tells the breaker --------
    def no_time(self) -> tuple:
        self.budget.settle(None, unsent=True)
        self.breaker.release_probe()
        raise UpstreamError("upstream_timeout",
                            "the quote deadline passed before ShipStation was called")

    def too_slow(self) -> tuple:
        self.budget.settle(None)
        self.breaker.record(False)
        raise UpstreamError("upstream_timeout", "ShipStation's answer arrived too "
                            "slowly for the quote deadline")

    def failed(self, exc: requests.exceptions.RequestException, timeout: float) -> tuple:
        unsent = isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
            exc, requests.exceptions.ReadTimeout)
        self.budget.settle(None, unsent=unsent)
        self.breaker.record(False)
        if isinstance(exc, requests.exceptions.ReadTimeout):
            raise UpstreamError(  # not retried: the deadline matters more
                "upstream_timeout", f"ShipStation did not answer within {timeout:.1f}s"
            ) from None
        return "retry", UpstreamError("upstream_error" if not isinstance(
            exc, requests.exceptions.Timeout) else "upstream_timeout",
            "could not connect to ShipStation")

    def answered(self, response: requests.Response, tries: int, deadline: Deadline) -> tuple:
        status = response.status_code
        if status == 429:
            self.budget.settle(response.headers, throttled=True,
                               retry_after=retry_after(response))
            self.breaker.release_probe()  # rate limiting is not an outage
            return "throttled", None
        self.budget.settle(response.headers)
        if status in (401, 403):
            self.breaker.record(True)
            raise UpstreamError(
                "upstream_auth",
                f"ShipStation refused the stored API credentials (HTTP {status}); "
                f"check {self.credential_settings}",
                status=status,
            )
        if status >= 400:
            return self._error(response, status)
        try:
            body = json.loads(response.content)
        except ValueError:
            self.breaker.record(False)  # HTML or half a body: ShipStation is not well
            raise UpstreamError(
                "upstream_error", "ShipStation answered a body that is not JSON"
            ) from None
        self.breaker.record(True)
        return "done", body

    def _error(self, response: requests.Response, status: int) -> tuple:
        message = self.error_message(response)
        no_rates = self.is_no_rates(response, message)
        self.breaker.record(status < 500 or no_rates)
        if no_rates:
            raise UpstreamError("no_rates", message, status=status)
        if status == 400 and self.is_unsupported_option(response):
            raise UpstreamError("unsupported_option", message, status=status)
        if status >= 500:
            return "retry", UpstreamError("upstream_error", message, status=status)
        raise UpstreamError("upstream_error", message, status=status)


class ShipStationV1(ShipStationTransport):
    """Rates through ``POST /shipments/getrates``, fanned out over carriers."""

    api_version = "v1"

    def __init__(self, base_url: str, api_key: str, api_secret: str, *, timeout: float,
                 budget: CallBudget, session: requests.Session | None = None,
                 max_parallel: int = 16, breaker: CircuitBreaker | None = None):
        super().__init__(base_url, timeout=timeout, budget=budget, session=session,
                         pool_size=max_parallel * 2, breaker=breaker)
        self._auth = (api_key, api_secret)
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="ss-v1")

    def request_kwargs(self) -> dict:
        return {"auth": self._auth}

    # -- public API ------------------------------------------------------------
    def list_carriers(self, deadline: Deadline) -> list[Carrier]:
        body = self._call("GET", "/carriers", "list_carriers", deadline)
        if not isinstance(body, list):
            raise UpstreamError("upstream_error", "ShipStation /carriers did not answer a list")
        carriers = []
        for item in map(_lower_keys, body):
            if isinstance(item, dict) and item.get("code"):
                carriers.append(Carrier(code=str(item["code"]), name=str(item.get("name") or ""),
                                        nickname=item.get("nickname")))
        return carriers

    def rate(self, shipment: Shipment, carrier_codes: list[str],
             deadline: Deadline) -> dict[str, CarrierRates | UpstreamError]:
        """Rate every carrier in parallel; each carrier's outcome is independent.

        The budget for all the carriers' calls is taken at once or not at all: a quote
        never spends calls on carriers when the others would have to go without.
        """
        reserve = getattr(self.budget, "reserve", None)
        asked = time.perf_counter()
        try:
            reservation = reserve(len(carrier_codes), deadline) if reserve else None
            if time.perf_counter() - asked > WAITED_SECONDS:
                metrics.rate_limit_waits.labels("shipstation").inc()
        except BudgetExhausted as exc:
            error = UpstreamError("rate_limited", "ShipStation call budget exhausted",
                                  retry_after=exc.retry_after)
            return dict.fromkeys(carrier_codes, error)
        try:
            futures = {code: self._pool.submit(reserved, reservation, self._rate_one, shipment,
                                               code, deadline)
                       for code in carrier_codes}
            results: dict[str, CarrierRates | UpstreamError] = {}
            for code, future in futures.items():
                try:
                    results[code] = future.result()
                except UpstreamError as exc:
                    results[code] = exc
            return results
        finally:
            if reservation is not None:
                reservation.give_back()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        super().close()

    # -- mapping ---------------------------------------------------------------
    @staticmethod
    def request_body(shipment: Shipment, carrier_code: str) -> dict:
        body = {
            "carrierCode": carrier_code,
            "serviceCode": shipment.service_code,
            "packageCode": shipment.package_code,
            "fromPostalCode": shipment.from_postal_code,
            "toCountry": shipment.to_country,
            "toPostalCode": shipment.to_postal_code,
            # V1 takes a 2-letter state code only (its doc table); a longer region name
            # (NZ "AUCKLAND") is left out rather than sent for ShipStation to refuse.
            "toState": shipment.to_state if TWO_LETTER_STATE.fullmatch(shipment.to_state or "")
            else None,
            "toCity": shipment.to_city,
            # Grams: every unit converts to grams exactly (see rating/units.py).
            "weight": {"value": float(shipment.weight_grams), "units": "grams"},
            "confirmation": shipment.confirmation,
            "residential": shipment.residential,
        }
        if shipment.dimensions_cm:
            length, width, height = shipment.dimensions_cm
            body["dimensions"] = {"length": float(length), "width": float(width),
                                  "height": float(height), "units": "centimeters"}
        return {k: v for k, v in body.items() if v is not None}

    @staticmethod
    def parse_rates(body, carrier_code: str, package_code: str | None = None) -> CarrierRates:
        """Rows -> rates; with ``package_code`` a row naming another package type is dropped."""
        if not isinstance(body, list):
            raise UpstreamError("upstream_error", "ShipStation rates were not a list")
        rates = []
        for item in map(_lower_keys, body):
            if package_code and isinstance(item, dict):
                named = row_package(str(item.get("servicename") or ""))
                if named is not None and named != package_code:
                    continue
            try:
                rates.append(Rate(
                    carrier_code=carrier_code,
                    service_code=str(item["servicecode"]),
                    service_name=str(item.get("servicename") or item["servicecode"]),
                    shipment_cost=Decimal(str(item["shipmentcost"])),
                    other_cost=Decimal(str(item.get("othercost") or 0)),
                ))
            except (KeyError, TypeError, ArithmeticError, AttributeError):
                raise UpstreamError(
                    "upstream_error", "ShipStation answered a rate without service or cost"
                ) from None
        for rate in rates:
            if not (rate.shipment_cost.is_finite() and rate.other_cost.is_finite()) \
                    or rate.shipment_cost < 0 or rate.other_cost < 0:
                raise UpstreamError("upstream_error", "ShipStation answered a negative cost")
        return CarrierRates(carrier_code=carrier_code, rates=tuple(rates),
                            quoted_at=datetime.now(UTC))

    # -- transport -------------------------------------------------------------
    def _rate_one(self, shipment: Shipment, carrier_code: str,
                  deadline: Deadline) -> CarrierRates:
        body = self._call("POST", "/shipments/getrates", "getrates", deadline,
                          json_body=self.request_body(shipment, carrier_code))
        rates = self.parse_rates(body, carrier_code, shipment.package_code)
        if not rates.rates:
            raise UpstreamError("no_rates", f"{carrier_code} has no service for this shipment")
        return rates

