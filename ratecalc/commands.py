"""The work behind ``ratecalc quote`` and ``ratecalc check`` (the CLI only parses)."""

from __future__ import annotations

import sys

from ratecalc.cli import print_json
from ratecalc.rating.api import first_error, quote_body
from ratecalc.rating.schemas import RatesRequestSchema
from ratecalc.rating.service import InvalidQuote, QuoteFailed
from ratecalc.services import build_services
from ratecalc.settings import Settings
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.http import Deadline


def quote_payload(args) -> dict:
    ship_to = {"country": args.to_country, "postal_code": args.to_postal_code,
               "residential": args.residential}
    if args.to_state:
        ship_to["state"] = args.to_state
    if args.to_city:
        ship_to["city"] = args.to_city
    package = {"weight": {k: str(v) for k, v in args.weight.items()}}
    if args.dimensions:
        package["dimensions"] = {k: str(v) for k, v in args.dimensions.items()}
    if args.package_code:
        package["package_code"] = args.package_code
    payload = {"ship_to": ship_to, "package": package}
    if args.from_postal_code:
        payload["ship_from"] = {"postal_code": args.from_postal_code}
    for name in ("carriers", "service_code", "confirmation"):
        if getattr(args, name):
            payload[name] = getattr(args, name)
    return payload


def quote_command(args) -> int:
    settings = Settings.from_env().require_complete()
    from marshmallow import ValidationError

    try:
        payload = RatesRequestSchema().load(quote_payload(args))
    except ValidationError as exc:
        field, message = first_error(exc.messages)
        print(f"ratecalc: {field}: {message}", file=sys.stderr)
        return 2
    services = build_services(settings)
    try:
        quote = services.rating.quote(payload)
    except InvalidQuote as exc:
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
