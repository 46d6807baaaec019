"""Rendering the chart with real Helm, and turning what it renders into things podman can run."""

from __future__ import annotations

import base64
import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from satellite.sealing.keys import KeyFiles
from tests import support
from tests.support import API_KEY, PAT

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "sei-satellite"
CONFIG_DIR = "/etc/sei-satellite"
CONFIG_PATH = f"{CONFIG_DIR}/satellite.yml"
SECRETS_DIR = "/var/run/secrets/sei-satellite"
DATA_DIR = "/var/lib/sei-satellite"
UID = 10001


@dataclass
class Rendered:
    """What `helm template` would print: the manifests (parsed) and NOTES.txt."""

    docs: list[dict[str, Any]]
    notes: str

    def kinds(self) -> list[str]:
        return sorted(d["kind"] for d in self.docs)

    def one(self, kind: str) -> dict[str, Any]:
        found = [d for d in self.docs if d["kind"] == kind]
        assert len(found) == 1, f"{len(found)} {kind}(s) rendered"
        return found[0]

    def config_text(self) -> str:
        return self.one("ConfigMap")["data"]["satellite.yml"]

    def config(self) -> dict[str, Any]:
        return yaml.safe_load(self.config_text())

    def secret_files(self) -> dict[str, bytes]:
        return {k: base64.b64decode(v) for k, v in (self.one("Secret").get("data") or {}).items()}


def render(values: dict[str, Any] | None = None, *, name: str = "sat", namespace: str = "sei") -> Rendered:
    """Render the chart with Helm's own engine (helm-python-sdk); the values schema applies."""
    import helm_python as helm

    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(values or {}, name=name, namespace=namespace)
    docs: list[dict[str, Any]] = []
    notes = ""
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return Rendered(docs, notes)


def deploy_values(*, image: str, simulator_url: str, endpoint: str, keys: KeyFiles, replicas: int = 1, **extra: Any) -> dict[str, Any]:
    """Values a user would give: the SEI endpoint, one integration, and the secrets."""
    repository, tag = image.rsplit(":", 1)
    return {
        "fullnameOverride": extra.pop("fullnameOverride", "sei-satellite"),
        "replicaCount": replicas,
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "config": {
            "satellite": {"tenant": "acme", "endpoint": endpoint, "encryption": {"recipient_key_id": keys.recipient_key_id}},
            "integrations": [{"id": "tfs-main", "url": simulator_url, "services": ["repos", "tfvc", "pipelines", "boards"]}],
            "limits": {"page_sizes": {"commits": 50, "projects": 2}, "batch": {"max_records": 200}},
        },
        "secrets": {
            "apiKey": API_KEY,
            "signingPrivateKey": keys.signing_private.read_text(),
            "recipientPublicKey": keys.recipient_public.read_text(),
            "pats": {"tfs-main": PAT},
        },
        **extra,
    }


def write_mounts(rendered: Rendered, directory: Path) -> tuple[Path, Path]:
    """The ConfigMap and the Secret as the kubelet would mount them: (config dir, secrets dir).

    Secret files get the chart's defaultMode 0440, owned by root and the pod's fsGroup (10001).
    """
    config_dir, secrets_dir = directory / "config", directory / "secrets"
    for d in (config_dir, secrets_dir):
        d.mkdir(parents=True)
        d.chmod(0o755)
    for key, text in rendered.one("ConfigMap")["data"].items():
        (config_dir / key).write_text(text)
        (config_dir / key).chmod(0o644)
    volumes = rendered.one("StatefulSet")["spec"]["template"]["spec"]["volumes"]
    mode = next(v["secret"]["defaultMode"] for v in volumes if "secret" in v)
    for key, data in rendered.secret_files().items():
        path = secrets_dir / key
        path.write_bytes(data)
        try:
            os.chown(path, 0, UID)
        except PermissionError:  # not root: readable by everyone instead of by the fsGroup
            mode = 0o444
        path.chmod(mode)
    return config_dir, secrets_dir


def kube_play_manifest(rendered: Rendered, *, secrets_dir: Path, prefix: str, run_once: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """The StatefulSet's pod 0 as podman 4.3's `kube play` can run it, and the volumes it creates.

    kube play runs Pods, ConfigMaps and PersistentVolumeClaims but no StatefulSet, so pod 0 is
    written out as the controller would create it (name and host name <statefulset>-0, one
    claim data-<statefulset>-0 from the volumeClaimTemplate). Two podman 4.3 limits: a Secret
    volume crashes it (the Secret's files are bind-mounted from `secrets_dir`, written by
    write_mounts from the rendered Secret), and container ports cannot be combined with the host
    network (the port list is dropped, named probe ports become numbers). The emptyDir gets a
    unique name because podman 4.3 turns it into a named volume.
    """
    statefulset = copy.deepcopy(rendered.one("StatefulSet"))
    pod_name = f"{statefulset['metadata']['name']}-0"
    spec = statefulset["spec"]["template"]["spec"]
    volumes_created: list[str] = []
    out: list[dict[str, Any]] = [copy.deepcopy(rendered.one("ConfigMap"))]
    volumes_created.append(out[0]["metadata"]["name"])  # podman keeps a ConfigMap as a named volume
    for claim_template in statefulset["spec"].get("volumeClaimTemplates", []):
        claim = f"{claim_template['metadata']['name']}-{pod_name}"
        out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim}, "spec": claim_template["spec"]})
        spec["volumes"].append({"name": claim_template["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim}})
        volumes_created.append(claim)
    renamed: dict[str, str] = {}
    for volume in spec["volumes"]:
        if "secret" in volume:
            volume.pop("secret")
            volume["hostPath"] = {"path": str(secrets_dir), "type": "Directory"}
        elif "emptyDir" in volume:
            renamed[volume["name"]] = volume["name"] = f"{prefix}-{volume['name']}"
            volumes_created.append(volume["name"])
    container = spec["containers"][0]
    for mount in container["volumeMounts"]:
        mount["name"] = renamed.get(mount["name"], mount["name"])
    ports = {p["name"]: p["containerPort"] for p in container.pop("ports", [])}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        if probe in container:
            get = container[probe]["httpGet"]
            get["port"] = ports.get(get["port"], get["port"])
    if run_once:  # a one-pass command (sync --once): exit for good, as a Job's pod would
        spec["restartPolicy"] = "Never"
    spec["hostname"] = pod_name
    spec.pop("serviceAccountName", None)
    out.append({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod_name, "labels": statefulset["spec"]["template"]["metadata"]["labels"]},
        "spec": spec,
    })
    return out, volumes_created


def container_flags(rendered: Rendered) -> list[str]:
    """`podman run` flags for the security settings of the StatefulSet's pod and container."""
    pod = rendered.one("StatefulSet")["spec"]["template"]["spec"]
    pod_context, context = pod["securityContext"], pod["containers"][0]["securityContext"]
    user = context.get("runAsUser", pod_context.get("runAsUser"))
    group = context.get("runAsGroup", pod_context.get("runAsGroup"))
    flags = ["--user", f"{user}:{group}", "--group-add", str(pod_context["fsGroup"])]
    if context.get("readOnlyRootFilesystem"):
        flags.append("--read-only")
    if context.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    flags += [f"--cap-drop={cap}" for cap in context.get("capabilities", {}).get("drop", [])]
    return flags


def wait_until(check, timeout: float, what: str):
    """``tests.support.wait_until`` at a container's pace: every 0.5 s, a refused or failed request
    counting as "not yet" (the container is still starting)."""
    return support.wait_until(check, timeout, what, interval=0.5, ignore=(httpx.HTTPError, OSError))
