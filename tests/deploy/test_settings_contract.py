"""Every RATECALC_* name under deploy/ is a real setting (typos fail here)."""

from __future__ import annotations

import re

import pytest

from . import known_settings as ks
from .helpers import DATA_DIR, DEPLOY, K8S, ROOT, interpolate, load_yaml

NAME_RE = re.compile(r"\bRATECALC_[A-Z0-9_]+\b")
SETTINGS_PY = ROOT / "ratecalc" / "settings.py"
READ_RE = re.compile(
    r"\.(secret|text|integer|seconds|decimal|csv|url|choice|_optional_field)\(\s*\"([A-Z0-9_]+)\""
)


def _deploy_files():
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file():
            yield path


def test_lists_are_consistent():
    assert len(set(ks.SECRET_SETTINGS)) == len(ks.SECRET_SETTINGS)
    assert len(set(ks.NON_SECRET_SETTINGS)) == len(ks.NON_SECRET_SETTINGS)
    assert not set(ks.SECRET_SETTINGS) & set(ks.NON_SECRET_SETTINGS)
    for name in ks.ALL_SETTINGS:
        assert NAME_RE.fullmatch(name), name


def test_every_name_used_in_deploy_is_known():
    unknown = {}
    for path in _deploy_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for name in set(NAME_RE.findall(text)):
            if not ks.is_known(name):
                unknown.setdefault(str(path.relative_to(ROOT)), []).append(name)
    assert not unknown, f"not in tests/deploy/known_settings.py: {unknown}"


def _app_reads():
    if not SETTINGS_PY.exists():
        pytest.skip("ratecalc/settings.py not present yet")
    reads = {}
    for kind, name in READ_RE.findall(SETTINGS_PY.read_text(encoding="utf-8")):
        reads["RATECALC_" + name] = kind
    if not reads:
        pytest.skip("ratecalc/settings.py no longer reads settings via _Reader methods")
    return reads


def test_every_known_setting_is_read_by_the_app():
    reads = _app_reads()
    missing = ks.ALL_SETTINGS - set(reads)
    assert not missing, f"in known_settings.py but not read by ratecalc/settings.py: {missing}"


def test_app_secrets_are_listed_as_secrets():
    """Anything settings.py reads as a Secret must not land in the ConfigMap."""
    reads = _app_reads()
    secrets = {name for name, kind in reads.items() if kind == "secret"}
    assert secrets <= set(ks.SECRET_SETTINGS), secrets - set(ks.SECRET_SETTINGS)


def _settings_class():
    try:
        from ratecalc.settings import ConfigError, Settings
    except ImportError as exc:
        pytest.skip(f"ratecalc.settings not importable yet: {exc}")
    return Settings, ConfigError


FAKE_SECRETS = {
    "RATECALC_SHIPSTATION_API_KEY": "key",
    "RATECALC_SHIPSTATION_API_SECRET": "secret",
    "RATECALC_API_TOKENS": "0123456789abcdef0123",
    "RATECALC_CIN7_USERNAME": "user",
    "RATECALC_CIN7_API_KEY": "cin7key",
    "RATECALC_STORE_USERNAME": "store",
    "RATECALC_STORE_PASSWORD": "storepass",
    "RATECALC_DATABASE_URL": "postgresql://ratecalc:pw@postgres:5432/ratecalc",
    "RATECALC_REDIS_URL": "redis://redis:6379/0",
}


def test_configmap_values_are_accepted_by_settings():
    settings_cls, _ = _settings_class()
    data = load_yaml(K8S / "configmap.yaml")["data"]
    env = {**data, **FAKE_SECRETS, "RATECALC_SHIP_FROM_POSTAL_CODE": "78701"}
    settings = settings_cls.from_env(env)
    assert settings.problems() == []
    assert settings.data_dir == DATA_DIR


def test_compose_defaults_are_accepted_by_settings():
    settings_cls, _ = _settings_class()
    compose = load_yaml(DEPLOY / "docker-compose.yml")
    given = {**FAKE_SECRETS, "RATECALC_SHIP_FROM_POSTAL_CODE": "78701", "POSTGRES_PASSWORD": "pw"}
    env = {k: interpolate(str(v), given)
           for k, v in compose["services"]["ratecalc"]["environment"].items()}
    settings = settings_cls.from_env(env)
    assert settings.problems() == []
    assert settings.redis_url.reveal() == "redis://redis:6379/0"
