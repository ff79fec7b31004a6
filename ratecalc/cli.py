"""ratecalc: shipping rates from ShipStation, with your markup, for Cin7 Omni orders,
and Cin7 as a ShipStation Custom Store. Settings come from RATECALC_* variables.

For developers: this module parses and wires; the work is done elsewhere. Every
command turns a :class:`ConfigError` into one line on stderr and exit status 2, so
a bad setting never prints a traceback.
"""

from __future__ import annotations

import argparse
import re
import sys
from decimal import Decimal, InvalidOperation
from importlib import metadata

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


def parse_money(text: str) -> Decimal:
    from ratecalc import bounds

    try:
        return bounds.decimal(text, "--cost")
    except bounds.OutOfBounds as exc:
        raise argparse.ArgumentTypeError(f"{text!r} {exc.message}") from None


def _version() -> str:
    try:
        return metadata.version("ratecalc")
    except metadata.PackageNotFoundError:
        return "unknown"


def _sub(sub, name: str, help: str):  # noqa: A002 - argparse's own word
    return sub.add_parser(name, help=help, description=help,
                          formatter_class=argparse.ArgumentDefaultsHelpFormatter)


def _describe(parser: argparse.ArgumentParser) -> None:
    """Every subcommand's --help opens with its one-line help, and shows defaults."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, child in action.choices.items():
                child.description = child.description or helps.get(name)
                child.formatter_class = argparse.ArgumentDefaultsHelpFormatter
                _describe(child)


def build_parser() -> argparse.ArgumentParser:
    first = __doc__.split("\n\n")[0].replace("\n", " ")
    parser = argparse.ArgumentParser(prog="ratecalc", description=first)
    parser.add_argument("--version", action="version", version=f"ratecalc {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = _sub(sub, "serve", "run the HTTP service (gunicorn), configured from RATECALC_*; "
                 "meant to run behind the reverse proxy of deploy/nginx.conf")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--workers", type=int, help="worker processes (RATECALC_WORKERS, 1)")
    serve.add_argument("--threads", type=int, help="threads per worker (RATECALC_THREADS, 16)")

    sandbox = _sub(sub, "sandbox", "ratecalc with built-in ShipStation and Cin7 simulators "
                   "and demo data, for trying it out")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sandbox.add_argument("--port", type=int, default=8000, help="port to listen on")
    sandbox.add_argument("--keep", action="store_true",
                         help="keep the temporary data directory on exit")
    sandbox.add_argument("--print-env", action="store_true",
                         help="print the running sandbox's settings as shell lines, for "
                              'eval "$(ratecalc sandbox --print-env)"')

    quote = _sub(sub, "quote", "one quote from the command line, with the markup applied")
    quote.add_argument("--to-country", required=True, help="destination ISO country code")
    quote.add_argument("--to-postal-code", required=True, help="destination postal code")
    quote.add_argument("--to-state", help="destination state (required for UPS)")
    quote.add_argument("--to-city", help="destination city")
    quote.add_argument("--residential", action="store_true", help="a residential address")
    quote.add_argument("--from-postal-code",
                       help="origin postal code (default: RATECALC_SHIP_FROM_POSTAL_CODE)")
    quote.add_argument("--weight", required=True, type=parse_weight, help="e.g. 24oz, 1.5lb")
    quote.add_argument("--dimensions", type=parse_dimensions, help="e.g. 7x5x6in")
    quote.add_argument("--package-code", help="ShipStation package code, e.g. package")
    quote.add_argument("--carrier", action="append", dest="carriers",
                       help="carrier code (repeat for several; default: RATECALC_CARRIERS "
                            "or every carrier on the account)")
    quote.add_argument("--service-code", help="only this service")
    quote.add_argument("--confirmation",
                       help="delivery confirmation: none, delivery, signature, "
                            "adult_signature, direct_signature")
    quote.add_argument("--json", action="store_true", help="print the API's JSON answer")

    _sub(sub, "check", "validate the settings and test the ShipStation and Cin7 credentials")

    pricing = _sub(sub, "pricing", "pricing rules (RATECALC_PRICING_FILE)")
    pricing_sub = pricing.add_subparsers(dest="pricing_command", required=True,
                                         metavar="COMMAND")
    pricing_check = _sub(pricing_sub, "check", "validate a pricing file and print each rule "
                         "with a worked example; exit status 0 when good, 2 when not")
    pricing_check.add_argument("file", metavar="FILE", help="the TOML file")
    pricing_check.add_argument("--cost", type=parse_money, default=Decimal("10.00"),
                               help="carrier cost of the worked examples")
    pricing_check.set_defaults(handler=cmd_pricing_check)

    _add_package_commands(sub)
    _describe(parser)
    return parser


def _add_package_commands(sub) -> None:
    from ratecalc.alerts.cli import add_alert_commands
    from ratecalc.shop.cli import add_shop_commands

    add_shop_commands(sub)
    add_alert_commands(sub)


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
    from ratecalc.app.serving import serve

    settings = Settings.from_env()
    if args.workers:
        settings = settings.with_overrides(workers=args.workers)
    if args.threads:
        settings = settings.with_overrides(threads=args.threads)
    settings.require_complete()
    # gunicorn's workers build the app; a bad pricing file must stop `serve` itself (exit 2).
    # (Not through ratecalc.app: prometheus_client must not be imported before serve().)
    from ratecalc.rating.pricing import load_setting

    load_setting(settings.pricing_file)
    return serve(settings, host=args.host, port=args.port)


def cmd_sandbox(args) -> int:
    from ratecalc.sandbox import run_sandbox

    if args.print_env:
        from ratecalc.sandbox import print_env

        return print_env()
    return run_sandbox(host=args.host, port=args.port, keep=args.keep)


def cmd_quote(args) -> int:
    from ratecalc.commands import quote_command

    return quote_command(args)


def cmd_check(args) -> int:
    from ratecalc.commands import check_command

    return check_command(Settings.from_env())


def cmd_pricing_check(args) -> int:
    from ratecalc.commands import pricing_check_command

    return pricing_check_command(args.file, cost=args.cost)


COMMANDS = {"serve": cmd_serve, "sandbox": cmd_sandbox, "quote": cmd_quote, "check": cmd_check}
