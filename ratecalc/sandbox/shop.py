"""Shop mode in the sandbox: the Cin7 simulator with its demo orders."""

from __future__ import annotations

import os
import tempfile

from ratecalc.sandbox.cin7 import Cin7Simulator
from ratecalc.sandbox.server import ServerThread

DEMO_STORE_USER = "shipstation"
DEMO_STORE_PASSWORD = "sandbox-store-password"  # noqa: S105 (public demo value)


def start_shop_simulators(servers: dict, sims: dict) -> dict:
    """Start the Cin7 simulator; return the RATECALC_* settings that wire shop mode to it."""
    cin7 = Cin7Simulator()
    # The sandbox is a demo: Cin7's real limits (3/s, 60/min) would only slow it down.
    cin7.set_rate_limits(per_second=None, per_minute=None, per_day=None)
    servers["cin7"] = ServerThread(cin7.app).start()
    sims["cin7"] = cin7
    sims["banner"] = [
        f"Cin7 simulator: {servers['cin7'].url}/api ({len(cin7.orders)} demo orders)",
        f"Custom Store: user {DEMO_STORE_USER!r}, password {DEMO_STORE_PASSWORD!r}",
    ]
    data_dir = os.environ.get("RATECALC_DATA_DIR") or tempfile.mkdtemp(prefix="ratecalc-sandbox-")
    return {
        "RATECALC_CIN7_BASE_URL": servers["cin7"].url + "/api",
        "RATECALC_CIN7_USERNAME": "demo-user",
        "RATECALC_CIN7_API_KEY": "demo-api-key",
        "RATECALC_STORE_USERNAME": DEMO_STORE_USER,
        "RATECALC_STORE_PASSWORD": DEMO_STORE_PASSWORD,
        "RATECALC_DATA_DIR": data_dir,
        "RATECALC_CIN7_BRANCH_IDS": "1,2",
    }
