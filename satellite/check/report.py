"""Rendering ``satellite check`` results: a table for people, JSON for tools."""

from __future__ import annotations

import json
from typing import Sequence

from satellite.check.result import CheckResult

__all__ = ["render_table", "render_json", "summary"]

_HEADERS = ("integration", "collection", "check", "target", "result", "detail")


def summary(results: Sequence[CheckResult]) -> str:
    counts = {status: sum(r.status == status for r in results) for status in ("pass", "fail", "skip")}
    verdict = "every check passed" if results and counts["pass"] == len(results) else "some checks failed"
    return f"check: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped: {verdict}"


def render_table(results: Sequence[CheckResult]) -> str:
    """One line per check (check, target, PASS/FAIL/SKIP, detail), each failure's fix hint below it."""
    rows = [(r.integration, r.collection or "-", r.check, r.target, r.status.upper(), r.detail) for r in results]
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(_HEADERS[:-1])]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)) + "  " + cells[-1]

    out = [line(_HEADERS), line(["-" * w for w in widths] + ["-" * 6])]
    indent = " " * (sum(widths) + 2 * len(widths))
    for result, row in zip(results, rows):
        out.append(line(row).rstrip())
        if result.hint and result.status != "pass":
            out.append(f"{indent}fix: {result.hint}")
    out.append(summary(results))
    return "\n".join(out)


def render_json(results: Sequence[CheckResult]) -> str:
    return json.dumps([r.to_json() for r in results], indent=2)
