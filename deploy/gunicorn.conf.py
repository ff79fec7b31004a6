# gunicorn settings for ratecalc, for starting gunicorn directly:
#   gunicorn -c deploy/gunicorn.conf.py ratecalc.wsgi:app
# `ratecalc serve` applies the same options (ratecalc/serving.py) itself.
import os

from ratecalc.serving import (  # noqa: F401
    child_exit,
    gunicorn_options,
    metrics_dir,
    on_starting,
    worker_exit,
)

metrics_dir()
_options = gunicorn_options(
    host=os.environ.get("RATECALC_HOST", "0.0.0.0"),  # noqa: S104 (inside a container)
    port=int(os.environ.get("RATECALC_PORT", "8000")),
    workers=int(os.environ.get("RATECALC_WORKERS", "1")),
    threads=int(os.environ.get("RATECALC_THREADS", "16")),
    log_level=os.environ.get("RATECALC_LOG_LEVEL", "info"),
)
globals().update({k: v for k, v in _options.items()
                 if k not in ("on_starting", "child_exit", "worker_exit")})
