"""The report documents the HTML tests render: the hand-written fixture (a Server 2019 collection,
api-version 5.0: deployments from classic releases only, noted) and variants of it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

__all__ = ["DEPLOYMENT_METRICS", "fixture_report", "without_deployments"]

FIXTURE = Path(__file__).parent / "fixtures" / "report_2019.json"
DEPLOYMENT_METRICS = ("deployment_frequency", "change_failure_rate", "time_to_restore", "lead_time")
REASON = "not available on this server version (no classic releases, and YAML environments need api-version 6.0)"


def fixture_report() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def without_deployments(report: dict[str, Any]) -> dict[str, Any]:
    """The same report with the deployment metrics not available, as the report states them."""
    out = copy.deepcopy(report)
    for mid in DEPLOYMENT_METRICS:
        m = out["metrics"][mid]
        out["metrics"][mid] = {
            "title": m["title"], "unit": m["unit"], "available": False, "reason": REASON,
            "summary": {"count": 0, "p50": None, "p90": None, "value": None},
            "groups": [], "weekly": [], "counts": {}, "skipped": 0,
        }
    return out
