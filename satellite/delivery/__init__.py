"""Delivery of sealed batches to the SEI ingest endpoint."""

from satellite.delivery.uploader import DrainReport, Uploader

__all__ = ["Uploader", "DrainReport"]
