"""The simulators in their own process, with a small control API under ``/_bench/``.

    python -m tests.bench.simrunner shipstation --port P
    python -m tests.bench.simrunner cin7 --port P --orders 5000

The control API is mounted in front of the simulator (it never reaches the
simulator's auth, rate limits or record):

* ShipStation: ``POST /_bench/reset`` ``{"latency", "limit", "window", "v2_limit"}``
  forgets every call and sets latency and limits; ``GET /_bench/calls?path=`` returns
  the recorded calls as ``[time, status, carrier_codes]``.
* Cin7: ``GET /_bench/calls`` returns call counts by path; ``POST /_bench/reset`` forgets
  them; ``GET /_bench/info`` the seeded orders and the distinct products they use.
"""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from ratecalc.simulators.cin7 import data as cin7_data
from ratecalc.simulators.cin7.app import Cin7Simulator
from ratecalc.simulators.shipstation.app import ShipStationSimulator


def shipstation_control(sim: ShipStationSimulator) -> Flask:
    control = Flask("bench-shipstation-control")

    @control.get("/_bench/healthz")
    def healthz():
        return jsonify(status="ok")

    @control.post("/_bench/reset")
    def reset():
        body = request.get_json(force=True) or {}
        sim.reset()
        sim.set_latency(float(body.get("latency", 0.0)))
        sim.set_rate_limit(int(body.get("limit", 40)), float(body.get("window", 60.0)),
                           int(body.get("v2_limit", 200)))
        return jsonify(status="ok")

    @control.get("/_bench/calls")
    def calls():
        record = sim.calls(request.args.get("path") or None)
        return jsonify(calls=[[r["time"], r["status"], r["carrier_codes"]] for r in record])

    return control


def cin7_control(sim: Cin7Simulator, now: datetime) -> Flask:
    control = Flask("bench-cin7-control")

    @control.get("/_bench/healthz")
    def healthz():
        return jsonify(status="ok")

    @control.post("/_bench/reset")
    def reset():
        with sim._lock:  # the simulator has no public way to forget its record
            sim.requests.clear()
        return jsonify(status="ok")

    @control.get("/_bench/calls")
    def calls():
        counts: dict[str, int] = {}
        for call in sim.calls():
            key = f"{call['method']} {call['path']} {call['status']}"
            counts[key] = counts.get(key, 0) + 1
        return jsonify(counts=counts)

    @control.get("/_bench/info")
    def info():
        products = {line["productId"] for order in sim.orders.values()
                    for line in order["lineItems"] if line.get("productId")}
        freighted = sum(1 for order in sim.orders.values()
                        if order.get("freightTotal") or order.get("freightDescription"))
        return jsonify(orders=len(sim.orders), products=len(products), now=now.isoformat(),
                       with_freight=freighted)

    return control


def seeded_cin7(orders: int, now: datetime, no_freight: bool = False) -> Cin7Simulator:
    """Demo branches, products and stock, and ``orders`` eligible orders; no limits.
    ``no_freight``: the orders arrive without freight, as from a web shop."""
    sim = Cin7Simulator(seed_demo=False, now=now)
    for branch in cin7_data.demo_branches(now):
        sim.add_branch(branch)
    for product in cin7_data.demo_products(now):
        sim.add_product(product)
    sim.stock.extend(cin7_data.demo_stock(now))
    for order in cin7_data.make_orders(orders, now=now, seed=1):
        if no_freight:
            order.update(freightTotal=0.0, freightDescription="")
        sim.add_order(order)
    sim.set_rate_limits(per_second=None, per_minute=None, per_day=None)
    return sim


def mount(app, control: Flask):
    def wsgi(environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_bench/"):
            return control(environ, start_response)
        return app(environ, start_response)

    return wsgi


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("shipstation", "cin7"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--no-freight", action="store_true")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if args.kind == "shipstation":
        sim = ShipStationSimulator()
        app = mount(sim.app, shipstation_control(sim))
    else:
        now = datetime.now(UTC).replace(microsecond=0)
        sim = seeded_cin7(args.orders, now, no_freight=args.no_freight)
        app = mount(sim.app, cin7_control(sim, now))
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    server.socket.listen(1024)
    server.serve_forever()


if __name__ == "__main__":
    main()
