"""Where a cached 3-carrier quote's time goes: ``make profile-hits``.

The ratecalc WSGI app (``create_app``, the same as under gunicorn) answers the same
cached quote ``PROFILE_REQUESTS`` times in one thread under pyinstrument, after one
miss against the ShipStation simulator (a real HTTP server in a thread). The socket
and gunicorn's own work are not in it: this is the part ratecalc can change. It prints
the share of time per layer (by the module that runs it) and pyinstrument's call tree.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections import Counter

from pyinstrument import Profiler
from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder

from ratecalc.app.factory import create_app
from ratecalc.settings import Settings
from ratecalc.simulators.shipstation.app import create_app as shipstation_app
from tests.bench.bareapp import bare_app
from tests.bench.config import CARRIERS, TOKEN
from tests.bench.quotes import rate_request
from tests.conftest import base_env

LAYERS = (("ratecalc.", "ratecalc"), ("flask", "flask"), ("werkzeug", "werkzeug"),
          ("prometheus_client", "prometheus_client"), ("json", "json (stdlib)"),
          ("marshmallow", "marshmallow"))


def layer(file_path: str) -> str:
    path = file_path.replace(os.sep, ".")
    for needle, name in LAYERS:
        if needle in path:
            return name
    return "other (stdlib, C)"


def side_by_side(ratecalc, bare, n: int) -> str:
    """Both apps' time per call outside the profiler, in alternating rounds (drift)."""
    spent = {"ratecalc": 0.0, "bare": 0.0}
    for _ in range(4):
        for name, call in (("bare", bare), ("ratecalc", ratecalc), ("ratecalc", ratecalc),
                           ("bare", bare)):
            started = time.perf_counter()
            for _ in range(n // 16):
                call()
            spent[name] += time.perf_counter() - started
    us = {name: 1e6 * seconds / (8 * (n // 16)) for name, seconds in spent.items()}
    return (f"outside the profiler, one thread, no socket: ratecalc {us['ratecalc']:.1f} µs "
            f"vs bare Flask {us['bare']:.1f} µs per cached quote "
            f"(bare / ratecalc = {us['bare'] / us['ratecalc']:.2f})")


def main() -> None:
    requests_n = int(os.environ.get("PROFILE_REQUESTS", "20000"))
    sim = make_server("127.0.0.1", 0, shipstation_app(), threaded=True)
    threading.Thread(target=sim.serve_forever, daemon=True).start()
    env = {**base_env(f"http://127.0.0.1:{sim.server_port}"), "RATECALC_API_TOKENS": TOKEN,
           "RATECALC_CARRIERS": ",".join(CARRIERS), "RATECALC_DELIVERY_WORKER": "off",
           "RATECALC_SHIPSTATION_REQUESTS_PER_MINUTE": "100000"}
    app = create_app(Settings.from_env(env))
    body = json.dumps(rate_request()).encode()
    environ = EnvironBuilder(path="/v1/rates", method="POST", data=body,
                             headers={"Authorization": f"Bearer {TOKEN}",
                                      "Content-Type": "application/json"}).get_environ()

    def call(wsgi=app) -> tuple[str, dict]:
        seen = {}

        def start_response(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, dict(headers)

        b"".join(wsgi(dict(environ, **{"wsgi.input": io.BytesIO(body)}), start_response))
        return seen["status"], seen["headers"]

    for _ in range(3):  # a miss, a hit that keeps its answer, a hit from the kept answer
        status, headers = call()
    assert status.startswith("200") and headers.get("X-Cache") == "HIT", (status, headers)
    bare = bare_app(b"".join(app(dict(environ, **{"wsgi.input": io.BytesIO(body)}),
                                 lambda *a: None)))
    print(side_by_side(call, lambda: call(bare), requests_n))
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(requests_n):
        call()
    session = profiler.stop()
    sim.shutdown()

    frame = session.root_frame()
    shares: Counter[str] = Counter()

    def walk(node, caller: str):
        # "[self]" and built-in frames count for the layer that called them.
        path = node.file_path or ""
        name = caller if not path or path.startswith("<") else layer(path)
        if not node.children:
            shares[name] += node.time
        for child in node.children:
            walk(child, name)

    walk(frame, "other (stdlib, C)")
    total = sum(shares.values())
    print(f"{requests_n} cached 3-carrier quotes in {session.duration:.2f} s "
          f"({session.duration / requests_n * 1e6:.0f} µs each, one thread, no socket)")
    for name, spent in shares.most_common():
        print(f"  {name:<20} {100 * spent / total:5.1f} %")
    print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
