"""Upstream tests reuse the rating fixtures (``backend``, ``rating_api``)."""

from tests.rating.conftest import backend, rating_api  # noqa: F401
