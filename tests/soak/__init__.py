"""``make soak``: ratecalc under gunicorn for a fixed period at a steady mixed load.

Not collected by pytest (no ``test_`` modules): run it with ``python -m tests.soak``.
See :mod:`tests.soak.run` for what it does and what makes it pass.
"""
