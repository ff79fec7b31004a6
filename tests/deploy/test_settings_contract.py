"""Every RATECALC_* name under deploy/ is a real setting (typos fail here)."""

from __future__ import annotations

import re

from . import known_settings as ks
from .helpers import DATA_DIR, DEPLOY, K8S, ROOT, interpolate, load_yaml

NAME_RE = re.compile(r"\bRATECALC_[A-Z0-9_]+\b")


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


README = ROOT / "README.md"


def _readme_configuration() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Configuration")
    return text[start:text.index("\n## ", start + 1)]


def test_every_setting_is_documented_in_the_readme():
    documented = set(NAME_RE.findall(_readme_configuration()))
    assert documented, "the README has no Configuration section with settings"
    assert ks.ALL_SETTINGS - documented == set()


def test_the_readme_documents_only_real_settings():
    documented = set(NAME_RE.findall(_readme_configuration()))
    assert {n for n in documented if not ks.is_known(n)} == set()


def test_every_declared_setting_has_a_description_and_an_accepted_default():
    from ratecalc.settings import BY_API, Settings

    for declared in Settings.describe():
        assert declared.doc and len(declared.doc) < 100, declared.env
        assert declared.env == "RATECALC_" + declared.name.upper()
        if isinstance(declared.default, str) and declared.default is not BY_API:
            declared.parse(declared.default)  # the default passes its own validation


def test_gunicorn_conf_reads_its_defaults_from_the_declaration():
    text = (DEPLOY / "gunicorn.conf.py").read_text()
    assert '"16"' not in text and '"1"' not in text, "defaults are written again"


def _settings_class():
    from ratecalc.settings import ConfigError, Settings

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
