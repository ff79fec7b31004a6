"""deploy/Dockerfile, parsed as text (no Docker engine here: nothing is built)."""

from __future__ import annotations

import json
import re

import pytest

from .helpers import (
    DATA_DIR,
    DEPLOY,
    METRICS_DIR,
    ROOT,
    SERVE_ARGS,
    UID,
    env_pairs,
    image_tag,
    parse_dockerfile,
)

DOCKERFILE = DEPLOY / "Dockerfile"
COMPILERS = ("gcc", "g++", "build-essential", "clang", "make", "cc ")


@pytest.fixture(scope="module")
def parsed():
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def builder(parsed):
    return parsed[1][0]


@pytest.fixture(scope="module")
def final(parsed):
    return parsed[1][-1]


def test_two_stages_on_the_same_pinned_slim_python_311(parsed):
    _, stages = parsed
    assert len(stages) == 2
    assert stages[0].name == "builder"
    assert stages[0].base == stages[1].base, "final stage must use the builder's base"
    base = stages[0].base
    assert re.fullmatch(r"python:3\.11[\w.-]*-slim[\w.-]*", base), base
    assert image_tag(base) not in (None, "latest")


def test_builder_installs_the_project_into_a_venv(builder):
    runs = " && ".join(i.args for i in builder.all("RUN"))
    assert "python -m venv /opt/venv" in runs
    assert re.search(r"\bpip install (--\S+ )*\.(\s|$)", runs), runs
    env = " ".join(i.args for i in builder.all("ENV"))
    assert "PATH=/opt/venv/bin:$PATH" in env


def test_builder_copies_exist_in_the_build_context(builder):
    """The context is the repo root: every COPY source must exist there."""
    for copy in builder.all("COPY"):
        words = [w for w in copy.args.split() if not w.startswith("--")]
        for src in words[:-1]:
            assert (ROOT / src).exists(), f"COPY {src}: not in the repository root"


def test_final_stage_copies_only_the_venv(final):
    copies = final.all("COPY")
    assert copies, "final stage copies nothing"
    for copy in copies:
        assert copy.args.split()[0] == "--from=builder", f"line {copy.lineno}: {copy.args}"
        assert copy.args.split()[1:] == ["/opt/venv", "/opt/venv"]
    assert not final.all("ADD")


def test_final_stage_installs_no_compilers_or_packages(final):
    for run in final.all("RUN"):
        assert "apt-get install" not in run.args and "apk add" not in run.args
        assert "pip install" not in run.args
        for compiler in COMPILERS:
            assert compiler not in run.args, f"line {run.lineno}: {compiler!r}"


def test_runs_as_fixed_non_root_user(final):
    runs = " ".join(i.args for i in final.all("RUN"))
    assert re.search(rf"useradd\b.*--uid {UID}\b.*\bratecalc\b", runs)
    assert re.search(rf"groupadd\b.*--gid {UID}\b.*\bratecalc\b", runs)
    users = final.all("USER")
    assert users, "no USER in final stage"
    user = users[-1].args.split(":")[0]
    assert user in (str(UID), "ratecalc")
    # USER comes before the entrypoint and after the last RUN
    order = [i.keyword for i in final.instructions]
    last_user = max(n for n, k in enumerate(order) if k == "USER")
    assert last_user > max(n for n, k in enumerate(order) if k == "RUN")
    assert last_user < order.index("ENTRYPOINT")


def test_environment(final):
    env = {}
    for instruction in final.all("ENV"):
        env.update(env_pairs(instruction))
    assert env["RATECALC_DATA_DIR"] == DATA_DIR
    assert env["PROMETHEUS_MULTIPROC_DIR"] == METRICS_DIR
    assert env["PATH"].startswith("/opt/venv/bin:")


def test_expose_healthcheck_entrypoint_cmd(final):
    assert [i.args for i in final.all("EXPOSE")] == ["8000"]

    (health,) = final.all("HEALTHCHECK")
    options, _, command = health.args.partition("CMD")
    assert "--interval=" in options and "--timeout=" in options
    argv = json.loads(command.strip())
    assert argv[:2] == ["python", "-c"], argv
    assert "urllib" in argv[2] and "http://127.0.0.1:8000/healthz" in argv[2]
    assert "curl" not in health.args and "wget" not in health.args
    compile(argv[2], "<healthcheck>", "exec")  # the probe is valid Python

    (entrypoint,) = final.all("ENTRYPOINT")
    assert entrypoint.json_args() == ["ratecalc"]
    (cmd,) = final.all("CMD")
    assert cmd.json_args() == SERVE_ARGS


def test_dockerignore_list_keeps_context_small():
    """The list documented in the Dockerfile, and the root .dockerignore if present."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    for entry in (".git", ".venv", "tests"):
        assert re.search(rf"^#\s+{re.escape(entry)}$", text, re.M), entry
    root_ignore = ROOT / ".dockerignore"
    if root_ignore.exists():
        lines = {
            line.strip() for line in root_ignore.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        }
        assert {".git", ".venv"} <= lines
        for needed in ("pyproject.toml", "README.md", "ratecalc"):
            assert needed not in lines, f".dockerignore excludes {needed}, the build needs it"
