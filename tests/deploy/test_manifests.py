"""deploy/k8s: structure and cross-references (no cluster: nothing is applied)."""

from __future__ import annotations

import re

import pytest

from . import known_settings as ks
from .helpers import (
    DEPLOY,
    K8S,
    PROMETHEUS,
    SERVE_ARGS,
    UID,
    env_pairs,
    image_tag,
    k8s_docs,
    k8s_objects,
    load_yaml,
    parse_dockerfile,
    run_tool,
    which,
)

APP_LABEL = "app.kubernetes.io/name"
EXPECTED_FILES = {
    "deployment.yaml", "worker-deployment.yaml", "service.yaml", "configmap.yaml",
    "secret.example.yaml", "hpa.yaml", "pdb.yaml", "servicemonitor.yaml",
    "prometheusrule.yaml", "kustomization.yaml",
}


@pytest.fixture(scope="module")
def objects():
    return k8s_objects()


@pytest.fixture(scope="module")
def api(objects):
    return objects[("Deployment", "ratecalc")]


@pytest.fixture(scope="module")
def worker(objects):
    return objects[("Deployment", "ratecalc-worker")]


@pytest.fixture(scope="module")
def image_env():
    _, stages = parse_dockerfile((DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    env = {}
    for instruction in stages[-1].all("ENV"):
        env.update(env_pairs(instruction))
    return env


def _matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _containers(deployment):
    return deployment["spec"]["template"]["spec"]["containers"]


def test_files_present_and_every_document_well_formed():
    assert EXPECTED_FILES <= {p.name for p in K8S.glob("*.yaml")}
    docs = k8s_docs()
    assert docs
    for path, doc in docs:
        assert isinstance(doc, dict), path
        assert doc.get("apiVersion") and doc.get("kind"), path
        if doc["kind"] != "Kustomization":
            assert doc["metadata"]["name"], path
            assert doc["metadata"]["labels"][APP_LABEL] == "ratecalc", path


def test_images_pinned(objects):
    kustomization = load_yaml(K8S / "kustomization.yaml")
    kustomized = {i["name"] for i in kustomization.get("images", [])}
    for kind, name in objects:
        if kind != "Deployment":
            continue
        for container in _containers(objects[(kind, name)]):
            assert image_tag(container["image"]) not in (None, "latest"), container["image"]
            assert container["image"].split(":")[0] in kustomized
    for image in kustomization.get("images", []):
        assert image["newTag"] not in ("", "latest")


def test_api_deployment_rollout(api):
    spec = api["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert spec["strategy"]["rollingUpdate"]["maxSurge"] >= 1
    assert _matches(spec["selector"]["matchLabels"], spec["template"]["metadata"]["labels"])


def test_api_container_ports_probes_args(api):
    (container,) = _containers(api)
    assert container["args"] == SERVE_ARGS
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000}

    def probe(kind):
        get = container[kind]["httpGet"]
        assert get["port"] in ("http", 8000), kind
        return get["path"]

    assert probe("readinessProbe") == "/readyz"
    assert probe("livenessProbe") == "/healthz"
    if "startupProbe" in container:
        assert probe("startupProbe") == "/healthz"
    assert container["livenessProbe"]["failureThreshold"] >= 3


def test_worker_deployment(worker, api):
    (container,) = _containers(worker)
    assert container["args"] == ["worker"]
    (api_container,) = _containers(api)
    assert container["image"] == api_container["image"]
    api_labels = api["spec"]["template"]["metadata"]["labels"]
    worker_labels = worker["spec"]["template"]["metadata"]["labels"]
    assert not _matches(api["spec"]["selector"]["matchLabels"], worker_labels)
    assert not _matches(worker["spec"]["selector"]["matchLabels"], api_labels)


@pytest.mark.parametrize("name", ["ratecalc", "ratecalc-worker"])
def test_resources_and_security(objects, name, image_env):
    deployment = objects[("Deployment", name)]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == UID  # the image's USER
    assert pod.get("automountServiceAccountToken") is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    for container in pod["containers"]:
        for section in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][section]), section
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        for path in (image_env["PROMETHEUS_MULTIPROC_DIR"], image_env["RATECALC_DATA_DIR"]):
            assert path in mounts, f"{path} must be writable (read-only root)"
            assert "emptyDir" in volumes[mounts[path]]
        for mount in container["volumeMounts"]:
            assert mount["name"] in volumes
        refs = {
            ("ConfigMap", e["configMapRef"]["name"]) if "configMapRef" in e
            else ("Secret", e["secretRef"]["name"])
            for e in container["envFrom"]
        }
        assert refs == {("ConfigMap", "ratecalc-config"), ("Secret", "ratecalc-secrets")}
        assert ("ConfigMap", "ratecalc-config") in objects
        assert ("Secret", "ratecalc-secrets") in objects  # the example


def test_configmap_holds_the_non_secret_settings(objects, image_env):
    data = objects[("ConfigMap", "ratecalc-config")]["data"]
    assert set(data) == set(ks.NON_SECRET_SETTINGS), sorted(set(data) ^ set(ks.NON_SECRET_SETTINGS))
    assert not set(data) & set(ks.SECRET_SETTINGS)
    for key, value in data.items():
        assert isinstance(value, str), f"{key}: ConfigMap values must be strings"
    assert data["RATECALC_DATA_DIR"] == image_env["RATECALC_DATA_DIR"]
    assert data["RATECALC_SHIPSTATION_API"] in ("v1", "v2")


def test_secret_example_has_placeholders_only(objects):
    secret = objects[("Secret", "ratecalc-secrets")]
    assert secret["type"] == "Opaque"
    assert "data" not in secret, "use stringData with placeholders"
    data = secret["stringData"]
    assert set(data) == set(ks.SECRET_SETTINGS), sorted(set(data) ^ set(ks.SECRET_SETTINGS))
    url = re.compile(r"(postgresql|redis)://(\w+:REPLACE_ME@)?REPLACE_ME(:\d+)?(/\w+)?")
    for key, value in data.items():
        if key in ("RATECALC_DATABASE_URL", "RATECALC_REDIS_URL"):
            # scaffolding only: password and host are placeholders
            assert url.fullmatch(value), f"{key} = {value!r}"
        else:
            assert value == "REPLACE_ME", f"{key} is not a placeholder"


def test_service_selects_api_pods_only(objects, api, worker):
    service = objects[("Service", "ratecalc")]
    selector = service["spec"]["selector"]
    assert _matches(selector, api["spec"]["template"]["metadata"]["labels"])
    assert not _matches(selector, worker["spec"]["template"]["metadata"]["labels"])
    (port,) = service["spec"]["ports"]
    assert port["name"] == "http" and port["port"] == 8000 and port["targetPort"] == "http"


def test_hpa(objects):
    hpa = objects[("HorizontalPodAutoscaler", "ratecalc")]
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) in objects
    assert target["name"] == "ratecalc"
    assert hpa["spec"]["minReplicas"] == 2 and hpa["spec"]["maxReplicas"] == 6
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}


def test_pdb(objects, api):
    pdb = objects[("PodDisruptionBudget", "ratecalc")]
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["minAvailable"] == 1
    assert _matches(pdb["spec"]["selector"]["matchLabels"],
                    api["spec"]["template"]["metadata"]["labels"])
    assert pdb["spec"]["minAvailable"] < api["spec"]["replicas"]


def test_servicemonitor(objects):
    monitor = objects[("ServiceMonitor", "ratecalc")]
    service = objects[("Service", "ratecalc")]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert _matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http"
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    # ratecalc_upstream_* have their own `service` label; keep it from being renamed
    assert endpoint["honorLabels"] is True
    token = endpoint.get("bearerTokenSecret")
    if token:
        assert token["name"] == "ratecalc-secrets"
        assert token["key"] == "RATECALC_METRICS_TOKEN"


def test_prometheusrule_mirrors_alerts_yml(objects):
    rule = objects[("PrometheusRule", "ratecalc")]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"] == load_yaml(PROMETHEUS / "alerts.yml"), (
        "deploy/k8s/prometheusrule.yaml is out of sync with deploy/prometheus/alerts.yml"
    )


def test_kustomization_resources():
    kustomization = load_yaml(K8S / "kustomization.yaml")
    resources = kustomization["resources"]
    for resource in resources:
        assert (K8S / resource).is_file(), resource
    assert "secret.example.yaml" not in resources
    for needed in ("deployment.yaml", "worker-deployment.yaml", "service.yaml",
                   "configmap.yaml", "hpa.yaml", "pdb.yaml"):
        assert needed in resources


def test_kubectl_kustomize_renders():
    kubectl = which("kubectl")
    if not kubectl:
        pytest.skip("kubectl not on PATH: kustomize rendering not checked")
    result = run_tool(kubectl, "kustomize", str(K8S))
    assert result.returncode == 0, result.stderr
    kinds = {line.split(":", 1)[1].strip() for line in result.stdout.splitlines()
             if line.startswith("kind:")}
    assert {"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler",
            "PodDisruptionBudget"} <= kinds
