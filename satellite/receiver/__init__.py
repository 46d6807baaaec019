"""The reference SEI receiver: the other side of the ingest protocol, for demos, tests and benchmarks."""

from satellite.receiver.app import ReceiverKeys, create_receiver_app
from satellite.receiver.storage import ReceiverStorage

__all__ = ["ReceiverKeys", "ReceiverStorage", "create_receiver_app"]
