"""Shop mode: Cin7 Omni as a ShipStation Custom Store (wired up in ``wiring.py``).

Kept empty on purpose: the CLI imports ``ratecalc.shop.cli`` in gunicorn's
master process, which must not import prometheus-client before its workers
set up multiprocess metrics.
"""
