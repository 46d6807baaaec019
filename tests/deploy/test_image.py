"""The image built from the Dockerfile with podman, run the way docs/deploy.md tells Docker users to."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import httpx
import pytest

from tests.support import API_KEY, PAT, free_port, start_receiver, truth

from .helpers import CONFIG_PATH, DATA_DIR, ROOT, SECRETS_DIR, UID, wait_until

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(1200)]

# What the Docker user writes (docs/deploy.md): secrets from mounted files, the PAT from the environment.
DOCKER_CONFIG = """\
satellite:
  id: docker-test
  tenant: acme
  endpoint: {endpoint}
  api_key: ${{file:{secrets}/api-key}}
  encryption:
    recipient_key_id: {key_id}
    recipient_public_key: ${{file:{secrets}/recipient-public-key}}
    signing_private_key: ${{file:{secrets}/signing-private-key}}
  data_dir: {data}
  http:
    listen: {listen}
integrations:
  - id: tfs-main
    url: {ado_url}
    pat: ${{env:ADO_PAT}}
    schedule: {{interval: 10m, jitter: 0s}}
limits:
  page_sizes: {{commits: 50, projects: 2}}
  batch: {{max_records: 200}}
"""


def test_dockerfile_follows_the_conventions():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.12-slim$", text, re.MULTILINE)
    assert len(re.findall(r"^FROM \$\{BASE_IMAGE\}", text, re.MULTILINE)) == 2  # multi-stage, one base
    assert "python3 -m venv" in text and "/usr/local/bin/python" not in text
    # the dependencies from the lock in their own stage, before the source is copied (test_image_layers.py builds it)
    assert text.index("COPY requirements/") < text.index("-r requirements/runtime.lock") < text.index("COPY satellite satellite")
    assert text.index("COPY --from=deps /opt/satellite") < text.index("COPY --from=app")
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)
    assert 'ENTRYPOINT ["satellite"]' in text and f'CMD ["run", "-c", "{CONFIG_PATH}"]' in text
    assert "HEALTHCHECK" in text and "/healthz" in text and "PYTHONUNBUFFERED=1" in text
    assert "org.opencontainers.image.title" in text and "org.opencontainers.image.version" in text
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") + 1:][:5] == ["!pyproject.toml", "!README.md", "!satellite/",
                                                  "!requirements/runtime.lock", "!requirements/build.lock"]


def test_image_runs_as_numeric_non_root_with_the_documented_entrypoint(podman, image):
    (info,) = json.loads(podman("image", "inspect", image).stdout)
    config = info["Config"]
    assert config["User"] == f"{UID}:{UID}"
    assert config["Entrypoint"] == ["satellite"] and config["Cmd"] == ["run", "-c", CONFIG_PATH]
    assert "/healthz" in " ".join(info.get("Healthcheck", config.get("Healthcheck", {})).get("Test", []))
    assert "PYTHONUNBUFFERED=1" in config["Env"]
    assert {"org.opencontainers.image.title", "org.opencontainers.image.version", "org.opencontainers.image.description"} <= set(config["Labels"])
    assert "8080/tcp" in config["ExposedPorts"]
    probe = podman("run", "--rm", "--read-only", "--no-healthcheck", "--network", "none", "--entrypoint", "python", image, "-c",
                   "import os, sys, satellite; print(os.getuid(), os.getgid(), sys.prefix, os.access('/opt/satellite', os.W_OK))")
    assert probe.stdout.split() == [str(UID), str(UID), "/opt/satellite", "False"]
    assert podman("run", "--rm", "--read-only", "--no-healthcheck", "--network", "none", image, "--version").stdout.startswith("satellite ")


def test_image_holds_the_agent_alone_without_the_stand_ins_or_their_servers(podman, image):
    """No simulator, receiver or demo code, and neither starlette, uvicorn nor httptools in the image;
    ``satellite demo`` there says what to install instead of a traceback."""
    script = ("import importlib.util as u, pathlib, satellite; "
              "print(sorted(n for n in ('standins', 'starlette', 'uvicorn', 'httptools') if u.find_spec(n))); "
              "root = pathlib.Path(satellite.__file__).parent; "
              # the stand-ins as top-level modules or packages (satellite/events/receiver.py is the agent's own event endpoint)
              "print(sorted(p.name for p in root.rglob('*') if pathlib.Path(p.relative_to(root).parts[0]).stem"
              " in ('simulator', 'receiver', 'demo', 'ado_simulator', 'sei_receiver')))")
    probe = podman("run", "--rm", "--read-only", "--no-healthcheck", "--network", "none", "--entrypoint", "python", image, "-c", script)
    assert probe.stdout.split("\n")[:2] == ["[]", "[]"], probe.stdout
    demo = podman("run", "--rm", "--read-only", "--no-healthcheck", "--network", "none", image, "demo", check=False)
    assert demo.returncode == 2 and "sei-satellite[standins]" in demo.stderr and "Traceback" not in demo.stderr


def test_read_only_non_root_container_collects_from_the_simulator_and_delivers_to_the_receiver(
        podman, image, resources, simulator, key_files, tmp_path):
    """docs/deploy.md's `docker run`: the default command (`satellite run`), read-only, non-root."""
    receiver = start_receiver(tmp_path / "receiver", key_files)
    try:
        port = free_port()  # host network here: not 8080, which may be taken
        config_dir, secrets_dir = tmp_path / "config", tmp_path / "secrets"
        config_dir.mkdir(mode=0o755)
        secrets_dir.mkdir(mode=0o755)
        (config_dir / "satellite.yml").write_text(DOCKER_CONFIG.format(
            endpoint=receiver.url, secrets=SECRETS_DIR, key_id=key_files.recipient_key_id, data=DATA_DIR,
            ado_url=simulator.collection_url, listen=f"127.0.0.1:{port}"))
        (config_dir / "satellite.yml").chmod(0o644)
        for name, data in {"api-key": API_KEY.encode(), "recipient-public-key": key_files.recipient_public.read_bytes(),
                           "signing-private-key": key_files.signing_private.read_bytes()}.items():
            (secrets_dir / name).write_bytes(data)
            os.chown(secrets_dir / name, UID, UID)  # as the docs say: owned by the image's user, 0400
            (secrets_dir / name).chmod(0o400)
        volume = resources.volume(resources.name("data"))
        podman("volume", "create", volume)
        mounts = ["-v", f"{config_dir}:/etc/sei-satellite:ro", "-v", f"{secrets_dir}:{SECRETS_DIR}:ro", "-v", f"{volume}:{DATA_DIR}"]
        hardening = ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]

        agent = resources.container(resources.name("agent"))
        podman("run", "--detach", "--name", agent, "--network", "host", *hardening, *mounts, "-e", "ADO_PAT",
               "-e", f"SATELLITE_HEALTHCHECK_URL=http://127.0.0.1:{port}/healthz", image, env={"ADO_PAT": PAT})

        def logs() -> str:
            return podman("logs", agent, check=False).stdout[-6000:]

        try:
            wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200, 60, "/healthz")
            wait_until(lambda: receiver.keys() == truth(simulator.world), 180, "the simulator's data at the receiver")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- container logs\n{logs()}") from None
        assert receiver.keys()["git.commit"]  # the simulator's commits, all of them
        health = podman("healthcheck", "run", agent, check=False)  # the image's HEALTHCHECK, run once
        assert health.returncode == 0, health.stdout + health.stderr
        (inspected,) = json.loads(podman("container", "inspect", agent).stdout)
        assert inspected["Config"]["User"] == f"{UID}:{UID}" and inspected["HostConfig"]["ReadonlyRootfs"] is True
        assert inspected["Config"]["Cmd"] == ["run", "-c", CONFIG_PATH]  # the image's default command
        podman("stop", "--time", "30", agent, timeout=90)  # SIGTERM: finish, commit, exit 0
        assert podman("container", "inspect", "--format", "{{.State.ExitCode}}", agent).stdout.strip() == "0", logs()
        output = logs()
        assert PAT not in output and API_KEY not in output
        mountpoint = Path(json.loads(podman("volume", "inspect", volume).stdout)[0]["Mountpoint"])
        written = list(mountpoint.rglob("*"))
        assert written and all(p.stat().st_uid == UID for p in written)  # it wrote only to the data volume

        # The state lives in the volume: a one-pass sync with the same volume finds nothing new.
        once = resources.container(resources.name("once"))
        second = podman("run", "--name", once, "--network", "host", "--no-healthcheck", *hardening, *mounts, "-e", "ADO_PAT",
                        image, "sync", "--once", "-c", CONFIG_PATH, env={"ADO_PAT": PAT}, timeout=300)
        assert re.search(r"sync: 0 record\(s\) collected, \d+ batch\(es\) delivered, 0 batch\(es\) still", second.stdout), second.stdout
    finally:
        receiver.close()
