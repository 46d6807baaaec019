"""The support bundle's archive: members -> tar.gz bytes, and back (pure, in memory)."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Member", "pack", "unpack"]


@dataclass(frozen=True, slots=True)
class Member:
    """One file of the archive: ``name`` relative to the archive's top folder."""

    name: str
    data: bytes


def pack(members: Iterable[Member], *, root: str, mtime: float) -> bytes:
    """A gzip-compressed tar of ``members`` under ``root/``, each 0600 and dated ``mtime``."""
    buffer = io.BytesIO()
    with (gzip.GzipFile(filename="", fileobj=buffer, mode="wb", mtime=int(mtime)) as compressed,
          tarfile.open(fileobj=compressed, mode="w", format=tarfile.USTAR_FORMAT) as tar):
        for member in members:
            info = tarfile.TarInfo(f"{root}/{member.name}")
            info.size, info.mtime, info.mode = len(member.data), int(mtime), 0o600
            tar.addfile(info, io.BytesIO(member.data))
    return buffer.getvalue()


def unpack(archive: bytes) -> dict[str, bytes]:
    """Member name (with its top folder) -> bytes: for tests and for SEI's side."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {info.name: tar.extractfile(info).read() for info in tar.getmembers() if info.isfile()}
