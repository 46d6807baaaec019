"""SEI's command key pair (Ed25519), for the reference receiver and tests: in production SEI keeps
the private half and gives the satellite the public half and its id (``satellite.command_keys``)."""

from __future__ import annotations

from pathlib import Path

from satellite.sealing.keys import SigningKeyFiles, write_ed25519_pair

__all__ = ["COMMAND_PRIVATE", "COMMAND_PUBLIC", "generate_command_key_files"]

COMMAND_PRIVATE = "sei-command.key"
COMMAND_PUBLIC = "sei-command.pub"


def generate_command_key_files(directory: Path, *, overwrite: bool = False) -> SigningKeyFiles:
    """Write a new command key pair: ``sei-command.key`` (PKCS8 PEM, 0600) and ``sei-command.pub``.

    Raises:
        FileExistsError: a key file exists and ``overwrite`` is false.
    """
    return write_ed25519_pair(directory, COMMAND_PRIVATE, COMMAND_PUBLIC, overwrite=overwrite)
