"""`satellite keys generate-signing`: the satellite's own signing pair, the one key a customer makes."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization

from satellite.cli import main
from satellite.sealing.keys import (
    generate_signing_key_files,
    load_ed25519_private,
    load_ed25519_public,
    public_key_id,
)


def test_generate_signing_writes_the_pair_the_chart_and_image_name(tmp_path, capsys):
    assert main(["keys", "generate-signing", "--out", str(tmp_path / "k")]) == 0
    out = capsys.readouterr().out
    files = {p.name: p for p in (tmp_path / "k").iterdir()}
    assert sorted(files) == ["signing-private-key", "signing-public-key"]  # no SEI key: SEI holds its own
    assert stat.S_IMODE(files["signing-private-key"].stat().st_mode) == 0o600
    private = load_ed25519_private(files["signing-private-key"].read_bytes())
    public = load_ed25519_public(files["signing-public-key"].read_bytes())
    assert private.public_key() == public
    assert public_key_id(public) in out and files["signing-public-key"].read_text().strip() in out
    assert "Register the public half with SEI" in out and "PRIVATE" not in out
    assert main(["keys", "generate-signing", "--out", str(tmp_path / "k")]) == 2  # never overwrites silently
    assert "--force" in capsys.readouterr().err
    assert main(["keys", "generate-signing", "--out", str(tmp_path / "k"), "--force"]) == 0
    assert load_ed25519_private(files["signing-private-key"].read_bytes()).public_key() != public


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl on this machine")
def test_openssl_makes_the_same_kind_of_key(tmp_path):
    """The docs' alternative: openssl genpkey -algorithm ed25519 gives a key the satellite loads."""
    key = tmp_path / "signing-private-key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True, capture_output=True)
    pub = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout"], check=True, capture_output=True).stdout
    assert load_ed25519_private(key.read_bytes()).public_key() == load_ed25519_public(pub)
    ours = generate_signing_key_files(tmp_path / "ours")
    key = load_ed25519_private(ours.private.read_bytes())  # PKCS8 PEM, as openssl writes it
    pkcs8 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert ours.private.read_bytes() == pkcs8


def test_keys_help_tells_who_makes_which_key(capsys):
    with pytest.raises(SystemExit):
        main(["keys", "--help"])
    text = capsys.readouterr().out
    assert "SEI gives you" in text and "generate-signing" in text and "register signing-public-key with SEI" in text
    assert "testing the reference receiver" in text


def test_readme_deploy_docs_chart_notes_and_help_tell_one_story(capsys):
    """SEI gives the API key, its recipient public key and the key's id; the customer makes the
    signing pair (generate-signing or openssl) and registers signing-public-key with SEI."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    with pytest.raises(SystemExit):
        main(["keys", "--help"])
    texts = {
        "README.md": (root / "README.md").read_text(),
        "docs/deploy.md": (root / "docs" / "deploy.md").read_text(),
        "chart README": (root / "helm" / "sei-satellite" / "README.md").read_text(),
        "NOTES.txt": (root / "helm" / "sei-satellite" / "templates" / "NOTES.txt").read_text(),
        "keys --help": capsys.readouterr().out,
    }
    for where, text in texts.items():
        flat = " ".join(text.replace("**", "").split())
        assert "SEI gives you the API key" in flat or "SEI gave you the API key" in flat, where
        assert "recipient public key" in flat, where
        assert "satellite keys generate-signing" in flat and "openssl" in flat, where
        assert re.search(r"register(ed)? `?signing-public-key`? with SEI", flat), where
    for where in ("README.md", "docs/deploy.md", "chart README"):
        flat = " ".join(texts[where].split())
        assert "`satellite keys generate` makes" in flat or "`satellite keys generate` also makes" in flat, where
        assert "for testing the reference receiver" in flat, where
    assert "openssl genpkey -algorithm ed25519" in texts["README.md"] and "openssl genpkey -algorithm ed25519" in texts["docs/deploy.md"]
