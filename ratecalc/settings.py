"""Every setting ratecalc reads, declared once: name, type, default, secret, description.

Settings come from environment variables named ``RATECALC_<FIELD>``. Each field
of :class:`Settings` is declared with :func:`setting`, which holds its parser (and
so its type and validation), its default, whether it is a secret and one line of
description; reading, validation, the ``NAME_FILE`` convention for secrets
(Docker and Kubernetes secrets as files), the deploy contract tests and
``describe()`` all come from that one declaration.

A table of our own rather than environs or pydantic-settings: the parsers are a
dozen small functions, the errors must be one line naming the variable, and
*every* bad or missing variable is reported in one message, which is simplest
when we hold the loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

from ratecalc.secrets import Secret
from ratecalc.setting_parsers import (
    Invalid,
    api_tokens,
    box,
    branch_ids,
    carrier_codes,
    choice,
    csv,
    custom_fields,
    decimal,
    email_address,
    email_list,
    fraction,
    frame_ancestors,
    hours,
    http_url,
    integer,
    log_level,
    long_secret,
    on_off,
    optional_field,
    readable_file,
    seconds,
    secret_http_url,
    secret_list,
    secret_of_length,
    secret_text,
    smtp_url,
    status_map,
    text,
    token_list,
    upper_code,
    url_with_scheme,
    weight_with_unit,
)
from ratecalc.status_map import DEFAULT_STATUS_MAP as DEFAULT_STATUS_MAP  # re-exported
from ratecalc.units import WEIGHT_UNITS as WEIGHT_UNITS  # re-exported

PREFIX = "RATECALC_"
SHIPSTATION_V1_URL = "https://ssapi.shipstation.com"
SHIPSTATION_V2_URL = "https://api.shipstation.com"
BY_API = object()  # a default that depends on RATECALC_SHIPSTATION_API


class ConfigError(ValueError):
    """Settings are missing or invalid; the message names every variable concerned."""


# -- the declaration ------------------------------------------------------------------
def setting(default: Any, parse: Callable[[str], Any], doc: str, *, secret: bool = False,
            blank: bool = False):
    """One setting: its default, its parser, one line of description, whether secret.

    A secret may also be given as ``RATECALC_<NAME>_FILE``. A secret's parser gets
    the text and returns a :class:`Secret` (or a tuple of them) where the value
    must never be printed. A variable set to blank is unset, unless ``blank``: then
    it is parsed as "" (a list that may be emptied on purpose).
    """
    return field(default=default, metadata={"parse": parse, "doc": doc, "secret": secret,
                                            "blank": blank})



@dataclass(frozen=True)
class Settings:
    # --- ShipStation -------------------------------------------------------
    shipstation_api: str = setting("v1", choice("v1", "v2"), "ShipStation API: v1 or v2")
    shipstation_api_key: Secret | None = setting(None, secret_text, "ShipStation V1 API key",
                                                 secret=True)
    shipstation_api_secret: Secret | None = setting(None, secret_text, "ShipStation V1 API secret",
                                                    secret=True)
    shipstation_v2_api_key: Secret | None = setting(None, secret_text, "ShipStation V2 API key",
                                                    secret=True)
    shipstation_base_url: str = setting(BY_API, http_url, "ShipStation API base URL")
    shipstation_requests_per_minute: int = setting(
        BY_API, integer(1), "ceiling on calls to ShipStation (V1 40, V2 200)")
    # --- rating -------------------------------------------------------------
    markup_percent: Decimal = setting(Decimal("0"), decimal, "freight markup in percent")
    pricing_file: str | None = setting(None, readable_file, "TOML file of freight pricing rules")
    ship_from_postal_code: str | None = setting(None, text, "origin postal code")
    ship_from_country: str = setting("US", upper_code(2, "2-letter ISO code"), "origin country")
    ship_from_city: str | None = setting(None, text, "origin city")
    ship_from_state: str | None = setting(None, text, "origin state or province")
    carriers: tuple[str, ...] = setting((), carrier_codes, "carrier codes to rate-shop")
    excluded_services: tuple[str, ...] = setting(
        ("usps_media_mail",), carrier_codes, "service codes never quoted unless asked for "
        "(blank: none)", blank=True)
    currency: str = setting("USD", upper_code(3, "3-letter ISO 4217 code"),
                            "the ShipStation account's currency")
    api_tokens: tuple[Secret, ...] = setting((), api_tokens, "bearer tokens of API callers",
                                             secret=True)
    cache_ttl_seconds: float = setting(900.0, seconds(), "quote cache lifetime")
    cache_max_entries: int = setting(10_000, integer(1), "quote cache size")
    upstream_timeout_seconds: float = setting(10.0, seconds(), "per ShipStation request")
    quote_deadline_seconds: float = setting(15.0, seconds(), "longest a quote may take")
    stale_if_error_seconds: float = setting(86_400.0, seconds(-1),
                                            "oldest last-good quote served when ShipStation fails")
    breaker_failures: int = setting(5, integer(1), "failures that open a circuit breaker")
    breaker_reset_seconds: float = setting(30.0, seconds(), "open breaker's pause before a probe")
    # --- operations ------------------------------------------------------
    log_level: str = setting("INFO", log_level, "log level")
    metrics_token: Secret | None = setting(None, long_secret, "bearer token /metrics requires",
                                           secret=True)
    redis_url: Secret | None = setting(
        None, url_with_scheme("redis", "rediss", "unix", example="redis://, rediss:// or unix://"),
        "Redis for shared state", secret=True)
    workers: int = setting(1, integer(1), "gunicorn worker processes")
    threads: int = setting(16, integer(1), "threads per worker")
    trusted_proxies: int = setting(0, integer(0),
                                   "reverse proxies whose X-Forwarded-* headers are trusted")
    # --- shop mode ---------------------------------------------------------
    cin7_username: str | None = setting(None, text, "Cin7 Omni API username", secret=True)
    cin7_api_key: Secret | None = setting(None, secret_text, "Cin7 Omni API key", secret=True)
    cin7_base_url: str = setting("https://api.cin7.com/api", http_url, "Cin7 Omni API base URL")
    # Third-party sources agree on 3/s, 60/min, 5,000/day per API connection; Cin7's own
    # paragraph could not be read, so an account that differs can say so.
    cin7_requests_per_second: int = setting(3, integer(1), "Cin7 calls a second (per connection)")
    cin7_requests_per_minute: int = setting(60, integer(1), "Cin7 calls a minute")
    cin7_requests_per_day: int = setting(5000, integer(1), "Cin7 calls a day")
    store_username: str | None = setting(None, text, "Custom Store username", secret=True)
    store_password: tuple[Secret, ...] = setting(
        (), secret_list, "Custom Store password; a comma list accepts each (rotation)", secret=True)
    data_dir: str = setting("./var", text, "directory of the default SQLite database")
    database_url: Secret | None = setting(
        None, url_with_scheme("sqlite", "postgresql", "postgres",
                              example="sqlite:/// or postgresql://"),
        "shop database", secret=True)
    import_stages: tuple[str, ...] = setting(("Fully Picked",), csv, "stages that export")
    import_max_age_days: int = setting(60, integer(1), "oldest order date or ETD that exports")
    cin7_branch_ids: tuple[int, ...] = setting((), branch_ids, "branches whose orders export")
    status_map: str = setting(DEFAULT_STATUS_MAP, status_map, "ShipStation status = Cin7 stage")
    cin7_weight_units: str = setting("kilograms", choice(*WEIGHT_UNITS),
                                     "unit of the Cin7 account's weights")
    custom_fields: tuple[str, ...] = setting((), custom_fields,
                                             "Cin7 fields for CustomField1-3")
    gift_message_field: str | None = setting("giftMessage", optional_field,
                                             "Cin7 field holding a gift message (none: off)")
    dispatch_stage: str = setting("Dispatched", text, "stage written once an order shipped")
    export_page_size: int = setting(100, integer(1), "orders per Custom Store page")
    export_max_cin7_share: float = setting(0.5, fraction,
                                           "most of Cin7's daily calls the export may use")
    delivery_worker: str = setting("in-process", choice("in-process", "off"),
                                   "whether serve runs the delivery worker")
    delivery_lease_seconds: float = setting(120.0, seconds(), "a worker's claim on a notice")
    # --- web pages under /ui/ (ratecalc.ui) -------------------------------------
    ui: str = setting("on", choice("on", "off"), "off disables the /ui/ pages even with a key")
    ui_tokens: tuple[Secret, ...] = setting(
        (), token_list, "staff tokens for /ui/login (empty: RATECALC_API_TOKENS)", secret=True)
    ui_secret_key: Secret | None = setting(None, secret_of_length(32),
                                           "signs /ui/ session cookies (unset: /ui/ is off)",
                                           secret=True)
    ui_secure_cookies: str = setting("off", choice("on", "off"),
                                     "on: Secure session cookies even over plain HTTP")
    ui_frame_ancestors: str = setting("'none'", frame_ancestors,
                                      "CSP frame-ancestors of /ui/ pages")
    # --- alerts ("Send errors to") -----------------------------------------
    alerts: str = setting("on", choice("on", "off"),
                          "whether serve runs the alert loop (off: stored, not sent)")
    alert_email_to: tuple[str, ...] = setting((), email_list, "addresses alerts are mailed to")
    alert_email_from: str | None = setting(None, email_address, "From: of alert mail")
    smtp_url: Secret | None = setting(None, smtp_url, "mail server: smtp:// (STARTTLS) or "
                                      "smtps://", secret=True)
    alert_webhook_url: Secret | None = setting(None, secret_http_url, "URL alerts are POSTed "
                                               "to (Slack-compatible)", secret=True)
    alert_mailbox_file: str | None = setting(None, text, "mbox file alerts are appended to")
    alert_repeat_minutes: int = setting(240, integer(1), "least time between two sends of a key")
    alert_notice_pending_minutes: int = setting(60, integer(1),
                                                "a notice pending longer is an alert")
    alert_export_silence_hours: int = setting(6, integer(1),
                                              "no export call for longer is an alert")
    alert_held_order_hours: int = setting(24, integer(1), "a held order older is in the digest")
    # --- automatic freight (ratecalc.shop.autofreight) ---------------------
    auto_freight: bool = setting(False, on_off, "price Cin7 orders' freight automatically")
    freight_worker: str = setting("in-process", choice("in-process", "off"),
                                  "whether serve runs the auto-freight worker")
    auto_freight_interval_seconds: float = setting(60.0, seconds(),
                                                   "how often auto-freight polls Cin7")
    auto_freight_lookback_hours: float = setting(24.0, hours,
                                                 "how far back auto-freight's first poll reads")
    auto_freight_stages: tuple[str, ...] = setting((), csv,
                                                   "stages auto-freight prices (empty: any)")
    auto_freight_reprice: bool = setting(True, on_off,
                                         "re-price ratecalc's freight when the shipment changes")
    packaging_weight: Decimal = setting(Decimal("0"), decimal,
                                        "packaging weight added per order (Cin7 weight unit)")
    default_box: tuple | None = setting(None, box, "box of auto-freight quotes, e.g. 30x20x15cm")
    max_package_weight: tuple = setting((Decimal(150), "pounds"), weight_with_unit,
                                        "heaviest order auto-freight prices, e.g. 150 lb")
    auto_freight_max_cin7_calls_per_day: int = setting(
        1500, integer(1), "Cin7 calls auto-freight may make a day")
    export_requires_freight: bool = setting(False, on_off,
                                            "hold orders without freight out of the export")
    # --- not from the environment ------------------------------------------
    sandbox: bool = field(default=False, compare=False)

    @property
    def shop_enabled(self) -> bool:
        return bool(self.store_username and self.store_password)

    @property
    def cin7_configured(self) -> bool:
        return bool(self.cin7_username and self.cin7_api_key)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url.reveal()
        return "sqlite:///" + os.path.join(self.data_dir, "ratecalc.sqlite3")

    def with_overrides(self, **changes) -> Settings:
        return replace(self, **changes)

    def secrets(self) -> list[str]:
        """Every secret value, for tests and log scrubbing."""
        out: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            values = value if isinstance(value, tuple) else (value,)
            out.extend(v.reveal() for v in values if isinstance(v, Secret))
        return out

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, sandbox: bool = False) -> Settings:
        """Read every declared setting; a ConfigError lists every invalid variable at once."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        problems: list[str] = []
        for declared in declarations():
            try:
                values[declared.name] = declared.read(env)
            except ConfigError as exc:
                problems.append(str(exc))
        if problems:
            raise ConfigError("; ".join(problems))
        api = values["shipstation_api"]
        if values["shipstation_base_url"] is BY_API:
            values["shipstation_base_url"] = SHIPSTATION_V1_URL if api == "v1" \
                else SHIPSTATION_V2_URL
        if values["shipstation_requests_per_minute"] is BY_API:
            # ShipStation's own limits: 40/min per key pair on V1, 200/min on V2.
            values["shipstation_requests_per_minute"] = 40 if api == "v1" else 200
        return cls(**values, sandbox=sandbox)

    def problems(self) -> list[str]:
        """Settings that are individually valid but missing for this mode."""
        if self.sandbox:
            return []
        out = []
        if self.shipstation_api == "v1":
            for name in ("shipstation_api_key", "shipstation_api_secret"):
                if getattr(self, name) is None:
                    out.append(f"{PREFIX}{name.upper()} is required (ShipStation V1 credentials)")
        else:
            if self.shipstation_v2_api_key is None:
                out.append(f"{PREFIX}SHIPSTATION_V2_API_KEY is required when "
                           f"{PREFIX}SHIPSTATION_API=v2")
            # V2 estimates require the origin's city and state (the published spec).
            for name in ("ship_from_city", "ship_from_state"):
                if not getattr(self, name):
                    out.append(f"{PREFIX}{name.upper()} is required when "
                               f"{PREFIX}SHIPSTATION_API=v2 (V2 rates need the origin's "
                               "city and state)")
        if not self.ship_from_postal_code:
            out.append(f"{PREFIX}SHIP_FROM_POSTAL_CODE is required (origin of every quote)")
        if not self.api_tokens:
            out.append(f"{PREFIX}API_TOKENS is required (bearer tokens accepted from callers)")
        if self.shop_enabled and not self.cin7_configured:
            out.append(f"{PREFIX}CIN7_USERNAME and {PREFIX}CIN7_API_KEY are required "
                       "when the Custom Store is enabled")
        return out

    def require_complete(self, *, ignore: tuple[str, ...] = ()) -> Settings:
        """Raise one ConfigError naming every missing setting (except those in ``ignore``)."""
        problems = [p for p in self.problems()
                    if not any(p.startswith(PREFIX + name) for name in ignore)]
        if problems:
            raise ConfigError("; ".join(problems))
        return self

    @classmethod
    def describe(cls) -> list[Declared]:
        return declarations()


@dataclass(frozen=True)
class Declared:
    """A declared setting as the reader and the contract tests see it."""

    name: str  # the Settings attribute
    env: str  # RATECALC_...
    default: Any
    parse: Callable[[str], Any]
    doc: str
    secret: bool
    blank: bool = False  # set to blank means "" (not the default)

    def raw(self, env: Mapping[str, str], name: str) -> str | None:
        value = env.get(name)
        if value is None or (value.strip() == "" and not self.blank):
            return None
        return value.strip()

    def read(self, env: Mapping[str, str]) -> Any:
        value, source = self.raw(env, self.env), self.env
        if self.secret:
            path = self.raw(env, self.env + "_FILE")
            if path is not None:
                value, source = self._read_file(path), self.env + "_FILE"
        if value is None:
            return self.default
        try:
            return self.parse(value)
        except Invalid as exc:
            raise ConfigError(f"{source}: {exc}") from None

    def _read_file(self, path: str) -> str:
        try:
            with open(path, encoding="utf-8") as fh:
                value = fh.read().strip()
        except OSError as exc:
            raise ConfigError(f"{self.env}_FILE: cannot read {path!r} ({exc.strerror})") from None
        if not value:
            raise ConfigError(f"{self.env}_FILE: {path!r} is empty")
        return value


def declarations() -> list[Declared]:
    out = []
    for f in fields(Settings):
        if "parse" not in f.metadata:
            continue
        default = f.default if f.default is not MISSING else None
        out.append(Declared(name=f.name, env=PREFIX + f.name.upper(), default=default,
                            parse=f.metadata["parse"], doc=f.metadata["doc"],
                            secret=f.metadata["secret"], blank=f.metadata["blank"]))
    return out
