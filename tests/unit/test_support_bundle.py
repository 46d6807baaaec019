"""The support bundle: secrets shown as their references, every member scrubbed (canaries), parts
that cannot be gathered reported instead of failing the bundle, the log tail across rotated files."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from satellite.config import load_config
from satellite.config.model import LogSettings
from satellite.sealing.keys import generate_key_files
from satellite.store import CursorKey, OutboxEntry, Store
from satellite.support import build_bundle
from satellite.support.archive import unpack
from satellite.support.assembly import Part, assemble
from satellite.support.redaction import (
    INLINE,
    config_with_sources,
    reference_text,
    scrub,
    secret_forms,
)
from satellite.support.sections import log_tail

PAT = "CANARY-PAT-unit-5e4d3c2b1a"
API_KEY = "CANARY-APIKEY-unit-a1b2c3d4"
PROXY_PASSWORD = "CANARY-PROXYPW-unit-77"
PRIVACY_SECRET = "CANARY-PRIVACY-unit-0123456789abcdef0123"
INLINE_PAT = "CANARY-INLINEPAT-unit-9f8e7d"


@pytest.mark.parametrize(("raw", "shown"), [
    ("${env:ADO_PAT}", "${env:ADO_PAT}"),
    ("${file:/run/secrets/pat}", "${file:/run/secrets/pat}"),
    ("${env:ADO_PAT:-fallback-secret}", "${env:ADO_PAT:-***}"),
    ("${env:ADO_PAT:-}", "${env:ADO_PAT:-}"),
    ("prefix-${env:A}${file:b}-suffix", "***${env:A}${file:b}***"),
    ("$${env:NOT_A_REFERENCE}", INLINE),
    ("a-value-written-inline", INLINE),
    (None, INLINE),
])
def test_a_secret_is_shown_as_where_it_comes_from(raw, shown):
    assert reference_text(raw) == shown


def test_the_effective_config_takes_each_secrets_reference_from_the_same_place_in_the_file():
    effective = {"satellite": {"api_key": "***", "id": "s"}, "integrations": [{"pat": "***"}, {"pat": "***"}],
                 "privacy": {"secret": None}}
    raw = {"satellite": {"api_key": "${env:KEY}"}, "integrations": [{"pat": "${file:pat}"}, {"pat": "inline"}]}
    assert config_with_sources(effective, raw) == {
        "satellite": {"api_key": "${env:KEY}", "id": "s"},
        "integrations": [{"pat": "${file:pat}"}, {"pat": INLINE}], "privacy": {"secret": None}}
    assert config_with_sources({"a": "***"}, None) == {"a": "***"}


def test_scrub_removes_every_form_of_a_secret():
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode().strip()
    odd = 'CANARY"with\\quotes'
    forms = secret_forms([pem, odd, "abc"])
    text = json.dumps({"pem": pem, "odd": odd}) + "\n" + pem.splitlines()[1] + "\nBearer sometoken12345 abc"
    scrubbed = scrub(text, forms)
    assert pem.splitlines()[1] not in scrubbed and "CANARY" not in scrubbed and "sometoken" not in scrubbed
    assert "abc" in scrubbed  # too short to be a secret worth scrubbing everywhere


def test_assembly_scrubs_every_member_and_reports_parts_it_could_not_gather():
    archive = assemble(
        [Part("a.json", json.dumps({"k": "x CANARY-SECRET-99 y"}).encode()),
         Part("b.txt", error="StoreError: no store at /d with CANARY-SECRET-99")],
        secrets={"CANARY-SECRET-99"}, identity={"satellite_id": "sat/1", "note": "CANARY-SECRET-99"}, created_at=0.0)
    members = unpack(archive)
    assert sorted(members) == ["satellite-support-sat_1-19700101T000000Z/" + n
                               for n in ("a.json", "b.txt.error.txt", "manifest.json")]
    manifest = json.loads(members["satellite-support-sat_1-19700101T000000Z/manifest.json"])
    assert manifest["errors"] == {"b.txt": "StoreError: no store at /d with ***"} and manifest["note"] == "***"
    assert [m["name"] for m in manifest["members"]] == ["a.json", "b.txt.error.txt"]
    assert all(b"CANARY" not in data for data in members.values())


def test_the_log_tail_reads_back_into_rotated_files(tmp_path):
    settings = LogSettings(file=tmp_path / "satellite.log", backups=3)
    (tmp_path / "satellite.log.2").write_text("".join(f"old {i}\n" for i in range(5)))
    (tmp_path / "satellite.log.1").write_text("".join(f"mid {i}\n" for i in range(3)))
    (tmp_path / "satellite.log").write_text("new 0\nnew 1")
    assert log_tail(settings, 2).decode() == "new 0\nnew 1\n"
    assert log_tail(settings, 7).decode().splitlines() == ["old 3", "old 4", "mid 0", "mid 1", "mid 2", "new 0", "new 1"]
    assert b"no local log file" in log_tail(LogSettings(), 10)
    assert b"does not exist" in log_tail(LogSettings(file=tmp_path / "none.log"), 10)


def write_config(tmp_path, *, log_file: str | None = None):
    keys = generate_key_files(tmp_path / "keys")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "pat").write_text(PAT + "\n")
    log = f"log:\n  file: {log_file}\n" if log_file else ""
    path = tmp_path / "satellite.yml"
    path.write_text(f"""\
satellite:
  id: sat-unit
  tenant: acme
  endpoint: http://127.0.0.1:9
  api_key: ${{env:UNIT_SEI_API_KEY}}
  encryption:
    recipient_key_id: {keys.recipient_key_id}
    recipient_public_key: ${{file:{keys.recipient_public}}}
    signing_private_key: ${{file:{keys.signing_private}}}
  data_dir: ./data
  proxy: http://proxyuser:{PROXY_PASSWORD}@proxy.local:3128
integrations:
  - id: tfs-main
    url: http://127.0.0.1:9/tfs/DefaultCollection
    pat: ${{file:secrets/pat}}
  - id: tfs-other
    url: http://127.0.0.1:9/tfs/Other
    pat: {INLINE_PAT}
privacy:
  secret: ${{env:UNIT_PRIVACY:-{PRIVACY_SECRET}}}
{log}""")
    return load_config(path, env={"UNIT_SEI_API_KEY": API_KEY}), keys


def canaries(keys) -> list[bytes]:
    """Every secret, whole, and each line of the private key's PEM body."""
    pem = keys.signing_private.read_text()
    body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    return [s.encode() for s in (PAT, API_KEY, PROXY_PASSWORD, PRIVACY_SECRET, INLINE_PAT, pem.strip(), *body)]


def assert_no_canary(archive: bytes, secrets: list[bytes]) -> dict[str, bytes]:
    tar_bytes = gzip.decompress(archive)
    members = unpack(archive)
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        assert sorted(i.name for i in tar.getmembers() if i.isfile()) == sorted(members)
    for secret in secrets:
        assert secret not in archive and secret not in tar_bytes
        for name, data in members.items():
            assert secret not in data, f"a secret in {name}"
    return members


def test_a_bundle_of_a_real_data_dir_holds_no_secret_and_every_part(tmp_path):
    config, keys = write_config(tmp_path, log_file="logs/satellite.log")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "satellite.log").write_text(f'{{"event": "x", "note": "{PAT}"}}\n{{"event": "last"}}\n')
    store = Store(config.satellite.data_dir)
    try:
        store.record_outcome(CursorKey("tfs-main", "git.commits", "DefaultCollection/p1"), records=3, batches=1)
    finally:
        store.close()
    members = assert_no_canary(build_bundle(config, include_check=False, log_lines=10), canaries(keys))
    files = {name.split("/", 1)[1]: data for name, data in members.items()}
    assert set(files) == {"manifest.json", "README.txt", "config.yaml", "versions.json", "check.json", "status.json",
                          "outbox.json", "store-integrity.json", "metrics.txt", "log-tail.txt"}
    shown = yaml.safe_load(files["config.yaml"])
    assert shown["satellite"]["api_key"] == "${env:UNIT_SEI_API_KEY}"
    assert shown["satellite"]["encryption"]["signing_private_key"] == f"${{file:{keys.signing_private}}}"
    assert [i["pat"] for i in shown["integrations"]] == ["${file:secrets/pat}", INLINE]
    assert shown["privacy"]["secret"] == "${env:UNIT_PRIVACY:-***}"
    assert shown["satellite"]["proxy"] == "http://***@proxy.local:3128"
    assert shown["log"]["file"].endswith("logs/satellite.log") and shown["limits"]["concurrency"] == 4
    manifest = json.loads(files["manifest.json"])
    assert manifest["satellite_id"] == "sat-unit" and manifest["errors"] == {}
    assert json.loads(files["store-integrity.json"])["ok"] is True
    assert json.loads(files["status.json"])["streams"][0]["stream"] == "git.commits"
    versions = json.loads(files["versions.json"])
    assert versions["store_schema_version"] >= 1 and versions["dependencies"]["cryptography"]
    assert b"satellite_outbox_batches 0.0" in files["metrics.txt"] and b"satellite_version_behind 0.0" in files["metrics.txt"]
    assert files["log-tail.txt"].decode().splitlines() == ['{"event": "x", "note": "***"}', '{"event": "last"}']


def test_a_broken_store_still_gives_a_bundle_that_says_so(tmp_path):
    config, keys = write_config(tmp_path)
    data_dir = config.satellite.data_dir
    data_dir.mkdir()
    (data_dir / "satellite.db").write_bytes(b"this is not a database" * 100)
    members = assert_no_canary(build_bundle(config, include_check=False), canaries(keys))
    manifest = json.loads(next(v for k, v in members.items() if k.endswith("manifest.json")))
    assert {"status.json", "outbox.json", "metrics.txt", "store-integrity.json"} <= set(manifest["errors"])
    assert any(k.endswith("config.yaml") for k in members) and any(k.endswith("versions.json") for k in members)


def test_the_outbox_and_dead_letters_are_listed_by_id_size_and_reason_never_content(tmp_path):
    config, keys = write_config(tmp_path)
    store = Store(config.satellite.data_dir)
    try:
        store.commit_batch(OutboxEntry("b-waiting", "tfs-main", "git.commits", 1, 7, b"BODY-CANARY-waiting" * 10), None)
        store.commit_batch(OutboxEntry("b-refused", "tfs-main", "git.commits", 2, 3, b"BODY-CANARY-refused"), None)
        store.dead_letter("b-refused", 422, f"schema mismatch near {PAT}")
        archive = build_bundle(config, store=store, include_check=False)
    finally:
        store.close()
    members = assert_no_canary(archive, [*canaries(keys), b"BODY-CANARY"])
    outbox = json.loads(next(v for k, v in members.items() if k.endswith("outbox.json")))
    assert outbox["outbox"]["batches"] == 1 and outbox["outbox"]["dead_letters"] == 1
    assert [(b["batch_id"], b["record_count"], b["size"]) for b in outbox["batches"]] == [("b-waiting", 7, 190)]
    [dead] = outbox["dead_letters"]
    assert (dead["batch_id"], dead["status"], dead["size"], dead["reason"]) == ("b-refused", 422, 19, "schema mismatch near ***")


def test_beside_the_agents_endpoint_the_metrics_are_the_endpoints(tmp_path):
    from prometheus_client import generate_latest

    from satellite.metrics import REGISTRY, StoreCollector

    config, _ = write_config(tmp_path)
    store = Store(config.satellite.data_dir)
    collector = StoreCollector(store)
    REGISTRY.register(collector)  # as the agent's HTTP endpoint does
    try:
        members = unpack(build_bundle(config, store=store, include_check=False))
        metrics = next(v for k, v in members.items() if k.endswith("metrics.txt"))
        assert metrics.count(b"# TYPE satellite_outbox_batches gauge") == 1
    finally:
        REGISTRY.unregister(collector)
        store.close()
    members = unpack(build_bundle(config, include_check=False))  # and without it, the bundle adds them for a moment
    assert b"satellite_outbox_batches" in next(v for k, v in members.items() if k.endswith("metrics.txt"))
    assert b"satellite_outbox_batches" not in generate_latest(REGISTRY)
