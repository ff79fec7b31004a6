"""Fault tests use the shop fixtures too."""

from tests.shop.conftest import cin7, shop_api, shop_env, sqlite_url, store_url  # noqa: F401
