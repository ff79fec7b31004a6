"""``ratecalc shop ...``, ``ratecalc worker`` and ``ratecalc db`` commands."""

from __future__ import annotations


def add_shop_commands(sub) -> None:
    """Shop-mode commands are registered here (see issue: shop mode)."""
