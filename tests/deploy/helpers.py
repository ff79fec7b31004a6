"""Shared parsing helpers for the deployment-file tests (no Docker, no cluster)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import known_metrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
PROMETHEUS = DEPLOY / "prometheus"

# What the image and manifests must agree on.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - the server listens on every interface in a container
SERVE_ARGS = ["serve", "--host", ALL_INTERFACES, "--port", "8000"]
METRICS_DIR = "/tmp/ratecalc-metrics"  # noqa: S108 - a private dir (0700, owned by uid 10001)
DATA_DIR = "/var/lib/ratecalc"
UID = 10001


# --------------------------------------------------------------------------- yaml
def load_yaml_docs(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc is not None]


def load_yaml(path: Path):
    docs = load_yaml_docs(path)
    assert len(docs) == 1, f"{path}: expected one YAML document, found {len(docs)}"
    return docs[0]


def k8s_docs() -> list[tuple[Path, dict]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in load_yaml_docs(path):
            out.append((path, doc))
    return out


def k8s_objects() -> dict[tuple[str, str], dict]:
    """(kind, name) -> object, for everything but kustomization.yaml."""
    out = {}
    for path, doc in k8s_docs():
        if doc.get("kind") == "Kustomization":
            continue
        key = (doc["kind"], doc["metadata"]["name"])
        assert key not in out, f"{path}: duplicate {key}"
        out[key] = doc
    return out


def image_tag(image: str) -> str | None:
    """The tag of an image reference, or None if it has none."""
    if "@sha256:" in image:
        return image.split("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


# ------------------------------------------------------------------ interpolation
INTERPOLATION_RE = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}"
)


def interpolations(text: str) -> list[re.Match]:
    return list(INTERPOLATION_RE.finditer(text))


def interpolate(value: str, env: dict[str, str]) -> str:
    """docker compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}."""

    def sub(m: re.Match) -> str:
        name, op, arg = m.group("name"), m.group("op"), m.group("arg")
        current = env.get(name)
        if op in (":-", "-"):
            missing = current is None or (op == ":-" and current == "")
            return arg if missing else current
        if op in (":?", "?"):
            missing = current is None or (op == ":?" and current == "")
            if missing:
                raise KeyError(f"{name}: {arg}")
            return current
        return current or ""

    return INTERPOLATION_RE.sub(sub, value)


# -------------------------------------------------------------------- Dockerfile
@dataclass
class Instruction:
    keyword: str
    args: str
    lineno: int

    def json_args(self):
        return json.loads(self.args)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with continuation lines joined."""
    logical: list[tuple[int, str]] = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue  # comment inside a continued instruction
        if not buf:
            start = n
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append((start, buf + line))
        buf = ""
    assert not buf, "Dockerfile ends in a line continuation"

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for lineno, line in logical:
        keyword, _, args = line.strip().partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            words = args.split()
            words = [w for w in words if not w.startswith("--")]
            base = re.sub(
                r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), words[0]
            )
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=base, name=name))
        elif not stages:
            assert keyword == "ARG", f"line {lineno}: only ARG may precede FROM"
            key, _, default = args.partition("=")
            global_args[key] = default
        else:
            stages[-1].instructions.append(Instruction(keyword, args, lineno))
    return global_args, stages


def env_pairs(instruction: Instruction) -> dict[str, str]:
    """The KEY=value pairs of an ENV instruction."""
    out = {}
    for word in shlex.split(instruction.args):
        key, sep, value = word.partition("=")
        assert sep, f"line {instruction.lineno}: use ENV KEY=value, got {word!r}"
        out[key] = value
    return out


# ------------------------------------------------------------------------ PromQL
_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"')
_IDENT_RE = re.compile(r"(?<![\w:.$\[])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?")
_MATCHER_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
_GROUPING_RE = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


@dataclass
class Selector:
    name: str
    matchers: list[tuple[str, str, str]]


def selectors(expr: str) -> list[Selector]:
    """Metric selectors in a PromQL expression (ratecalc_* and the other known series)."""
    allowed = set(known_metrics.series_names()) | known_metrics.OTHER_SERIES
    strings = [m.span() for m in _STRING_RE.finditer(expr)]
    out = []
    for m in _IDENT_RE.finditer(expr):
        if any(a <= m.start() < b for a, b in strings):
            continue
        name, body = m.group(1), m.group(2)
        if not (name.startswith("ratecalc_") or name in allowed):
            continue
        matchers = []
        if body:
            inner = body[1:-1]
            pos = 0
            while pos < len(inner.strip()):
                mm = _MATCHER_RE.match(inner, pos)
                assert mm, f"cannot parse label matchers {body!r} in {expr!r}"
                matchers.append(mm.groups())
                pos = mm.end()
        out.append(Selector(name, matchers))
    return out


def promql_problems(expr: str) -> list[str]:
    """Unknown metrics, labels or label values used by ``expr``."""
    series = known_metrics.series_names()
    problems = []
    found = selectors(expr)
    if not found:
        problems.append(f"references no known metric: {expr!r}")
    usable_labels: set[str] = set(known_metrics.TARGET_LABELS)
    for sel in found:
        if sel.name in known_metrics.OTHER_SERIES:
            labels = known_metrics.TARGET_LABELS
        elif sel.name not in series:
            problems.append(f"unknown metric {sel.name!r}")
            continue
        else:
            labels = known_metrics.labels_for(sel.name)
        usable_labels |= labels
        metric = series.get(sel.name)
        for label, op, value in sel.matchers:
            if label not in labels:
                problems.append(f"{sel.name} has no label {label!r}")
                continue
            values = metric.labels.get(label) if metric else None
            if values is None or "$" in value:
                continue
            wanted = value.split("|") if op in ("=~", "!~") else [value]
            if op in ("=~", "!~") and not all(re.fullmatch(r"\w+", w) for w in wanted):
                continue  # a real regex: not checked value by value
            for w in wanted:
                if w not in values:
                    problems.append(f"{sel.name}{{{label}}} has no value {w!r}")
    bare = _STRING_RE.sub('""', expr)
    for _kw, group in _GROUPING_RE.findall(bare):
        for label in (g.strip() for g in group.split(",")):
            if label and label not in usable_labels:
                problems.append(f"grouping by unknown label {label!r} in {expr!r}")
    return problems


# ---------------------------------------------------------------------- tools
def run_tool(*argv: str, timeout: float = 30, cwd: Path | None = None):
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
    )


def which(tool: str) -> str | None:
    return shutil.which(tool)
