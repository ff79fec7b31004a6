"""``ratecalc`` command line: wires settings to servers and services; holds no logic.

Every command turns a :class:`ConfigError` into one line on stderr and exit
status 2, so a bad setting never prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from decimal import Decimal, InvalidOperation

from ratecalc.settings import ConfigError, Settings

WEIGHT_SUFFIXES = {
    "oz": "ounces", "ounce": "ounces", "ounces": "ounces",
    "lb": "pounds", "lbs": "pounds", "pound": "pounds", "pounds": "pounds",
    "g": "grams", "gram": "grams", "grams": "grams",
    "kg": "kilograms", "kilogram": "kilograms", "kilograms": "kilograms",
}
DIMENSION_SUFFIXES = {"in": "inches", "inch": "inches", "inches": "inches",
                      "cm": "centimeters", "centimeters": "centimeters"}


def parse_weight(text: str) -> dict:
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]+)\s*", text)
    if not match or match.group(2).lower() not in WEIGHT_SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a number and a unit, e.g. 24oz, 1.5lb, 500g, 2kg")
    return {"value": Decimal(match.group(1)), "units": WEIGHT_SUFFIXES[match.group(2).lower()]}


def parse_dimensions(text: str) -> dict:
    match = re.fullmatch(r"\s*([0-9.]+)x([0-9.]+)x([0-9.]+)\s*([a-zA-Z]+)\s*", text)
    if not match or match.group(4).lower() not in DIMENSION_SUFFIXES:
        raise argparse.ArgumentTypeError(f"{text!r}: give LxWxH and a unit, e.g. 7x5x6in")
    try:
        length, width, height = (Decimal(match.group(i)) for i in (1, 2, 3))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r}: not numbers") from None
    return {"length": length, "width": width, "height": height,
            "units": DIMENSION_SUFFIXES[match.group(4).lower()]}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ratecalc", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="production server (gunicorn) from env config")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, help="worker processes (RATECALC_WORKERS, 1)")
    serve.add_argument("--threads", type=int, help="threads per worker (RATECALC_THREADS, 16)")

    sandbox = sub.add_parser("sandbox", help="ratecalc wired to the built-in simulators")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8000)

    quote = sub.add_parser("quote", help="one quote from the command line")
    quote.add_argument("--to-country", required=True)
    quote.add_argument("--to-postal-code", required=True)
    quote.add_argument("--to-state")
    quote.add_argument("--to-city")
    quote.add_argument("--residential", action="store_true")
    quote.add_argument("--from-postal-code")
    quote.add_argument("--weight", required=True, type=parse_weight, help="e.g. 24oz, 1.5lb")
    quote.add_argument("--dimensions", type=parse_dimensions, help="e.g. 7x5x6in")
    quote.add_argument("--package-code")
    quote.add_argument("--carrier", action="append", dest="carriers",
                       help="carrier code (repeat for several)")
    quote.add_argument("--service-code")
    quote.add_argument("--confirmation")
    quote.add_argument("--json", action="store_true", help="print the API's JSON answer")

    sub.add_parser("check", help="validate config and test the upstream credentials")

    from ratecalc.shop.cli import add_shop_commands

    add_shop_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = getattr(args, "handler", None) or COMMANDS[args.command]
    try:
        return handler(args) or 0
    except ConfigError as exc:
        print(f"ratecalc: configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # StoreError, UpstreamError ...: one line, never a traceback
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        print(f"ratecalc: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def cmd_serve(args) -> int:
    from ratecalc.serving import serve

    settings = Settings.from_env()
    if args.workers:
        settings = settings.with_overrides(workers=args.workers)
    if args.threads:
        settings = settings.with_overrides(threads=args.threads)
    settings.require_complete()
    return serve(settings, host=args.host, port=args.port)


def cmd_sandbox(args) -> int:
    from ratecalc.sandbox.run import run_sandbox

    return run_sandbox(host=args.host, port=args.port)


def cmd_quote(args) -> int:
    from ratecalc.commands import quote_command

    return quote_command(args)


def cmd_check(args) -> int:
    from ratecalc.commands import check_command

    return check_command(Settings.from_env())


COMMANDS = {"serve": cmd_serve, "sandbox": cmd_sandbox, "quote": cmd_quote, "check": cmd_check}


def print_json(data) -> None:
    print(json.dumps(data, indent=2, default=lambda o: float(o) if isinstance(o, Decimal)
                     else str(o)))
