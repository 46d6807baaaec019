"""The report as a terminal table: one section per metric, its summary, its groups, its counts."""

from __future__ import annotations

from standins.sei_receiver.report.model import Metric, Report
from standins.sei_receiver.report.stats import human_duration

__all__ = ["render_text", "summary_line"]

MAX_GROUPS = 25
TREND_WEEKS = 6


def render_text(report: Report) -> str:
    versions = ", ".join(report.api_versions) or "unknown"
    lines = [f"SEI receiver report, generated {report.to_json()['generated_at']} (server api-versions: {versions})"]
    for metric in report.metrics:
        lines += ["", *_section(metric)]
    return "\n".join(lines) + "\n"


def _section(metric: Metric) -> list[str]:
    head = f"== {metric.title} [{metric.id}]"
    if not metric.available:
        return [head, f"   {metric.reason or 'not available on this server version'}"]
    lines = [head, "   " + summary_line(metric)]
    if metric.reason:
        lines.append(f"   note: {metric.reason}")
    if metric.skipped:
        lines.append(f"   skipped: {metric.skipped:,} record(s) lacking a field this metric needs")
    if metric.counts and metric.unit != "per_week":
        lines.append("   " + ", ".join(f"{k} {v:,}" for k, v in metric.counts.items()))
    if metric.weekly:
        lines.append("   " + _trend(metric))
    if metric.groups:
        lines += _table(metric)
    return lines


def _trend(metric: Metric) -> str:
    """The last weeks: p50 per week for durations, deployments per week for the frequency."""
    recent = metric.weekly[-TREND_WEEKS:]
    if metric.unit == "seconds":
        cells = [f"{w.week} {human_duration(w.p50)}" for w in recent]
        label = "p50 per week"
    else:
        cells = [f"{w.week} {w.count}" for w in recent]
        label = "per week"
    more = f" (last {len(recent)} of {len(metric.weekly)})" if len(metric.weekly) > len(recent) else ""
    return f"{label}{more}: " + ", ".join(cells)


def summary_line(metric: Metric) -> str:
    """One line of a metric's summary: ``1,204 samples, p50 3m12s, p90 9m1s``, ``6.2% of 176 production deployments``."""
    if not metric.available:
        return metric.reason or "not available on this server version"
    s = metric.summary
    if metric.unit == "seconds":
        return f"{_plural(s.count, 'sample')}, p50 {human_duration(s.p50)}, p90 {human_duration(s.p90)}"
    if metric.unit == "ratio":
        rate = "-" if s.value is None else f"{s.value:.1%}"
        return f"{rate} of {_plural(s.count, 'production deployment')}"
    if metric.unit == "per_week":
        rate = "-" if s.value is None else f"{s.value:.2f}"
        return f"{_plural(s.count, 'production deployment')}, {rate} per week over {_plural(len(metric.weekly), 'week')}"
    return f"{s.count:,} in all"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _table(metric: Metric) -> list[str]:
    timed = metric.unit == "seconds"
    rows = [("group", "count", "p50", "p90") if timed else ("group", "count", "counts")]
    for group in metric.groups[:MAX_GROUPS]:
        if timed:
            rows.append((group.name, f"{group.count:,}", human_duration(group.p50), human_duration(group.p90)))
        else:
            rows.append((group.name, f"{group.count:,}", ", ".join(f"{k} {v:,}" for k, v in group.counts.items())))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        cells = [cell.ljust(widths[i]) if i in (0, len(row) - 1) and not (timed and i) else cell.rjust(widths[i])
                 for i, cell in enumerate(row)]
        out.append("   " + "  ".join(cells).rstrip())
        if n == 0:
            out.append("   " + "  ".join("-" * w for w in widths))
    if len(metric.groups) > MAX_GROUPS:
        out.append(f"   ... and {len(metric.groups) - MAX_GROUPS} more group(s) (--json has them all)")
    return out
