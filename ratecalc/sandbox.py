"""``ratecalc sandbox``: the real service wired to the built-in simulators (ShipStation, Cin7).

The ShipStation (and Cin7) simulators run as real HTTP servers on free ports;
ratecalc itself runs on the requested port with settings pointing at them, a
demo bearer token and demo Custom Store credentials, all printed on start-up.
Quotes are priced by the example rules of ``deploy/pricing.example.toml``.
Environment variables still apply (e.g. RATECALC_PRICING_FILE, RATECALC_MARKUP_PERCENT).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from werkzeug.serving import make_server

from ratecalc.simulators.cin7.app import Cin7Simulator
from ratecalc.simulators.server import ServerThread
from ratecalc.simulators.shipstation.app import ShipStationSimulator

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
    # The /ui/ pages are on in the sandbox; staff log in with the demo token.
    "RATECALC_UI_SECRET_KEY": "sandbox-ui-secret-key-not-for-production",
    # Freight on every demo order without a click, within seconds of `make run`.
    "RATECALC_AUTO_FREIGHT": "on",
    "RATECALC_AUTO_FREIGHT_INTERVAL_SECONDS": "10",
}
# The demo order that keeps the freight a person typed (auto-freight leaves it alone).
MANUAL_FREIGHT_DEMO_ORDER = "#1050"

# The example pricing file ships in deploy/ beside the package (an editable install).
EXAMPLE_PRICING = Path(__file__).resolve().parents[1] / "deploy" / "pricing.example.toml"
if EXAMPLE_PRICING.is_file():
    SANDBOX_ENV["RATECALC_PRICING_FILE"] = str(EXAMPLE_PRICING)

DEMO_STORE_USER = "shipstation"
DEMO_STORE_PASSWORD = "sandbox-store-password"  # noqa: S105 (public demo value)


def sandbox_env(shipstation_url: str, extra: dict | None = None) -> dict:
    """Sandbox defaults, overridden by the caller's RATECALC_* environment."""
    env = dict(SANDBOX_ENV, RATECALC_SHIPSTATION_BASE_URL=shipstation_url)
    env.update(extra or {})
    env.update({k: v for k, v in os.environ.items() if k.startswith("RATECALC_")
                and k not in ("RATECALC_SHIPSTATION_BASE_URL", "RATECALC_CIN7_BASE_URL")})
    return env


def start_shop_simulators(servers: dict, sims: dict) -> dict:
    """Start the Cin7 simulator; return the RATECALC_* settings that wire shop mode to it."""
    cin7 = Cin7Simulator()
    # The sandbox is a demo: Cin7's real limits (3/s, 60/min) would only slow it down.
    cin7.set_rate_limits(per_second=None, per_minute=None, per_day=None)
    clear_demo_freight(cin7)
    servers["cin7"] = ServerThread(cin7.app).start()
    sims["cin7"] = cin7
    sims["banner"] = [
        f"Cin7 simulator: {servers['cin7'].url}/api ({len(cin7.orders)} demo orders)",
        f"Custom Store: user {DEMO_STORE_USER!r}, password {DEMO_STORE_PASSWORD!r}",
    ]
    data_dir = os.environ.get("RATECALC_DATA_DIR")
    if not data_dir:
        data_dir = tempfile.mkdtemp(prefix="ratecalc-sandbox-")
        sims["temporary_dir"] = data_dir
    alerts = {}
    if not os.environ.get("RATECALC_ALERT_EMAIL_TO"):
        # No one to mail: alerts go to the sandbox's log and a local mailbox file.
        alerts["RATECALC_ALERT_MAILBOX_FILE"] = os.path.join(data_dir, "alerts.mbox")
    return {
        **alerts,
        "RATECALC_CIN7_BASE_URL": servers["cin7"].url + "/api",
        "RATECALC_CIN7_USERNAME": "demo-user",
        "RATECALC_CIN7_API_KEY": "demo-api-key",
        "RATECALC_STORE_USERNAME": DEMO_STORE_USER,
        "RATECALC_STORE_PASSWORD": DEMO_STORE_PASSWORD,
        "RATECALC_DATA_DIR": data_dir,
        "RATECALC_CIN7_BRANCH_IDS": "1,2",
    }


def clear_demo_freight(cin7: Cin7Simulator) -> None:
    """Demo orders arrive without freight, as from a web shop, so that auto-freight has
    something to do -- all but one, whose freight a person typed and which is kept."""
    from ratecalc.simulators.cin7.records import recompute_totals

    for order in cin7.orders.values():
        if order.get("reference") != MANUAL_FREIGHT_DEMO_ORDER:
            order["freightTotal"] = 0.0
            order["freightDescription"] = ""
            recompute_totals(order, products=False)


def start_simulators() -> dict:
    shipstation = ShipStationSimulator()
    servers = {"shipstation": ServerThread(shipstation.app).start()}
    sims = {"shipstation": shipstation}
    extra = start_shop_simulators(servers, sims)
    return {"servers": servers, "sims": sims,
            "env": sandbox_env(servers["shipstation"].url, extra)}


# Where a running sandbox leaves its settings for other shells (`--print-env`).
ENV_FILE = Path("var") / "sandbox.env"


def write_env_file(env: dict, path: Path = ENV_FILE) -> None:
    """Owner-only (it holds credentials), written whole: a shell never reads half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# ratecalc sandbox, pid {os.getpid()}"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items())
              if k.startswith("RATECALC_")]
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(partial, path)


def remove_env_file(path: Path = ENV_FILE) -> None:
    """Remove the file only if this process wrote it (another sandbox may have since)."""
    try:
        if f"pid {os.getpid()}\n" in path.read_text().split("\n", 1)[0] + "\n":
            path.unlink()
    except OSError:
        pass


def print_env(path: Path = ENV_FILE) -> int:
    """Print the running sandbox's settings as shell lines (for ``eval "$(...)"``)."""
    try:
        text = path.read_text()
        pid = int(text.split("pid ", 1)[1].split()[0])
        os.kill(pid, 0)
    except (OSError, IndexError, ValueError):
        print(f"ratecalc: no sandbox is running here ({path} is missing or stale); "
              "start one with `make run`", file=sys.stderr)
        return 1
    print("".join(line + "\n" for line in text.splitlines() if line.startswith("export ")),
          end="")
    return 0


def _banner(base: str, started: dict, settings) -> None:
    env = started["env"]
    say = lambda line: print(line, file=sys.stderr)  # noqa: E731
    say(f"ratecalc sandbox on {base}")
    say(f"  ShipStation simulator: {started['servers']['shipstation'].url} "
        f"(V1 key {env['RATECALC_SHIPSTATION_API_KEY']!r}, secret "
        f"{env['RATECALC_SHIPSTATION_API_SECRET']!r}; V2 key "
        f"{env['RATECALC_SHIPSTATION_V2_API_KEY']!r})")
    say(f"  Cin7 simulator: {env['RATECALC_CIN7_BASE_URL']} (user "
        f"{env['RATECALC_CIN7_USERNAME']!r}, API key {env['RATECALC_CIN7_API_KEY']!r}, "
        f"{len(started['sims']['cin7'].orders)} demo orders)")
    say(f"  Custom Store: user {DEMO_STORE_USER!r}, password {DEMO_STORE_PASSWORD!r}")
    say(f"  demo API token: {DEMO_TOKEN}")
    if settings.ui_secret_key and settings.ui != "off":
        login = (settings.ui_tokens or settings.api_tokens)[0].reveal()
        say(f"  web pages: {base}/ui/ (log in with the staff token {login})")
    say(f"  pricing rules: {settings.pricing_file or 'none (RATECALC_MARKUP_PERCENT alone)'} "
        f"(GET {base}/v1/pricing)")
    if settings.auto_freight:
        say(f"  auto-freight: on, every {settings.auto_freight_interval_seconds:g}s; watch "
            f"GET {base}/v1/freight/runs and GET {base}/v1/orders/<id>/freight/history")
    say(f"  data directory: {settings.data_dir}"
        + (" (removed on exit; --keep keeps it)" if "temporary_dir" in started["sims"]
           else ""))
    hub = started.get("alerts")
    if hub is not None:
        say("  alerts go to: " + "; ".join(c.describe() for _, c in sorted(hub.channels.items()))
            + f" (GET {base}/v1/alerts)")
    say(f"  other shells: eval \"$(ratecalc sandbox --print-env)\" (settings in {ENV_FILE})")
    say(f"  try: curl -s -H 'Authorization: Bearer {DEMO_TOKEN}' "
        f"-H 'Content-Type: application/json' {base}/v1/rates "
        "-d '{\"ship_to\":{\"country\":\"US\",\"postal_code\":\"20500\",\"state\":\"DC\"},"
        "\"package\":{\"weight\":{\"value\":24,\"units\":\"ounces\"}}}'")


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt  # a clean exit, like Ctrl-C


def run_sandbox(host: str = "127.0.0.1", port: int = 8000, keep: bool = False) -> int:
    from ratecalc.app.factory import create_app
    from ratecalc.logs import configure_logging
    from ratecalc.settings import Settings

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started = start_simulators()
    try:
        settings = Settings.from_env(started["env"], sandbox=True)
        configure_logging(settings.log_level)
        app = create_app(settings)
        server = make_server(host, port, app, threaded=True)
        base = f"http://{host}:{server.server_port}"
        started["alerts"] = app.extensions["ratecalc"].extras.get("alerts")
        write_env_file(started["env"])
        _banner(base, started, settings)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            app.extensions["ratecalc"].close()
    finally:
        for s in started["servers"].values():
            s.stop()
        remove_env_file()
        temporary = started["sims"].get("temporary_dir")
        if temporary and not keep:
            shutil.rmtree(temporary, ignore_errors=True)
    return 0
