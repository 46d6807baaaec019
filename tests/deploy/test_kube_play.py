"""The chart's manifests run for real: `podman kube play` of what Helm rendered (replicaCount 1).

The pod runs the chart's own command (`satellite run`), collects from the simulator and delivers
to the receiver on loopback; the test then does what NOTES.txt tells a user to do (/healthz,
/readyz, `satellite status` and `satellite check` inside the pod) and stops the pod with SIGTERM.
"""

from __future__ import annotations

import json

import httpx
import pytest
import yaml

from tests.support import API_KEY, PAT, free_port, start_receiver, truth

from .helpers import CONFIG_PATH, DATA_DIR, SECRETS_DIR, UID, deploy_values, kube_play_manifest, render, wait_until, write_mounts

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(1200)]


def test_rendered_manifests_run_with_podman_kube_play_and_deliver_to_the_receiver(podman, image, resources, simulator, key_files, tmp_path):
    receiver = start_receiver(tmp_path / "receiver", key_files)
    try:
        port = free_port()  # the pod shares the host's network here: not 8080, which may be taken
        values = deploy_values(image=image, simulator_url=simulator.collection_url, endpoint=receiver.url, keys=key_files,
                               fullnameOverride=resources.prefix, containerPorts={"http": port},
                               terminationGracePeriodSeconds=40)
        values["config"]["integrations"][0]["schedule"] = {"interval": "10m", "jitter": "0s"}
        rendered = render(values, name="kube-play", namespace="sei")
        assert rendered.one("StatefulSet")["spec"]["template"]["spec"]["containers"][0]["args"][-3:] == ["run", "-c", CONFIG_PATH]
        _, secrets_dir = write_mounts(rendered, tmp_path / "mounts")
        docs, volumes = kube_play_manifest(rendered, secrets_dir=secrets_dir, prefix=resources.prefix)
        manifest = tmp_path / "kube.yaml"
        manifest.write_text(yaml.safe_dump_all(docs))
        for volume in volumes:
            resources.volume(volume)
        resources.kube(manifest)
        podman("kube", "play", "--network", "host", str(manifest), timeout=300)
        pod, container = f"{resources.prefix}-0", f"{resources.prefix}-0-satellite"
        base = f"http://127.0.0.1:{port}"

        def logs() -> str:
            return podman("logs", container, check=False).stdout[-6000:]

        try:
            wait_until(lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200, 60, "/healthz (the liveness probe)")
            expected = truth(simulator.world)
            wait_until(lambda: receiver.keys() == expected, 180, "the simulator's data at the receiver")
            wait_until(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, 60, "/readyz (the readiness probe)")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- pod logs\n{logs()}") from None
        assert "satellite_" in httpx.get(f"{base}/metrics", timeout=5).text
        assert httpx.get(f"{base}/", timeout=5).status_code == 200

        # What NOTES.txt tells the user to run inside the pod.
        status = podman("exec", container, "satellite", "status", "-c", CONFIG_PATH)
        assert "git.commits" in status.stdout
        check = podman("exec", container, "satellite", "check", "-c", CONFIG_PATH, check=False, timeout=120)
        assert check.returncode == 0, check.stdout[-4000:] + check.stderr[-2000:]
        for text in (logs(), status.stdout, check.stdout):
            assert PAT not in text and API_KEY not in text

        (inspected,) = json.loads(podman("container", "inspect", container).stdout)
        assert inspected["Config"]["User"] == f"{UID}:{UID}"
        assert inspected["HostConfig"]["ReadonlyRootfs"] is True
        assert "no-new-privileges" in inspected["HostConfig"]["SecurityOpt"]
        assert inspected["EffectiveCaps"] in (None, [])  # every capability dropped
        mounts = {m["Destination"]: m for m in inspected["Mounts"]}
        assert set(mounts) == {"/etc/sei-satellite", SECRETS_DIR, DATA_DIR, "/tmp"}
        assert not mounts["/etc/sei-satellite"]["RW"] and not mounts[SECRETS_DIR]["RW"]
        assert mounts[DATA_DIR]["Name"] == f"data-{resources.prefix}-0"  # the claim of pod 0

        podman("pod", "stop", "--time", "40", pod, timeout=120)  # SIGTERM, as the kubelet sends it
        state = podman("container", "inspect", "--format", "{{.State.ExitCode}}", container).stdout.strip()
        assert state == "0", f"exit {state} after SIGTERM\n{logs()}"
        assert "agent_stopped" in logs()
    finally:
        receiver.close()
