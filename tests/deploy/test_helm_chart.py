"""The Helm chart (helm/ams-job-exporter): lint, render, validate, and keep it in step
with the monitoring mixin (grafana/mixin) and with the exporter's own config validation.

Needs the `helm` binary: .tools/bin/helm (./test.sh installs it with
scripts/get-helm) or one on PATH. Every manifest is validated offline against
the Kubernetes OpenAPI schemas (kubernetes-validate); the Prometheus Operator kinds,
which those schemas do not cover, are checked for their required fields here.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.helpers import ROOT
from tests.monitoring.mixin import build_mixin, defaults, rule_file

#: every test here runs helm (the chart checks that do not are in test_deploy_files.py)
pytestmark = pytest.mark.system

CHART = ROOT / "helm" / "ams-job-exporter"
RULES = ROOT / "grafana" / "alerts" / "ams-jobs.rules.yaml"
DASHBOARDS = ROOT / "grafana" / "dashboards"
MONITORING_API = "monitoring.coreos.com/v1"
#: The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest
#: the validator knows.
KUBE_VERSIONS = ("1.25.0", kubernetes_validate.latest_version())
RELEASE = "ams-job-exporter"

#: Every optional part of the chart switched on (plus secrets, env and web config).
ALL_ON: dict[str, Any] = {
    "replicaCount": 2,
    "config": {
        "refresh": {"min_interval": "30s", "timeout": "20s"},
        "accounts": [
            {"name": "prod", "api": "v3",
             "subscription_id": "${AMS_SUBSCRIPTION_ID}", "resource_group": "media-rg",
             "account_name": "prodmedia", "auth": {"method": "workload_identity"}},
            {"name": "legacy", "api": "v2",
             "endpoint": "https://legacy.restv2.westeurope.media.azure.net/api/",
             "auth": {"method": "client_secret", "tenant_id": "${AZURE_TENANT_ID}",
                      "client_id": "22222222-2222-2222-2222-222222222222",
                      "client_secret": "${AMS_LEGACY_CLIENT_SECRET}"}},
        ],
    },
    "secret": {"create": True, "data": {"AMS_LEGACY_CLIENT_SECRET": "not-a-real-secret"}},
    "env": [{"name": "AMS_SUBSCRIPTION_ID", "value": "00000000-0000-0000-0000-000000000000"},
            {"name": "AZURE_TENANT_ID", "value": "33333333-3333-3333-3333-333333333333"}],
    "workloadIdentity": {"enabled": True, "clientId": "11111111-1111-1111-1111-111111111111"},
    "serviceAccount": {"annotations": {"example.com/owner": "media-team"}},
    "webConfig": {
        "tls_server_config": {"cert_file": "/etc/ams-job-exporter/tls/tls.crt",
                              "key_file": "/etc/ams-job-exporter/tls/tls.key"},
        "basic_auth_users": {"prometheus": "$2y$10$notARealHashButShapedLikeOne000000000"},
    },
    "extraVolumes": [{"name": "tls", "secret": {"secretName": "ams-job-exporter-tls"}}],
    "extraVolumeMounts": [{"name": "tls", "mountPath": "/etc/ams-job-exporter/tls",
                           "readOnly": True}],
    "podLabels": {"team": "media"},
    "podAnnotations": {"example.com/note": "hello"},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "monitoring",
                     "effect": "NoSchedule"}],
    "serviceMonitor": {
        "enabled": True, "interval": "60s", "scrapeTimeout": "50s",
        "additionalLabels": {"release": "kube-prometheus-stack"},
        "relabelings": [{"action": "replace", "targetLabel": "cluster",
                         "replacement": "aks-prod"}],
        "metricRelabelings": [{"action": "drop", "sourceLabels": ["__name__"],
                               "regex": "ams_api_request_duration_seconds_bucket"}],
        "tlsConfig": {"insecureSkipVerify": True},
    },
    "prometheusRule": {"enabled": True,
                       "additionalLabels": {"release": "kube-prometheus-stack"}},
    "dashboards": {"enabled": True, "folder": "Media"},
    "networkPolicy": {
        "enabled": True,
        "ingress": {"from": [{"namespaceSelector": {
            "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]},
    },
    "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
}

#: Every optional part plus the push receiver (issue "Push"): its shared secret from a
#: Secret the user manages, an Ingress for the events path with TLS, and the
#: NetworkPolicy that must then let the ingress controller in.
EVENTS_HOST = "ams-events.example.net"
EVENTS_ON: dict[str, Any] = {
    **ALL_ON,
    "events": {
        "enabled": True,
        "existingSecret": "ams-events",
        "ingress": {
            "enabled": True, "className": "nginx", "host": EVENTS_HOST,
            "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "2m",
                            "nginx.ingress.kubernetes.io/backend-protocol": "HTTPS"},
            "tls": [{"secretName": "ams-events-tls"}],
        },
    },
}

#: Issue "Past one replica": every optional part (TLS included, so the peers speak
#: https) with the accounts spread over three shards; and the same with push events
#: and their Ingress.
SHARDS = 3
SHARDED: dict[str, Any] = {**ALL_ON, "sharding": {"enabled": True, "shards": SHARDS}}
SHARDED_EVENTS: dict[str, Any] = {**EVENTS_ON, "sharding": {"enabled": True,
                                                            "shards": SHARDS}}


# ---------------------------------------------------------------- helpers

def _helm_binary() -> str:
    local = ROOT / ".tools" / "bin" / "helm"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("helm")
    if found:
        return found
    pytest.fail("helm not found: run ./test.sh, or scripts/get-helm .tools/bin "
                "(puts helm into .tools/bin)")


@pytest.fixture(scope="session")
def helm() -> str:
    return _helm_binary()


def run_helm(helm: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([helm, *args], capture_output=True, text=True, timeout=120,
                            cwd=ROOT)
    if check:
        assert result.returncode == 0, f"helm {' '.join(args)}:\n{result.stderr}"
    return result


def values_file(tmp_path: Path, values: dict[str, Any], name: str = "values.yaml") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(values))  # JSON is YAML
    return path


def template(helm: str, tmp_path: Path, values: dict[str, Any] | None = None, *,
             release: str = RELEASE, monitoring_api: bool = True,
             check: bool = True) -> subprocess.CompletedProcess[str]:
    args = ["template", release, str(CHART), "--namespace", "monitoring"]
    if values:
        args += ["-f", str(values_file(tmp_path, values))]
    if monitoring_api:
        args += ["--api-versions", MONITORING_API]
    return run_helm(helm, *args, check=check)


def render(helm: str, tmp_path: Path, values: dict[str, Any] | None = None,
           **kwargs: Any) -> list[dict[str, Any]]:
    text = template(helm, tmp_path, values, **kwargs).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind} objects rendered"
    return found[0]


def kinds(docs: list[dict[str, Any]]) -> list[str]:
    return sorted(d["kind"] for d in docs)


def workload(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The exporter's Deployment or, sharded, its StatefulSet (never both)."""
    found = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    assert len(found) == 1, [d["kind"] for d in found]
    return found[0]


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return workload(docs)["spec"]["template"]["spec"]["containers"][0]


def rendered_rule_groups(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return one(docs, "PrometheusRule")["spec"]["groups"]


def mixin_thresholds() -> dict[str, str]:
    """The thresholds the chart sets from values: name -> the mixin's default as the
    chart writes it (7200, 0.1, 5m)."""
    build = build_mixin()
    config = defaults()
    return {name: build._literal(config[name]) for name in build.THRESHOLDS}


# ---------------------------------------------------------------- lint and files

def test_helm_lint_strict(helm: str, tmp_path: Path):
    result = run_helm(helm, "lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in result.stdout
    # helm lint has no --api-versions: lint everything but the Prometheus Operator kinds.
    for every in (ALL_ON, EVENTS_ON, SHARDED, SHARDED_EVENTS):
        values = {k: v for k, v in every.items()
                  if k not in ("serviceMonitor", "prometheusRule")}
        result = run_helm(helm, "lint", "--strict", str(CHART), "-f",
                          str(values_file(tmp_path, values)))
        assert "0 chart(s) failed" in result.stdout


def test_the_packaged_chart_carries_the_grafana_files(helm: str, tmp_path: Path):
    run_helm(helm, "package", str(CHART), "--destination", str(tmp_path))
    (package,) = tmp_path.glob("ams-job-exporter-*.tgz")
    values = values_file(tmp_path, {"prometheusRule": {"enabled": True},
                                    "dashboards": {"enabled": True}})
    result = run_helm(helm, "template", RELEASE, str(package), "-f", str(values),
                      "--api-versions", MONITORING_API)
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert rendered_rule_groups(docs) == yaml.safe_load(RULES.read_text())["groups"]
    dashboards = [d for d in docs if d["kind"] == "ConfigMap" and "config.yaml" not in d["data"]]
    assert len(dashboards) == len(list(DASHBOARDS.glob("*.json")))


# ---------------------------------------------------------------- schema validation

def validate_offline(docs: list[dict[str, Any]]) -> None:
    """Core kinds against the Kubernetes schemas; Prometheus Operator kinds by hand."""
    for doc in docs:
        where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        if doc["apiVersion"] == MONITORING_API:
            check_monitoring_object(doc)
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(f"{where} is invalid for Kubernetes {version}: {error.message} "
                            f"at {'.'.join(map(str, error.path))}")
        name = doc["metadata"]["name"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 63, where


_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


def check_monitoring_object(doc: dict[str, Any]) -> None:
    """The fields the Prometheus Operator CRDs require (and the ones it would reject)."""
    where = f"{doc['kind']}/{doc['metadata'].get('name')}"
    assert doc["metadata"].get("name"), where
    spec = doc.get("spec")
    assert isinstance(spec, dict), f"{where}: spec is required"
    if doc["kind"] == "ServiceMonitor":
        assert isinstance(spec.get("selector"), dict), f"{where}: spec.selector is required"
        assert spec["selector"].get("matchLabels"), f"{where}: empty selector"
        endpoints = spec.get("endpoints")
        assert isinstance(endpoints, list) and endpoints, f"{where}: spec.endpoints"
        for endpoint in endpoints:
            assert endpoint.get("port") or endpoint.get("targetPort"), where
            for key in ("interval", "scrapeTimeout"):
                if key in endpoint:
                    assert _DURATION.match(str(endpoint[key])), f"{where}: {key}"
            assert endpoint.get("scheme", "http") in ("http", "https"), where
            for relabel in endpoint.get("relabelings", []) + endpoint.get(
                    "metricRelabelings", []):
                assert isinstance(relabel, dict), where
    elif doc["kind"] == "PrometheusRule":
        groups = spec.get("groups")
        assert isinstance(groups, list) and groups, f"{where}: spec.groups is required"
        for group in groups:
            assert isinstance(group.get("name"), str) and group["name"], where
            assert isinstance(group.get("rules"), list), where
            for rule in group["rules"]:
                assert isinstance(rule.get("expr"), str) and rule["expr"].strip(), rule
                assert ("alert" in rule) != ("record" in rule), rule
                for key in ("for", "keep_firing_for"):
                    if key in rule:
                        assert _DURATION.match(str(rule[key])), (where, rule)
                for key in ("labels", "annotations"):
                    assert all(isinstance(v, str) for v in rule.get(key, {}).values()), rule
    else:
        pytest.fail(f"{where}: unexpected kind")


def test_default_render_is_valid_and_minimal(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, monitoring_api=False)
    validate_offline(docs)
    assert kinds(docs) == ["ConfigMap", "Deployment", "Pod", "Service", "ServiceAccount"]
    args = container(docs)["args"]
    assert not any(a.startswith("--web.config.file") for a in args), args


def test_every_optional_part_renders_valid(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, ALL_ON)
    validate_offline(docs)
    dashboards = sorted(p.name for p in DASHBOARDS.glob("*.json"))
    assert kinds(docs) == sorted(
        ["ConfigMap"] * (1 + len(dashboards))
        + ["Deployment", "NetworkPolicy", "Pod", "PodDisruptionBudget", "PrometheusRule",
           "Secret", "Secret", "Service", "ServiceAccount", "ServiceMonitor"])


def test_monitoring_kinds_need_the_operator_api(helm: str, tmp_path: Path):
    for key in ("serviceMonitor", "prometheusRule"):
        result = template(helm, tmp_path, {key: {"enabled": True}}, monitoring_api=False,
                          check=False)
        assert result.returncode != 0
        assert f"{key}.enabled needs the monitoring.coreos.com/v1 API" in result.stderr


@pytest.mark.parametrize("values, complaint", [
    ({"replicaCount": "2"}, "replicaCount"),
    ({"replicaCount": -1}, "replicaCount"),
    ({"service": {"port": 0}}, "service/port"),
    ({"service": {"port": "http"}}, "service/port"),
    ({"image": {"pullPolicy": "Sometimes"}}, "image/pullPolicy"),
    ({"replicas": 2}, "replicas"),
    ({"log": {"level": "verbose"}}, "log/level"),
    ({"config": {"accounts": None}}, "accounts"),  # null deletes the default's key
    ({"config": "accounts: []"}, "config"),
    ({"config": {"accounts": []}}, "accounts"),
    ({"workloadIdentity": {"enabled": True}}, "clientId"),
    ({"serviceMonitor": {"interval": "often"}}, "serviceMonitor/interval"),
    ({"prometheusRule": {"thresholds": {"failureRatio": 2}}}, "failureRatio"),
    ({"prometheusRule": {"thresholds": {"stuckProcessingSeconds": "2h"}}},
     "stuckProcessingSeconds"),
    ({"prometheusRule": {"thresholds": {"exporterJob": 'x"} or vector(1)'}}}, "exporterJob"),
    ({"prometheusRule": {"thresholds": {"unknownThreshold": 1}}}, "unknownThreshold"),
    ({"prometheusRule": {"correlationLabels": "tenant"}}, "correlationLabels"),
    ({"prometheusRule": {"correlationLabels": ["tenant) or vector(1"]}}, "correlationLabels"),
    ({"prometheusRule": {"correlationLabels": ["__tenant"]}}, "correlationLabels"),
    ({"prometheusRule": {"correlationLabels": ["tenant", "tenant"]}}, "correlationLabels"),
    ({"prometheusRule": {"failureRateGroupingLabels": ["1tenant"]}},
     "failureRateGroupingLabels"),
    ({"prometheusRule": {"failureRateGroupingLabels": ["account"]}},
     "failureRateGroupingLabels"),  # the alert groups by account already
    ({"podDisruptionBudget": {"minAvailable": "half"}}, "minAvailable"),
    ({"sharding": {"enabled": True, "shards": 0}}, "shards"),
    ({"sharding": {"shards": "3"}}, "shards"),
    ({"sharding": {"replicas": 3}}, "replicas"),
    ({"prometheusRule": {"thresholds": {"shardsMissingFor": 600}}}, "shardsMissingFor"),
    ({"networkPolicy": {"egress": {"ports": ["https"]}}}, "ports"),
    ({"events": {"enabled": "yes"}}, "events/enabled"),
    ({"events": {"path": "events"}}, "events/path"),
    ({"events": {"path": "/events?secret=x"}}, "events/path"),
    ({"events": {"secret": "s3cret"}}, "secret"),  # a typo, and no secret in values
    ({"events": {"ingress": {"pathType": "ImplementationSpecific"}}}, "pathType"),
    ({"events": {"ingress": {"host": "https://ams.example.net/events"}}}, "host"),
    ({"events": {"ingress": {"tls": [{"secretName": "x", "host": "a"}]}}}, "tls"),
    ({"events": {"ingress": {"controllerNamespaceSelector": {"kubernetes.io/x": "y"}}}},
     "controllerNamespaceSelector"),
])
def test_invalid_values_are_rejected_by_the_schema(helm: str, tmp_path: Path,
                                                   values: dict[str, Any], complaint: str):
    result = template(helm, tmp_path, values, check=False)
    assert result.returncode != 0, f"accepted {values}"
    assert "schema" in result.stderr and complaint in result.stderr, result.stderr


def test_mkio_and_rms_accounts_render(helm: str, tmp_path: Path):
    accounts = [
        {"name": "mk-prod", "api": "mkio", "project": "my-project",
         "auth": {"method": "token_file", "path": "/var/run/secrets/mkio/token"}},
        {"name": "rms-prod", "api": "v3", "subscription_id": "${RMS_SUBSCRIPTION_ID}",
         "resource_group": "rms-rg", "account_name": "rmsmedia",
         "arm_endpoint": "https://rms-contoso.azurefd.net",
         "auth": {"method": "rms_api_key", "api_key": "${RMS_API_KEY}"}},
    ]
    docs = render(helm, tmp_path, {"config": {"accounts": accounts}})
    assert rendered_config(docs)["accounts"] == accounts


# ---------------------------------------------------------------- Deployment

def check_restricted_pod(pod: dict[str, Any]) -> None:
    """The restricted Pod Security profile (and the chart's own hardening) of a pod spec."""
    pod_context = pod.get("securityContext", {})
    assert pod_context["runAsNonRoot"] is True
    assert pod_context["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod.get("automountServiceAccountToken") is False
    assert not pod.get("hostNetwork") and not pod.get("hostPID")
    for item in pod["containers"]:
        context = item["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert not context["capabilities"].get("add")
        assert context["readOnlyRootFilesystem"] is True
        assert context.get("runAsUser", pod_context.get("runAsUser")) == 65532
        assert "limits" in item["resources"] and "requests" in item["resources"]


def test_pod_meets_the_restricted_pod_security_profile(helm: str, tmp_path: Path):
    for docs in (render(helm, tmp_path), render(helm, tmp_path, ALL_ON),
                 render(helm, tmp_path, {"sharding": {"enabled": True}}),
                 render(helm, tmp_path, SHARDED)):
        pods = [workload(docs)["spec"]["template"]["spec"], one(docs, "Pod")["spec"]]
        for pod in pods:
            check_restricted_pod(pod)
        exporter = container(docs)
        mounts = {m["mountPath"]: m["name"] for m in exporter["volumeMounts"]}
        assert mounts["/tmp"] == "tmp"
        volumes = {v["name"]: v for v in pods[0]["volumes"]}
        assert "emptyDir" in volumes["tmp"]


def test_deployment_probes_ports_and_labels(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path)
    exporter = container(docs)
    assert exporter["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http",
                                                    "scheme": "HTTP"}
    assert exporter["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http",
                                                     "scheme": "HTTP"}
    assert exporter["ports"] == [{"name": "http", "containerPort": 10046, "protocol": "TCP"}]
    assert "--config.file=/etc/ams-job-exporter/config.yaml" in exporter["args"]
    assert exporter["image"] == "ams-job-exporter:" + yaml.safe_load(
        (CHART / "Chart.yaml").read_text())["appVersion"]
    service = one(docs, "Service")
    assert service["spec"]["ports"][0]["port"] == 10046
    standard = {"helm.sh/chart", "app.kubernetes.io/name", "app.kubernetes.io/instance",
                "app.kubernetes.io/version", "app.kubernetes.io/managed-by"}
    for doc in docs:
        assert standard <= set(doc["metadata"]["labels"]), doc["kind"]
    deployment = one(docs, "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector == service["spec"]["selector"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    # the test pod must not be an endpoint of the Service
    test_pod_labels = one(docs, "Pod")["metadata"]["labels"]
    assert not selector.items() <= test_pod_labels.items()


def test_a_config_change_rolls_the_pods(helm: str, tmp_path: Path):
    def checksum(values: dict[str, Any]) -> str:
        docs = render(helm, tmp_path, values)
        return one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"]

    base = checksum({})
    assert base == checksum({})
    changed = {"config": {"lookback": "24h", "accounts": ALL_ON["config"]["accounts"][:1]}}
    assert checksum(changed) != base
    assert checksum({"replicaCount": 3}) == base


def test_secrets_become_environment_and_files(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, {"secret": {"create": True,
                                              "data": {"AMS_CLIENT_SECRET": "s3cret"}}})
    secret = one(docs, "Secret")
    assert base64.b64decode(secret["data"]["AMS_CLIENT_SECRET"]) == b"s3cret"
    exporter = container(docs)
    assert {"secretRef": {"name": secret["metadata"]["name"]}} in exporter["envFrom"]
    annotations = one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/secret" in annotations
    mounts = {m["name"]: m for m in exporter["volumeMounts"]}
    assert mounts["secret"]["mountPath"] == "/etc/ams-job-exporter/secrets"

    docs = render(helm, tmp_path, {"secret": {"existingSecret": "ams-credentials"},
                                   "envFrom": [{"configMapRef": {"name": "more"}}],
                                   "env": [{"name": "A", "value": "b"}]})
    assert "Secret" not in kinds(docs)
    exporter = container(docs)
    assert exporter["envFrom"] == [{"secretRef": {"name": "ams-credentials"}},
                                   {"configMapRef": {"name": "more"}}]
    assert exporter["env"] == [{"name": "A", "value": "b"}]


def test_workload_identity(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path)
    assert "azure.workload.identity/use" not in one(
        docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    client_id = "11111111-1111-1111-1111-111111111111"
    docs = render(helm, tmp_path, {"workloadIdentity": {"enabled": True,
                                                        "clientId": client_id}})
    account = one(docs, "ServiceAccount")
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"] == client_id
    pod = one(docs, "Deployment")["spec"]["template"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert pod["spec"]["serviceAccountName"] == account["metadata"]["name"]


def test_web_config_is_mounted_and_passed_only_when_set(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, {"webConfig": ALL_ON["webConfig"]})
    exporter = container(docs)
    assert "--web.config.file=/etc/ams-job-exporter/web/web-config.yaml" in exporter["args"]
    secret = next(d for d in docs if d["kind"] == "Secret"
                  and d["metadata"]["name"].endswith("-web-config"))
    assert yaml.safe_load(base64.b64decode(secret["data"]["web-config.yaml"])) == \
        ALL_ON["webConfig"]
    mounts = {m["name"]: m["mountPath"] for m in exporter["volumeMounts"]}
    assert mounts["web-config"] == "/etc/ams-job-exporter/web"
    # TLS: probes, the Service's appProtocol, the ServiceMonitor and the test use https
    assert exporter["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert exporter["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    test_env = one(docs, "Pod")["spec"]["containers"][0]["env"]
    assert test_env[0]["value"].startswith("https://")
    docs = render(helm, tmp_path, {"webConfig": ALL_ON["webConfig"],
                                   "serviceMonitor": {"enabled": True}})
    assert one(docs, "ServiceMonitor")["spec"]["endpoints"][0]["scheme"] == "https"


# ---------------------------------------------------------------- config

def check_config(tmp_path: Path, docs: list[dict[str, Any]]) -> subprocess.CompletedProcess:
    """Run the exporter's check-config on the rendered ConfigMap, with the environment
    the Deployment would give it (env values, and the rendered Secret's keys)."""
    config_maps = [d for d in docs if d["kind"] == "ConfigMap" and "config.yaml" in d["data"]]
    assert len(config_maps) == 1
    path = tmp_path / "config.yaml"
    path.write_text(config_maps[0]["data"]["config.yaml"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMS_", "AZURE_"))}
    exporter = container(docs)
    for item in exporter.get("env", []):
        env[item["name"]] = item.get("value", "from-a-reference")
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    for source in exporter.get("envFrom", []):
        name = source.get("secretRef", {}).get("name")
        if name in secrets:
            for key, value in secrets[name]["data"].items():
                env[key] = base64.b64decode(value).decode()
    return subprocess.run([sys.executable, "-m", "exporter", "check-config",
                           "--config.file", str(path)], capture_output=True, text=True,
                          timeout=60, env=env, cwd=ROOT)


def test_rendered_default_config_passes_check_config(helm: str, tmp_path: Path):
    result = check_config(tmp_path, render(helm, tmp_path))
    assert result.returncode == 0, result.stderr
    assert "ok: 1 account(s)" in result.stdout


def test_rendered_config_with_env_references_passes_check_config(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, ALL_ON)
    config_map = next(d for d in docs if d["kind"] == "ConfigMap" and "config.yaml" in d["data"])
    assert "${AMS_LEGACY_CLIENT_SECRET}" in config_map["data"]["config.yaml"]
    result = check_config(tmp_path, docs)
    assert result.returncode == 0, result.stderr
    assert "ok: 2 account(s): prod, legacy" in result.stdout
    # without the Secret the reference cannot be resolved: check-config names it
    values = {**ALL_ON, "secret": {"create": False}}
    result = check_config(tmp_path, render(helm, tmp_path, values))
    assert result.returncode == 2
    assert "AMS_LEGACY_CLIENT_SECRET" in result.stderr


def test_a_config_the_exporter_rejects_is_caught_by_check_config(helm: str, tmp_path: Path):
    values = {"config": {"accounts": [{"name": "x", "api": "v2", "endpoint": "not a url"}]}}
    result = check_config(tmp_path, render(helm, tmp_path, values))
    assert result.returncode == 2
    assert "accounts[0].endpoint" in result.stderr


def test_the_readme_values_example_installs(helm: str, tmp_path: Path):
    readme = (ROOT / "docs" / "deploy.md").read_text()
    match = re.search(r"```yaml\n# values-prod\.yaml\n(.*?)```", readme, re.DOTALL)
    assert match, "docs/deploy.md's Helm values example (# values-prod.yaml) not found"
    values = yaml.safe_load(match.group(1))
    docs = render(helm, tmp_path, values)
    validate_offline(docs)
    assert one(docs, "ServiceAccount")["metadata"]["annotations"][
        "azure.workload.identity/client-id"] == values["workloadIdentity"]["clientId"]
    result = check_config(tmp_path, docs)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- PrometheusRule

def test_rendered_rule_groups_equal_the_rule_file(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, {"prometheusRule": {"enabled": True}})
    rules = yaml.safe_load(RULES.read_text())
    assert rendered_rule_groups(docs) == rules["groups"]
    assert [g["name"] for g in rules["groups"]] == ["ams-jobs"]


def test_values_thresholds_are_the_mixins(helm: str, tmp_path: Path):
    thresholds_defaults = mixin_thresholds()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    thresholds = values["prometheusRule"]["thresholds"]
    assert set(thresholds) == set(thresholds_defaults)
    for name, default in thresholds_defaults.items():
        if name == "exporterJob":
            assert thresholds[name] == "", "empty means: the chart's Service name"
        else:
            assert str(thresholds[name]) == default, name
    schema = json.loads((CHART / "values.schema.json").read_text())
    listed = schema["properties"]["prometheusRule"]["properties"]["thresholds"]["properties"]
    assert set(listed) == set(thresholds_defaults)


def _other_value(name: str, default: str) -> Any:
    """A value unlike the default, of the kind the threshold takes."""
    if name == "exporterJob":
        return "my-exporter-job"
    if re.fullmatch(r"[0-9]+(ms|s|m|h|d|w)", default):
        return "17m"
    if "." in default:
        return 0.35
    return int(default) * 3 + 7


@pytest.mark.parametrize("name", sorted(mixin_thresholds()))
def test_each_threshold_value_reaches_the_rendered_rules(helm: str, tmp_path: Path,
                                                         name: str):
    """The PrometheusRule with one threshold set in values is the mixin compiled with
    that _config value: exactly, and unlike the defaults."""
    value = _other_value(name, mixin_thresholds()[name])
    docs = render(helm, tmp_path, {"prometheusRule": {"enabled": True,
                                                      "thresholds": {name: value}}})
    rendered = rendered_rule_groups(docs)
    assert rendered == rule_file({name: value})["groups"]
    assert rendered != yaml.safe_load(RULES.read_text())["groups"]


def test_thresholds_and_links_set_through_values_reach_the_rules(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, {"prometheusRule": {"enabled": True, "thresholds": {
        "stuckProcessingSeconds": 10800, "failureRatio": 0.25, "failureRateFor": "15m",
        "throttledPer5m": 1000000, "failureRateMinJobs": 0},
        "grafanaUrl": "https://grafana.media.example/",
        "runbookUrl": "https://wiki.media.example/ams/runbook"}}, release="media")
    rendered = rendered_rule_groups(docs)
    assert rendered == rule_file({
        "stuckProcessingSeconds": 10800, "failureRatio": 0.25, "failureRateFor": "15m",
        "throttledPer5m": 1000000, "failureRateMinJobs": 0,
        "grafanaUrl": "https://grafana.media.example",  # the trailing / dropped
        "runbookUrl": "https://wiki.media.example/ams/runbook",
        "exporterJob": "media-ams-job-exporter"})["groups"]
    rules = {r.get("alert"): r for g in rendered for r in g["rules"]}
    assert re.search(r"\)\s*> 10800\b", rules["AMSJobStuckProcessing"]["expr"])
    assert "> 0.25\n" in rules["AMSJobFailureRateHigh"]["expr"]
    assert ">= 0\n" in rules["AMSJobFailureRateHigh"]["expr"]  # 0 is a value, not unset
    assert rules["AMSJobFailureRateHigh"]["for"] == "15m"
    # large numbers stay plain PromQL literals (no 1e+06)
    assert "> 1000000\n" in rules["AMSApiThrottled"]["expr"]


def test_a_chart_without_its_rule_file_fails_the_render(helm: str, tmp_path: Path):
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    (chart / "files" / "alerts" / "ams-jobs.rules.yaml").unlink()
    result = run_helm(helm, "template", "x", str(chart), "--api-versions", MONITORING_API,
                      "--set", "prometheusRule.enabled=true", check=False)
    assert result.returncode != 0
    assert "run scripts/build-mixin" in result.stderr


def test_exporter_down_follows_the_service_name(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, {"prometheusRule": {"enabled": True}}, release="media")
    service = one(docs, "Service")["metadata"]["name"]
    assert service == "media-ams-job-exporter"
    rules = {r.get("alert"): r for g in rendered_rule_groups(docs) for r in g["rules"]}
    assert f'up{{job="{service}"}}' in rules["AMSExporterDown"]["expr"]
    assert 'job="ams-job-exporter"' not in rules["AMSExporterDown"]["expr"]


def test_links_point_at_your_grafana_and_runbook(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, {"prometheusRule": {
        "enabled": True, "grafanaUrl": "https://grafana.media.example/",
        "runbookUrl": "https://wiki.media.example/ams/runbook"}})
    alerts = [r for g in rendered_rule_groups(docs) for r in g["rules"] if "alert" in r]
    assert alerts
    for alert in alerts:
        annotations = alert["annotations"]
        assert annotations["dashboard_url"].startswith("https://grafana.media.example/d/")
        assert annotations["runbook_url"].startswith("https://wiki.media.example/ams/runbook#")
    assert "example.com" not in json.dumps(rendered_rule_groups(docs))


#: (values prometheusRule.correlationLabels, .failureRateGroupingLabels), as the mixin's
#: _config: tenants and workflows; a grouping label that is no correlation label; one
#: that is a label of the rules already (each label once in a `by`); each list alone
LABEL_LISTS = [
    (["tenant", "flow"], ["tenant", "flow"]),
    (["tenant"], ["flow"]),
    (["flow", "tenant"], ["tenant", "transform"]),
    (["transform", "tenant"], []),
    ([], ["tenant"]),
]


@pytest.mark.parametrize(("correlation", "grouping"), LABEL_LISTS)
def test_label_lists_set_through_values_reach_the_rules(helm: str, tmp_path: Path,
                                                        correlation: list[str],
                                                        grouping: list[str]):
    """prometheusRule.correlationLabels and .failureRateGroupingLabels give the rules of
    the mixin compiled with those _config lists: exactly, and unlike the defaults."""
    docs = render(helm, tmp_path, {"prometheusRule": {
        "enabled": True, "correlationLabels": correlation,
        "failureRateGroupingLabels": grouping}})
    rendered = rendered_rule_groups(docs)
    assert rendered == rule_file({"correlationLabels": correlation,
                                  "failureRateGroupingLabels": grouping})["groups"]
    assert rendered != yaml.safe_load(RULES.read_text())["groups"]


def test_label_lists_with_thresholds_and_links(helm: str, tmp_path: Path):
    lists = {"correlationLabels": ["tenant", "flow"], "failureRateGroupingLabels": ["tenant"]}
    docs = render(helm, tmp_path, {"prometheusRule": {
        "enabled": True, **lists, "thresholds": {"failureRatio": 0.25, "failureRateFor": "15m"},
        "grafanaUrl": "https://grafana.media.example"}})
    rendered = rendered_rule_groups(docs)
    assert rendered == rule_file({**lists, "failureRatio": 0.25, "failureRateFor": "15m",
                                  "grafanaUrl": "https://grafana.media.example"})["groups"]
    alert = {r.get("alert"): r for g in rendered for r in g["rules"]}["AMSJobFailureRateHigh"]
    assert "and on (account, tenant)\n" in alert["expr"]
    assert alert["annotations"]["summary"].endswith(
        "in account {{ $labels.account }}, tenant {{ $labels.tenant }}")


def test_correlation_labels_default_to_the_exporter_configs(helm: str, tmp_path: Path):
    """Empty prometheusRule.correlationLabels: the label names of the exporter's
    metrics.correlation_labels (sorted), which the rendered config carries too."""
    config = {**ALL_ON["config"], "metrics": {"correlation_labels": {
        "tenant": "customerId", "flow": "workflow"}}}
    docs = render(helm, tmp_path, {"config": config, "prometheusRule": {
        "enabled": True, "failureRateGroupingLabels": ["tenant"]}})
    assert rendered_rule_groups(docs) == rule_file({
        "correlationLabels": ["flow", "tenant"],
        "failureRateGroupingLabels": ["tenant"]})["groups"]
    assert rendered_config(docs)["metrics"]["correlation_labels"] == {
        "tenant": "customerId", "flow": "workflow"}
    # prometheusRule.correlationLabels, when set, wins
    docs = render(helm, tmp_path, {"config": config, "prometheusRule": {
        "enabled": True, "correlationLabels": ["tenant"]}})
    assert rendered_rule_groups(docs) == rule_file({"correlationLabels": ["tenant"]})["groups"]
    # no correlation labels in the config: the default rules
    docs = render(helm, tmp_path, {"config": {**ALL_ON["config"], "metrics": {}},
                                   "prometheusRule": {"enabled": True}})
    assert rendered_rule_groups(docs) == yaml.safe_load(RULES.read_text())["groups"]


def test_the_default_label_lists_are_the_mixins(helm: str, tmp_path: Path):
    values = yaml.safe_load((CHART / "values.yaml").read_text())["prometheusRule"]
    config = defaults()
    for name in build_mixin().LABEL_LISTS:
        assert values[name] == config[name] == [], name


@pytest.mark.parametrize("labels", [{"tenant-id": "customerId"}, {"__tenant": "customerId"}])
def test_correlation_labels_the_exporter_rejects_fail_the_render(helm: str, tmp_path: Path,
                                                                 labels: dict[str, str]):
    config = {**ALL_ON["config"], "metrics": {"correlation_labels": labels}}
    result = template(helm, tmp_path, {"config": config, "prometheusRule": {"enabled": True}},
                      check=False)
    assert result.returncode != 0
    assert "config.metrics.correlation_labels" in result.stderr, result.stderr


# ---------------------------------------------------------------- monitoring objects

def test_service_monitor(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, ALL_ON)
    monitor = one(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] == one(docs, "Service")["spec"]["ports"][0]["name"]
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("60s", "50s")
    assert endpoint["relabelings"] == ALL_ON["serviceMonitor"]["relabelings"]
    assert endpoint["metricRelabelings"] == ALL_ON["serviceMonitor"]["metricRelabelings"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= one(
        docs, "Service")["metadata"]["labels"].items()
    assert one(docs, "PrometheusRule")["metadata"]["labels"]["release"] == \
        "kube-prometheus-stack"


def test_dashboards_config_maps_carry_the_grafana_files(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, {"dashboards": {"enabled": True}})
    maps = [d for d in docs if d["kind"] == "ConfigMap" and "config.yaml" not in d["data"]]
    files = {p.name: p for p in DASHBOARDS.glob("*.json")}
    assert files and len(maps) == len(files)
    for config_map in maps:
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config_map["metadata"]["annotations"]["grafana_folder"] == "AMS"
        (name, text), = config_map["data"].items()
        assert text == files[name].read_text()
        assert json.loads(text)["uid"]
    docs = render(helm, tmp_path, {"dashboards": {
        "enabled": True, "label": "dashboards", "labelValue": "ams", "folder": "Media",
        "folderAnnotation": "k8s-sidecar-target-directory", "namespace": "grafana"}})
    maps = [d for d in docs if d["kind"] == "ConfigMap" and "config.yaml" not in d["data"]]
    for config_map in maps:
        metadata = config_map["metadata"]
        assert metadata["labels"]["dashboards"] == "ams"
        assert "grafana_dashboard" not in metadata["labels"]
        assert metadata["annotations"] == {"k8s-sidecar-target-directory": "Media"}
        assert metadata["namespace"] == "grafana"


def test_network_policy_and_disruption_budget(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, ALL_ON)
    policy = one(docs, "NetworkPolicy")["spec"]
    selector = one(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    assert policy["podSelector"]["matchLabels"] == selector
    ingress = policy["ingress"][0]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    test_labels = one(docs, "Pod")["metadata"]["labels"]
    peers = ingress["from"]
    assert peers[0] == ALL_ON["networkPolicy"]["ingress"]["from"][0]
    assert any(p.get("podSelector", {}).get("matchLabels", {}).items() <= test_labels.items()
               for p in peers if "podSelector" in p), "the helm test pod is allowed"
    egress_ports = {(p["port"], p["protocol"]) for rule in policy["egress"]
                    for p in rule["ports"]}
    assert egress_ports == {(53, "UDP"), (53, "TCP"), (443, "TCP")}
    budget = one(docs, "PodDisruptionBudget")["spec"]
    assert budget == {"minAvailable": 1, "selector": {"matchLabels": selector}}
    docs = render(helm, tmp_path, {"podDisruptionBudget": {"enabled": True}})
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


# ---------------------------------------------------------------- push events

def rendered_config(docs: list[dict[str, Any]]) -> dict[str, Any]:
    [config_map] = [d for d in docs if d["kind"] == "ConfigMap" and "config.yaml" in d["data"]]
    return yaml.safe_load(config_map["data"]["config.yaml"])


def exporter_knows_events() -> bool:
    """The exporter's config has the `events` section (the push receiver)."""
    from exporter.app.config import Config
    return "events" in Config.model_fields


def test_events_are_off_by_default(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, ALL_ON)
    assert "Ingress" not in kinds(docs)
    assert "events" not in rendered_config(docs)
    assert "EVENTS_SECRET" not in json.dumps(container(docs))
    assert len(one(docs, "NetworkPolicy")["spec"]["ingress"]) == 1


def test_events_render_valid_for_every_supported_kubernetes(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, EVENTS_ON)
    validate_offline(docs)
    assert kinds(docs) == sorted(kinds(render(helm, tmp_path, ALL_ON)) + ["Ingress"])


def test_events_ingress_has_tls_and_only_the_events_path(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, EVENTS_ON)
    ingress = one(docs, "Ingress")
    service = one(docs, "Service")
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"secretName": "ams-events-tls", "hosts": [EVENTS_HOST]}]
    [rule] = spec["rules"]
    assert rule["host"] == EVENTS_HOST
    [path] = rule["http"]["paths"]
    assert path == {"path": "/events", "pathType": "Exact", "backend": {"service": {
        "name": service["metadata"]["name"],
        "port": {"name": service["spec"]["ports"][0]["name"]}}}}
    # that port of the Service is the exporter's port, where the receiver listens
    assert service["spec"]["ports"][0]["targetPort"] == container(docs)["ports"][0]["name"]
    assert ingress["metadata"]["annotations"] == \
        EVENTS_ON["events"]["ingress"]["annotations"]
    assert ingress["metadata"]["name"] == service["metadata"]["name"] + "-events"
    # Prefix, no host, TLS hosts given: as asked
    values = {"events": {"enabled": True, "existingSecret": "ams-events", "ingress": {
        "enabled": True, "pathType": "Prefix",
        "tls": [{"secretName": "wildcard", "hosts": ["*.example.net"]}]}}}
    spec = one(render(helm, tmp_path, values), "Ingress")["spec"]
    assert "ingressClassName" not in spec and "host" not in spec["rules"][0]
    assert spec["rules"][0]["http"]["paths"][0]["pathType"] == "Prefix"
    assert spec["tls"] == [{"secretName": "wildcard", "hosts": ["*.example.net"]}]


def test_events_secret_comes_from_the_existing_secret(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, EVENTS_ON)
    env = container(docs)["env"]
    assert env[0] == {"name": "EVENTS_SECRET", "valueFrom": {"secretKeyRef": {
        "name": "ams-events", "key": "events-secret"}}}
    assert env[1:] == ALL_ON["env"]
    # the chart does not create it, nor put its value anywhere
    assert "ams-events" not in {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    assert rendered_config(docs)["events"]["secrets"] == ["${EVENTS_SECRET}"]
    # another key, and a second one accepted during a rotation
    values = {"events": {"enabled": True, "existingSecret": "hooks", "secretKey": "current",
                         "previousSecretKey": "previous"}}
    docs = render(helm, tmp_path, values)
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container(docs)["env"]}
    assert refs == {"EVENTS_SECRET": {"name": "hooks", "key": "current"},
                    "EVENTS_SECRET_PREVIOUS": {"name": "hooks", "key": "previous"}}
    assert rendered_config(docs)["events"]["secrets"] == ["${EVENTS_SECRET}",
                                                          "${EVENTS_SECRET_PREVIOUS}"]


def test_events_config_is_rendered_and_the_users_keys_win(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, EVENTS_ON)
    config = rendered_config(docs)
    assert config["events"] == {"enabled": True, "path": "/events",
                                "secrets": ["${EVENTS_SECRET}"]}
    assert config["accounts"] == ALL_ON["config"]["accounts"]
    # config.events already sets path and secrets: kept; the Ingress follows the path
    entra = {"tenant_id": "33333333-3333-3333-3333-333333333333",
             "audience": "api://ams-job-exporter"}
    values = {**EVENTS_ON, "config": {**ALL_ON["config"], "events": {
        "path": "/hooks/ams", "secrets": ["${MY_HOOK_SECRET}"], "entra": entra,
        "max_body_bytes": "4MiB"}}}
    docs = render(helm, tmp_path, values)
    assert rendered_config(docs)["events"] == {
        "enabled": True, "path": "/hooks/ams", "secrets": ["${MY_HOOK_SECRET}"],
        "entra": entra, "max_body_bytes": "4MiB"}
    ingress = one(docs, "Ingress")
    assert [p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]] == ["/hooks/ams"]
    # Entra tokens only: no secret, no environment variable
    values = {"config": {"events": {"entra": entra}}, "events": {"enabled": True}}
    docs = render(helm, tmp_path, values)
    assert rendered_config(docs)["events"] == {"enabled": True, "path": "/events",
                                               "entra": entra}
    assert "env" not in container(docs)


@pytest.mark.parametrize("values, complaint", [
    ({"events": {"enabled": True}}, "the push receiver needs authentication"),
    ({"events": {"ingress": {"enabled": True}}}, "events.ingress.enabled needs events.enabled"),
    ({"events": {"enabled": True, "existingSecret": "s"},
      "config": {"events": {"enabled": False}}}, "config.events.enabled is false"),
    ({"events": {"enabled": True, "existingSecret": "s",
                 "ingress": {"enabled": True, "controllerNamespaceSelector": None}},
      "networkPolicy": {"enabled": True}}, "controllerNamespaceSelector"),
])
def test_events_misconfigurations_fail_the_render(helm: str, tmp_path: Path,
                                                  values: dict[str, Any], complaint: str):
    result = template(helm, tmp_path, values, check=False)
    assert result.returncode != 0, f"accepted {values}"
    assert complaint in result.stderr, result.stderr


def test_network_policy_admits_the_ingress_controller(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, EVENTS_ON)
    rules = one(docs, "NetworkPolicy")["spec"]["ingress"]
    assert rules[0]["from"][0] == ALL_ON["networkPolicy"]["ingress"]["from"][0]
    controller = rules[1]
    assert controller["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert controller["from"] == [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "ingress-nginx"}}}]
    # another controller: both selectors in one peer (pods matching both)
    namespace = {"matchLabels": {"kubernetes.io/metadata.name": "app-routing-system"}}
    pods = {"matchLabels": {"app": "nginx"}}
    values = {**EVENTS_ON, "events": {**EVENTS_ON["events"], "ingress": {
        **EVENTS_ON["events"]["ingress"], "controllerNamespaceSelector": namespace,
        "controllerPodSelector": pods}}}
    docs = render(helm, tmp_path, values)
    validate_offline(docs)
    rules = one(docs, "NetworkPolicy")["spec"]["ingress"]
    assert rules[1]["from"] == [{"namespaceSelector": namespace, "podSelector": pods}]
    # events without the chart's Ingress: no rule for a controller
    values = {**EVENTS_ON, "events": {**EVENTS_ON["events"], "ingress": {"enabled": False}}}
    docs = render(helm, tmp_path, values)
    assert len(one(docs, "NetworkPolicy")["spec"]["ingress"]) == 1
    assert "Ingress" not in kinds(docs)


@pytest.mark.skipif(not exporter_knows_events(), reason="the exporter has no push receiver")
def test_rendered_events_config_passes_check_config(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, EVENTS_ON)
    result = check_config(tmp_path, docs)  # EVENTS_SECRET set, as from the Secret
    assert result.returncode == 0, result.stderr
    assert "ok: 2 account(s)" in result.stdout


def readme_helm_section() -> str:
    """docs/deploy.md's "## Helm" section, up to the next heading of its level."""
    readme = (ROOT / "docs" / "deploy.md").read_text()
    section = readme.split("\n## Helm\n", 1)[1]
    return re.split(r"\n## ", section, maxsplit=1)[0]


def test_the_readme_events_example_renders(helm: str, tmp_path: Path):
    match = re.search(r"```yaml\n(events:\n  enabled: true\n.*?)```", readme_helm_section(),
                      re.DOTALL)
    assert match, "docs/deploy.md's Helm push events example not found"
    values = yaml.safe_load(match.group(1))
    docs = render(helm, tmp_path, values)
    validate_offline(docs)
    ingress = one(docs, "Ingress")["spec"]
    assert ingress["tls"][0]["hosts"] == [values["events"]["ingress"]["host"]]
    assert len(one(docs, "NetworkPolicy")["spec"]["ingress"]) == 2


def test_events_notes(helm: str, tmp_path: Path):
    values = {k: v for k, v in EVENTS_ON.items() if k not in ("serviceMonitor",
                                                               "prometheusRule")}
    result = run_helm(helm, "install", "media", str(CHART), "--dry-run=client",
                      "--namespace", "monitoring", "-f", str(values_file(tmp_path, values)))
    notes = result.stdout.split("NOTES:", 1)[1]
    assert f"https://{EVENTS_HOST}/events?secret=" in notes
    assert "rollout restart deployment/media-ams-job-exporter" in notes
    assert "backend-protocol" not in notes  # the annotation is there
    values["events"] = {**values["events"], "ingress": {
        **values["events"]["ingress"], "annotations": {}, "tls": []}}
    result = run_helm(helm, "install", "media", str(CHART), "--dry-run=client",
                      "--namespace", "monitoring", "-f", str(values_file(tmp_path, values)))
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "backend-protocol: HTTPS" in notes  # the exporter serves TLS (webConfig)
    assert "events.ingress.tls is empty" in notes


# ---------------------------------------------------------------- sharding

def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels, and the operators the chart uses) against labels."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "In" and labels.get(key) not in expression["values"]:
            return False
        if operator == "NotIn" and labels.get(key) in expression["values"]:
            return False
    return True


def services(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the main Service, the headless one) of a sharded render."""
    found = [d for d in docs if d["kind"] == "Service"]
    assert len(found) == 2, [d["metadata"]["name"] for d in found]
    headless = [d for d in found if d["spec"].get("clusterIP") == "None"]
    assert len(headless) == 1
    main = next(d for d in found if d is not headless[0])
    return main, headless[0]


def flag(args: list[str], name: str) -> str:
    values = [a.split("=", 1)[1] for a in args if a.startswith(name + "=")]
    assert len(values) == 1, (name, args)
    return values[0]


def test_sharding_is_off_by_default(helm: str, tmp_path: Path):
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["sharding"] == {"enabled": False, "shards": 2}
    for docs in (render(helm, tmp_path), render(helm, tmp_path, ALL_ON)):
        assert "StatefulSet" not in kinds(docs) and "Deployment" in kinds(docs)
        assert kinds(docs).count("Service") == 1
        assert not [a for a in container(docs)["args"] if a.startswith("--shard")]


def test_sharding_renders_a_valid_statefulset_instead_of_the_deployment(helm: str,
                                                                         tmp_path: Path):
    docs = render(helm, tmp_path, SHARDED)
    validate_offline(docs)
    unsharded = kinds(render(helm, tmp_path, ALL_ON))
    unsharded.remove("Deployment")
    assert kinds(docs) == sorted(unsharded + ["Service", "StatefulSet"])
    assert "Deployment" not in kinds(docs)
    # the same with only the switch on (defaults: two shards, no TLS)
    plain = render(helm, tmp_path, {"sharding": {"enabled": True}}, monitoring_api=False)
    validate_offline(plain)
    assert kinds(plain) == ["ConfigMap", "Pod", "PodDisruptionBudget", "Service", "Service",
                            "ServiceAccount", "StatefulSet"]
    assert one(plain, "StatefulSet")["spec"]["replicas"] == 2


def test_statefulset_shards_and_headless_service(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, SHARDED)
    stateful = one(docs, "StatefulSet")
    main, headless = services(docs)
    spec = stateful["spec"]
    assert spec["replicas"] == SHARDS
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["serviceName"] == headless["metadata"]["name"] == "ams-job-exporter-headless"
    assert "volumeClaimTemplates" not in spec
    pod_labels = spec["template"]["metadata"]["labels"]
    assert _selects(spec["selector"], pod_labels)
    # the headless Service: a DNS name per pod, even before the pod is ready
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert _selects({"matchLabels": headless["spec"]["selector"]}, pod_labels)
    # the main Service still selects every shard (clients, the events Ingress)
    assert main["spec"].get("clusterIP") != "None"
    assert main["metadata"]["name"] == stateful["metadata"]["name"]
    assert _selects({"matchLabels": main["spec"]["selector"]}, pod_labels)
    # replicaCount does not apply: one pod per shard
    docs = render(helm, tmp_path, {**SHARDED, "replicaCount": 5,
                                   "sharding": {"enabled": True, "shards": 7}})
    assert one(docs, "StatefulSet")["spec"]["replicas"] == 7
    assert flag(container(docs)["args"], "--total-shards") == "7"


def test_shard_flags_name_each_pods_own_peers(helm: str, tmp_path: Path):
    """--shard=auto, the total and a peer template that resolves to the StatefulSet's
    pods: <statefulset>-N.<headless>.<namespace>.svc on the container's port, https
    with TLS (SHARDED has webConfig tls_server_config) and http without."""
    from exporter.common.sharding import Sharding, ordinal_from_hostname
    for values, scheme in ((SHARDED, "https"),
                           ({"sharding": {"enabled": True, "shards": SHARDS}}, "http")):
        docs = render(helm, tmp_path, values, release="media")
        stateful = one(docs, "StatefulSet")
        _, headless = services(docs)
        exporter = container(docs)
        args = exporter["args"]
        assert flag(args, "--shard") == "auto"
        assert flag(args, "--total-shards") == str(SHARDS)
        template = flag(args, "--shard.peer-url-template")
        port = exporter["ports"][0]["containerPort"]
        assert template == (f"{scheme}://media-ams-job-exporter-{{shard}}."
                            f"media-ams-job-exporter-headless.monitoring.svc:{port}")
        assert f"--web.listen-address=:{port}" in args
        # what the exporter makes of it in each pod (the pod name is its host name)
        for ordinal in range(SHARDS):
            pod = f"{stateful['metadata']['name']}-{ordinal}"
            assert ordinal_from_hostname(pod) == ordinal
            sharding = Sharding(ordinal, SHARDS, template)
            for peer in range(SHARDS):
                assert sharding.peer_url(peer) == (
                    f"{scheme}://{stateful['metadata']['name']}-{peer}."
                    f"{headless['metadata']['name']}.monitoring.svc:{port}")
        # user flags still come last
        docs = render(helm, tmp_path, {**values, "extraArgs": ["--web.max-requests=10"]})
        assert container(docs)["args"][-1] == "--web.max-requests=10"


def test_shard_flags_parse_as_the_exporter_reads_them(helm: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch):
    from exporter.app import cli
    docs = render(helm, tmp_path, SHARDED)
    args = container(docs)["args"]
    name = one(docs, "StatefulSet")["metadata"]["name"]
    for ordinal in range(SHARDS):
        monkeypatch.setenv("HOSTNAME", f"{name}-{ordinal}")
        sharding = cli._sharding(cli._serve_parser().parse_args(args))
        assert (sharding.ordinal, sharding.total) == (ordinal, SHARDS)
        assert sharding.peer_url(2) == flag(args, "--shard.peer-url-template").replace(
            "{shard}", "2")


def test_statefulset_and_deployment_share_one_pod(helm: str, tmp_path: Path):
    """The pod template is one helper: apart from the shard flags, the StatefulSet's pod
    is the Deployment's, for the defaults and with every optional part."""
    for values in ({}, ALL_ON, EVENTS_ON):
        deployment = workload(render(helm, tmp_path, values))["spec"]["template"]
        sharded = {**values, "sharding": {"enabled": True, "shards": SHARDS}}
        stateful = workload(render(helm, tmp_path, sharded))["spec"]["template"]
        args = stateful["spec"]["containers"][0]["args"]
        shard_args = [a for a in args if a.startswith("--shard") or a.startswith("--total")]
        assert len(shard_args) == 3
        stateful["spec"]["containers"][0]["args"] = [a for a in args if a not in shard_args]
        assert stateful == deployment


def test_sharded_service_monitor_scrapes_every_pod_once(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, SHARDED)
    monitor = one(docs, "ServiceMonitor")
    main, headless = services(docs)
    selector = monitor["spec"]["selector"]
    # the main Service only: its endpoints are every pod; the headless one would make
    # each pod a second target
    assert _selects(selector, main["metadata"]["labels"])
    assert not _selects(selector, headless["metadata"]["labels"])
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] == main["spec"]["ports"][0]["name"]
    # a `shard` label from the pod name, then the user's relabelings
    shard, *rest = endpoint["relabelings"]
    assert rest == ALL_ON["serviceMonitor"]["relabelings"]
    assert shard["sourceLabels"] == ["__meta_kubernetes_pod_name"]
    assert shard["targetLabel"] == "shard"
    name = one(docs, "StatefulSet")["metadata"]["name"]
    for ordinal in (0, 2, 11):
        match = re.fullmatch(shard["regex"], f"{name}-{ordinal}")  # Prometheus anchors it
        assert match and shard["replacement"].replace("$1", match.group(1)) == str(ordinal)
    # no relabelings of one's own: only the shard label
    values = {**SHARDED, "serviceMonitor": {"enabled": True}}
    endpoint = one(render(helm, tmp_path, values), "ServiceMonitor")["spec"]["endpoints"][0]
    assert [r["targetLabel"] for r in endpoint["relabelings"]] == ["shard"]


def test_sharding_brings_a_disruption_budget(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, {"sharding": {"enabled": True, "shards": 4}})
    budget = one(docs, "PodDisruptionBudget")["spec"]
    stateful = one(docs, "StatefulSet")
    assert budget == {"maxUnavailable": 1, "selector": stateful["spec"]["selector"]}
    # podDisruptionBudget's own settings still shape it
    docs = render(helm, tmp_path, SHARDED)  # podDisruptionBudget.minAvailable: 1
    assert one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    docs = render(helm, tmp_path, {"sharding": {"enabled": True},
                                   "podDisruptionBudget": {"maxUnavailable": "50%"}})
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == "50%"
    # and without sharding it is off unless asked for
    assert "PodDisruptionBudget" not in kinds(render(helm, tmp_path))


def test_sharding_with_the_events_ingress(helm: str, tmp_path: Path):
    """Any shard takes a delivery and forwards what it does not own: the Ingress keeps
    pointing at the main Service, and the NetworkPolicy lets the shards reach each
    other on the exporter's port (in and out)."""
    docs = render(helm, tmp_path, SHARDED_EVENTS)
    validate_offline(docs)
    assert kinds(docs) == sorted(kinds(render(helm, tmp_path, SHARDED)) + ["Ingress"])
    main, headless = services(docs)
    backend = one(docs, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend["service"]["name"] == main["metadata"]["name"]
    assert backend["service"]["name"] != headless["metadata"]["name"]
    selector = one(docs, "StatefulSet")["spec"]["selector"]["matchLabels"]
    port = container(docs)["ports"][0]
    policy = one(docs, "NetworkPolicy")["spec"]
    peers_in = [rule for rule in policy["ingress"]
                if rule.get("from") == [{"podSelector": {"matchLabels": selector}}]]
    assert len(peers_in) == 1 and peers_in[0]["ports"] == [
        {"port": port["name"], "protocol": "TCP"}]
    peers_out = [rule for rule in policy["egress"]
                 if rule.get("to") == [{"podSelector": {"matchLabels": selector}}]]
    assert len(peers_out) == 1 and peers_out[0]["ports"] == [
        {"port": port["containerPort"], "protocol": "TCP"}]
    # without events the shards do not talk to each other: no such rules
    policy = one(render(helm, tmp_path, SHARDED), "NetworkPolicy")["spec"]
    assert not [r for r in policy["ingress"] + policy["egress"]
                if {"podSelector": {"matchLabels": selector}} in r.get("from", r.get("to", []))]
    # the config is the unsharded one (sharding is flags, not config) and passes
    assert rendered_config(docs) == rendered_config(render(helm, tmp_path, EVENTS_ON))
    if exporter_knows_events():
        result = check_config(tmp_path, docs)
        assert result.returncode == 0, result.stderr


def test_sharding_needs_a_short_enough_name(helm: str, tmp_path: Path):
    values = {"sharding": {"enabled": True}, "fullnameOverride": "x" * 53}
    result = template(helm, tmp_path, values, check=False)
    assert result.returncode != 0
    assert "longer than 52 characters" in result.stderr
    values["fullnameOverride"] = "x" * 52
    validate_offline(render(helm, tmp_path, values))


def test_the_readme_sharding_example_renders(helm: str, tmp_path: Path):
    match = re.search(r"```yaml\n(sharding:\n.*?)```", readme_helm_section(), re.DOTALL)
    assert match, "docs/deploy.md's Helm sharding example not found"
    values = yaml.safe_load(match.group(1))
    docs = render(helm, tmp_path, values)
    validate_offline(docs)
    assert one(docs, "StatefulSet")["spec"]["replicas"] == values["sharding"]["shards"]


def test_sharding_notes(helm: str, tmp_path: Path):
    values = {k: v for k, v in SHARDED_EVENTS.items() if k not in ("serviceMonitor",
                                                                    "prometheusRule")}
    result = run_helm(helm, "install", "media", str(CHART), "--dry-run=client",
                      "--namespace", "monitoring", "-f", str(values_file(tmp_path, values)))
    notes = result.stdout.split("NOTES:", 1)[1]
    assert f"runs {SHARDS} shards (media-ams-job-exporter-0 … media-ams-job-exporter-2)" \
        in notes
    assert f"--total-shards {SHARDS}" in notes
    assert "rollout restart statefulset/media-ams-job-exporter" in notes
    assert "rollout restart deployment" not in notes


# ---------------------------------------------------------------- helm test hook, NOTES

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _hook_script(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    pod = one(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    test = pod["spec"]["containers"][0]
    assert test["image"] == container(docs)["image"]
    assert test["command"][0] == "/opt/venv/bin/python3"
    return test, [sys.executable, *test["command"][1:], *test["args"]]


def test_helm_test_hook_fetches_readyz_and_metrics(helm: str, tmp_path: Path):
    """Run the hook pod's script on this machine against a demo exporter."""
    test, command = _hook_script(render(helm, tmp_path))
    assert test["env"][0] == {"name": "EXPORTER_URL", "value": "http://ams-job-exporter:10046"}
    port = _free_port()
    demo = subprocess.Popen([sys.executable, "-m", "exporter", "--demo",
                             "--web.listen-address", f"127.0.0.1:{port}"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        result = subprocess.run(command, capture_output=True, text=True, timeout=90,
                                env={**os.environ, "EXPORTER_URL": url,
                                     "READY_TIMEOUT": "60"})
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"ok {url}/readyz" in result.stdout
        assert f"ok {url}/metrics" in result.stdout
    finally:
        demo.terminate()
        try:
            demo.wait(timeout=20)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait(timeout=10)
    # nothing listening: the hook fails (bounded by READY_TIMEOUT)
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "EXPORTER_URL": f"http://127.0.0.1:{port}",
                                 "READY_TIMEOUT": "3"})
    assert result.returncode != 0
    assert "not ready" in result.stderr
    assert time.monotonic() - started < 30


class _BasicAuthStub(http.server.BaseHTTPRequestHandler):
    """/readyz and /metrics behind basic auth (user "prometheus", password "s3cret")."""

    expected = "Basic " + base64.b64encode(b"prometheus:s3cret").decode()

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != self.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="test"')
            self.end_headers()
            return
        body = b"ready" if self.path == "/readyz" else (
            b'ams_exporter_build_info{version="0"} 1.0\nams_up{account="a"} 1.0\n')
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_helm_test_hook_sends_basic_auth_credentials(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, {"tests": {"basicAuth": {"secretName": "scrape-creds"}}})
    test, command = _hook_script(docs)
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in test["env"] if "valueFrom" in e}
    assert refs == {"BASIC_AUTH_USERNAME": {"name": "scrape-creds", "key": "username"},
                    "BASIC_AUTH_PASSWORD": {"name": "scrape-creds", "key": "password"}}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BasicAuthStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        env = {**os.environ, "EXPORTER_URL": url, "READY_TIMEOUT": "3"}
        result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                env={**env, "BASIC_AUTH_USERNAME": "prometheus",
                                     "BASIC_AUTH_PASSWORD": "s3cret"})
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"ok {url}/metrics" in result.stdout
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
        assert result.returncode != 0 and "401" in result.stderr
    finally:
        server.shutdown()
        server.server_close()


class _ShardStub(http.server.BaseHTTPRequestHandler):
    """/readyz and /metrics of one shard (server.ordinal of server.total), with no
    account of its own (so no ams_up)."""

    def do_GET(self) -> None:
        server: Any = self.server
        body = b"ready" if self.path == "/readyz" else (
            b'ams_exporter_build_info{version="0"} 1.0\n'
            b"ams_exporter_shard_ordinal %d.0\nams_exporter_total_shards %d.0\n"
            % (server.ordinal, server.total))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_helm_test_hook_checks_every_shard(helm: str, tmp_path: Path):
    """Sharded, the hook checks each shard at its own address (not one pod behind the
    Service): ready, and reporting its ordinal and the total. A shard may own no
    account, so ams_up is not required."""
    docs = render(helm, tmp_path, {"sharding": {"enabled": True}})
    test, command = _hook_script(docs)
    env = {e["name"]: e["value"] for e in test["env"]}
    template = flag(container(docs)["args"], "--shard.peer-url-template")
    assert env["SHARD_URLS"].split() == [template.replace("{shard}", str(n)) for n in (0, 1)]
    stubs = []
    for ordinal in (0, 1):
        server: Any = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ShardStub)
        server.ordinal, server.total = ordinal, 2
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stubs.append(server)
    urls = [f"http://127.0.0.1:{s.server_address[1]}" for s in stubs]
    try:
        base = {**os.environ, "EXPORTER_URL": "http://127.0.0.1:9", "READY_TIMEOUT": "5"}
        result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                env={**base, "SHARD_URLS": " ".join(urls)})
        assert result.returncode == 0, result.stdout + result.stderr
        assert all(f"ok {url}/metrics" in result.stdout for url in urls)
        # shard 1 answering where shard 0 should be: the hook says so
        result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                env={**base, "SHARD_URLS": " ".join(reversed(urls))})
        assert result.returncode != 0
        assert "shard gauges" in result.stderr
        # unsharded, the same stub lacks ams_up: the Service check fails
        result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                env={**base, "EXPORTER_URL": urls[0]})
        assert result.returncode != 0 and "ams_up{" in result.stderr
    finally:
        for server in stubs:
            server.shutdown()
            server.server_close()


def test_notes(helm: str, tmp_path: Path):
    result = run_helm(helm, "install", "media", str(CHART), "--dry-run=client",
                      "--namespace", "monitoring")
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "port-forward svc/media-ams-job-exporter 10046:10046" in notes
    assert "helm test media" in notes
    assert "workloadIdentity.enabled is" in notes  # warns: the default config needs it
    values = {"workloadIdentity": {"enabled": True, "clientId": "abc"},
              "webConfig": {"basic_auth_users": {"u": "$2y$10$x"}},
              "dashboards": {"enabled": True}}
    result = run_helm(helm, "install", "media", str(CHART), "--dry-run=client",
                      "--namespace", "monitoring", "-f", str(values_file(tmp_path, values)))
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "workloadIdentity.enabled is" not in notes
    assert "system:serviceaccount:monitoring:media-ams-job-exporter" in notes
    assert "--web.config.file" in notes
    assert "tests.basicAuth.secretName" in notes
    assert "grafana_dashboard=1" in notes
