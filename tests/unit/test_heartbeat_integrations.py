"""The heartbeat names the api-version each integration's collector detected (no secrets), so the
receiver's report can say "not available on this server version" instead of zero."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from satellite.ado.client import AdoClient, CollectionTarget
from satellite.config.model import Limits, Schedule
from satellite.delivery.heartbeat import heartbeat_body
from satellite.retrying import RetryPolicy
from satellite.sealing.sealer import Sealer
from satellite.secret import Secret
from satellite.store import Store
from satellite.sync.collector import CollectionReport, Collector
from tests.unit.streams.harness import COLLECTION_ID, COLLECTION_URL, Server

SETTINGS = SimpleNamespace(id="sat-1", tenant="acme")


def collect(store: Store, integration_id: str, version: str) -> None:
    """One pass of a collector with no stream over a server of ``version``: the connection only."""
    server = Server(version).get("_apis/connectionData", {"instanceId": COLLECTION_ID}).get("_apis/projects", {"count": 0, "value": []})
    integration = SimpleNamespace(id=integration_id, backfill=SimpleNamespace(start=None), services=(), pat=Secret("CANARY-pat"),
                                  tls=SimpleNamespace(verify=True, ca_bundle=None), proxy=None,
                                  projects=SimpleNamespace(matches=lambda name: True), schedule=Schedule())
    sealer = Sealer("sat-1", "acme", "rk-1", X25519PrivateKey.generate().public_key(), Ed25519PrivateKey.generate())
    collector = Collector(integration, Limits(), store, sealer, services=("none",))
    with AdoClient(CollectionTarget(COLLECTION_URL, "DefaultCollection"), Secret("CANARY-pat"),
                   retry=RetryPolicy(max_attempts=1, initial_wait=0.0, max_wait=0.0, sleep=lambda s: None),
                   transport=httpx.MockTransport(server.handle)) as client:
        collector._collect_collection(client, CollectionReport())


def test_the_heartbeat_lists_the_api_version_and_server_each_integration_detected(store):
    assert heartbeat_body(SETTINGS, store, 0.0)["integrations"] == []  # nothing detected yet
    collect(store, "tfs-2019", "5.0")
    collect(store, "tfs-2022", "7.0")
    body = heartbeat_body(SETTINGS, store, 0.0)
    assert body["integrations"] == [
        {"id": "tfs-2019", "api_version": "5.0", "server": "Azure DevOps Server 2019"},
        {"id": "tfs-2022", "api_version": "7.0", "server": "Azure DevOps Server 2022"},
    ]
    assert "CANARY" not in str(body)


def test_an_upgraded_server_replaces_what_was_detected(store):
    collect(store, "tfs", "6.0")
    collect(store, "tfs", "7.1")
    assert heartbeat_body(SETTINGS, store, 0.0)["integrations"] == [
        {"id": "tfs", "api_version": "7.1", "server": "Azure DevOps Server (7.1)"}]
