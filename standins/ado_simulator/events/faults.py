"""Faults of event delivery: dropped, duplicated, delayed and reordered notifications, seeded and deterministic
(a draw depends on the seed, the subscription and the event id only, not on timing or thread order).

    plan = EventFaultPlan.parse("drop:0.1,duplicate:0.1,delay:0.2,reorder:0.2", seed=3)
    plan.decide(subscription_id, event_id)   # frozenset({"delay"}) ...
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["EVENT_FAULT_KINDS", "EventFaultPlan"]

EVENT_FAULT_KINDS = ("drop", "duplicate", "delay", "reorder")


@dataclass(frozen=True, slots=True)
class EventFaultPlan:
    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    reorder: float = 0.0
    seed: int = 0
    delay_s: float = 2.0  # how much later a delayed notification is sent

    def __post_init__(self) -> None:
        for kind in EVENT_FAULT_KINDS:
            rate = getattr(self, kind)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"event fault {kind}: rate {rate} is not in [0, 1]")
        if self.delay_s < 0:
            raise ValueError("event fault delay_s must be >= 0")

    @property
    def empty(self) -> bool:
        return not any(getattr(self, kind) for kind in EVENT_FAULT_KINDS)

    @staticmethod
    def parse(text: str, seed: int = 0, delay_s: float = 2.0) -> EventFaultPlan:
        """``KIND:RATE[,KIND:RATE]`` (``drop:0.1,duplicate:0.1,delay:0.2,reorder:0.2``); ``""`` or ``off``: none."""
        rates: dict[str, float] = {}
        for part in (p.strip() for p in text.split(",")):
            if not part or part == "off":
                continue
            kind, sep, rate = part.partition(":")
            if kind not in EVENT_FAULT_KINDS or not sep:
                raise ValueError(f"bad event fault {part!r}: expected KIND:RATE, KIND one of {', '.join(EVENT_FAULT_KINDS)}")
            try:
                rates[kind] = float(rate)
            except ValueError:
                raise ValueError(f"bad event fault rate in {part!r}") from None
        return EventFaultPlan(**rates, seed=seed, delay_s=delay_s)

    @staticmethod
    def from_json(body: dict) -> EventFaultPlan:
        if not isinstance(body, dict):
            raise TypeError("the event fault plan is a JSON object")
        unknown = set(body) - {*EVENT_FAULT_KINDS, "seed", "delay_s"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        return EventFaultPlan(**{k: float(body[k]) for k in EVENT_FAULT_KINDS if k in body},
                              seed=int(body.get("seed", 0)), delay_s=float(body.get("delay_s", 2.0)))

    def to_json(self) -> dict:
        return {**{k: getattr(self, k) for k in EVENT_FAULT_KINDS}, "seed": self.seed, "delay_s": self.delay_s}

    def _draw(self, kind: str, subscription_id: str, event_id: str) -> float:
        digest = hashlib.sha256(f"{self.seed}:{kind}:{subscription_id}:{event_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def decide(self, subscription_id: str, event_id: str) -> frozenset[str]:
        """The faults this notification meets (a dropped one meets no other)."""
        if self.empty:
            return frozenset()
        if self._draw("drop", subscription_id, event_id) < self.drop:
            return frozenset({"drop"})
        return frozenset(kind for kind in ("duplicate", "delay", "reorder")
                         if self._draw(kind, subscription_id, event_id) < getattr(self, kind))
