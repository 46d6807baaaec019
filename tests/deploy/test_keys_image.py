"""The README's key step run for real: the image makes the satellite's signing pair as its own
user (10001) in the secrets directory the user chowned to it, ready for the container to read."""

from __future__ import annotations

import os
import stat

import pytest

from satellite.sealing.keys import load_ed25519_private, load_ed25519_public

from .helpers import UID

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(900)]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to 10001 needs root (CI runs the deploy tests as root)")
def test_the_image_makes_the_signing_pair_in_the_secrets_directory_chowned_to_10001(podman, image, tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    os.chown(secrets, UID, UID)  # sudo chown -R 10001:10001 /etc/sei-satellite/secrets
    result = podman("run", "--rm", "--network", "none", "-v", f"{secrets}:/out", image, "keys", "generate-signing", "--out", "/out")
    private, public = secrets / "signing-private-key", secrets / "signing-public-key"
    for path in (private, public):
        assert (path.stat().st_uid, path.stat().st_gid) == (UID, UID)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert load_ed25519_private(private.read_bytes()).public_key() == load_ed25519_public(public.read_bytes())
    assert public.read_text().strip() in result.stdout and "Register the public half with SEI" in result.stdout
