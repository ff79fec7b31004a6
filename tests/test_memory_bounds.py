"""Memory a caller cannot inflate: every in-process cache holds to its stated bound.

Each cache is filled in a fresh interpreter to its bound, then to five times its
bound; the RSS the second fill adds must stay within a wide margin of the first.
An unbounded cache would grow about fourfold more. The bounds are the ones the
README's "Memory bounds" table states.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

MARGIN_BYTES = 16 * 1024 * 1024  # allocator slack, far below a fourfold growth

FILLERS = {
    # the quote cache (fresh) and the stale copy: RATECALC_CACHE_MAX_ENTRIES each
    "quote cache": """
        from datetime import UTC, datetime
        from decimal import Decimal
        from ratecalc.model import CarrierRates, Rate
        from ratecalc.rating.cache import MemoryQuoteCache
        BOUND = 5000
        cache = MemoryQuoteCache(BOUND, 3600)
        def fill(start, stop):
            for n in range(start, stop):
                rates = tuple(Rate("ups", f"ups_{k}", f"UPS service {k} {n}", Decimal("12.34"),
                                   Decimal("0.56"), 3) for k in range(4))
                cache.set(f"key-{n}", CarrierRates("ups", rates, datetime.now(UTC)))
        def size():
            return len(cache)
    """,
    # validated request bodies, keyed by their bytes: 8 MiB in total
    "request-bytes cache": """
        from ratecalc.rating import api
        BOUND = 4000
        def fill(start, stop):
            for n in range(start, stop):
                body = b"x" * 2000 + str(n).encode()
                api._requests[body] = (len(body), {"n": n})
        def size():
            return len(api._requests)
    """,
    # country codes as callers send them: lru_cache(512)
    "country codes": """
        from ratecalc.rating import schemas
        BOUND = 512
        def fill(start, stop):
            for n in range(start, stop):
                schemas.is_country_code(f"Q{n}" + "z" * 40)
        def size():
            return schemas.is_country_code.cache_info().currsize
    """,
    # Cin7 products by id for the export: 20,000 entries
    "product cache": """
        from ratecalc.shop.export.service import ProductCache
        BOUND = 20000
        cache = ProductCache(cin7=None)
        def fill(start, stop):
            for n in range(start, stop):
                cache._cache[n] = {"id": n, "name": f"Product {n}", "productOptions": [
                    {"id": n * 10 + k, "code": f"SKU-{n}-{k}", "weight": 1.5} for k in range(3)]}
        def size():
            return len(cache._cache)
    """,
}

RUNNER = """
import gc, json, os
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
{filler}
base = rss()
fill(0, BOUND)
gc.collect()
at_bound = rss()
fill(BOUND, 5 * BOUND)
gc.collect()
print(json.dumps({{"base": base, "at_bound": at_bound, "after": rss(), "size": size(),
                  "bound": BOUND}}))
"""


@pytest.mark.parametrize("name", sorted(FILLERS))
def test_a_cache_filled_past_its_bound_keeps_its_memory(name):
    code = RUNNER.format(filler=textwrap.dedent(FILLERS[name]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    figures = json.loads(out)
    assert figures["size"] <= figures["bound"], figures
    grown_at_bound = figures["at_bound"] - figures["base"]
    grown_after = figures["after"] - figures["base"]
    assert grown_after <= 1.5 * grown_at_bound + MARGIN_BYTES, figures
