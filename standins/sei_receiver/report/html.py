"""The report as one self-contained HTML page: inline CSS and inline SVG charts, no script, no URL.

``render_html(report)`` takes the dict ``build_report`` returns (the ``--json`` shape) and gives a
page with a section per metric (``data-metric="<id>"``): a summary line (count, p50, p90 as human
durations, rates as percentages) and one chart, chosen from what the metric has:

- a trend (p50 per ISO week) where ``weekly`` holds medians;
- bars of the weekly counts where ``weekly`` holds only counts (deployments per week);
- bars of ``groups`` (p50 per pipeline, job, type; the top ``TOP_GROUPS`` by sample count);
- bars of ``counts`` (stage results; ``reruns`` and ``attempts`` stay in the summary line).

A metric the server version lacks (``available: false``) shows its ``reason``, never a zero; an
available one with a ``reason`` (a part missing: YAML environments before 6.0) shows it as a note.
Every string from the data is escaped; a Content-Security-Policy forbids any load or script, so
the page cannot reach the network even if a future edit added a URL.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = ["METRIC_SECTIONS", "TOP_GROUPS", "human_duration", "render_html"]

TOP_GROUPS = 12
NOT_AVAILABLE = "not available on this server version"

# The page's order: sections of metric ids; ids not listed here follow in a last section.
METRIC_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("CI/CD", ("pipeline_duration", "queue_time", "job_duration", "stage_status", "release_stage_status")),
    ("DORA", ("deployment_frequency", "change_failure_rate", "time_to_restore", "lead_time")),
    ("Pull request cycle time", ("pr_coding", "pr_pickup", "pr_review", "pr_merge", "pr_total")),
    ("Work items", ("work_item_cycle_time",)),
    ("Freshness", ("freshness_git_push", "freshness_build", "freshness_work_item")),
)

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_RESULT_COLOURS = {
    "succeeded": "#2e7d32",
    "succeededwithissues": "#f9a825",
    "partiallysucceeded": "#f9a825",
    "failed": "#c62828",
    "rejected": "#c62828",
    "canceled": "#757575",
    "cancelled": "#757575",
    "skipped": "#9e9e9e",
    "notstarted": "#bdbdbd",
    "inprogress": "#1565c0",
    "queued": "#90caf9",
}
_ACCENT = "#1f5fa8"
_TALLIES = frozenset({"reruns", "attempts"})  # stage counts beside the results: in the summary, not the bars
_COUNT_NOUN = {"seconds": "samples", "count": "in total", "per_week": "deployments", "ratio": "deployments"}

_CSS = """
:root { color-scheme: light; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --card: #fff;
  --bg: #f6f8fa; --accent: #1f5fa8; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
  sans-serif; color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 1280px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 20px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 28px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 1.02rem; margin: 0 0 2px; }
.meta { color: var(--muted); margin: 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 16px; }
section.metric { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 14px 16px; min-width: 0; }
.summary { margin: 0 0 8px; font-variant-numeric: tabular-nums; }
.summary b { font-weight: 600; }
.unavailable { color: var(--muted); font-style: italic; margin: 18px 0; }
.empty { color: var(--muted); margin: 18px 0; }
.note { color: var(--muted); font-size: 0.88rem; margin: -4px 0 8px; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: var(--muted); }
svg.chart .grid-line { stroke: var(--line); stroke-width: 1; }
svg.chart .trend { fill: none; stroke: var(--accent); stroke-width: 2; }
svg.chart .value { fill: var(--fg); }
details { margin-top: 6px; }
summary { cursor: pointer; color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 3px 8px 3px 0; border-bottom: 1px solid var(--line);
  overflow-wrap: anywhere; }
td.n, th.n { text-align: right; }
footer { color: var(--muted); padding: 24px 20px; font-size: 0.85rem; }
"""


def render_html(report: Mapping[str, Any]) -> str:
    """The whole page for a report dict (the ``--json`` shape); missing keys render as empty."""
    metrics: Mapping[str, Any] = report.get("metrics") or {}
    versions = ", ".join(str(v) for v in (report.get("server") or {}).get("api_versions") or []) or "unknown"
    generated = str(report.get("generated_at") or "unknown")
    body = [
        "<header>",
        "<h1>SEI satellite: receiver report</h1>",
        f'<p class="meta">Generated <time datetime="{_e(generated)}">{_e(generated)}</time>'
        f" &middot; server api-version {_e(versions)} &middot; {len(metrics)} metrics</p>",
        "</header>",
        "<main>",
    ]
    for heading, ids in _sections(metrics):
        body.append(f"<h2>{_e(heading)}</h2>")
        body.append('<div class="grid">')
        body.extend(_metric_section(mid, metrics[mid]) for mid in ids)
        body.append("</div>")
    body += [
        "</main>",
        "<footer>Computed by <code>satellite receiver report</code> from the records the receiver"
        " stored; definitions in docs/metrics.md. Durations: p50/p90 are nearest-rank samples.</footer>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>SEI satellite report ({_e(generated)})</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def human_duration(seconds: float | None) -> str:
    """``3m12s``, ``2d4h``, ``45s``, ``1h``: the largest unit and the next one unless it is zero."""
    if seconds is None:
        return "n/a"
    sign, left = ("-", -int(seconds)) if seconds < 0 else ("", int(seconds))
    for i, (unit, size) in enumerate(_UNITS):
        if left >= size or unit == "s":
            major, rest = divmod(left, size)
            text = f"{major}{unit}"
            if i + 1 < len(_UNITS) and rest // _UNITS[i + 1][1]:
                text += f"{rest // _UNITS[i + 1][1]}{_UNITS[i + 1][0]}"
            return sign + text
    raise AssertionError("unreachable")


_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


# -- sections -------------------------------------------------------------------------------------


def _sections(metrics: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    known = [mid for _, ids in METRIC_SECTIONS for mid in ids]
    out = [(h, [m for m in ids if m in metrics]) for h, ids in METRIC_SECTIONS]
    out.append(("Other", sorted(m for m in metrics if m not in known)))
    return [(h, ids) for h, ids in out if ids]


def _metric_section(mid: str, metric: Mapping[str, Any]) -> str:
    title = str(metric.get("title") or mid)
    available = metric.get("available", True) is not False
    head = (
        f'<section class="metric" id="m-{_e(mid)}" data-metric="{_e(mid)}" '
        f'data-available="{"true" if available else "false"}" aria-labelledby="h-{_e(mid)}">'
        f'<h3 id="h-{_e(mid)}">{_e(title)}</h3>'
    )
    if not available:
        reason = str(metric.get("reason") or NOT_AVAILABLE)
        return head + f'<p class="unavailable" data-reason>{_e(reason)}</p></section>'
    unit = str(metric.get("unit") or "seconds")
    parts = [head, f'<p class="summary">{_summary(metric, unit)}</p>']
    if metric.get("reason"):  # available, but a part is missing (YAML environments before 6.0)
        parts.append(f'<p class="note" data-note>{_e(metric["reason"])}</p>')
    parts.append(_chart(title, metric, unit))
    parts.append(_groups_table(metric.get("groups") or []))
    parts.append("</section>")
    return "".join(parts)


def _summary(metric: Mapping[str, Any], unit: str) -> str:
    s = metric.get("summary") or {}
    bits = [f"<b>{_count(s.get('count'))}</b> {_COUNT_NOUN.get(unit, 'samples')}"]
    if unit == "ratio":
        bits.append(f"rate <b>{_percent(s.get('value'))}</b>")
    elif unit == "per_week":
        bits.append(f"<b>{_per_week(s.get('value'))}</b>")
    if unit == "seconds" or s.get("p50") is not None:
        bits.append(f"p50 <b>{human_duration(s.get('p50'))}</b>")
        bits.append(f"p90 <b>{human_duration(s.get('p90'))}</b>")
    counts = metric.get("counts") or {}
    if counts and unit in ("count", "ratio"):
        bits.append(", ".join(f"{_e(k)} {_count(v)}" for k, v in _by_value(counts)))
    if isinstance(metric.get("skipped"), int) and metric["skipped"] > 0:
        bits.append(f"{_count(metric['skipped'])} records lacking a field skipped")
    return " &middot; ".join(bits)


def _groups_table(groups: Sequence[Mapping[str, Any]]) -> str:
    if not groups:
        return ""
    rows = []
    for g in groups:
        counts = ", ".join(f"{_e(k)} {_count(v)}" for k, v in _by_value(g.get("counts") or {}))
        rows.append(
            f"<tr><td>{_e(g.get('name'))}</td><td class=\"n\">{_count(g.get('count'))}</td>"
            f'<td class="n">{human_duration(g.get("p50")) if g.get("p50") is not None else ""}</td>'
            f'<td class="n">{human_duration(g.get("p90")) if g.get("p90") is not None else ""}</td>'
            f"<td>{counts}</td></tr>"
        )
    return (
        f"<details><summary>{len(groups)} groups</summary><table><thead><tr><th>name</th>"
        '<th class="n">count</th><th class="n">p50</th><th class="n">p90</th><th>counts</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


# -- charts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bar:
    label: str
    value: float
    text: str
    colour: str = _ACCENT


def _chart(title: str, metric: Mapping[str, Any], unit: str) -> str:
    weekly = [w for w in metric.get("weekly") or [] if isinstance(w, Mapping)]
    if any(w.get("p50") is not None for w in weekly):
        points = [(str(w.get("week")), float(w["p50"]), int(w.get("count") or 0)) for w in weekly if w.get("p50") is not None]
        return _trend_svg(f"{title}: p50 per week", points)
    if any(w.get("count") for w in weekly):
        bars = [_Bar(str(w.get("week")), float(w.get("count") or 0), _count(w.get("count"))) for w in weekly]
        return _bars_svg(f"{title}: count per week", bars, vertical=True)
    groups = [g for g in metric.get("groups") or [] if g.get("p50") is not None]
    if groups:
        top = sorted(groups, key=lambda g: (-int(g.get("count") or 0), str(g.get("name"))))[:TOP_GROUPS]
        top.sort(key=lambda g: -float(g["p50"]))
        bars = [_Bar(str(g.get("name")), float(g["p50"]), f"{human_duration(g['p50'])} (n={_count(g.get('count'))})") for g in top]
        more = f" (top {len(top)} of {len(groups)} by samples)" if len(groups) > len(top) else ""
        return _bars_svg(f"{title}: p50 per group{more}", bars, vertical=False)
    counts = {k: v for k, v in (metric.get("counts") or {}).items() if isinstance(v, (int, float))}
    results = {k: v for k, v in counts.items() if k not in _TALLIES} or counts
    if results:
        bars = [_Bar(k, float(v), _count(v), _RESULT_COLOURS.get(k.lower(), _ACCENT)) for k, v in _by_value(results)]
        return _bars_svg(f"{title}: counts", bars, vertical=False)
    return '<p class="empty" data-empty>no samples yet</p>'


def _trend_svg(label: str, points: list[tuple[str, float, int]]) -> str:
    w, h, left, right, top, bottom = 640, 240, 64, 36, 14, 44
    lo = min(0.0, min(v for _, v, _ in points))
    tick = _nice_tick(max(v for _, v, _ in points) - lo)
    lo = math.floor(lo / tick) * tick
    span = 4 * tick
    while lo + span < max(v for _, v, _ in points):
        span += tick
    n = len(points)
    at = _week_positions([week for week, _, _ in points])

    def x(i: int) -> float:
        return left + (w - left - right) * at[i]

    def y(v: float) -> float:
        return top + (h - top - bottom) * (1 - (v - lo) / span)

    out = _svg_open(label, w, h, "trend")
    for k in range(round(span / tick) + 1):
        v = lo + tick * k
        out.append(f'<line class="grid-line" x1="{left}" x2="{w - right}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>')
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{human_duration(v)}</text>')
    shown = float("inf")
    for i in reversed(range(n)):  # from the latest week, which always has its label, none closer than 72px
        if shown - x(i) >= 72:
            shown = x(i)
            out.append(f'<text x="{x(i):.1f}" y="{h - bottom + 18}" text-anchor="middle">{_e(points[i][0])}</text>')
    coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (_, v, _) in enumerate(points))
    out.append(f'<polyline class="trend" points="{coords}"/>')
    for i, (week, v, count) in enumerate(points):
        out.append(
            f'<circle class="mark point" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="{_ACCENT}" '
            f'data-value="{v:g}"><title>{_e(week)}: p50 {human_duration(v)} (n={_count(count)})</title></circle>'
        )
    out.append("</svg>")
    return "".join(out)


def _week_positions(weeks: list[str]) -> list[float]:
    """Each week's place on the axis, 0..1 by its date (gaps stay gaps); by index if one is no ISO week."""
    try:
        days = [date.fromisocalendar(int(wk[:4]), int(wk[6:]), 1).toordinal() for wk in weeks]
    except (ValueError, IndexError):
        days = list(range(len(weeks)))
    first, last = min(days), max(days)
    return [0.5 if last == first else (d - first) / (last - first) for d in days]


def _bars_svg(label: str, bars: list[_Bar], *, vertical: bool) -> str:
    return _columns_svg(label, bars) if vertical else _rows_svg(label, bars)


def _columns_svg(label: str, bars: list[_Bar]) -> str:
    w, h, left, right, top, bottom = 640, 240, 40, 36, 14, 44
    tick = _nice_max(max(max(b.value for b in bars), 4.0) / 4)  # whole counts: 1, 2, 5, 10, ... per tick
    hi = 4 * tick
    n = len(bars)
    slot = (w - left - right) / n
    out = _svg_open(label, w, h, "columns")
    for k in range(5):
        v = tick * k
        yy = top + (h - top - bottom) * (1 - v / hi)
        out.append(f'<line class="grid-line" x1="{left}" x2="{w - right}" y1="{yy:.1f}" y2="{yy:.1f}"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{v:g}</text>')
    step = max(1, math.ceil(n / 8))
    for i, b in enumerate(bars):
        bh = (h - top - bottom) * b.value / hi
        bx = left + slot * i + slot * 0.15
        out.append(
            f'<rect class="mark bar" x="{bx:.1f}" y="{h - bottom - bh:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{bh:.1f}" fill="{b.colour}" data-value="{b.value:g}"><title>{_e(b.label)}: {_e(b.text)}</title></rect>'
        )
        if (n - 1 - i) % step == 0:
            out.append(f'<text x="{bx + slot * 0.35:.1f}" y="{h - bottom + 18}" text-anchor="middle">{_e(b.label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _rows_svg(label: str, bars: list[_Bar]) -> str:
    w, row, left, right, top = 640, 22, 190, 150, 6
    h = top * 2 + row * len(bars)
    hi = max(b.value for b in bars) or 1.0
    out = _svg_open(label, w, h, "bars")
    for i, b in enumerate(bars):
        yy = top + row * i
        bw = max(0.0, (w - left - right) * b.value / hi)
        out.append(f'<text x="{left - 8}" y="{yy + 15}" text-anchor="end">{_e(_clip(b.label, 28))}</text>')
        out.append(
            f'<rect class="mark bar" x="{left}" y="{yy + 3}" width="{max(bw, 1.0):.1f}" height="{row - 6}" '
            f'fill="{b.colour}" data-value="{b.value:g}"><title>{_e(b.label)}: {_e(b.text)}</title></rect>'
        )
        out.append(f'<text class="value" x="{left + bw + 6:.1f}" y="{yy + 15}">{_e(b.text)}</text>')
    out.append("</svg>")
    return "".join(out)


def _svg_open(label: str, w: int, h: int, kind: str) -> list[str]:
    return [
        f'<svg class="chart" data-chart="{kind}" role="img" aria-label="{_e(label)}" '
        f'viewBox="0 0 {w} {h}" width="{w}" height="{h}">'
        f"<title>{_e(label)}</title>"
    ]


# -- formatting -----------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _count(value: object) -> str:
    return f"{int(value):,}" if isinstance(value, (int, float)) else "0"


def _percent(value: object) -> str:
    return f"{float(value) * 100:.1f}%" if isinstance(value, (int, float)) else "n/a"


def _per_week(value: object) -> str:
    if not isinstance(value, (int, float)):
        return "n/a per week"
    return f"{value:.{2 if abs(value) < 1 else 1}f} per week"


def _by_value(counts: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    return sorted(((str(k), v) for k, v in counts.items()), key=lambda kv: (-(kv[1] or 0), kv[0]))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


_NICE_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)


def _nice_tick(span: float) -> float:
    """A tick step in round durations (1s .. 1 week, then whole weeks) giving at most 4 steps."""
    want = max(span, 1.0) / 4
    return float(next((t for t in _NICE_SECONDS if t >= want), math.ceil(want / 604800) * 604800))


def _nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (1 for nothing)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= value))
