"""Production serving: gunicorn started from Python, with Prometheus multiprocess mode.

``ratecalc serve`` runs :func:`serve`; ``deploy/gunicorn.conf.py`` exposes the
same options and hooks for anyone starting gunicorn directly.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile

from gunicorn.glogging import Logger as GunicornLogger

from ratecalc.logs import JsonFormatter

# The access line's fields and the gunicorn atoms they come from. %(U)s is the
# path without the query string, which may carry the Custom Store password
# (SS-Password); it must never reach a log.
ACCESS_FIELDS = {"remote": "h", "method": "m", "path": "U", "status": "s", "bytes": "B",
                 "duration_us": "D", "agent": "a"}
# For anyone reading the configuration; RedactingLogger.access builds the line itself.
ACCESS_LOG_FORMAT = json.dumps({"logger": "gunicorn.access",
                                **{k: f"%({a})s" for k, a in ACCESS_FIELDS.items()}})


# gunicorn logs a request line it cannot parse whole (query string included), and
# ShipStation sends the store password in the query string.
# "name=value" in a query string, or "name: value" / "name value" in a header line
# gunicorn could not parse; the value runs to the next "&", quote or " HTTP/" (a
# password may hold spaces).
_SECRET_PARAM = re.compile(
    r"(?i)\b([\w-]*(?:password|secret|token|key|authorization))(\s*[=:]\s*|\s+)"
    r"(.*?)(?=&|\"|'|\s+HTTP/\d|$)")


def redact(text: str) -> str:
    return _SECRET_PARAM.sub(r"\1\2***", text)


class _RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class RedactingLogger(GunicornLogger):
    """gunicorn's logger: JSON lines like ratecalc's own, secret-looking parameters masked.

    The access line is built with json.dumps from gunicorn's atoms (a format string
    shaped like JSON would break on a backslash or a control character in a
    User-Agent); the error log ("Booting worker ...") gets ratecalc's JSON formatter.
    """

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        line = {"logger": "gunicorn.access"}
        line.update({field: str(atoms.get(atom, "-")) for field, atom in ACCESS_FIELDS.items()})
        self.access_log.info("%s", json.dumps(line, ensure_ascii=False))

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.addFilter(_RedactSecrets())
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())


def metrics_dir() -> str:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        path = tempfile.mkdtemp(prefix="ratecalc-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    os.makedirs(path, exist_ok=True)
    return path


# -- gunicorn hooks ----------------------------------------------------------------
def on_starting(server) -> None:
    """Wipe metric files left by an earlier run, before any worker writes."""
    path = metrics_dir()
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker) -> None:
    """Graceful stop: let the delivery worker finish its batch, close the database."""
    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get("ratecalc") if app is not None else None
    if services is not None:
        services.close()


def gunicorn_options(*, host: str, port: int, workers: int, threads: int,
                     log_level: str = "info") -> dict:
    return {
        "bind": f"{host}:{port}",
        "worker_class": "gthread",
        "workers": workers,
        "threads": threads,
        "timeout": 60,
        "graceful_timeout": 30,
        "keepalive": 5,
        "accesslog": "-",
        "errorlog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "loglevel": log_level.lower(),
        "logger_class": RedactingLogger,
        "on_starting": on_starting,
        "child_exit": child_exit,
        "worker_exit": worker_exit,
        "preload_app": False,
    }


def serve(settings, *, host: str, port: int) -> int:
    from gunicorn.app.base import BaseApplication

    metrics_dir()  # before any worker imports prometheus_client

    class Application(BaseApplication):
        def load_config(self):
            options = gunicorn_options(host=host, port=port, workers=settings.workers,
                                       threads=settings.threads, log_level=settings.log_level)
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from ratecalc.app.factory import make_app

            return make_app(settings)

    Application().run()
    return 0
