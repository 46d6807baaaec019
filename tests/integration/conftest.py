"""Real sockets on loopback: a simulator, a receiver and a config pointing the satellite at both."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from standins.sei_receiver import ReceiverKeys, ReceiverStorage, create_receiver_app
from satellite.sealing.keys import KeyFiles, generate_key_files, load_ed25519_public, load_x25519_private
from satellite.secret import Secret
from standins.loopback import RunningServer, serve_in_thread

PAT = "CANARY-PAT-integration-7f1e2d3c4b5a"
API_KEY = "CANARY-APIKEY-integration-0a1b2c3d"


@dataclass
class Receiver:
    server: RunningServer
    storage: ReceiverStorage
    api_key: str

    @property
    def url(self) -> str:
        return self.server.url

    def get(self, path: str, **params) -> dict:
        response = httpx.get(f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {self.api_key}"})
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict:
        return self.get("/v1/satellite/stats")

    def keys_of(self, record_type: str, op: str = "upsert") -> list[str]:
        return [r["key"] for r in self.get("/v1/satellite/records", type=record_type)["records"] if r["op"] == op]


@pytest.fixture
def key_files(tmp_path) -> KeyFiles:
    return generate_key_files(tmp_path / "keys")


@pytest.fixture
def receiver(tmp_path, key_files):
    storage = ReceiverStorage(tmp_path / "receiver")
    keys = ReceiverKeys(
        api_keys=(Secret(API_KEY),),
        recipients={key_files.recipient_key_id: load_x25519_private(key_files.recipient_private.read_bytes())},
        signers={key_files.signer_key_id: load_ed25519_public(key_files.signing_public.read_bytes())},
    )
    server = serve_in_thread(create_receiver_app(storage, keys, max_batch_bytes=2 * 1024 * 1024))
    yield Receiver(server, storage, API_KEY)
    server.stop()
    storage.close()


def simulator_server(world, profile: str = "2022", pats=None) -> RunningServer:
    from standins.ado_simulator.app import create_app

    return serve_in_thread(create_app(world, profile=profile, pats=pats or {PAT: frozenset({"full"})}))


def write_config(directory: Path, *, ado_url: str, endpoint: str, key_files: KeyFiles, pat: str = PAT, extra_integration: str = "") -> Path:
    """A real YAML config; secrets come through ${env:...} and ${file:...} as a user's would."""
    (directory / "secrets").mkdir(exist_ok=True)
    (directory / "secrets" / "pat").write_text(pat + "\n")
    path = directory / "satellite.yml"
    path.write_text(
        f"""\
satellite:
  id: test-satellite
  tenant: acme
  endpoint: {endpoint}
  api_key: ${{env:TEST_SEI_API_KEY}}
  encryption:
    recipient_key_id: {key_files.recipient_key_id}
    recipient_public_key: ${{file:{key_files.recipient_public}}}
    signing_private_key: ${{file:{key_files.signing_private}}}
  data_dir: ./data
integrations:
  - id: tfs-main
    url: {ado_url}
    pat: ${{file:secrets/pat}}
    services: [repos, tfvc, pipelines, boards]
{extra_integration}limits:
  concurrency: 4
  page_sizes: {{commits: 50, refs: 100, projects: 2}}
  batch: {{max_records: 40}}
"""
    )
    return path


@pytest.fixture
def env():
    return {"TEST_SEI_API_KEY": API_KEY}
