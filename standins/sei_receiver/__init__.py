"""The reference SEI receiver: the other side of the ingest protocol, for demos, tests and benchmarks."""

from standins.sei_receiver.app import ReceiverKeys, create_receiver_app
from standins.sei_receiver.storage import ReceiverStorage

__all__ = ["ReceiverKeys", "ReceiverStorage", "create_receiver_app"]
