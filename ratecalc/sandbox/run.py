"""``ratecalc sandbox``: the real service wired to the built-in simulators.

The ShipStation (and Cin7) simulators run as real HTTP servers on free ports;
ratecalc itself runs on the requested port with settings pointing at them, a
demo bearer token and demo Custom Store credentials, all printed on start-up.
Environment variables still apply (e.g. RATECALC_MARKUP_PERCENT).
"""

from __future__ import annotations

import os
import sys

from werkzeug.serving import make_server

from ratecalc.sandbox.server import ServerThread
from ratecalc.sandbox.shipstation import ShipStationSimulator

DEMO_TOKEN = "sandbox-demo-token-please-change"  # noqa: S105 (public demo value)
SANDBOX_ENV = {
    "RATECALC_SHIPSTATION_API_KEY": "demo-key",
    "RATECALC_SHIPSTATION_API_SECRET": "demo-secret",
    "RATECALC_SHIPSTATION_V2_API_KEY": "demo-v2-key",
    "RATECALC_API_TOKENS": DEMO_TOKEN,
    "RATECALC_SHIP_FROM_POSTAL_CODE": "78703",
    "RATECALC_SHIP_FROM_CITY": "Austin",
    "RATECALC_SHIP_FROM_STATE": "TX",
    "RATECALC_MARKUP_PERCENT": "10",
}


def sandbox_env(shipstation_url: str, extra: dict | None = None) -> dict:
    """Sandbox defaults, overridden by the caller's RATECALC_* environment."""
    env = dict(SANDBOX_ENV, RATECALC_SHIPSTATION_BASE_URL=shipstation_url)
    env.update(extra or {})
    env.update({k: v for k, v in os.environ.items() if k.startswith("RATECALC_")
                and k not in ("RATECALC_SHIPSTATION_BASE_URL", "RATECALC_CIN7_BASE_URL")})
    return env


def start_simulators() -> dict:
    shipstation = ShipStationSimulator()
    servers = {"shipstation": ServerThread(shipstation.app).start()}
    sims = {"shipstation": shipstation}
    extra = {}
    try:
        from ratecalc.sandbox.shop import start_shop_simulators
    except ImportError:  # shop mode not installed in this build
        start_shop_simulators = None
    if start_shop_simulators is not None:
        extra = start_shop_simulators(servers, sims)
    return {"servers": servers, "sims": sims,
            "env": sandbox_env(servers["shipstation"].url, extra)}


def run_sandbox(host: str = "127.0.0.1", port: int = 8000) -> int:
    from ratecalc.app import create_app
    from ratecalc.logs import configure_logging
    from ratecalc.settings import Settings

    started = start_simulators()
    settings = Settings.from_env(started["env"], sandbox=True)
    configure_logging(settings.log_level)
    app = create_app(settings)
    server = make_server(host, port, app, threaded=True)
    base = f"http://{host}:{server.server_port}"
    print(f"ratecalc sandbox on {base}", file=sys.stderr)
    print(f"  ShipStation simulator: {started['servers']['shipstation'].url}", file=sys.stderr)
    print(f"  demo API token: {DEMO_TOKEN}", file=sys.stderr)
    for line in started["sims"].get("banner", ()):
        print(f"  {line}", file=sys.stderr)
    print(f"  try: curl -s -H 'Authorization: Bearer {DEMO_TOKEN}' "
          f"-H 'Content-Type: application/json' {base}/v1/rates "
          "-d '{\"ship_to\":{\"country\":\"US\",\"postal_code\":\"20500\",\"state\":\"DC\"},"
          "\"package\":{\"weight\":{\"value\":24,\"units\":\"ounces\"}}}'", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        for s in started["servers"].values():
            s.stop()
    return 0
