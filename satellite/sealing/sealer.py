"""Sealer: turns a list of records into a sealed batch with this satellite's keys.

The recipient key decides the HPKE suite (its KEM: X25519, or hybrid MLKEM768-X25519) and with it
the format version (``batch_format.version_for``): X25519 batches are ``CURRENT``, hybrid ones the
version whose header names the suite. The compression is ``CURRENT``'s either way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from satellite.sealing.batch_format import (CURRENT, BatchHeader, FormatVersion, SuiteSpec, ndjson_line, seal, suite_for_kem,
                                            version_for)
from satellite.sealing.keys import RecipientPublicKey, kem_of, load_ed25519_private, load_recipient_public, public_key_id
from satellite.clock import utc_now

__all__ = ["Sealer", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Sealer:
    satellite_id: str
    tenant: str
    recipient_key_id: str
    recipient: RecipientPublicKey
    signer: Ed25519PrivateKey
    version: FormatVersion | None = None  # the batch format written; None: version_for(the key's suite)

    @classmethod
    def from_settings(cls, settings) -> "Sealer":
        """From ``satellite.config.SatelliteSettings``."""
        encryption = settings.encryption
        key = encryption.sealing_key()
        return cls(
            satellite_id=settings.id,
            tenant=settings.tenant,
            recipient_key_id=key.key_id,
            recipient=load_recipient_public(key.public_key, key.kem),
            signer=load_ed25519_private(encryption.signing_private_key.reveal()),
        )

    @property
    def signer_key_id(self) -> str:
        return public_key_id(self.signer.public_key())

    @property
    def kem(self) -> str:
        """The recipient key's kind: ``x25519`` or ``mlkem768-x25519``."""
        return kem_of(self.recipient)

    @property
    def suite(self) -> SuiteSpec:
        return suite_for_kem(self.kem)

    @property
    def writes(self) -> FormatVersion:
        """The format version of the batches this sealer writes."""
        return self.version or version_for(self.suite)

    def seal_records(self, *, records: Sequence[dict], **batch: Any) -> bytes:
        """Seal records; ``batch`` is the rest of ``seal_lines``' arguments."""
        return self.seal_lines(lines=[ndjson_line(r) for r in records], **batch)

    def seal_lines(self, *, lines: Sequence[bytes], **batch: Any) -> bytes:
        """Seal records already encoded as NDJSON lines (``ndjson_line``), one record per line; ``batch``
        is the rest of ``seal_ndjson``'s arguments."""
        return self.seal_ndjson(ndjson=b"".join(lines), record_count=len(lines), **batch)

    def seal_ndjson(
        self,
        *,
        batch_id: str,
        integration_id: str,
        service: str,
        stream: str,
        seq: int,
        ndjson: bytes | bytearray,
        record_count: int,
        cursor_from: str | None,
        cursor_to: str | None,
        policy: str | None = None,
    ) -> bytes:
        """Seal ``record_count`` records already encoded as NDJSON (``ndjson_line`` each, one after
        another; a writer fills one buffer, so no second copy of them is made); ``policy``: the
        fingerprint of the privacy policy that shaped them."""
        version = self.writes
        codec = CURRENT.codec if version.header_names_suite else version.codec
        header = BatchHeader(
            batch_id=batch_id,
            satellite_id=self.satellite_id,
            tenant=self.tenant,
            integration_id=integration_id,
            service=service,
            stream=stream,
            seq=seq,
            schema_version=SCHEMA_VERSION,
            created_at=utc_now(),
            record_count=record_count,
            cursor_from=cursor_from,
            cursor_to=cursor_to,
            recipient_key_id=self.recipient_key_id,
            signer_key_id=self.signer_key_id,
            policy=policy,
            content_encoding=codec.name,
            suite=self.suite.header() if version.header_names_suite else None,
        )
        payload = codec.compress(ndjson)
        return seal(header, payload, self.recipient, self.signer, version)
