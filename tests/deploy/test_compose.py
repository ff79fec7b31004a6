"""deploy/docker-compose.yml and deploy/.env.example (parsed, never started)."""

from __future__ import annotations

import re

import pytest

from . import known_settings as ks
from .helpers import (
    DEPLOY,
    METRICS_DIR,
    ROOT,
    SERVE_ARGS,
    image_tag,
    interpolate,
    interpolations,
    load_yaml,
)

COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
# Variables that are not ratecalc settings but may be interpolated.
COMPOSE_ONLY_VARIABLES = {"POSTGRES_PASSWORD", "IMAGE_TAG"}
# Secrets compose builds itself from other values.
COMPOSED_SECRETS = {"RATECALC_DATABASE_URL", "RATECALC_REDIS_URL"}


@pytest.fixture(scope="module")
def compose():
    return load_yaml(COMPOSE)


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def test_services(services):
    assert set(services) == {"proxy", "ratecalc", "worker", "redis", "postgres", "prometheus"}


def test_images_are_pinned(services):
    for name, service in services.items():
        image = interpolate(service["image"], {})
        assert image_tag(image) not in (None, "latest"), f"{name}: {image}"
    assert services["redis"]["image"].startswith("redis:7")
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["prometheus"]["image"].startswith("prom/prometheus:")


def test_ratecalc_and_worker_build_the_image_from_the_repo_root(services):
    for name in ("ratecalc", "worker"):
        build = services[name]["build"]
        context = (COMPOSE.parent / build["context"]).resolve()
        assert context == ROOT
        assert (context / build["dockerfile"]).is_file()
        assert services[name]["image"] == services["ratecalc"]["image"]


def test_commands_and_ports(services):
    assert services["ratecalc"]["command"] == SERVE_ARGS
    # ratecalc is reached through the buffering proxy only (deploy/nginx.conf).
    assert "ports" not in services["ratecalc"]
    assert "8000" in services["ratecalc"]["expose"]
    assert services["proxy"]["ports"] == ["8080:8080"]
    assert services["proxy"]["image"].startswith("nginx:")
    assert "./nginx.conf:/etc/nginx-ratecalc/nginx.conf:ro" in services["proxy"]["volumes"]
    assert services["worker"]["command"] == ["worker"]
    assert "ports" not in services["worker"]
    for name in ("redis", "postgres"):
        assert "ports" not in services[name], f"{name} should not be published"


def test_healthchecks_and_depends_on(services):
    for name in ("ratecalc", "redis", "postgres", "prometheus"):
        assert services[name]["healthcheck"]["test"], name
    test = services["ratecalc"]["healthcheck"]["test"]
    assert "curl" not in test and "wget" not in test, "no curl/wget in the slim image"
    assert any("urllib" in part and ":8000/" in part for part in test)
    assert any("pg_isready" in part for part in services["postgres"]["healthcheck"]["test"])

    for name in ("ratecalc", "worker"):
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["redis"]["condition"] == "service_healthy"
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if spec["condition"] == "service_healthy":
                assert not services[dep].get("healthcheck", {}).get("disable"), dep


def test_postgres(services):
    env = services["postgres"]["environment"]
    assert env["POSTGRES_DB"] == "ratecalc"
    assert env["POSTGRES_USER"] == "ratecalc"
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]*\}", env["POSTGRES_PASSWORD"])


def test_prometheus_mounts_config_and_alerts(services):
    mounts = {}
    for volume in services["prometheus"]["volumes"]:
        src, dst = volume.split(":")[:2]
        mounts[dst] = src
    for name in ("prometheus.yml", "alerts.yml"):
        src = mounts[f"/etc/prometheus/{name}"]
        assert (COMPOSE.parent / src).resolve() == DEPLOY / "prometheus" / name


def test_ratecalc_environment(services):
    for name in ("ratecalc", "worker"):
        env = services[name]["environment"]
        assert set(env) == set(ks.ALL_SETTINGS), sorted(set(env) ^ set(ks.ALL_SETTINGS))
        assert env["RATECALC_REDIS_URL"] == "redis://redis:6379/0"
        assert re.fullmatch(
            r"postgresql://ratecalc:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgres:5432/ratecalc",
            env["RATECALC_DATABASE_URL"],
        )
        assert env["RATECALC_DATA_DIR"] == "/var/lib/ratecalc"


def test_secrets_come_from_the_environment_only(services):
    """A secret's value is ${SAME_NAME...}: never a literal in the file."""
    env = services["ratecalc"]["environment"]
    for name in ks.SECRET_SETTINGS:
        if name in COMPOSED_SECRETS:
            continue
        assert re.fullmatch(rf"\$\{{{name}(:\?[^}}]*|:-)\}}", str(env[name])), (
            f"{name} = {env[name]!r}"
        )


def _strings(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


def _interpolations(compose):
    return [m for text in _strings(compose) for m in interpolations(text)]


def test_interpolated_variables_are_known(compose):
    names = {m.group("name") for m in _interpolations(compose)}
    unknown = {n for n in names if not ks.is_known(n) and n not in COMPOSE_ONLY_VARIABLES}
    assert not unknown


def test_hardening(services):
    for name in ("ratecalc", "worker"):
        service = services[name]
        assert service["read_only"] is True
        assert any(t.startswith(METRICS_DIR) for t in service["tmpfs"])
        assert any(v.endswith(":/var/lib/ratecalc") for v in service["volumes"])
        assert "ALL" in service["cap_drop"]


def test_env_example_lists_every_required_variable_empty(compose):
    lines = [
        line for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    values = dict(line.split("=", 1) for line in lines)
    required = {m.group("name") for m in _interpolations(compose) if m.group("op") in (":?", "?")}
    assert required <= set(values), sorted(required - set(values))
    for name in set(ks.SECRET_SETTINGS) | {"POSTGRES_PASSWORD"}:
        assert values.get(name, "") == "", f"{name} must be empty in .env.example"
    for name in values:
        assert ks.is_known(name) or name in COMPOSE_ONLY_VARIABLES, name


def test_compose_resolves_with_the_example_env(services):
    """Required variables filled in, everything interpolates; empty ones fail loudly."""
    filled = {m: "x" for m in ks.ALL_SETTINGS | COMPOSE_ONLY_VARIABLES}
    env = services["ratecalc"]["environment"]
    resolved = {k: interpolate(str(v), filled) for k, v in env.items()}
    assert resolved["RATECALC_DATABASE_URL"] == "postgresql://ratecalc:x@postgres:5432/ratecalc"
    with pytest.raises(KeyError, match="RATECALC_SHIPSTATION_API_KEY"):
        interpolate(env["RATECALC_SHIPSTATION_API_KEY"], {})


def test_gitignore_keeps_filled_env_out_of_git():
    ignored = (DEPLOY / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored
