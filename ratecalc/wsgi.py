"""WSGI entry point: ``gunicorn -c deploy/gunicorn.conf.py ratecalc.wsgi:app``."""

from __future__ import annotations

from ratecalc.app.factory import make_app as make_app  # re-exported


def __getattr__(name: str):
    # ``ratecalc.wsgi:app`` builds the app on first access, not on import.
    if name == "app":
        return make_app()
    raise AttributeError(name)
