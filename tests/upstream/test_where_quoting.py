"""Property: no reference text can change the meaning of a ``where`` clause.

References are merchant-controlled (``O'Brien's order``, ``#1050``, ``' OR 1=1 --``).
Quoted by ratecalc's client, any text stays one string literal in Cin7's grammar
(checked with the Cin7 simulator's parser), and a real lookup over HTTP finds
exactly the order with that reference and no other.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ratecalc.simulators.cin7.where_parse import In, Lit, parse_where
from ratecalc.upstream.cin7.client import Cin7Client, quote

printable = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@given(printable, printable)
def test_quoted_references_stay_literals(first, second):
    clause = f"reference IN ({quote(first)},{quote(second)})"
    assert parse_where(clause) == In("reference", (Lit("string", first),
                                                   Lit("string", second)))


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["O'Brien", "' OR 1=1 --", "#1050", "a'')) OR (id > 0", "x'; --",
                        "ünïcødé ✓", "50% off_"]))
def test_lookup_by_hostile_reference_finds_only_that_order(reference):
    from ratecalc.simulators.cin7.app import Cin7Simulator
    from ratecalc.simulators.server import ServerThread

    sim = Cin7Simulator(seed_demo=False)
    decoy = sim.add_order({"reference": "unrelated", "stage": "New"})
    sim.set_rate_limits(per_second=None, per_minute=None, per_day=None)
    target = sim.add_order({"reference": reference, "stage": "New"})
    with ServerThread(sim.app) as server:
        client = Cin7Client(server.url + "/api", "demo-user", "demo-api-key")
        found = client.sales_order_by_reference(reference)
        client.session.close()
    assert found is not None and found["id"] == target["id"] != decoy["id"]
