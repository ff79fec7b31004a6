"""The configuration contract: every ``RATECALC_*`` variable ratecalc reads.

Derived from the one declaration in ``ratecalc/settings.py`` (``Settings.describe()``),
so the deploy tests hold deploy/ and the README to what the code really reads: a
setting added there and forgotten here, or a typo in a manifest, fails CI.
Secrets may also be given as ``<NAME>_FILE`` (the path of a file holding the value).
"""

from __future__ import annotations

from ratecalc.settings import Settings

DECLARED = Settings.describe()
SECRET_SETTINGS: tuple[str, ...] = tuple(d.env for d in DECLARED if d.secret)
NON_SECRET_SETTINGS: tuple[str, ...] = tuple(d.env for d in DECLARED if not d.secret)
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
