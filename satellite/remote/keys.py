"""SEI's command key pair (Ed25519), for the reference receiver and tests: in production SEI keeps
the private half and gives the satellite the public half and its id (``satellite.command_keys``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from satellite.sealing.keys import public_key_id

__all__ = ["COMMAND_PRIVATE", "COMMAND_PUBLIC", "CommandKeyFiles", "generate_command_key_files"]

COMMAND_PRIVATE = "sei-command.key"
COMMAND_PUBLIC = "sei-command.pub"


@dataclass(frozen=True, slots=True)
class CommandKeyFiles:
    private: Path
    public: Path
    key_id: str


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, mode)


def generate_command_key_files(directory: Path, *, overwrite: bool = False) -> CommandKeyFiles:
    """Write a new command key pair: ``sei-command.key`` (PKCS8 PEM, 0600) and ``sei-command.pub``.

    Raises:
        FileExistsError: a key file exists and ``overwrite`` is false.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / COMMAND_PRIVATE, directory / COMMAND_PUBLIC]
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} exists; pass --force to replace the keys")
    for path in existing:
        path.unlink()
    key = Ed25519PrivateKey.generate()
    _write(paths[0], key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), 0o600)
    _write(paths[1], key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
    return CommandKeyFiles(paths[0], paths[1], public_key_id(key.public_key()))
