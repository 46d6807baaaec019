"""Nearest-rank percentiles, samples grouped by name and by ISO week, human durations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from standins.sei_receiver.report.times import iso_week

__all__ = ["Sample", "by_group", "by_week", "human_duration", "percentile"]


@dataclass(frozen=True)
class Sample:
    """One measured span: its group (pipeline, job, repository...), whole seconds, and when it ended."""

    group: str
    seconds: int
    end: datetime


def percentile(values: Iterable[int], p: float) -> int | None:
    """Nearest rank: ``sorted[ceil(p * n) - 1]``, always a sample; None for no samples. The rank is
    computed in whole hundredths (no float rounding: ``0.9 * 70`` must rank 63, not 64)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = -(-round(p * 100) * len(ordered) // 100)
    return ordered[max(rank, 1) - 1]


def by_group(samples: Iterable[Sample]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for sample in samples:
        groups[sample.group].append(sample.seconds)
    return dict(groups)


def by_week(samples: Iterable[Sample]) -> dict[str, list[int]]:
    weeks: dict[str, list[int]] = defaultdict(list)
    for sample in samples:
        weeks[iso_week(sample.end)].append(sample.seconds)
    return dict(sorted(weeks.items()))


def human_duration(seconds: int | None) -> str:
    """``45s``, ``3m12s``, ``1h5m``, ``2d4h``: the two largest units; ``-`` for None."""
    if seconds is None:
        return "-"
    sign, rest = ("-" if seconds < 0 else ""), abs(int(seconds))
    days, rest = divmod(rest, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = f"{days}d{hours}h"
    elif hours:
        text = f"{hours}h{minutes}m"
    elif minutes:
        text = f"{minutes}m{secs}s"
    else:
        text = f"{secs}s"
    return sign + text

