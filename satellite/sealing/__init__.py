"""Sealed batches: the wire format (versions in batch_format.FORMATS) and the keys that seal and open them."""

from satellite.sealing.batch_format import BatchHeader, OpenedBatch, open_sealed, read_header, seal
from satellite.sealing.keys import generate_key_files, public_key_id

__all__ = ["BatchHeader", "OpenedBatch", "open_sealed", "read_header", "seal", "generate_key_files", "public_key_id"]
