"""WSGI entry point: ``gunicorn -c deploy/gunicorn.conf.py ratecalc.wsgi:app``."""

from __future__ import annotations

from ratecalc.app import create_app
from ratecalc.logs import configure_logging
from ratecalc.settings import Settings


def make_app(settings: Settings | None = None):
    settings = settings or Settings.from_env().require_complete()
    configure_logging(settings.log_level)
    return create_app(settings)


def __getattr__(name: str):
    # ``ratecalc.wsgi:app`` builds the app on first access, not on import.
    if name == "app":
        return make_app()
    raise AttributeError(name)
