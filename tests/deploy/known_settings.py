"""The configuration contract: every ``RATECALC_*`` variable ratecalc reads.

Tests in this package check that the deployment files under ``deploy/`` only
use names from these lists, so a typo in a manifest fails CI instead of being
silently ignored at run time. Secrets may also be given as ``<NAME>_FILE``
(the path of a file holding the value), see ``ratecalc/settings.py``.
"""

from __future__ import annotations

SECRET_SETTINGS: tuple[str, ...] = (
    "RATECALC_SHIPSTATION_API_KEY",
    "RATECALC_SHIPSTATION_API_SECRET",
    "RATECALC_SHIPSTATION_V2_API_KEY",
    "RATECALC_API_TOKENS",
    "RATECALC_CIN7_USERNAME",
    "RATECALC_CIN7_API_KEY",
    "RATECALC_STORE_USERNAME",
    "RATECALC_STORE_PASSWORD",
    "RATECALC_DATABASE_URL",
    "RATECALC_REDIS_URL",
    "RATECALC_METRICS_TOKEN",
)

NON_SECRET_SETTINGS: tuple[str, ...] = (
    "RATECALC_SHIPSTATION_BASE_URL",
    "RATECALC_SHIPSTATION_API",
    "RATECALC_MARKUP_PERCENT",
    "RATECALC_SHIP_FROM_POSTAL_CODE",
    "RATECALC_SHIP_FROM_COUNTRY",
    "RATECALC_SHIP_FROM_CITY",
    "RATECALC_SHIP_FROM_STATE",
    "RATECALC_CARRIERS",
    "RATECALC_CURRENCY",
    "RATECALC_CACHE_TTL_SECONDS",
    "RATECALC_CACHE_MAX_ENTRIES",
    "RATECALC_UPSTREAM_TIMEOUT_SECONDS",
    "RATECALC_SHIPSTATION_REQUESTS_PER_MINUTE",
    "RATECALC_QUOTE_DEADLINE_SECONDS",
    "RATECALC_LOG_LEVEL",
    "RATECALC_CIN7_BASE_URL",
    "RATECALC_IMPORT_STAGES",
    "RATECALC_IMPORT_MAX_AGE_DAYS",
    "RATECALC_CIN7_BRANCH_IDS",
    "RATECALC_STATUS_MAP",
    "RATECALC_CIN7_WEIGHT_UNITS",
    "RATECALC_CUSTOM_FIELDS",
    "RATECALC_DISPATCH_STAGE",
    "RATECALC_EXPORT_PAGE_SIZE",
    "RATECALC_DELIVERY_WORKER",
    "RATECALC_DELIVERY_LEASE_SECONDS",
    "RATECALC_GIFT_MESSAGE_FIELD",
    "RATECALC_DATA_DIR",
    "RATECALC_WORKERS",
    "RATECALC_THREADS",
    "RATECALC_STALE_IF_ERROR_SECONDS",
    "RATECALC_BREAKER_FAILURES",
    "RATECALC_BREAKER_RESET_SECONDS",
)

ALL_SETTINGS: frozenset[str] = frozenset(SECRET_SETTINGS + NON_SECRET_SETTINGS)

# ``RATECALC_<SECRET>_FILE``: the secret is read from that file instead.
SECRET_FILE_SETTINGS: frozenset[str] = frozenset(name + "_FILE" for name in SECRET_SETTINGS)

# Read by deploy/gunicorn.conf.py only (bind address when gunicorn is started
# directly); not part of ratecalc.settings.Settings.
GUNICORN_CONF_VARIABLES: tuple[str, ...] = (
    "RATECALC_HOST",
    "RATECALC_PORT",
)

ALLOWED_NAMES: frozenset[str] = (
    ALL_SETTINGS | SECRET_FILE_SETTINGS | frozenset(GUNICORN_CONF_VARIABLES)
)


def is_known(name: str) -> bool:
    return name in ALLOWED_NAMES
