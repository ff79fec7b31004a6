# gunicorn settings for ratecalc, for starting gunicorn directly:
#   gunicorn -c deploy/gunicorn.conf.py ratecalc.wsgi:app
# `ratecalc serve` applies the same options (ratecalc/app/serving.py) itself.
import os

from ratecalc.app.serving import (  # noqa: F401
    child_exit,
    gunicorn_options,
    metrics_dir,
    on_starting,
    worker_exit,
)
from ratecalc.settings import Settings

metrics_dir()
# Workers, threads and the log level come from the settings' one declaration.
_settings = Settings.from_env()
_options = gunicorn_options(
    host=os.environ.get("RATECALC_HOST", "0.0.0.0"),  # noqa: S104 (inside a container)
    port=int(os.environ.get("RATECALC_PORT", "8000")),
    workers=_settings.workers,
    threads=_settings.threads,
    log_level=_settings.log_level.lower(),
)
globals().update({k: v for k, v in _options.items()
                 if k not in ("on_starting", "child_exit", "worker_exit")})
