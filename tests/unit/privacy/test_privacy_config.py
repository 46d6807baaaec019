"""The privacy: section and the scope filters in the config: located problems, all at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from satellite.config import load_config
from satellite.errors import ConfigError

BASE = """\
satellite:
  id: sat-1
  tenant: acme
  endpoint: https://sei.example.com
  api_key: ${env:API_KEY}
  encryption:
    recipient_key_id: k1
    recipient_public_key: ${env:PUBLIC_PEM}
    signing_private_key: ${env:PRIVATE_PEM}
  data_dir: data
integrations:
  - id: main
    url: https://tfs.example.com/tfs/DefaultCollection
    pat: ${env:PAT}
"""


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    public = X25519PrivateKey.generate().public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
    private = Ed25519PrivateKey.generate().private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    return {"API_KEY": "api-key-123456", "PAT": "pat-123", "PUBLIC_PEM": public.decode(), "PRIVATE_PEM": private.decode()}


def write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "satellite.yml"
    path.write_text(BASE + textwrap.dedent(extra).lstrip("\n"))
    return path


def test_a_full_privacy_section_loads(tmp_path, env):
    (tmp_path / "privacy.key").write_text("k" * 64 + "\n")
    config = load_config(write(tmp_path, """
        privacy:
          presets: [strip_text, pseudonymize_people, redact_names_and_urls]
          work_item_key_patterns: ["[A-Z]+-[0-9]+"]
          fields:
            git.commit: {drop: [comment], keep: [author.name]}
            wit.work_item_revision: {hash: ['fields."System.Title"', fields.System.AssignedTo.uniqueName]}
            "*": {hash: ["**.uniqueName"]}
          secret: ${file:privacy.key}
        """), env)
    privacy = config.privacy
    assert privacy.presets == ("strip_text", "pseudonymize_people", "redact_names_and_urls")
    assert privacy.fields["git.commit"].drop == ("comment",)
    assert privacy.secret.reveal() == "k" * 64 and "k" * 64 not in repr(config)


def test_scope_filters_sit_beside_projects(tmp_path, env):
    text = BASE.replace("    pat: ${env:PAT}\n", """\
    pat: ${env:PAT}
    repositories: {exclude: ["*-secret"]}
    tfvc_paths: {exclude: ["$/Payroll/Private"]}
    work_item_types: {include: [Bug, "User Story"]}
""")
    (tmp_path / "satellite.yml").write_text(text)
    integration = load_config(tmp_path / "satellite.yml", env).integrations[0]
    assert not integration.repositories.matches("Pay-SECRET") and integration.repositories.matches("web")
    assert not integration.tfvc_paths.matches("$/payroll/private/a/b.cs") and integration.tfvc_paths.matches("$/Payroll/Public")
    assert integration.work_item_types.matches("user story") and not integration.work_item_types.matches("Epic")


def test_every_privacy_problem_is_located_at_once(tmp_path, env):
    path = write(tmp_path, """
        privacy:
          presets: [strip_text, everything]
          work_item_key_patterns: ["(unclosed"]
          fields:
            git.commit:
              drop: [comment, nosuchfield]
              hash: ["author..email"]
            no.such.type:
              keep: [x]
            "*":
              hash: ["**.uniqueName", zzz]
          secret: too-short
        """)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env)
    found = [(p.line, p.path) for p in caught.value.problems]
    assert found == [
        (16, "privacy.presets[1]"),
        (17, "privacy.work_item_key_patterns[0]"),
        (20, "privacy.fields.git.commit.drop[1]"),
        (21, "privacy.fields.git.commit.hash[0]"),
        (22, "privacy.fields.no.such.type"),
        (25, "privacy.fields.*.hash[1]"),
        (26, "privacy.secret"),
    ]
    text = str(caught.value)
    assert "nosuchfield" not in text and "too-short" not in text and "unclosed" not in text
    assert "unknown record type" in text and "no field of this record type" in text


def test_config_validate_exits_2_on_a_privacy_problem(tmp_path, env):
    from tests.support import run_cli

    path = write(tmp_path, """
        privacy:
          fields:
            git.commit: {drop: [nosuchfield]}
        """)
    text = path.read_text()
    for name, value in env.items():  # the subprocess has none of these variables: inline them
        text = text.replace("${env:%s}" % name, '"' + value.replace("\n", "\\n") + '"')
    path.write_text(text)
    result = run_cli("config", "validate", str(path))
    assert result.returncode == 2, result.stderr
    assert f"{path}:17 privacy.fields.git.commit.drop[0]" in result.stderr
