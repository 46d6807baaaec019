"""Delivery of sealed batches to the SEI ingest endpoint: the uploader, the heartbeat, and where
both are built from the configuration (``build_delivery``). The protocol itself: ``satellite.sei``."""

from satellite.delivery.heartbeat import Heartbeat
from satellite.delivery.uploader import DrainReport, Uploader
from satellite.delivery.wiring import Delivery, build_delivery, upload_policy

__all__ = ["Uploader", "DrainReport", "Heartbeat", "Delivery", "build_delivery", "upload_policy"]
