"""Upstream tests reuse the rating fixtures (``backend``, ``rating_api``) and run the
Cin7 simulator camelCase only: they check the client's raw answers (the shop suite runs
with both casings, through ratecalc's case-insensitive records)."""

import pytest

from tests.rating.conftest import backend, rating_api  # noqa: F401
from tests.shop.conftest import running_cin7


@pytest.fixture
def cin7():
    with running_cin7("camel") as sim:
        yield sim
