"""The work behind ``ratecalc quote``, ``check`` and ``pricing check`` (the CLI only parses)."""

from __future__ import annotations

import os
import sys
from decimal import Decimal

from ratecalc.app.services import build_services
from ratecalc.console import print_json
from ratecalc.rating import pricing
from ratecalc.rating.quote import QuoteFailed
from ratecalc.rating.render import quote_body
from ratecalc.rating.request import (
    Destination,
    Dimensions,
    InvalidRequest,
    Origin,
    Parcel,
    RateRequest,
    Weight,
)
from ratecalc.rating.schemas import (
    CARRIER_CODE,
    CONFIRMATIONS,
    MAX_MEASURE_VALUE,
    is_country_code,
)
from ratecalc.setting_parsers import Invalid, decimal
from ratecalc.settings import Settings
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.transport import Deadline


def _text(value: str | None, field: str, limit: int = 100) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > limit:
        raise InvalidRequest(field, f"must be 1 to {limit} characters.")
    return value


def _measures(args) -> None:
    measures = {"package.weight.value": args.weight["value"]}
    for side in ("length", "width", "height"):
        if args.dimensions:
            measures[f"package.dimensions.{side}"] = args.dimensions[side]
    for field, value in measures.items():
        if not 0 < value <= MAX_MEASURE_VALUE:
            raise InvalidRequest(field, f"must be greater than 0 and at most {MAX_MEASURE_VALUE}.")


def quote_request(args) -> RateRequest:
    """The command line's options as a RateRequest (the same rules as the API's schema)."""
    country = _text(args.to_country, "ship_to.country", 2)
    if not is_country_code(country):
        raise InvalidRequest("ship_to.country",
                             f"{country!r} is not an ISO 3166-1 alpha-2 country code.")
    _measures(args)
    if args.confirmation and args.confirmation.strip() not in CONFIRMATIONS:
        raise InvalidRequest("confirmation", "must be one of " + ", ".join(CONFIRMATIONS))
    for code in args.carriers or ():
        if not CARRIER_CODE.fullmatch(code):
            raise InvalidRequest("carriers", f"{code!r} is not a ShipStation carrier code.")
    dims = args.dimensions
    return RateRequest(
        ship_to=Destination(country=country,
                            postal_code=_text(args.to_postal_code, "ship_to.postal_code", 20),
                            state=_text(args.to_state, "ship_to.state"),
                            city=_text(args.to_city, "ship_to.city"),
                            residential=bool(args.residential)),
        ship_from=Origin(postal_code=_text(args.from_postal_code, "ship_from.postal_code", 20)),
        package=Parcel(weight=Weight(**args.weight),
                       dimensions=Dimensions(**dims) if dims else None,
                       package_code=_text(args.package_code, "package.package_code", 50)),
        carriers=tuple(args.carriers) if args.carriers else None,
        service_code=_text(args.service_code, "service_code"),
        confirmation=_text(args.confirmation, "confirmation"),
    )


def quote_command(args) -> int:
    # Bearer tokens are for callers of the HTTP API; a local quote needs none.
    settings = Settings.from_env().require_complete(ignore=("API_TOKENS",))
    try:
        request = quote_request(args)
    except InvalidRequest as exc:
        print(f"ratecalc: {exc.field}: {exc.message}", file=sys.stderr)
        return 2
    services = build_services(settings)
    try:
        quote = services.rating.quote(request)
    except InvalidRequest as exc:
        print(f"ratecalc: {exc.message}", file=sys.stderr)
        return 2
    except QuoteFailed as exc:
        print(f"ratecalc: {exc.code}: {exc.message}", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error['carrier_code']}: {error['code']}: {error['message']}",
                  file=sys.stderr)
        return 1
    finally:
        services.close()
    body = quote_body(quote)
    if args.json:
        print_json(body)
        return 0
    print(format_table(body))
    return 0


def format_table(body: dict) -> str:
    rows = [("carrier", "service", "carrier cost", "freight fee")]
    for q in body["quotes"]:
        rows.append((q["carrier_code"], q["service_name"], f"{q['carrier_cost']:.2f}",
                     f"{q['freight_fee']:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    sel = body["selected"]
    lines.append("")
    lines.append(f"selected: {sel['carrier_code']} {sel['service_name']} — freight fee "
                 f"{body['freight_fee']:.2f} {body['currency']} "
                 f"(markup {body['markup_percent']:g}%)")
    for error in body["errors"]:
        lines.append(f"not rated: {error['carrier_code']}: {error['code']}: {error['message']}")
    return "\n".join(lines)


def check_command(settings: Settings) -> int:
    """Like ShipStation's "Test Connection": config, then one authenticated call each."""
    settings.require_complete()
    services = build_services(settings)
    ok = True
    try:
        carriers = services.rating.backend.list_carriers(Deadline(
            settings.upstream_timeout_seconds))
        codes = ", ".join(sorted({c.code for c in carriers})) or "none"
        print(f"ok: ShipStation {settings.shipstation_api} accepted the credentials "
              f"(carriers: {codes})")
    except UpstreamError as exc:
        ok = False
        print(f"failed: ShipStation: {exc.message}", file=sys.stderr)
    finally:
        services.close()
    if settings.cin7_configured:
        from ratecalc.shop.wiring import build_shop, cin7_check

        shop = build_shop(settings)  # also validates the shop settings (status map ...)
        try:
            good, message = cin7_check(shop)
        finally:
            shop.store.close()
        ok = ok and good
        print(message, file=sys.stdout if good else sys.stderr)
    return 0 if ok else 1


# -- ratecalc pricing check ------------------------------------------------------------
STEP_TEXT = {"markup": "× (1 + {markup}/100) = {amount}", "handling": "+ {handling} = {amount}",
             "round_up": "rounded up to a multiple of {round_up_to}: {amount}",
             "clamp": "clamped to [{minimum_fee}, {maximum_fee}]: {amount}",
             "within": "within [{minimum_fee}, {maximum_fee}]: {amount}",
             "free": "free_over {free_over} applies: {amount}", "cents": "fee {amount}"}


def _setting_markup() -> Decimal:
    """RATECALC_MARKUP_PERCENT, for rules that set no markup_percent (0 when unset or bad)."""
    try:
        return decimal(os.environ.get("RATECALC_MARKUP_PERCENT", "").strip() or "0")
    except Invalid:
        return Decimal(0)


def describe_terms(terms: pricing.Terms, base_markup: Decimal) -> str:
    markup = terms.markup_percent if terms.markup_percent is not None else base_markup
    parts = [f"markup {markup}%" + ("" if terms.markup_percent is not None
                                    else " (RATECALC_MARKUP_PERCENT)")]
    for key, label in (("handling_fee", "handling"), ("round_up_to", "round up to"),
                       ("minimum_fee", "minimum"), ("maximum_fee", "maximum")):
        if getattr(terms, key) is not None:
            parts.append(f"{label} {getattr(terms, key)}")
    if terms.free_over is not None:
        only = ", ".join(terms.free_services) if terms.free_services is not None else None
        parts.append(f"free over {terms.free_over}" + (f" on {only} only" if only else ""))
    if terms.exclude_services:
        parts.append("never quotes " + ", ".join(terms.exclude_services))
    return ", ".join(parts)


def worked_example(terms: pricing.Terms, cost: Decimal, base_markup: Decimal,
                   service: str, order_value: Decimal | None = None) -> str:
    """One line: every step of :func:`ratecalc.rating.pricing.apply` on ``cost``."""
    trace: list = []
    pricing.apply(cost, terms, service=service, order_value=order_value,
                  base_markup=base_markup, trace=trace)
    values = {k: "…" if getattr(terms, k) is None else getattr(terms, k) for k in pricing.KEYS}
    values["markup"] = terms.markup_percent if terms.markup_percent is not None else base_markup
    values["handling"] = terms.handling_fee
    steps = [STEP_TEXT[step].format(amount=_amount(amount), **values) for step, amount in trace]
    if order_value is not None and not any(step == "free" for step, _ in trace):
        steps.append(f"(free_over does not apply to {service})")
    return f"{cost} " + "; ".join(steps)


def _amount(value: Decimal) -> Decimal:
    """An intermediate amount as it is (9.6525), but never with fewer than 2 decimals."""
    value = value.normalize()
    return value.quantize(Decimal("0.01")) if value.as_tuple().exponent > -2 else value


def _example_service(terms: pricing.Terms, rule: pricing.Rule | None) -> str:
    if rule is not None and rule.service:
        return rule.service
    return terms.free_services[0] if terms.free_services else "any service"


def _print_terms(title: str, terms: pricing.Terms, rule: pricing.Rule | None, cost: Decimal,
                 base_markup: Decimal) -> None:
    print(f"{title}: {describe_terms(terms, base_markup)}")
    service = _example_service(terms, rule)
    print(f"  carrier cost {worked_example(terms, cost, base_markup, service)}")
    if terms.free_over is not None and not terms.excludes(service):
        free = worked_example(terms, cost, base_markup, service, order_value=terms.free_over)
        print(f"  with order_value {terms.free_over} on {service}: {free}")


def pricing_check_command(path: str, cost: Decimal = Decimal("10.00")) -> int:
    """Validate a pricing file; print each rule's terms with a worked example."""
    try:
        rules = pricing.load(path)
    except pricing.PricingError as exc:
        print(f"ratecalc: {exc}", file=sys.stderr)
        return 2
    base = _setting_markup()
    print(f"ok: {path}: [defaults] and {len(rules.rules)} rule(s); "
          "the first matching rule prices a line")
    _print_terms("[defaults]", rules.defaults, None, cost, base)
    for number, rule in enumerate(rules.rules, 1):
        match = [f"{k} {v}" for k, v in (("carrier", rule.carrier), ("service", rule.service))
                 if v] + ([f"country {', '.join(rule.country)}"] if rule.country else [])
        title = (f"[[rule]] #{number} {rule.name!r} (when {' and '.join(match) or 'always'}; "
                 f"sets {', '.join(rule.overrides) or 'nothing'})")
        _print_terms(title, rule.terms, rule, cost, base)
    return 0
