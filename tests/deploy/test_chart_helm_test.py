"""`helm test`: the chart's test hook pod run for real with `podman kube play` (the image built
from the Dockerfile, the rendered ConfigMap and Secret), against the simulator and the receiver on
loopback. It runs `satellite check` with the pods' config and secrets: all PASS and exit 0 when
they are right; a wrong PAT makes it FAIL, naming the fix, and exit non-zero (helm test fails).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import API_KEY, PAT, start_receiver

from .helpers import CONFIG_PATH, Rendered, deploy_values, render, write_mounts

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(1200)]


def hook_pod_manifest(rendered: Rendered, *, secrets_dir: Path, prefix: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The hook pod as podman 4.3's kube play runs it (the Secret's files bind-mounted, as
    helpers.kube_play_manifest does for the StatefulSet's pod), with the ConfigMap; and the
    volumes kube play creates."""
    (pod,) = [copy.deepcopy(d) for d in rendered.docs if d["kind"] == "Pod" and d["metadata"]["annotations"].get("helm.sh/hook") == "test"]
    config_map = copy.deepcopy(rendered.one("ConfigMap"))
    created = [config_map["metadata"]["name"]]
    spec = pod["spec"]
    renamed = {}
    for volume in spec["volumes"]:
        if "secret" in volume:
            volume.pop("secret")
            volume["hostPath"] = {"path": str(secrets_dir), "type": "Directory"}
        elif "emptyDir" in volume:
            renamed[volume["name"]] = volume["name"] = f"{prefix}-{volume['name']}"
            created.append(volume["name"])
    for mount in spec["containers"][0]["volumeMounts"]:
        mount["name"] = renamed.get(mount["name"], mount["name"])
    spec.pop("serviceAccountName", None)
    pod["metadata"].pop("annotations")  # helm's hook annotations mean nothing to podman
    return [config_map, pod], created


def _run_hook(podman, resources, rendered: Rendered, tmp_path: Path) -> tuple[int, str]:
    _, secrets_dir = write_mounts(rendered, tmp_path / "mounts")
    docs, volumes = hook_pod_manifest(rendered, secrets_dir=secrets_dir, prefix=resources.prefix)
    manifest = tmp_path / "helm-test.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    for volume in volumes:
        resources.volume(volume)
    resources.kube(manifest)
    podman("kube", "play", "--network", "host", str(manifest), timeout=300)
    container = f"{docs[1]['metadata']['name']}-check"
    code = int(podman("wait", container, timeout=300).stdout.strip().splitlines()[-1])
    logs = podman("logs", container, check=False)
    return code, logs.stdout + logs.stderr


@pytest.mark.parametrize("pat_ok", [True, False], ids=["right-pat", "wrong-pat"])
def test_helm_test_runs_satellite_check_in_a_pod_with_the_release_config(podman, image, resources, simulator, key_files, tmp_path, pat_ok):
    receiver = start_receiver(tmp_path / "receiver", key_files)
    try:
        values = deploy_values(image=image, simulator_url=simulator.collection_url, endpoint=receiver.url, keys=key_files,
                               fullnameOverride=resources.prefix)
        if not pat_ok:
            values["secrets"]["pats"] = {"tfs-main": "not-the-pat"}
        rendered = render(values, name="helm-test", namespace="sei")
        (pod,) = [d for d in rendered.docs if d["kind"] == "Pod"]
        assert pod["spec"]["containers"][0]["args"][-3:] == ["check", "-c", CONFIG_PATH]
        code, logs = _run_hook(podman, resources, rendered, tmp_path)
    finally:
        receiver.close()
    assert PAT not in logs and API_KEY not in logs and "not-the-pat" not in logs
    if pat_ok:
        assert code == 0, logs[-4000:]
        assert "PASS" in logs and "FAIL" not in logs, logs[-4000:]
    else:
        assert code != 0, logs[-4000:]
        assert "FAIL" in logs, logs[-4000:]
