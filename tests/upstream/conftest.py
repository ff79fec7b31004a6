"""Upstream tests reuse the rating fixtures (``backend``, ``rating_api``) and the Cin7
simulator fixture (``cin7``)."""

from tests.rating.conftest import backend, rating_api  # noqa: F401
from tests.shop.conftest import cin7  # noqa: F401
