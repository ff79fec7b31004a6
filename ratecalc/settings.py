"""Every setting ratecalc reads, validated in one place.

Settings come from environment variables named ``RATECALC_*``. A secret may
instead be given as ``NAME_FILE``: the path of a file holding it (Docker and
Kubernetes secrets). A bad value raises :class:`ConfigError` whose message is a
single line naming the variable, which the CLI prints instead of a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from ratecalc.secrets import Secret

PREFIX = "RATECALC_"
SHIPSTATION_V1_URL = "https://ssapi.shipstation.com"
SHIPSTATION_V2_URL = "https://api.shipstation.com"
WEIGHT_UNITS = ("kilograms", "grams", "pounds", "ounces")
DEFAULT_STATUS_MAP = (
    "awaiting_payment=New;awaiting_shipment=Fully Picked;shipped=Dispatched;cancelled=Cancelled"
)


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    # --- ShipStation -------------------------------------------------------
    shipstation_api: str = "v1"
    shipstation_api_key: Secret | None = None
    shipstation_api_secret: Secret | None = None
    shipstation_v2_api_key: Secret | None = None
    shipstation_base_url: str = SHIPSTATION_V1_URL
    shipstation_requests_per_minute: int = 40
    # --- rating -------------------------------------------------------------
    markup_percent: Decimal = Decimal("0")
    ship_from_postal_code: str | None = None
    ship_from_country: str = "US"
    ship_from_city: str | None = None
    ship_from_state: str | None = None
    carriers: tuple[str, ...] = ()
    currency: str = "USD"
    api_tokens: tuple[Secret, ...] = ()
    cache_ttl_seconds: float = 900.0
    cache_max_entries: int = 10_000
    upstream_timeout_seconds: float = 10.0
    quote_deadline_seconds: float = 15.0
    stale_if_error_seconds: float = 86_400.0
    breaker_failures: int = 5
    breaker_reset_seconds: float = 30.0
    # --- operations ------------------------------------------------------
    log_level: str = "INFO"
    metrics_token: Secret | None = None
    redis_url: Secret | None = None
    workers: int = 1
    threads: int = 16
    # --- shop mode ---------------------------------------------------------
    cin7_username: str | None = None
    cin7_api_key: Secret | None = None
    cin7_base_url: str = "https://api.cin7.com/api"
    store_username: str | None = None
    store_password: Secret | None = None
    data_dir: str = "./var"
    database_url: Secret | None = None
    import_stages: tuple[str, ...] = ("Fully Picked",)
    import_max_age_days: int = 60
    cin7_branch_ids: tuple[int, ...] = ()
    status_map: str = DEFAULT_STATUS_MAP
    cin7_weight_units: str = "kilograms"
    custom_fields: tuple[str, ...] = ()
    gift_message_field: str | None = "giftMessage"
    dispatch_stage: str = "Dispatched"
    export_page_size: int = 100
    delivery_worker: str = "in-process"
    delivery_lease_seconds: float = 120.0
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
        return _Reader(os.environ if env is None else env).settings(sandbox=sandbox)

    def problems(self) -> list[str]:
        """Settings that are individually valid but missing for this mode."""
        out = []
        if self.sandbox:
            return out
        if self.shipstation_api == "v1":
            for name in ("shipstation_api_key", "shipstation_api_secret"):
                if getattr(self, name) is None:
                    out.append(f"{PREFIX}{name.upper()} is required (ShipStation V1 credentials)")
        elif self.shipstation_v2_api_key is None:
            out.append(f"{PREFIX}SHIPSTATION_V2_API_KEY is required when "
                       f"{PREFIX}SHIPSTATION_API=v2")
        if not self.ship_from_postal_code:
            out.append(f"{PREFIX}SHIP_FROM_POSTAL_CODE is required (origin of every quote)")
        if not self.api_tokens:
            out.append(f"{PREFIX}API_TOKENS is required (bearer tokens accepted from callers)")
        if self.shop_enabled and not self.cin7_configured:
            out.append(f"{PREFIX}CIN7_USERNAME and {PREFIX}CIN7_API_KEY are required "
                       "when the Custom Store is enabled")
        return out

    def require_complete(self) -> Settings:
        problems = self.problems()
        if problems:
            raise ConfigError(problems[0])
        return self


class _Reader:
    """Reads and validates one variable at a time, naming it in every error."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def raw(self, name: str) -> str | None:
        value = self.env.get(PREFIX + name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def secret(self, name: str) -> Secret | None:
        path = self.raw(name + "_FILE")
        if path is not None:
            try:
                with open(path, encoding="utf-8") as fh:
                    value = fh.read().strip()
            except OSError as exc:
                raise ConfigError(
                    f"{PREFIX}{name}_FILE: cannot read {path!r} ({exc.strerror})"
                ) from None
            if not value:
                raise ConfigError(f"{PREFIX}{name}_FILE: {path!r} is empty")
            return Secret(value)
        value = self.raw(name)
        return Secret(value) if value is not None else None

    def fail(self, name: str, why: str):
        raise ConfigError(f"{PREFIX}{name}: {why}")

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(name)
        return default if value is None else value

    def integer(self, name: str, default: int, minimum: int = 0) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            self.fail(name, f"must be a whole number, got {value!r}")
        if number < minimum:
            self.fail(name, f"must be at least {minimum}, got {number}")
        return number

    def seconds(self, name: str, default: float, minimum: float = 0.0) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            self.fail(name, f"must be a number of seconds, got {value!r}")
        if not number > minimum or number != number or number == float("inf"):
            self.fail(name, f"must be greater than {minimum:g}, got {value!r}")
        return number

    def decimal(self, name: str, default: Decimal) -> Decimal:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = Decimal(value)
        except InvalidOperation:
            self.fail(name, f"must be a decimal number such as 12.5, got {value!r}")
        if not number.is_finite() or number < 0:
            self.fail(name, f"must be a finite decimal >= 0, got {value!r}")
        return number

    def csv(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return default
        return tuple(part.strip() for part in value.split(",") if part.strip())

    def url(self, name: str, default: str, schemes=("http", "https")) -> str:
        value = self.text(name, default)
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            self.fail(name, f"must be an {' or '.join(schemes)} URL, got {value!r}")
        return value.rstrip("/")

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = (self.text(name, default) or default).lower()
        if value not in choices:
            self.fail(name, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def settings(self, *, sandbox: bool) -> Settings:
        api = self.choice("SHIPSTATION_API", "v1", ("v1", "v2"))
        default_url = SHIPSTATION_V1_URL if api == "v1" else SHIPSTATION_V2_URL
        carriers = tuple(c.lower() for c in self.csv("CARRIERS"))
        for code in carriers:
            if not re.fullmatch(r"[a-z0-9_]+", code):
                self.fail("CARRIERS", f"{code!r} is not a ShipStation carrier code")
        currency = (self.text("CURRENCY", "USD") or "USD").upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            self.fail("CURRENCY", f"must be a 3-letter ISO 4217 code, got {currency!r}")
        country = (self.text("SHIP_FROM_COUNTRY", "US") or "US").upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            self.fail("SHIP_FROM_COUNTRY", f"must be a 2-letter ISO code, got {country!r}")
        tokens = tuple(Secret(t) for t in self._tokens())
        level = (self.text("LOG_LEVEL", "INFO") or "INFO").upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            self.fail("LOG_LEVEL", f"must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        branch_ids = []
        for part in self.csv("CIN7_BRANCH_IDS"):
            if not part.isdigit():
                self.fail("CIN7_BRANCH_IDS", f"must be comma-separated numbers, got {part!r}")
            branch_ids.append(int(part))
        custom_fields = self.csv("CUSTOM_FIELDS")
        if len(custom_fields) > 3:
            self.fail("CUSTOM_FIELDS", "ShipStation has three custom fields; list at most 3")
        redis_url = self.secret("REDIS_URL")
        if redis_url and urlsplit(redis_url.reveal()).scheme not in ("redis", "rediss", "unix"):
            self.fail("REDIS_URL", "must be a redis://, rediss:// or unix:// URL")
        database_url = self.secret("DATABASE_URL")
        if database_url and urlsplit(database_url.reveal()).scheme not in (
            "sqlite", "postgresql", "postgres"
        ):
            self.fail("DATABASE_URL", "must be a sqlite:/// or postgresql:// URL")
        return Settings(
            shipstation_api=api,
            shipstation_api_key=self.secret("SHIPSTATION_API_KEY"),
            shipstation_api_secret=self.secret("SHIPSTATION_API_SECRET"),
            shipstation_v2_api_key=self.secret("SHIPSTATION_V2_API_KEY"),
            shipstation_base_url=self.url("SHIPSTATION_BASE_URL", default_url),
            # ShipStation's own limits: 40/min per key pair on V1, 200/min on V2.
            shipstation_requests_per_minute=self.integer(
                "SHIPSTATION_REQUESTS_PER_MINUTE", 40 if api == "v1" else 200, minimum=1
            ),
            markup_percent=self.decimal("MARKUP_PERCENT", Decimal("0")),
            ship_from_postal_code=self.text("SHIP_FROM_POSTAL_CODE"),
            ship_from_country=country,
            ship_from_city=self.text("SHIP_FROM_CITY"),
            ship_from_state=self.text("SHIP_FROM_STATE"),
            carriers=carriers,
            currency=currency,
            api_tokens=tokens,
            cache_ttl_seconds=self.seconds("CACHE_TTL_SECONDS", 900.0),
            cache_max_entries=self.integer("CACHE_MAX_ENTRIES", 10_000, minimum=1),
            upstream_timeout_seconds=self.seconds("UPSTREAM_TIMEOUT_SECONDS", 10.0),
            quote_deadline_seconds=self.seconds("QUOTE_DEADLINE_SECONDS", 15.0),
            stale_if_error_seconds=self.seconds("STALE_IF_ERROR_SECONDS", 86_400.0, minimum=-1),
            breaker_failures=self.integer("BREAKER_FAILURES", 5, minimum=1),
            breaker_reset_seconds=self.seconds("BREAKER_RESET_SECONDS", 30.0),
            log_level=level,
            metrics_token=self.secret("METRICS_TOKEN"),
            redis_url=redis_url,
            workers=self.integer("WORKERS", 1, minimum=1),
            threads=self.integer("THREADS", 16, minimum=1),
            cin7_username=self.text("CIN7_USERNAME"),
            cin7_api_key=self.secret("CIN7_API_KEY"),
            cin7_base_url=self.url("CIN7_BASE_URL", "https://api.cin7.com/api"),
            store_username=self.text("STORE_USERNAME"),
            store_password=self.secret("STORE_PASSWORD"),
            data_dir=self.text("DATA_DIR", "./var"),
            database_url=database_url,
            import_stages=self.csv("IMPORT_STAGES", ("Fully Picked",)),
            import_max_age_days=self.integer("IMPORT_MAX_AGE_DAYS", 60, minimum=1),
            cin7_branch_ids=tuple(branch_ids),
            status_map=self.text("STATUS_MAP", DEFAULT_STATUS_MAP),
            cin7_weight_units=self.choice("CIN7_WEIGHT_UNITS", "kilograms", WEIGHT_UNITS),
            custom_fields=custom_fields,
            gift_message_field=self._optional_field("GIFT_MESSAGE_FIELD", "giftMessage"),
            dispatch_stage=self.text("DISPATCH_STAGE", "Dispatched"),
            export_page_size=self.integer("EXPORT_PAGE_SIZE", 100, minimum=1),
            delivery_worker=self.choice("DELIVERY_WORKER", "in-process", ("in-process", "off")),
            delivery_lease_seconds=self.seconds("DELIVERY_LEASE_SECONDS", 120.0),
            sandbox=sandbox,
        )

    def _optional_field(self, name: str, default: str) -> str | None:
        """A field name, or None when the value is ``none`` (the feature is off)."""
        value = self.text(name, default)
        return None if value.lower() == "none" else value

    def _tokens(self) -> tuple[str, ...]:
        secret = self.secret("API_TOKENS")
        if secret is None:
            return ()
        tokens = tuple(t.strip() for t in secret.reveal().split(",") if t.strip())
        for token in tokens:
            if len(token) < 16:
                self.fail("API_TOKENS", "each token must be at least 16 characters long")
        return tokens
