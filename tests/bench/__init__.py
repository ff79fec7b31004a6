"""``make bench``: ratecalc's benchmark (not a test; ``make test`` ignores this package).

Every figure is a ratio of two things measured side by side in the same run, so
the machine's varying speed cancels out. Real servers run in their own processes
(ratecalc and a bare Flask app under gunicorn, the simulators under werkzeug) and
load comes from a separate process: ``wrk`` with a Lua script when installed,
otherwise :mod:`tests.bench.loadgen`. Durations are set through ``BENCH_*``
environment variables (see :mod:`tests.bench.config`).
"""
