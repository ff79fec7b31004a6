"""Automatic freight: every Cin7 order priced without a click (``RATECALC_AUTO_FREIGHT=on``).

* :mod:`.fingerprint` -- what about an order changes its freight;
* :mod:`.decide` -- which orders are priced, and why the others are not (pure);
* :mod:`.budgets` -- the Cin7 calls per day and the ShipStation share it may use;
* :mod:`.run` -- one poll: read, decide, quote, write in batches, audit;
* :mod:`.worker` -- the poll loop, under the store's lease (one poller at a time);
* :mod:`.audit` -- the audit records as the API and the CLI show them.
"""
