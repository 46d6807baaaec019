"""The chart's privacy secret: one key for every pod, so shard replicas give the same pseudonyms."""

from __future__ import annotations

import json

import pytest

from satellite.config import load_config
from satellite.privacy.policy import PrivacyPolicy
from satellite.streams.records import Record

from .helpers import DATA_DIR, SECRETS_DIR, render, write_mounts
from .test_chart import CONFIGURED

pytestmark = pytest.mark.deploy

SECRET = "0123456789abcdef" * 4


def test_the_privacy_secret_is_a_file_of_the_secret_that_every_pod_reads(tmp_path, key_files):
    values = json.loads(json.dumps(CONFIGURED))
    values["config"]["privacy"] = {"presets": ["pseudonymize_people"]}
    values["secrets"].update(privacySecret=SECRET, signingPrivateKey=key_files.signing_private.read_text(),
                             recipientPublicKey=key_files.recipient_public.read_text())
    values["replicaCount"] = 2
    rendered = render(values)
    assert rendered.secret_files()["privacy-secret"] == SECRET.encode()
    privacy = rendered.config()["privacy"]
    assert privacy == {"presets": ["pseudonymize_people"], "secret": f"${{file:{SECRETS_DIR}/privacy-secret}}"}
    config_dir, secrets_dir = write_mounts(rendered, tmp_path)
    local = tmp_path / "local.yml"
    local.write_text((config_dir / "satellite.yml").read_text().replace(SECRETS_DIR, str(secrets_dir))
                     .replace(DATA_DIR, str(tmp_path / "data")))
    config = load_config(local, env={})
    assert config.privacy.secret.reveal() == SECRET
    record = Record("git.commit", "r:c", "upsert", "t", {"author": {"name": "Jane", "email": "jane@corp"}})
    token = PrivacyPolicy.from_config(config, config.integrations[0]).apply(record).data["author"]["email"]
    assert not (tmp_path / "data" / "privacy.key").exists()  # the shared secret, none of the pod's own
    assert token.endswith("@pseudonym.invalid") and "jane" not in token


def test_without_a_privacy_secret_the_config_names_none():
    rendered = render(CONFIGURED)
    assert "privacy-secret" not in rendered.secret_files() and "privacy" not in rendered.config()
