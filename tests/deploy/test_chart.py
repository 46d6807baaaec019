"""The Helm chart rendered with real Helm (helm-python-sdk) and checked against the Kubernetes schemas."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from satellite.config import load_config
from satellite.errors import ConfigError
from tests.unit.test_config import DURATION_CASES

from . import chart_schema
from .helpers import CHART, CONFIG_PATH, DATA_DIR, SECRETS_DIR, UID, Rendered, render, write_mounts

pytestmark = pytest.mark.deploy

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas shipped.
K8S_VERSIONS = ("1.25.0", kubernetes_validate.utils.latest_version())
CONFIGURED = {
    "config": {
        "satellite": {"id": "corp-dc1", "tenant": "acme", "endpoint": "https://ingest.sei.example.com",
                      "encryption": {"recipient_key_id": "sei-2025-01"}},
        "integrations": [
            {"id": "tfs-main", "url": "https://tfs.corp.example.com/tfs/DefaultCollection", "services": ["repos", "boards"],
             "projects": {"include": ["*"], "exclude": ["Sandbox*"]}, "schedule": {"interval": "10m"},
             "backfill": {"start": "2023-01-01"}},
            {"id": "tfs-legacy", "url": "https://legacy.corp.example.com/tfs", "collections": ["*"], "proxy": None},
        ],
        "limits": {"concurrency": 8, "batch": {"max_bytes": "8MiB"}},
    },
    "secrets": {"apiKey": "k-123", "signingPrivateKey": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
                "recipientPublicKey": "-----BEGIN PUBLIC KEY-----\ny\n-----END PUBLIC KEY-----\n",
                "pats": {"tfs-main": "pat-1", "tfs-legacy": "pat-2"}},
}
VALUE_SETS = {
    "defaults": {},
    "configured": CONFIGURED,
    "existing-secret": {**CONFIGURED, "secrets": {"existingSecret": "sei-satellite-credentials"}},
    "replicas-3": {**CONFIGURED, "replicaCount": 3},
    "network-policy": {**CONFIGURED, "networkPolicy": {
        "enabled": True,
        "egress": [{"cidr": "10.20.0.0/16", "except": ["10.20.9.0/24"], "ports": [443, 8080]}, {"cidr": "192.0.2.10/32", "ports": [3128]}],
        "ingressFrom": [{"namespaceLabels": {"kubernetes.io/metadata.name": "monitoring"}, "podLabels": {"app.kubernetes.io/name": "prometheus"}}],
    }},
    "network-policy-deny-all": {**CONFIGURED, "networkPolicy": {"enabled": True, "allowDns": False}},
    "service-monitor": {**CONFIGURED, "serviceMonitor": {"enabled": True, "namespace": "monitoring", "labels": {"release": "prom"}}},
    "everything": {
        **CONFIGURED, "replicaCount": 2, "fullnameOverride": "sat", "commonLabels": {"team": "sei"},
        "image": {"repository": "sei/sei-satellite", "digest": "sha256:" + "a" * 64},
        "imagePullSecrets": [{"name": "regcred"}], "persistence": {"storageClassName": "fast", "size": "50Gi", "annotations": {"a": "b"}},
        "caBundle": "-----BEGIN CERTIFICATE-----\nz\n-----END CERTIFICATE-----\n",
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.corp:3128"}], "podAnnotations": {"x": "y"},
        "nodeSelector": {"kubernetes.io/os": "linux"}, "priorityClassName": "important",
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "sei", "effect": "NoSchedule"}],
        "serviceAccount": {"annotations": {"a": "b"}}, "service": {"annotations": {"a": "b"}},
        "networkPolicy": {"enabled": True}, "serviceMonitor": {"enabled": True}, "livenessProbe": {"enabled": False},
    },
    "no-persistence": {**CONFIGURED, "persistence": {"enabled": False}, "serviceAccount": {"create": False}},
}

# The Prometheus Operator's ServiceMonitor is a CRD, not in the Kubernetes schemas: check the
# fields the chart writes against this excerpt of monitoring.coreos.com/v1 (unknown keys fail).
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {
            "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
            "namespace": {"type": "string"}, "labels": _LABELS, "annotations": _LABELS}},
        "spec": {"type": "object", "required": ["selector", "endpoints"], "additionalProperties": False, "properties": {
            "jobLabel": {"type": "string"},
            "selector": {"type": "object", "additionalProperties": False, "properties": {"matchLabels": _LABELS}},
            "namespaceSelector": {"type": "object", "additionalProperties": False, "properties": {
                "any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}},
            "endpoints": {"type": "array", "minItems": 1, "items": {"type": "object", "additionalProperties": False, "properties": {
                "port": {"type": "string"}, "path": {"type": "string"}, "scheme": {"enum": ["http", "https"]},
                "interval": {"type": "string", "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"},
                "scrapeTimeout": {"type": "string", "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}}}},
        }},
    },
}


def validate_all(rendered: Rendered) -> None:
    for doc in rendered.docs:
        if doc["kind"] == "ServiceMonitor":
            jsonschema.validate(doc, SERVICE_MONITOR_SCHEMA)
            continue
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("case", sorted(VALUE_SETS))
def test_every_rendered_manifest_validates_against_the_kubernetes_schemas(case):
    import helm_python as helm

    rendered = render(VALUE_SETS[case])
    validate_all(rendered)
    assert {"ConfigMap", "Service", "StatefulSet"} <= set(rendered.kinds())
    names = [(d["kind"], d["metadata"]["name"]) for d in rendered.docs]
    assert len(names) == len(set(names)), names
    report = helm.lint(CHART, VALUE_SETS[case], strict=True, kube_version="v1.30.0")
    assert not report["errors"] and not [m for m in report["messages"] if m["severity"] >= 2], report


def test_defaults_render_with_the_restricted_security_profile():
    rendered = render()
    assert rendered.kinds() == ["ConfigMap", "Secret", "Service", "Service", "ServiceAccount", "StatefulSet"]
    statefulset = rendered.one("StatefulSet")
    pod = statefulset["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and rendered.one("ServiceAccount")["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
                                      "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}}
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["args"] == ["--log-level", "info", "--log-format", "json", "run", "-c", CONFIG_PATH]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert set(mounts) == {"/etc/sei-satellite", SECRETS_DIR, DATA_DIR, "/tmp"}
    assert mounts["/etc/sei-satellite"]["readOnly"] and mounts[SECRETS_DIR]["readOnly"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tmp"]["emptyDir"]["sizeLimit"] and volumes["secrets"]["secret"]["defaultMode"] == 0o440
    assert "data" not in volumes  # from the claim template, one per pod
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data" and claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert statefulset["spec"]["serviceName"] == "sat-sei-satellite-headless"
    services = {s["metadata"]["name"]: s for s in rendered.docs if s["kind"] == "Service"}
    assert services["sat-sei-satellite"]["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    assert services["sat-sei-satellite-headless"]["spec"]["clusterIP"] == "None"
    # Not configured yet: it says so, and the satellite itself would list the problems.
    assert "NOT CONFIGURED YET" in rendered.notes and "config.satellite.tenant" in rendered.notes


def test_the_rendered_config_with_real_keys_loads_and_carries_every_value(tmp_path, key_files):
    values = json.loads(json.dumps(CONFIGURED))
    values["secrets"]["signingPrivateKey"] = key_files.signing_private.read_text()
    values["secrets"]["recipientPublicKey"] = key_files.recipient_public.read_text()
    values["replicaCount"] = 3
    rendered = render(values)
    config_dir, secrets_dir = write_mounts(rendered, tmp_path)
    text = (config_dir / "satellite.yml").read_text()
    for secret in ("k-123", "pat-1", "pat-2", "PRIVATE KEY"):
        assert secret not in text  # secrets are only ever in the Secret
    assert sorted(p.name for p in secrets_dir.iterdir()) == [
        "api-key", "pat-tfs-legacy", "pat-tfs-main", "recipient-public-key", "signing-private-key"]
    local = tmp_path / "local.yml"  # the same file, with the pod's paths pointing into tmp_path
    local.write_text(text.replace(SECRETS_DIR, str(secrets_dir)).replace(DATA_DIR, str(tmp_path / "data")))
    config = load_config(local, env={})
    assert config.satellite.id == "corp-dc1" and config.satellite.tenant == "acme"
    assert config.satellite.api_key.reveal() == "k-123"
    assert config.satellite.shard.count == 3 and config.satellite.shard.index is None  # index: the pod ordinal
    main, legacy = config.integrations
    assert (main.id, main.pat.reveal(), main.services, main.projects.exclude) == ("tfs-main", "pat-1", ("repos", "boards"), ("Sandbox*",))
    assert str(main.backfill.start) == "2023-01-01" and main.schedule.interval.total_seconds() == 600
    assert (legacy.pat.reveal(), legacy.collections, legacy.proxy) == ("pat-2", ("*",), None)
    assert config.limits.concurrency == 8 and config.limits.batch.max_bytes == 8 * 1024 * 1024
    assert config.satellite.http.listen == "0.0.0.0:8080"  # the container port of the probes and the Service
    assert config.satellite.shutdown_grace.total_seconds() == 110  # inside terminationGracePeriodSeconds (120)


def test_key_rotation_lists_the_recipient_keys_in_the_config_instead_of_the_secret(tmp_path, key_files):
    values = json.loads(json.dumps(CONFIGURED))
    values["config"]["satellite"]["encryption"] = {"recipients": [
        {"key_id": "sei-old", "public_key": key_files.recipient_public.read_text(), "created": "2024-01-01"},
        {"key_id": key_files.recipient_key_id, "public_key": key_files.recipient_public.read_text(), "created": "2025-01-15"},
    ]}
    values["secrets"]["signingPrivateKey"] = key_files.signing_private.read_text()
    del values["secrets"]["recipientPublicKey"]
    rendered = render(values)
    assert "recipient-public-key" not in rendered.secret_files() and "NOT CONFIGURED" not in rendered.notes
    encryption = rendered.config()["satellite"]["encryption"]
    assert set(encryption) == {"recipients", "signing_private_key"}
    config_dir, secrets_dir = write_mounts(rendered, tmp_path)
    local = tmp_path / "local.yml"
    local.write_text((config_dir / "satellite.yml").read_text().replace(SECRETS_DIR, str(secrets_dir)).replace(DATA_DIR, str(tmp_path / "data")))
    assert load_config(local, env={}).satellite.encryption.sealing_key().key_id == key_files.recipient_key_id


def test_the_container_port_and_the_shutdown_grace_follow_their_values():
    values = {**CONFIGURED, "containerPorts": {"http": 9100}, "terminationGracePeriodSeconds": 45}
    rendered = render(values)
    (container,) = rendered.one("StatefulSet")["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": 9100, "protocol": "TCP"}]
    assert rendered.config()["satellite"]["http"] == {"listen": "0.0.0.0:9100"}
    assert rendered.config()["satellite"]["shutdown_grace"] == "35s"
    values["config"] = {**CONFIGURED["config"], "satellite": {**CONFIGURED["config"]["satellite"], "shutdown_grace": "20s"}}
    assert render(values).config()["satellite"]["shutdown_grace"] == "20s"


def test_defaults_render_a_config_the_satellite_rejects_with_the_missing_keys_named(tmp_path):
    rendered = render()
    config_dir, _ = write_mounts(rendered, tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir / "satellite.yml", env={})
    problems = "\n".join(str(p) for p in caught.value.problems)
    assert "satellite.tenant" in problems and "integrations" in problems


def test_existing_secret_replaces_the_chart_secret():
    rendered = render(VALUE_SETS["existing-secret"])
    assert "Secret" not in rendered.kinds()
    template = rendered.one("StatefulSet")["spec"]["template"]
    assert {v["name"]: v for v in template["spec"]["volumes"]}["secrets"]["secret"]["secretName"] == "sei-satellite-credentials"
    assert "checksum/secret" not in template["metadata"]["annotations"]
    assert "pat-tfs-main" in rendered.notes and "NOT CONFIGURED" not in rendered.notes
    pats = [i["pat"] for i in rendered.config()["integrations"]]
    assert pats == [f"${{file:{SECRETS_DIR}/pat-tfs-main}}", f"${{file:{SECRETS_DIR}/pat-tfs-legacy}}"]


def test_replica_count_is_the_shard_count_and_each_pod_takes_its_ordinal():
    rendered = render(VALUE_SETS["replicas-3"])
    statefulset = rendered.one("StatefulSet")
    assert statefulset["spec"]["replicas"] == 3 and statefulset["spec"]["podManagementPolicy"] == "Parallel"
    assert rendered.config()["satellite"]["shard"] == {"count": 3}  # no index: from the host name sat-sei-satellite-N
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert "3 pod(s), sat-sei-satellite-0 .. sat-sei-satellite-2." in rendered.notes


def test_network_policy_denies_by_default_and_allows_dns_and_the_listed_destinations():
    policy = render(VALUE_SETS["network-policy"]).one("NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "sei-satellite", "app.kubernetes.io/instance": "sat"}
    dns, corp, proxy = policy["egress"]
    assert dns == {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
    assert corp == {"to": [{"ipBlock": {"cidr": "10.20.0.0/16", "except": ["10.20.9.0/24"]}}],
                    "ports": [{"port": 443, "protocol": "TCP"}, {"port": 8080, "protocol": "TCP"}]}
    assert proxy["to"] == [{"ipBlock": {"cidr": "192.0.2.10/32"}}]
    (ingress,) = policy["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert ingress["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}]
    closed = render(VALUE_SETS["network-policy-deny-all"])
    assert closed.one("NetworkPolicy")["spec"]["ingress"] == [] and closed.one("NetworkPolicy")["spec"]["egress"] == []
    assert "can reach nothing but DNS" in closed.notes


def test_service_monitor_scrapes_the_http_service_only():
    rendered = render(VALUE_SETS["service-monitor"])
    monitor = rendered.one("ServiceMonitor")
    assert monitor["metadata"]["namespace"] == "monitoring" and monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["sei"]}
    selector = monitor["spec"]["selector"]["matchLabels"]
    matching = [s["metadata"]["name"] for s in rendered.docs if s["kind"] == "Service"
                and selector.items() <= s["metadata"]["labels"].items()]
    assert matching == ["sat-sei-satellite"]


@pytest.mark.parametrize("values, where", [
    ({"replicaCont": 3}, "additional properties 'replicaCont'"),
    ({"image": {"tagg": "1"}}, "/image"),
    ({"config": {"satellite": {"tennant": "acme"}}}, "/config/satellite"),
    ({"config": {"integrations": [{"id": "a", "url": "https://x", "pat": "inline"}]}}, "/config/integrations/0"),
    ({"config": {"limits": {"page_sizes": {"comits": 5}}}}, "/config/limits/page_sizes"),
    ({"networkPolicy": {"egress": [{"cidr": "10.0.0.0/8", "port": 443}]}}, "/networkPolicy/egress/0"),
    ({"secrets": {"apikey": "x"}}, "/secrets"),
    ({"resources": {"limits": {"memroy": "1Gi"}}}, "/resources/limits"),
], ids=["top-level", "image", "config.satellite", "inline-pat", "page_sizes", "egress", "secrets", "resources"])
def test_unknown_keys_are_rejected_by_the_schema(values, where):
    import helm_python as helm

    with pytest.raises(helm.HelmValuesError) as caught:
        render(values)
    assert where in str(caught.value) and "additional properties" in str(caught.value)


@pytest.mark.parametrize("values, where", [
    ({"replicaCount": "3"}, "/replicaCount"),
    ({"replicaCount": -1}, "/replicaCount"),
    ({"service": {"port": "http"}}, "/service/port"),
    ({"persistence": {"enabled": "yes"}}, "/persistence/enabled"),
    ({"config": {"limits": {"concurrency": "four"}}}, "/config/limits/concurrency"),
    ({"config": {"integrations": [{"id": "a", "url": "https://x", "services": ["git"]}]}}, "/config/integrations/0/services/0"),
    ({"config": {"integrations": [{"id": "a", "url": "https://x", "backfill": {"start": "last year"}}]}}, "/config/integrations/0/backfill/start"),
    ({"config": {"satellite": {"id": "not an id"}}}, "/config/satellite/id"),
    ({"containerSecurityContext": {"runAsUser": "nobody"}}, "/containerSecurityContext/runAsUser"),
    ({"secrets": {"pats": {"tfs-main": 123}}}, "/secrets/pats/tfs-main"),
    ({"logLevel": "verbose"}, "/logLevel"),
    ({"config": {"integrations": [{"id": "tfs-main"}]}}, "/config/integrations/0"),
    ({"config": {"satellite": {"encryption": {"recipients": [{"key_id": "k"}]}}}}, "/config/satellite/encryption/recipients/0"),
    ({"image": {"digest": "latest"}}, "/image/digest"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_wrong_types_and_values_are_rejected_by_the_schema(values, where):
    import helm_python as helm

    with pytest.raises(helm.HelmValuesError) as caught:
        render(values)
    assert f"at '{where}'" in str(caught.value), str(caught.value)


@pytest.mark.parametrize(("text", "expected"), DURATION_CASES, ids=repr)
def test_helm_reads_durations_as_the_satellite_does(text, expected):
    """Helm's own validator (Go regexp) on the duration pattern: the loader's table, one verdict."""
    import helm_python as helm

    values = {"config": {"delivery": {"max_backoff": text}}}
    if expected is not None:
        render(values)
        return
    with pytest.raises(helm.HelmValuesError) as caught:
        render(values)
    assert "at '/config/delivery/max_backoff'" in str(caught.value), str(caught.value)


def _open_objects(node, path="") -> list[str]:
    """Object schemas that accept unknown keys (free-form maps must say what their values are)."""
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object" and node.get("additionalProperties", True) is True and path != "/properties/global":
            found.append(path or "/")
        for key, value in node.items():
            found += _open_objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _open_objects(value, f"{path}/{i}")
    return found


def test_values_schema_closes_every_object_and_matches_the_config_model():
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert _open_objects(schema) == []
    assert schema["properties"]["config"] == chart_schema.config_values_schema(), (
        "values.schema.json's config part is out of date with satellite/config/model.py: "
        "run .venv/bin/python -m tests.deploy.chart_schema --write"
    )
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load((CHART / "values.yaml").read_text()), schema)


def _leaves(node, prefix="") -> set[str]:
    if isinstance(node, dict) and node:
        out: set[str] = set()
        for key, value in node.items():
            out |= _leaves(value, f"{prefix}.{key}" if prefix else key)
        return out
    return {prefix}


def test_every_value_is_documented_with_an_at_param_line():
    text = (CHART / "values.yaml").read_text()
    documented = set(re.findall(r"^\s*## @param (\S+) \S", text, flags=re.M))
    assert documented == _leaves(yaml.safe_load(text))


def test_notes_tell_how_to_check_the_satellite():
    notes = render(VALUE_SETS["configured"]).notes
    assert f"kubectl -n sei exec sat-sei-satellite-0 -c satellite -- satellite check -c {CONFIG_PATH}" in notes
    assert f"satellite status -c {CONFIG_PATH}" in notes and "port-forward" in notes
    assert "WARNING" not in notes


def test_chart_files_name_no_registry_host():
    owned = [Path("Dockerfile"), Path(".dockerignore"), Path("scripts/container-env.sh"), Path("docs/deploy.md"),
             *(p.relative_to(CHART.parents[1]) for p in CHART.rglob("*") if p.is_file())]
    pattern = re.compile(r"\b(docker\.io|ghcr\.io|quay\.io|gcr\.io|mcr\.microsoft\.com|registry\.k8s\.io|public\.ecr\.aws)\b")
    root = CHART.parents[1]
    hits = [f"{p}: {m.group(0)}" for p in owned if (root / p).exists() for m in pattern.finditer((root / p).read_text())]
    assert hits == []
