"""replicaCount 3: the chart's config run as pods 0, 1 and 2 covers every project exactly once.

The config and the Secret come from the rendered chart; each "pod" is the image run with the
pod's host name (<statefulset>-<ordinal>, from which the satellite takes its shard index), the
pod's security settings and its own data volume. Each delivers to its own receiver (started in
turn on the same address, the config's endpoint), so what each shard sent can be told apart.
"""

from __future__ import annotations

import pytest

from satellite.sync.sharding import ShardAssignment

from tests.support import start_receiver, truth

from .helpers import CONFIG_PATH, DATA_DIR, SECRETS_DIR, container_flags, deploy_values, render, write_mounts

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(1200)]

REPLICAS = 3


def test_three_replicas_together_collect_every_project_exactly_once(podman, image, resources, simulator, key_files, tmp_path):
    receivers = [start_receiver(tmp_path / "receiver-0", key_files)]
    port = receivers[0].server.port
    values = deploy_values(image=image, simulator_url=simulator.collection_url, endpoint=receivers[0].url, keys=key_files,
                           fullnameOverride=resources.prefix, replicas=REPLICAS)
    rendered = render(values)
    assert rendered.config()["satellite"]["shard"] == {"count": REPLICAS}
    statefulset = rendered.one("StatefulSet")["metadata"]["name"]
    config_dir, secrets_dir = write_mounts(rendered, tmp_path / "mounts")

    delivered: list[dict[str, list[str]]] = []
    for ordinal in range(REPLICAS):
        if ordinal:
            receivers.append(start_receiver(tmp_path / f"receiver-{ordinal}", key_files, port=port))
        try:
            volume = resources.volume(resources.name(f"data-{ordinal}"))
            podman("volume", "create", volume)
            name = resources.container(resources.name(f"pod-{ordinal}"))
            result = podman(
                "run", "--name", name, "--hostname", f"{statefulset}-{ordinal}", "--network", "host", "--no-healthcheck",
                *container_flags(rendered), "--tmpfs", "/tmp",
                "-v", f"{config_dir}:/etc/sei-satellite:ro", "-v", f"{secrets_dir}:{SECRETS_DIR}:ro", "-v", f"{volume}:{DATA_DIR}",
                image, "sync", "--once", "-c", CONFIG_PATH,
                check=False, timeout=300,
            )
            assert result.returncode == 0, f"pod {ordinal}: exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            delivered.append(receivers[ordinal].keys())
        finally:
            receivers[ordinal].close()

    expected = truth(simulator.world)
    for record_type, keys in expected.items():
        shares = [set(d[record_type]) for d in delivered]
        union = set().union(*shares)
        assert sum(len(s) for s in shares) == len(union), f"{record_type}: a key was delivered by two shards"
        assert sorted(union) == keys, f"{record_type}: the shards together missed or invented keys"
    # And each pod took the shard of its own ordinal (from its host name), as the satellite assigns them.
    url = simulator.collection_url
    for ordinal, got in enumerate(delivered):
        shard = ShardAssignment(ordinal, REPLICAS)
        owned = sorted(r.id for r in simulator.world.repositories if shard.owns_project(url, r.project_id))
        assert got["git.repository"] == owned, f"pod {ordinal}"
        assert bool(got["core.project"]) == shard.owns_collection(url), f"pod {ordinal}"
