"""Recipient keys of either KEM in the config (issue 21): ``recipients[].kem``, checked against the
key's PEM, and the newest key deciding how new batches are sealed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from satellite.config import load_config
from satellite.errors import ConfigError
from satellite.sealing.batch_format import CURRENT, FORMATS, open_sealed
from satellite.sealing.keys import (
    KEM_HYBRID,
    generate_key_files,
    load_recipient_private,
)
from satellite.sealing.sealer import Sealer


@pytest.fixture
def keys(tmp_path):
    return generate_key_files(tmp_path / "old"), generate_key_files(tmp_path / "new", kem=KEM_HYBRID)


def config(tmp_path: Path, keys, recipients: str) -> Path:
    old, new = keys
    text = textwrap.dedent("""
        satellite:
          id: sat-1
          tenant: acme
          endpoint: https://sei.example.com
          api_key: api-key-123456
          encryption:
            recipients:
        {recipients}
            signing_private_key: ${{file:{signing}}}
          data_dir: data
        integrations:
          - id: main
            url: https://tfs.example.com/tfs/DefaultCollection
            pat: pat-123456
        """).format(recipients=textwrap.indent(textwrap.dedent(recipients.format(old=old.recipient_public, new=new.recipient_public)), "      "),
                    signing=old.signing_private)
    path = tmp_path / "satellite.yml"
    path.write_text(text)
    return path


ROTATED = """
- key_id: sei-2025
  public_key: ${{file:{old}}}
  created: 2025-01-15
- key_id: sei-2026-pq
  public_key: ${{file:{new}}}
  kem: mlkem768-x25519
  created: 2026-02-01
"""


def seal_probe(sealer: Sealer) -> bytes:
    return sealer.seal_records(batch_id="b", integration_id="main", service="repos", stream="x", seq=1, records=[],
                               cursor_from=None, cursor_to=None)


def test_the_newest_key_decides_the_kem(tmp_path, keys):
    _, new = keys
    loaded = load_config(config(tmp_path, keys, ROTATED), {})
    assert [k.kem for k in loaded.satellite.encryption.recipients] == ["x25519", "mlkem768-x25519"]  # kem defaults to x25519
    sealer = Sealer.from_settings(loaded.satellite)
    assert (sealer.recipient_key_id, sealer.kem) == ("sei-2026-pq", KEM_HYBRID)
    sealed = seal_probe(sealer)
    assert sealed[4] == 3
    opened = open_sealed(sealed, load_recipient_private(new.recipient_private.read_bytes()), sealer.signer.public_key())
    assert opened.header.recipient_key_id == "sei-2026-pq" and opened.header.suite["kem_id"] == "0x647a"

    older_pq = ROTATED.replace("2026-02-01", "2024-01-01")  # the X25519 key is newer: it seals, as before
    sealer = Sealer.from_settings(load_config(config(tmp_path, keys, older_pq), {}).satellite)
    assert (sealer.recipient_key_id, sealer.kem, seal_probe(sealer)[4]) == ("sei-2025", "x25519", CURRENT.number)
    assert FORMATS[CURRENT.number].suite is not None


@pytest.mark.parametrize(("entries", "message"), [
    (ROTATED.replace("  kem: mlkem768-x25519\n", ""), "set kem: mlkem768-x25519"),  # a hybrid key without its kem
    (ROTATED.replace("{old}", "{new}", 1).replace("- key_id: sei-2025\n", "- key_id: sei-2025\n  kem: x25519\n"),
     "set kem: mlkem768-x25519"),
    (ROTATED.replace("{new}", "{old}"), "not an MLKEM768-X25519 public key"),  # an X25519 key declared hybrid
    (ROTATED.replace("kem: mlkem768-x25519", "kem: kyber"), "x25519"),  # an unknown kem: the allowed ones are listed
])
def test_a_key_that_is_not_its_kem_is_a_located_problem(tmp_path, keys, entries, message):
    with pytest.raises(ConfigError) as info:
        load_config(config(tmp_path, keys, entries), {})
    problems = info.value.problems
    assert any(p.path.startswith("satellite.encryption.recipients") and message in p.message for p in problems), problems
