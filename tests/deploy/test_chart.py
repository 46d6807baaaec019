"""The Helm chart rendered with real Helm (helm-python-sdk) and checked against the Kubernetes schemas."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from satellite.config import load_config
from tests.unit.test_config import DURATION_CASES

from . import chart_schema
from .helpers import (
    CHART,
    CONFIG_DIR,
    CONFIG_PATH,
    DATA_DIR,
    SECRETS_DIR,
    UID,
    Rendered,
    render,
    write_mounts,
)

pytestmark = pytest.mark.deploy


def generated_private_pem() -> str:
    """A fresh Ed25519 private key as PKCS8 PEM text (no key is committed)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas shipped.
K8S_VERSIONS = ("1.25.0", kubernetes_validate.utils.latest_version())
VALUE_DEFAULTS = yaml.safe_load((CHART / "values.yaml").read_text())
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
    "secrets": {"apiKey": "k-123", "signingPrivateKey": generated_private_pem(),
                "recipientPublicKey": "-----BEGIN PUBLIC KEY-----\ny\n-----END PUBLIC KEY-----\n",
                "pats": {"tfs-main": "pat-1", "tfs-legacy": "pat-2"}},
}
# The least a user must give (everything else has a default).
MINIMAL = {
    "config": {"satellite": {"tenant": "acme", "endpoint": "https://ingest.sei.example.com",
                             "encryption": {"recipient_key_id": "sei-2025-01"}},
               "integrations": [{"id": "tfs-main", "url": "https://tfs.corp.example.com/tfs/DefaultCollection"}]},
    "secrets": {"apiKey": "k-123", "signingPrivateKey": CONFIGURED["secrets"]["signingPrivateKey"],
                "recipientPublicKey": CONFIGURED["secrets"]["recipientPublicKey"], "pats": {"tfs-main": "pat-1"}},
}
# The Kubernetes objects the chart takes as they are.
EXTRAS = {
    **CONFIGURED, "replicaCount": 3,
    "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.corp:3128"},
                 {"name": "ADO_PAT", "valueFrom": {"secretKeyRef": {"name": "ado", "key": "pat"}}},
                 {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
    "extraVolumes": [{"name": "corp-ca", "configMap": {"name": "corp-ca"}}],
    "extraVolumeMounts": [{"name": "corp-ca", "mountPath": "/etc/corp-ca", "readOnly": True}],
    "initContainers": [{"name": "wait-for-proxy", "image": "busybox:1.36", "command": ["sh", "-c", "true"]}],
    "sidecars": [{"name": "log-shipper", "image": "fluent-bit:3", "securityContext": {
        "runAsNonRoot": True, "runAsUser": 20000, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}}],
    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "sei-satellite"}}}}]}},
    "topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"},
        {"maxSkew": 2, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": {"team": "sei"}}}],
    "podDisruptionBudget": {"maxUnavailable": "", "minAvailable": "50%"},
}
VALUE_SETS = {
    "minimal": MINIMAL,
    "configured": CONFIGURED,
    "extras": EXTRAS,
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
    "no-pdb-no-test": {**CONFIGURED, "podDisruptionBudget": {"enabled": False}, "helmTest": {"enabled": False},
                       "startupProbe": {"enabled": False}},
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
    assert_restricted(rendered)
    names = [(d["kind"], d["metadata"]["name"]) for d in rendered.docs]
    assert len(names) == len(set(names)), names
    report = helm.lint(CHART, VALUE_SETS[case], strict=True, kube_version="v1.30.0")
    assert not report["errors"] and not [m for m in report["messages"] if m["severity"] >= 2], report


RESTRICTED_POD = {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
                  "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}}


def assert_restricted(rendered: Rendered) -> None:
    """The restricted Pod Security Standard holds for every pod and container rendered (the
    StatefulSet's, the test pod's, init containers and sidecars)."""
    specs = [d["spec"]["template"]["spec"] for d in rendered.docs if d["kind"] == "StatefulSet"]
    specs += [d["spec"] for d in rendered.docs if d["kind"] == "Pod"]
    for spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in spec.get("initContainers", []) + spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context["capabilities"]["drop"] == ["ALL"], container["name"]
            assert context["runAsNonRoot"] is True and context["seccompProfile"] == {"type": "RuntimeDefault"}, container["name"]
            assert context.get("privileged") is not True and not context["capabilities"].get("add"), container["name"]


def test_minimal_values_render_with_the_restricted_security_profile():
    rendered = render(MINIMAL)
    assert rendered.kinds() == ["ConfigMap", "Pod", "PodDisruptionBudget", "Secret", "Service", "Service", "ServiceAccount",
                                "StatefulSet"]
    statefulset = rendered.one("StatefulSet")
    pod = statefulset["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and rendered.one("ServiceAccount")["automountServiceAccountToken"] is False
    assert pod["securityContext"] == RESTRICTED_POD
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["args"] == ["--log-level", "info", "--log-format", "json", "run", "-c", CONFIG_PATH]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"] == 300
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
    assert "env" not in container and "initContainers" not in pod and "affinity" not in pod


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


@pytest.mark.parametrize("values, missing", [
    ({}, ["config.satellite.tenant (your SEI tenant)", "config.satellite.endpoint", "config.satellite.encryption.recipient_key_id",
          "config.integrations", "secrets.apiKey", "secrets.signingPrivateKey", "secrets.recipientPublicKey"]),
    ({**MINIMAL, "secrets": {**MINIMAL["secrets"], "pats": {}}}, ["secrets.pats.tfs-main (the PAT of integration tfs-main)"]),
    ({**MINIMAL, "config": {**MINIMAL["config"], "satellite": {"tenant": "acme", "endpoint": "https://x.example"}}},
     ["config.satellite.encryption.recipient_key_id"]),
    ({"config": MINIMAL["config"], "secrets": {"existingSecret": "creds"}}, []),
    ({**MINIMAL, "config": {**MINIMAL["config"], "integrations": []}}, ["config.integrations"]),
], ids=["nothing", "a-pat", "recipient-key-id", "existing-secret", "integrations"])
def test_an_unconfigured_release_fails_at_template_time_saying_what_to_set(values, missing):
    """No crash-looping pods: install, upgrade, template and lint stop with the list of what to set."""
    import helm_python as helm

    if not missing:
        assert render(values).one("StatefulSet")
        return
    with pytest.raises(helm.HelmRenderError) as caught:
        render(values)
    message = str(caught.value)
    assert "sei-satellite is not configured yet. Set:" in message
    for text in missing:
        assert f"  - {text}" in message, message
    listed = [line for line in message.splitlines() if line.startswith("  - ")]
    assert len(listed) == len(missing), message
    # helm lint's lint mode lets `fail` pass, so the chart itself lints without values
    report = helm.lint(CHART, values, strict=True, kube_version="v1.30.0")
    assert not report["errors"] and not [m for m in report["messages"] if m["severity"] >= 2], report


def _annotations(values) -> dict[str, str]:
    return render(values).one("StatefulSet")["spec"]["template"]["metadata"]["annotations"]


def test_existing_secret_replaces_the_chart_secret():
    rendered = render(VALUE_SETS["existing-secret"])
    assert "Secret" not in rendered.kinds()
    template = rendered.one("StatefulSet")["spec"]["template"]
    assert {v["name"]: v for v in template["spec"]["volumes"]}["secrets"]["secret"]["secretName"] == "sei-satellite-credentials"
    test_pod = rendered.one("Pod")["spec"]
    assert {v["name"]: v for v in test_pod["volumes"]}["secrets"]["secret"]["secretName"] == "sei-satellite-credentials"
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


def test_a_changed_config_or_secret_rolls_the_pods_and_a_rollout_token_rolls_them_with_an_existing_secret():
    existing = VALUE_SETS["existing-secret"]
    base = _annotations(existing)
    assert set(base) == {"checksum/config", "checksum/secret"}
    bumped = _annotations({**existing, "secrets": {**existing["secrets"], "rolloutToken": "2026-12-04"}})
    assert bumped["checksum/secret"] != base["checksum/secret"] and bumped["checksum/config"] == base["checksum/config"]
    other = _annotations({**existing, "secrets": {"existingSecret": "other-credentials"}})
    assert other["checksum/secret"] != base["checksum/secret"]
    chart_secret = _annotations(CONFIGURED)
    new_pat = _annotations({**CONFIGURED, "secrets": {**CONFIGURED["secrets"], "pats": {"tfs-main": "new", "tfs-legacy": "pat-2"}}})
    assert new_pat["checksum/secret"] != chart_secret["checksum/secret"] and new_pat["checksum/config"] == chart_secret["checksum/config"]
    new_config = _annotations({**CONFIGURED, "config": {**CONFIGURED["config"], "limits": {"concurrency": 2}}})
    assert new_config["checksum/config"] != chart_secret["checksum/config"] and new_config["checksum/secret"] == chart_secret["checksum/secret"]
    assert _annotations(CONFIGURED) == chart_secret  # stable: nothing changed, nothing rolls


def test_pod_disruption_budget_selects_the_pods_and_takes_either_bound():
    rendered = render(CONFIGURED)
    pdb = rendered.one("PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {
        "app.kubernetes.io/name": "sei-satellite", "app.kubernetes.io/instance": "sat"}}}
    assert pdb["spec"]["selector"]["matchLabels"].items() <= rendered.one("StatefulSet")["spec"]["template"]["metadata"]["labels"].items()
    assert render(EXTRAS).one("PodDisruptionBudget")["spec"]["minAvailable"] == "50%"
    assert "maxUnavailable" not in render(EXTRAS).one("PodDisruptionBudget")["spec"]
    assert "PodDisruptionBudget" not in render(VALUE_SETS["no-pdb-no-test"]).kinds()
    import helm_python as helm

    with pytest.raises(helm.HelmRenderError, match="either maxUnavailable or minAvailable"):
        render({**CONFIGURED, "podDisruptionBudget": {"minAvailable": 1}})


def test_scheduling_extra_env_volumes_init_containers_and_sidecars_reach_the_pod():
    rendered = render(EXTRAS)
    spec = rendered.one("StatefulSet")["spec"]["template"]["spec"]
    assert spec["affinity"] == EXTRAS["affinity"]
    zone, host = spec["topologySpreadConstraints"]
    assert zone["labelSelector"] == {"matchLabels": {"app.kubernetes.io/name": "sei-satellite", "app.kubernetes.io/instance": "sat"}}
    assert host["labelSelector"] == {"matchLabels": {"team": "sei"}}  # a given selector is kept
    satellite, sidecar = spec["containers"]
    assert satellite["name"] == "satellite" and satellite["env"] == EXTRAS["extraEnv"]
    assert satellite["volumeMounts"][-1] == {"name": "corp-ca", "mountPath": "/etc/corp-ca", "readOnly": True}
    assert {"name": "corp-ca", "configMap": {"name": "corp-ca"}} in spec["volumes"]
    (init,) = spec["initContainers"]
    assert init["securityContext"] == VALUE_DEFAULTS["containerSecurityContext"]  # none given: the chart's restricted one
    assert sidecar["securityContext"]["runAsUser"] == 20000  # its own is kept
    test_pod = rendered.one("Pod")["spec"]
    (check,) = test_pod["containers"]
    assert check["env"] == EXTRAS["extraEnv"] and check["volumeMounts"] == satellite["volumeMounts"]
    assert "affinity" not in test_pod and "initContainers" not in test_pod


def test_helm_test_pod_runs_satellite_check_with_the_pods_config_and_secrets():
    rendered = render(CONFIGURED)
    pod = rendered.one("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["metadata"]["name"] == "sat-sei-satellite-test-check"
    selector = rendered.one("StatefulSet")["spec"]["selector"]["matchLabels"]
    assert not selector.items() <= pod["metadata"]["labels"].items()  # neither the StatefulSet's nor the Services' pod
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert container["args"][-3:] == ["check", "-c", CONFIG_PATH] and spec["restartPolicy"] == "Never"
    assert container["image"] == rendered.one("StatefulSet")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert spec["securityContext"] == RESTRICTED_POD
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["config"]["configMap"]["name"] == "sat-sei-satellite" and volumes["secrets"]["secret"]["secretName"] == "sat-sei-satellite"
    assert {m["mountPath"] for m in container["volumeMounts"]} == {CONFIG_DIR, SECRETS_DIR, DATA_DIR, "/tmp"}
    assert "helm test sat -n sei --logs" in rendered.notes


def test_network_policy_denies_by_default_and_allows_dns_and_the_listed_destinations():
    policy = render(VALUE_SETS["network-policy"]).one("NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["podSelector"]["matchLabels"] == {"app.kubernetes.io/instance": "sat"}
    assert policy["podSelector"]["matchExpressions"] == [
        {"key": "app.kubernetes.io/name", "operator": "In", "values": ["sei-satellite", "sei-satellite-test"]}]
    rendered = render(VALUE_SETS["network-policy"])  # it holds the satellite's pods and the helm test pod, nothing else
    pods = [rendered.one("StatefulSet")["spec"]["template"]["metadata"]["labels"], rendered.one("Pod")["metadata"]["labels"]]
    for labels in pods:
        assert labels["app.kubernetes.io/instance"] == "sat" and labels["app.kubernetes.io/name"] in policy["podSelector"]["matchExpressions"][0]["values"]
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
    ({"config": {"satellite": {"endpoint": "not a url"}}}, "/config/satellite/endpoint"),
    ({"config": {"satellite": {"endpoint": "ftp://ingest.sei.example.com"}}}, "/config/satellite/endpoint"),
    ({"config": {"satellite": {"endpoint": "https://ingest.sei.example.com/?tenant=acme"}}}, "/config/satellite/endpoint"),
    ({"config": {"satellite": {"proxy": "proxy.corp:3128"}}}, "/config/satellite/proxy"),
    ({"config": {"integrations": [{"id": "a", "url": "tfs.corp/tfs"}]}}, "/config/integrations/0/url"),
    ({"caBundle": "any text at all"}, "/caBundle"),
    ({"caBundle": "-----BEGIN CERTIFICATE-----\nMIIB\n"}, "/caBundle"),
    ({"caBundle": generated_private_pem()}, "/caBundle"),
    ({"secrets": {"recipientPublicKey": "sei-2025-01"}}, "/secrets/recipientPublicKey"),
    ({"secrets": {"signingPrivateKey": "-----BEGIN PUBLIC KEY-----\nMCow\n-----END PUBLIC KEY-----\n"}}, "/secrets/signingPrivateKey"),
    ({"extraEnv": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "kee": "k"}}}]}, "/extraEnv/0/valueFrom/secretKeyRef"),
    ({"extraEnv": [{"value": "no name"}]}, "/extraEnv/0"),
    ({"extraVolumeMounts": [{"name": "ca"}]}, "/extraVolumeMounts/0"),
    ({"sidecars": [{"name": "s", "imagee": "x"}]}, "/sidecars/0"),
    ({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone"}]}, "/topologySpreadConstraints/0"),
    ({"affinity": {"nodeAfinity": {}}}, "/affinity"),
    ({"podDisruptionBudget": {"maxUnavailable": "half"}}, "/podDisruptionBudget/maxUnavailable"),
    ({"startupProbe": {"failureThreshold": 0}}, "/startupProbe/failureThreshold"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_wrong_types_and_values_are_rejected_by_the_schema(values, where):
    import helm_python as helm

    with pytest.raises(helm.HelmValuesError) as caught:
        render(values)
    assert f"at '{where}'" in str(caught.value), str(caught.value)


TWO_CERTIFICATES = ("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\nAbC+/=\n-----END CERTIFICATE-----\n"
                    "-----BEGIN CERTIFICATE-----\r\nMIIBszCC\r\n-----END CERTIFICATE-----\r\n")


@pytest.mark.parametrize("values", [
    {"config": {"satellite": {"endpoint": "https://ingest.sei.example.com"}}},
    {"config": {"satellite": {"endpoint": "http://10.0.0.5:8443/ingest/v1"}}},
    {"config": {"satellite": {"endpoint": "${env:SEI_ENDPOINT}", "proxy": "http://user:secret@proxy.corp:3128"}}},
    {"config": {"integrations": [{"id": "a", "url": "https://tfs.corp/tfs/DefaultCollection", "proxy": None}]}},
    {"caBundle": TWO_CERTIFICATES},
    {"caBundle": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},
    {"secrets": {"recipientPublicKey": "-----BEGIN MLKEM768-X25519 PUBLIC KEY-----\nAAEC\n-----END MLKEM768-X25519 PUBLIC KEY-----\n"}},
], ids=["https", "http-port-path", "reference-and-proxy-credentials", "integration", "two-certificates", "no-final-newline",
        "hybrid-recipient-key"])
def test_urls_and_pem_text_that_the_schema_accepts(values):
    import helm_python as helm

    try:
        render(values)
    except helm.HelmValuesError as exc:  # the schema must pass; the render itself stops at the required values
        raise AssertionError(str(exc)) from None
    except helm.HelmRenderError as exc:
        assert "not configured yet" in str(exc)


@pytest.mark.parametrize(("text", "expected"), DURATION_CASES, ids=repr)
def test_helm_reads_durations_as_the_satellite_does(text, expected):
    """Helm's own validator (Go regexp) on the duration pattern: the loader's table, one verdict."""
    import helm_python as helm

    values = {**MINIMAL, "config": {**MINIMAL["config"], "delivery": {"max_backoff": text}}}
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
    k8s = {name: value for name, value in schema["definitions"].items() if name.startswith("io.k8s.")}
    assert k8s == chart_schema.k8s_definitions(), "run .venv/bin/python -m tests.deploy.chart_schema --write"
    assert {f"io.k8s.api.core.v1.{t}" for t in chart_schema.K8S_TYPES} <= set(k8s)
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
    documented = set(re.findall(r"^\s*## @param (\S+) \S", text, flags=re.MULTILINE))
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
