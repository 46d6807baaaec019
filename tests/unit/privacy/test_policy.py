"""The privacy policy: presets, field rules, key rewriting, scope filters, fingerprint, the secret,
and its application in BatchWriter (the one place) with the fingerprint in the batch header."""

from __future__ import annotations

import os
import stat
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from satellite.config.model import FieldRules, Integration, NameFilter, PathFilter, PrivacySettings
from satellite.privacy import catalog
from satellite.privacy.policy import PolicyScope, PrivacyPolicy, SecretMissing, strip_text
from satellite.privacy.pseudonyms import SECRET_FILE, Pseudonymizer, load_or_create_secret
from satellite.sealing.batch_format import BatchHeader, open_sealed, read_header
from satellite.sealing.sealer import Sealer
from satellite.store import CursorKey
from satellite.streams.base import Checkpoint, Record
from satellite.sync.batching import BatchWriter

ALL = ("strip_text", "pseudonymize_people", "redact_names_and_urls")
SECRET = "s" * 40
T = "2026-01-01T00:00:00Z"


def policy(presets=ALL, fields=None, scope=PolicyScope(), secret=SECRET, key_patterns=()) -> PrivacyPolicy:
    return PrivacyPolicy(presets=presets, fields=fields, scope=scope, pseudonyms=Pseudonymizer(secret),
                         catalog=catalog.FIELDS, environment_names=catalog.ENVIRONMENT_NAMES, key_patterns=key_patterns)


def commit(comment="Fix AB#12 and #3: leaks CANARY", **extra) -> Record:
    data = {"commitId": "c0ffee", "comment": comment, "changeCounts": {"Add": 1},
            "author": {"name": "Jane Canary", "email": "jane@corp.example", "date": "2026-01-01T00:00:00Z"},
            "committer": {"name": "Jane Canary", "email": "jane@corp.example", "date": "2026-01-01T00:00:00Z"},
            "remoteUrl": "https://tfs.corp/Proj/_git/secret-repo/commit/c0ffee", **extra}
    return Record("git.commit", "repo-id:c0ffee", "upsert", T, data)


def revision(work_item_type="Bug", item=7) -> Record:
    return Record("wit.work_item_revision", f"coll:{item}:2", "upsert", T, {"id": item, "rev": 2, "fields": {
        "System.Title": "Canary title JIRA-42 #9", "System.WorkItemType": work_item_type, "System.TeamProject": "Payroll",
        "System.AreaPath": "Payroll\\Secret Team",
        "System.AssignedTo": {"displayName": "Bob Canary", "uniqueName": "CORP\\bob", "id": "g-1", "descriptor": "aad.x"},
    }})


def test_strip_text_keeps_only_the_work_item_references():
    result = policy(presets=("strip_text",)).apply(commit())
    assert result.data["comment"] == "AB#12 #3"
    assert result.data["author"]["name"] == "Jane Canary"  # strip_text alone touches free text only
    assert strip_text("see #5, #5 and ab#6; x#7 is no reference", policy()._reference) == "#5 ab#6"
    assert strip_text("<div>Don&#39;t ship&#160;#8</div>", policy()._reference) == "#8"  # HTML entities are no references


def test_strip_text_keeps_the_configured_key_patterns():
    result = policy(presets=("strip_text",), key_patterns=(r"[A-Z][A-Z0-9]+-[0-9]+",)).apply(revision())
    assert result.data["fields"]["System.Title"] == "JIRA-42 #9"


def test_pseudonymize_people_keeps_ids_and_times():
    result = policy(presets=("pseudonymize_people",)).apply(revision())
    who = result.data["fields"]["System.AssignedTo"]
    assert who["id"] == "g-1" and who["descriptor"] == "aad.x"
    assert who["displayName"].startswith("p_") and who["uniqueName"].startswith("p_")
    author = policy(presets=("pseudonymize_people",)).apply(commit()).data["author"]
    assert author["email"].endswith("@pseudonym.invalid") and author["name"].startswith("p_")
    assert author["date"] == "2026-01-01T00:00:00Z"


def test_the_same_person_gets_the_same_pseudonym_everywhere_and_across_instances():
    a = policy(presets=("pseudonymize_people",)).apply(commit()).data
    b = policy(presets=("pseudonymize_people",)).apply(commit()).data  # another instance, same secret
    assert a["author"] == b["author"] and a["author"]["name"] == a["committer"]["name"]
    other = policy(presets=("pseudonymize_people",), secret="t" * 40).apply(commit()).data
    assert other["author"]["name"] != a["author"]["name"]


def test_redact_names_and_urls_keeps_the_shape_of_refs_and_paths():
    p = policy(presets=("redact_names_and_urls",))
    data = p.apply(revision()).data["fields"]
    project = data["System.TeamProject"]
    assert project.startswith("n_") and data["System.AreaPath"].split("\\")[0] == project  # prefixes still nest
    assert p.apply(commit()).data["remoteUrl"].startswith("https://u-")
    ref = p.apply(Record("git.ref", "repo-id:refs/heads/feature/secret", "upsert", T,
                         {"name": "refs/heads/feature/secret", "objectId": "abc"}))
    assert ref.data["name"].startswith("refs/heads/n_") and ref.data["objectId"] == "abc"


def test_a_key_holding_a_name_gets_the_token_of_its_field_and_a_delete_matches():
    p = policy()
    upsert = p.apply(Record("git.ref", "repo-id:refs/heads/main", "upsert", T, {"name": "refs/heads/main"}))
    delete = p.apply(Record("git.ref", "repo-id:refs/heads/main", "delete", T, None))
    assert upsert.key == delete.key == f"repo-id:{upsert.data['name']}" and "main" not in upsert.key
    change = p.apply(Record("tfvc.change", "coll:17:$/Payroll/Main/pay.cs", "upsert", T, {"item": {"path": "$/Payroll/Main/pay.cs"}}))
    assert change.key == f"coll:17:{change.data['item']['path']}" and "Payroll" not in change.key
    branch = p.apply(Record("tfvc.branch", "coll:$/Payroll/Main", "delete", T, None))
    assert change.data["item"]["path"].startswith(branch.key.split(":", 1)[1] + "/")  # the branch still holds its changes
    untouched = p.apply(Record("git.pull_request", "repo-id:12", "delete", T, None))
    assert untouched.key == "repo-id:12"  # id-based keys never change


def test_the_production_flag_is_set_before_the_environment_name_becomes_a_token():
    p = policy(presets=("redact_names_and_urls",))
    deployment = p.apply(Record("release.deployment", "coll:1", "upsert", T, {"releaseEnvironment": {"id": 3, "name": "Prod-EU"}}))
    assert deployment.data["releaseEnvironment"]["isProduction"] is True
    assert deployment.data["releaseEnvironment"]["name"].startswith("n_")
    staging = p.apply(Record("distributedtask.environment", "proj:4", "upsert", T, {"id": 4, "name": "Staging"}))
    assert staging.data["isProduction"] is False
    assert policy(presets=("strip_text",)).apply(Record("distributedtask.environment", "p:4", "upsert", T, {"name": "Prod"})).data == {"name": "Prod"}


def test_field_rules_apply_after_the_presets():
    p = policy(fields={
        "git.commit": FieldRules(keep=("author.name",), drop=("committer",), hash=("changeCounts",)),
        "*": FieldRules(hash=("**.uniqueName",)),
    })
    data = p.apply(commit()).data
    assert data["author"]["name"] == "Jane Canary"  # kept: the presets leave it
    assert data["author"]["email"].endswith("@pseudonym.invalid")
    assert "committer" not in data and data["changeCounts"].startswith("h_")
    who = p.apply(revision()).data["fields"]["System.AssignedTo"]
    assert who["uniqueName"].startswith("h_") and who["displayName"].startswith("p_")


def test_rules_without_presets_and_the_identity_policy():
    p = policy(presets=(), fields={"git.commit": FieldRules(drop=("comment",))})
    assert "comment" not in p.apply(commit()).data and p.apply(commit()).data["author"]["name"] == "Jane Canary"
    record = commit()
    assert PrivacyPolicy.none().apply(record) is record
    assert record.data["comment"].startswith("Fix")  # the collected record is never changed in place
    policy().apply(record)
    assert record.data["comment"].startswith("Fix") and record.data["author"]["name"] == "Jane Canary"


def integration(**filters) -> Integration:
    return Integration(id="tfs", url="https://tfs.corp/DefaultCollection", pat="pat", **filters)


def test_scope_filters():
    scope = PolicyScope.of_integration(integration(
        repositories=NameFilter(exclude=("*-secret",)), tfvc_paths=PathFilter(exclude=("$/Payroll/Private",)),
        work_item_types=NameFilter(exclude=("impediment",))))
    p = policy(presets=(), scope=scope)
    assert p.apply(Record("git.repository", "r1", "upsert", T, {"id": "r1", "name": "Pay-Secret"})) is None
    assert p.apply(Record("git.repository", "r2", "upsert", T, {"id": "r2", "name": "web"})) is not None
    assert p.apply(Record("git.pull_request", "r1:3", "upsert", T, {"repository": {"name": "pay-secret"}})) is None
    assert p.apply(Record("tfvc.change", "c:5:$/Payroll/Private/a.cs", "upsert", T, {"item": {}})) is None
    assert p.apply(Record("tfvc.change", "c:5:$/Payroll/Public/a.cs", "upsert", T, {"item": {}})) is not None
    # a delete passes: it drops at SEI what was sent while the item was in scope
    assert p.apply(Record("tfvc.change", "c:5:$/Payroll/Private/a.cs", "delete", T, None)) is not None
    assert p.apply(Record("tfvc.branch", "c:$/Payroll/Private", "upsert", T, {"path": "$/Payroll/Private"})) is None
    assert p.apply(revision("Impediment", item=8)) is None
    assert p.apply(revision("Bug", item=9)) is not None
    assert p.apply(Record("wit.comment", "coll:8:1", "upsert", T, {"text": "x"})) is None  # of the excluded item
    assert p.apply(Record("wit.comment", "coll:9:1", "upsert", T, {"text": "x"})) is not None
    assert p.apply(Record("wit.work_item_type", "proj:Impediment", "upsert", T, {"name": "Impediment"})) is None
    assert p.apply(Record("wit.work_item", "coll:8", "upsert", T, {"fields": {}})) is None  # learned from its revision


def test_the_fingerprint_is_of_the_policy_never_of_the_secret():
    base = policy()
    assert base.fingerprint.startswith("sha256:") and len(base.fingerprint) == 71
    assert policy(secret="t" * 40).fingerprint == base.fingerprint
    assert SECRET not in base.fingerprint
    assert policy(presets=("strip_text",)).fingerprint != base.fingerprint
    assert policy(fields={"git.commit": FieldRules(drop=("comment",))}).fingerprint != base.fingerprint
    scoped = PolicyScope.of_integration(integration(repositories=NameFilter(exclude=("x",))))
    assert policy(scope=scoped).fingerprint != base.fingerprint
    assert PolicyScope.of_integration(integration()).description == {}  # default filters shape nothing
    assert PrivacyPolicy.none().fingerprint == PrivacyPolicy.from_config(config_of(PrivacySettings(), "/nonexistent")).fingerprint


def config_of(privacy: PrivacySettings, data_dir) -> SimpleNamespace:
    return SimpleNamespace(privacy=privacy, satellite=SimpleNamespace(data_dir=data_dir))


def test_the_secret_is_made_in_the_data_dir_once_with_mode_0600(tmp_path):
    settings = PrivacySettings(presets=("pseudonymize_people",))
    with pytest.raises(SecretMissing):
        PrivacyPolicy.from_config(config_of(settings, tmp_path), create_secret=False)
    assert not (tmp_path / SECRET_FILE).exists()
    first = PrivacyPolicy.from_config(config_of(settings, tmp_path)).apply(commit()).data
    mode = stat.S_IMODE(os.stat(tmp_path / SECRET_FILE).st_mode)
    assert mode == 0o600
    again = PrivacyPolicy.from_config(config_of(settings, tmp_path), create_secret=False).apply(commit()).data
    assert first == again
    # the file's text given as privacy.secret (${file:...} on another replica) gives the same tokens
    shared = PrivacySettings(presets=("pseudonymize_people",), secret=(tmp_path / SECRET_FILE).read_text())
    assert PrivacyPolicy.from_config(config_of(shared, tmp_path / "other")).apply(commit()).data == first
    assert not (tmp_path / "other").exists()
    assert load_or_create_secret(tmp_path).reveal() == (tmp_path / SECRET_FILE).read_text().strip()


def test_no_secret_is_made_when_the_policy_needs_none(tmp_path):
    PrivacyPolicy.from_config(config_of(PrivacySettings(presets=("strip_text",)), tmp_path))
    assert not (tmp_path / SECRET_FILE).exists()


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError):
        Pseudonymizer("short")


# --- applied in BatchWriter, fingerprint in the header -------------------------------------------


def test_batch_writer_seals_what_the_policy_returns_with_its_fingerprint(store):
    recipient, signer = X25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    sealer = Sealer("sat-1", "acme", "rk-1", recipient.public_key(), signer)
    key = CursorKey("tfs", "git.commits", "DefaultCollection/repo-id")
    scope = PolicyScope.of_integration(integration(repositories=NameFilter(exclude=("secret",))))
    p = policy(scope=scope)
    seen = []
    writer = BatchWriter(store, sealer, cursor_key=key, service="repos", max_records=10, max_bytes=10**9,
                         remember_keys=True, policy=p, on_record=seen.append)
    out_of_scope = Record("git.repository", "r9", "upsert", T, {"name": "secret"})
    result = writer.write([commit(), out_of_scope, Checkpoint('{"heads":{}}')])
    assert result.records == 1 and [r.key for r in seen] == ["repo-id:c0ffee"]
    (batch,) = store.pending_batches()
    opened = open_sealed(batch.body, recipient, signer.public_key())
    assert opened.header.policy == p.fingerprint == read_header(batch.body).policy
    (sealed,) = opened.records
    assert sealed["data"]["comment"] == "AB#12 #3" and "CANARY" not in batch.body.decode("latin-1")
    assert store.delivered_among(key, ["repo-id:c0ffee"]) == {"repo-id:c0ffee"}  # the store keeps the key as collected


def test_a_header_without_a_policy_is_still_valid_and_unchanged():
    fields = dict(batch_id="b", satellite_id="s", tenant="t", integration_id="i", service="repos", stream="x", seq=1,
                  schema_version=1, created_at=T, record_count=0, cursor_from=None, cursor_to=None,
                  recipient_key_id="rk", signer_key_id="sk")
    old = BatchHeader(**fields)
    assert b"policy" not in old.canonical_bytes()
    assert BatchHeader.from_bytes(old.canonical_bytes()).policy is None
    new = BatchHeader(**fields, policy="sha256:ab")
    assert BatchHeader.from_bytes(new.canonical_bytes()).policy == "sha256:ab"
    from satellite.errors import SealingError

    with pytest.raises(SealingError, match="policy"):
        BatchHeader.from_bytes(new.canonical_bytes().replace(b'"sha256:ab"', b"[1]"))


def test_the_receiver_stores_the_policy_of_each_batch(tmp_path):
    from satellite.sealing.batch_format import OpenedBatch
    from standins.sei_receiver.storage import ReceiverStorage

    storage = ReceiverStorage(tmp_path)
    fields = dict(satellite_id="s", tenant="t", integration_id="i", service="repos", stream="x", seq=1,
                  schema_version=1, created_at=T, record_count=0, cursor_from=None, cursor_to=None,
                  recipient_key_id="rk", signer_key_id="sk")
    storage.store_batch(OpenedBatch(BatchHeader(batch_id="b1", **fields, policy="sha256:ab"), ()))
    storage.store_batch(OpenedBatch(BatchHeader(batch_id="b0", **fields), ()))
    assert storage.batch_policies() == {"b1": "sha256:ab", "b0": None}
    storage.close()
