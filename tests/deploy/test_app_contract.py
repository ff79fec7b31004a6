"""What the deployment files assume about the ratecalc package itself.

These read the package (never start it): the CLI commands the image runs, the
probe paths, the metrics the alerts use, and the shutdown timing.
"""

from __future__ import annotations

import argparse
import re

import pytest

from . import known_metrics
from .helpers import K8S, ROOT, SERVE_ARGS, load_yaml

PACKAGE = ROOT / "ratecalc"


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    try:
        from ratecalc.cli import build_parser
    except ImportError as exc:
        pytest.skip(f"ratecalc.cli not importable: {exc}")
    parser = build_parser()
    for action in parser._actions:  # argparse has no public accessor
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    pytest.fail("ratecalc CLI has no subcommands")


def test_serve_command_accepts_the_image_cmd():
    commands = _subcommands()
    assert "serve" in commands
    args = commands["serve"].parse_args(SERVE_ARGS[1:])
    assert (args.host, args.port) == (SERVE_ARGS[2], int(SERVE_ARGS[4]))


def test_worker_command_exists():
    """compose and k8s run ``ratecalc worker``: the command must exist and take no argument
    (``--once`` is the one-pass form the tests use)."""
    deployment = load_yaml(K8S / "worker-deployment.yaml")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    commands = _subcommands()
    assert container["args"][0] in commands, container["args"]
    worker = commands["worker"]
    assert worker.parse_args(container["args"][1:]).once is False
    assert worker.parse_args(["--once"]).once is True


def test_probe_paths_are_routes():
    source = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))
    deployment = load_yaml(K8S / "deployment.yaml")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    paths = {
        container[probe]["httpGet"]["path"]
        for probe in ("readinessProbe", "livenessProbe", "startupProbe")
        if probe in container
    } | {"/metrics"}
    for path in paths:
        assert re.search(rf"""\.(get|route)\(\s*["']{re.escape(path)}["']""", source), path


def test_metrics_defined_by_the_app_match_the_contract():
    """Where ratecalc/metrics.py defines a contract metric, kind and labels agree."""
    try:
        from prometheus_client.metrics import MetricWrapperBase

        from ratecalc import metrics
    except ImportError as exc:
        pytest.skip(f"ratecalc.metrics not importable: {exc}")
    checked = 0
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        kind = value._type
        name = value._name + ("_total" if kind == "counter" else "")
        contract = known_metrics.BY_NAME.get(name)
        if contract is None:
            continue
        checked += 1
        assert kind == contract.kind, name
        assert set(value._labelnames) == set(contract.labels), name
    assert checked, "ratecalc.metrics defines none of the contract's metrics"


def test_shutdown_fits_in_the_grace_period():
    """preStop sleep + gunicorn's graceful_timeout must end before SIGKILL."""
    try:
        from ratecalc.app.serving import gunicorn_options
    except ImportError as exc:
        pytest.skip(f"ratecalc.app.serving not importable: {exc}")
    graceful = gunicorn_options(host="127.0.0.1", port=8000, workers=1, threads=1)[
        "graceful_timeout"
    ]
    pod = load_yaml(K8S / "deployment.yaml")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {})
    sleep = int(pre_stop["command"][1]) if pre_stop.get("command", [""])[0] == "sleep" else 0
    assert pod["terminationGracePeriodSeconds"] > sleep + graceful
