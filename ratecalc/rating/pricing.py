"""Pricing rules: what the merchant charges for a carrier's rate (``RATECALC_PRICING_FILE``).

Pure: no Flask, no settings. A TOML file (read with the standard library's
``tomllib``, validated with the API's schema library) holds ``[defaults]`` and
``[[rule]]`` tables; the first rule whose matchers (carrier, service, country)
all hold prices the line, its keys overriding the defaults. Order of application,
all in ``Decimal``:

1. fee = carrier_cost × (1 + markup_percent/100) + handling_fee;
2. round the fee up to the next multiple of ``round_up_to``;
3. clamp it to [``minimum_fee``, ``maximum_fee``];
4. set it to 0.00 when ``free_over`` applies (order value >= it, and the service
   is in ``free_services`` when that is given);
5. round half up to cents, once, at the end.

Services in ``exclude_services`` are never quoted. Without a file (:data:`NO_RULES`)
only step 1's markup (``RATECALC_MARKUP_PERCENT``) applies, exactly as
:func:`ratecalc.rating.markup.freight_fee` computes it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from decimal import ROUND_CEILING, Decimal

from marshmallow import ValidationError, validate, validates
from marshmallow import fields as mfields

from ratecalc.rating.markup import cents, marked_up
from ratecalc.rating.schemas import CARRIER_CODE, PlainDecimal, StrictSchema, Text, is_country_code
from ratecalc.settings import ConfigError

ZERO = Decimal("0.00")
MAX_PERCENT = Decimal(10_000)
KEYS = ("markup_percent", "handling_fee", "round_up_to", "minimum_fee", "maximum_fee",
        "free_over", "free_services", "exclude_services")


@dataclass(frozen=True)
class Terms:
    """The pricing keys in force for one line; None: the key is not set."""

    markup_percent: Decimal | None = None  # None: RATECALC_MARKUP_PERCENT
    handling_fee: Decimal | None = None
    round_up_to: Decimal | None = None
    minimum_fee: Decimal | None = None
    maximum_fee: Decimal | None = None
    free_over: Decimal | None = None
    free_services: tuple[str, ...] | None = None  # None: free_over applies to every service
    exclude_services: tuple[str, ...] = ()

    def excludes(self, service_code: str) -> bool:
        return service_code.lower() in self.exclude_services

    def is_free(self, service_code: str, order_value: Decimal | None) -> bool:
        if order_value is None or self.free_over is None or order_value < self.free_over:
            return False
        return self.free_services is None or service_code.lower() in self.free_services


@dataclass(frozen=True)
class Rule:
    name: str
    terms: Terms  # [defaults] with this rule's keys applied
    overrides: tuple[str, ...] = ()  # the keys the rule sets
    carrier: str | None = None
    service: str | None = None
    country: tuple[str, ...] | None = None

    def matches(self, carrier: str, service: str, country: str) -> bool:
        return ((self.carrier is None or self.carrier == carrier.lower())
                and (self.service is None or self.service == service.lower())
                and (self.country is None or country.upper() in self.country))


@dataclass(frozen=True)
class Priced:
    """A line's fee and why it is what it is (the API's ``pricing`` block)."""

    fee: Decimal
    rule: str | None
    markup_percent: Decimal
    handling_fee: Decimal
    rounded_up: bool = False
    clamped: str | None = None  # "minimum" | "maximum"
    free: bool = False


@dataclass(frozen=True)
class Pricing:
    defaults: Terms = field(default_factory=Terms)
    rules: tuple[Rule, ...] = ()
    source: str | None = None  # the file, or None without one

    def terms_for(self, carrier: str, service: str, country: str) -> tuple[str | None, Terms]:
        """The first matching rule's name and terms, else (None, the defaults)."""
        for rule in self.rules:
            if rule.matches(carrier, service, country):
                return rule.name, rule.terms
        return None, self.defaults

    def price(self, carrier_cost: Decimal, *, carrier: str, service: str, country: str,
              order_value: Decimal | None, base_markup: Decimal) -> Priced | None:
        """The line's fee, or None when its service is excluded (never quoted)."""
        rule, terms = self.terms_for(carrier, service, country)
        if terms.excludes(service):
            return None
        return apply(carrier_cost, terms, service=service, order_value=order_value,
                     base_markup=base_markup, rule=rule)

    def markup_percent(self, base_markup: Decimal) -> Decimal:
        """The markup of [defaults]: the file's, else RATECALC_MARKUP_PERCENT."""
        given = self.defaults.markup_percent
        return given if given is not None else base_markup


NO_RULES = Pricing()


def apply(carrier_cost: Decimal, terms: Terms, *, service: str, order_value: Decimal | None,
          base_markup: Decimal, rule: str | None = None,
          trace: list[tuple[str, Decimal]] | None = None) -> Priced:
    """The five steps in order; ``trace`` (if given) receives each step's amount."""
    note = trace.append if trace is not None else (lambda step: None)
    markup = terms.markup_percent if terms.markup_percent is not None else Decimal(base_markup)
    fee = marked_up(carrier_cost, markup)
    note(("markup", fee))
    if terms.handling_fee:
        fee += terms.handling_fee
        note(("handling", fee))
    rounded_up = False
    if terms.round_up_to is not None:
        step = terms.round_up_to
        up = (fee / step).to_integral_value(rounding=ROUND_CEILING) * step
        rounded_up, fee = up != fee, up
        note(("round_up", fee))
    clamped = None
    if terms.minimum_fee is not None and fee < terms.minimum_fee:
        fee, clamped = terms.minimum_fee, "minimum"
    elif terms.maximum_fee is not None and fee > terms.maximum_fee:
        fee, clamped = terms.maximum_fee, "maximum"
    if terms.minimum_fee is not None or terms.maximum_fee is not None:
        note(("clamp" if clamped else "within", fee))
    free = terms.is_free(service, order_value)
    if free:
        fee = ZERO
        note(("free", fee))
    fee = cents(fee)
    note(("cents", fee))
    return Priced(fee=fee, rule=rule, markup_percent=markup,
                  handling_fee=terms.handling_fee if terms.handling_fee is not None else ZERO,
                  rounded_up=rounded_up, clamped=clamped, free=free)


# -- the file ---------------------------------------------------------------------
class PricingError(ValueError):
    """A bad pricing file: one line naming the file, the line (when known) and the key."""

    def __init__(self, source: str, line: int | None, key: str | None, message: str):
        where = f"{source} line {line}" if line else source
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")
        self.source, self.line, self.key, self.message = source, line, key, message


class Code(Text):
    """A carrier or service code, compared lower-case."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not CARRIER_CODE.fullmatch(text):
            raise ValidationError(f"{text!r} is not a ShipStation code (letters, digits, _).")
        return text.lower()


class Country(Text):
    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).upper()
        if not is_country_code(text):
            raise ValidationError(f"{text!r} is not an ISO 3166-1 alpha-2 country code.")
        return text


def _codes(**kwargs):
    return mfields.List(Code(), validate=validate.Length(max=500), **kwargs)


class TermsSchema(StrictSchema):
    markup_percent = PlainDecimal(maximum=MAX_PERCENT)
    handling_fee = PlainDecimal()
    round_up_to = PlainDecimal(positive=True)
    minimum_fee = PlainDecimal()
    maximum_fee = PlainDecimal()
    free_over = PlainDecimal()
    free_services = _codes()
    exclude_services = _codes()


class RuleSchema(TermsSchema):
    name = Text(required=True, validate=validate.Length(max=100))
    carrier = Code()
    service = Code()
    country = mfields.List(Country(), validate=validate.Length(min=1, max=300))

    @validates("name")
    def _printable(self, value: str, **_):
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValidationError("Must not contain control characters.")


class PricingFileSchema(StrictSchema):
    defaults = mfields.Nested(TermsSchema)
    rule = mfields.List(mfields.Nested(RuleSchema), validate=validate.Length(max=1000))


_FILE_SCHEMA = PricingFileSchema()
_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_HEADER = re.compile(r"\s*(\[\[?)\s*([A-Za-z0-9_-]+)\s*\]")
_KEY = re.compile(r"""\s*(["']?)([A-Za-z0-9_-]+)\1\s*[=.]""")


def load(path: str) -> Pricing:
    """Read and validate a pricing file; PricingError says what is wrong, and where."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(1024 * 1024 + 1)
    except OSError as exc:
        raise PricingError(path, None, None, f"cannot read it ({exc.strerror})") from None
    if len(raw) > 1024 * 1024:
        raise PricingError(path, None, None, "is larger than 1 MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PricingError(path, None, None, "is not UTF-8 text") from None
    return loads(text, source=path)


def load_setting(path: str | None) -> Pricing | None:
    """RATECALC_PRICING_FILE's rules (None: no file); a bad file is a one-line ConfigError."""
    if not path:
        return None
    try:
        return load(path)
    except PricingError as exc:
        raise ConfigError(f"RATECALC_PRICING_FILE: {exc}") from None


def loads(text: str, source: str = "<pricing>") -> Pricing:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _POSITION.search(message)
        line = int(position.group(1)) if position else None
        raise PricingError(source, line, None,
                           "TOML syntax error: " + _POSITION.sub("", message)) from None
    try:
        loaded = _FILE_SCHEMA.load(data)
    except ValidationError as exc:
        path, message = _first_error(exc.messages)
        raise _error(source, text, data, path, message) from None
    return _build(loaded, source, text, data)


def _first_error(messages, path: tuple = ()) -> tuple[tuple, str]:
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        return _first_error(value, path if key == "_schema" else path + (key,))
    if isinstance(messages, list) and messages and not isinstance(messages[0], str):
        return _first_error(messages[0], path)
    return path, messages[0] if isinstance(messages, list) else str(messages)


def _key_lines(text: str) -> dict[tuple, int]:
    """Where each table and key starts: ("defaults",), ("rule", 0, "markup_percent") ..."""
    table: tuple = ()
    rules = -1
    found: dict[tuple, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            name = header.group(2)
            if header.group(1) == "[[" and name == "rule":
                rules += 1
                table = ("rule", rules)
            else:
                table = (name,)
            found.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            found.setdefault(table + (key.group(2),), number)
    return found


def _error(source: str, text: str, data: dict, path: tuple, message: str) -> PricingError:
    """A PricingError naming the line of ``path`` (or of the nearest table) and its key."""
    lines = _key_lines(text)
    line = next((lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in lines), None)
    names = [str(p) for p in path if not isinstance(p, int)]  # list positions: the line says
    if path[:1] == ("rule",) and len(path) >= 2 and isinstance(path[1], int):
        rules = data.get("rule") if isinstance(data.get("rule"), list) else []
        raw = rules[path[1]] if path[1] < len(rules) else None
        name = raw.get("name") if isinstance(raw, dict) else None
        where = f"[[rule]] #{path[1] + 1}" + (f" {name!r}" if isinstance(name, str) else "")
        key = ".".join(names[1:])
        return PricingError(source, line, f"{where} {key}" if key else where, message)
    if path[:1] == ("defaults",) and len(names) > 1:
        return PricingError(source, line, "[defaults] " + ".".join(names[1:]), message)
    return PricingError(source, line, ".".join(names) or None, message)


def _terms(values: dict, base: Terms) -> Terms:
    given = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if k in KEYS}
    return replace(base, **given)


def _build(loaded: dict, source: str, text: str, data: dict) -> Pricing:
    defaults = _terms(loaded.get("defaults", {}), Terms())
    _check_limits(defaults, source, text, data, ("defaults",))
    rules, names = [], set()
    for index, values in enumerate(loaded.get("rule", [])):
        if values["name"] in names:
            raise _error(source, text, data, ("rule", index, "name"),
                         f"another rule is already named {values['name']!r}.")
        names.add(values["name"])
        terms = _terms(values, defaults)
        _check_limits(terms, source, text, data, ("rule", index))
        rules.append(Rule(name=values["name"], terms=terms,
                          overrides=tuple(k for k in KEYS if k in values),
                          carrier=values.get("carrier"), service=values.get("service"),
                          country=tuple(values["country"]) if "country" in values else None))
    return Pricing(defaults=defaults, rules=tuple(rules), source=source)


def _check_limits(terms: Terms, source: str, text: str, data: dict, at: tuple) -> None:
    if (terms.minimum_fee is not None and terms.maximum_fee is not None
            and terms.minimum_fee > terms.maximum_fee):
        raise _error(source, text, data, at + ("minimum_fee",),
                     f"minimum_fee {terms.minimum_fee} is above maximum_fee {terms.maximum_fee}.")


def terms_text(terms: Terms, *, only: tuple[str, ...] | None = None) -> dict:
    """Terms as JSON: decimals as strings, unset keys null (``only``: just those keys)."""
    out = {}
    for f in fields(Terms):
        if only is not None and f.name not in only:
            continue
        value = getattr(terms, f.name)
        out[f.name] = (list(value) if isinstance(value, tuple)
                       else None if value is None else format(value, "f"))
    return out
