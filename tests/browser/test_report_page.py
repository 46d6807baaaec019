"""The HTML report in a real headless Chromium: it renders, every available metric's chart has
data, unavailable metrics say why, nothing is loaded from anywhere, no console error; a
screenshot of the whole page is kept as an artefact."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from standins.sei_receiver.report.html import render_html
from tests.browser.samples import DEPLOYMENT_METRICS, fixture_report, without_deployments

HOSTILE = "<script>alert(1)</script>"

# What the page shows, read from the DOM as laid out (geometry, not just markup).
INSPECT = """(() => {
  const finite = (r) => [r.x, r.y, r.width, r.height].every(Number.isFinite);
  return {
    title: document.title,
    h1: document.querySelector('h1')?.textContent ?? '',
    meta: document.querySelector('header .meta')?.textContent ?? '',
    scripts: document.scripts.length,
    pwned: typeof window.__pwned !== 'undefined',
    cells: [...document.querySelectorAll('td')].map((td) => td.textContent),
    sections: [...document.querySelectorAll('section[data-metric]')].map((s) => {
      const svgs = [...s.querySelectorAll('svg.chart')];
      const box = svgs[0]?.getBoundingClientRect();
      const marks = [...s.querySelectorAll('svg.chart .mark')];
      return {
        id: s.dataset.metric,
        available: s.dataset.available,
        heading: s.querySelector('h3')?.textContent ?? '',
        summary: s.querySelector('.summary')?.textContent ?? '',
        reason: s.querySelector('[data-reason]')?.textContent ?? null,
        note: s.querySelector('[data-note]')?.textContent ?? null,
        empty: s.querySelector('[data-empty]') !== null,
        svgs: svgs.length,
        role: svgs[0]?.getAttribute('role') ?? null,
        label: svgs[0]?.getAttribute('aria-label') ?? null,
        width: box ? box.width : 0,
        height: box ? box.height : 0,
        marks: marks.length,
        drawn: marks.filter((m) => { const b = m.getBBox(); return finite(b) && (b.width > 0 || b.height > 0); }).length,
      };
    }),
  };
})()"""


@dataclass(frozen=True)
class Shown:
    facts: dict[str, Any]
    errors: list[str]
    requests: list[str]
    dialogs: int
    url: str


def show(browser, report: dict[str, Any], html_path: Path, screenshot: Path) -> Shown:
    """Renders ``report`` to ``html_path``, then ``inspect``s it."""
    html_path.write_text(render_html(report), encoding="utf-8")
    return inspect(browser, html_path, screenshot)


def inspect(browser, html_path: Path, screenshot: Path) -> Shown:
    """Opens ``html_path`` from a file:// URL in a new tab, reads it, screenshots it, closes the tab."""
    page = browser.new_page()
    try:
        url = html_path.resolve().as_uri()
        page.navigate(url)
        facts = page.evaluate(INSPECT)
        page.screenshot(screenshot)
        return Shown(facts, page.errors(), page.requests(), len(page.events("Page.javascriptDialogOpening")), url)
    finally:
        page.close()


def check(shown: Shown, report: dict[str, Any]) -> None:
    """What every rendered report must satisfy in the browser."""
    assert shown.errors == [], shown.errors
    assert shown.requests == [shown.url], f"the page loaded more than itself: {shown.requests}"
    assert shown.dialogs == 0 and not shown.facts["pwned"] and shown.facts["scripts"] == 0
    facts = shown.facts
    assert "receiver report" in facts["h1"]
    assert report["generated_at"] in facts["meta"] and report["generated_at"] in facts["title"]
    for version in report["server"]["api_versions"]:
        assert version in facts["meta"]
    sections = {s["id"]: s for s in facts["sections"]}
    assert sorted(sections) == sorted(report["metrics"]), "one section per metric"
    for mid, metric in report["metrics"].items():
        s = sections[mid]
        assert s["heading"] == metric["title"]
        if not metric["available"]:
            assert s["available"] == "false" and s["svgs"] == 0 and s["marks"] == 0, s
            assert s["reason"] == metric["reason"] and "not available on this server version" in s["reason"], s
            assert s["summary"] == "", f"{mid}: an unavailable metric shows no numbers: {s}"
            continue
        assert s["available"] == "true" and s["reason"] is None and s["note"] == metric.get("reason"), s
        if not (metric["weekly"] or metric["groups"] or metric["counts"]):
            assert s["svgs"] == 0 and s["empty"], f"{mid}: no samples, said so: {s}"
            continue
        assert s["svgs"] == 1 and s["role"] == "img" and s["label"].startswith(metric["title"]), s
        assert s["width"] > 300 and s["height"] > 20, f"{mid}: the chart is not laid out: {s}"
        assert s["marks"] > 0 and s["drawn"] == s["marks"], f"{mid}: a chart without data: {s}"
        assert f"{metric['summary']['count']:,}" in s["summary"], s


def test_report_page_renders_every_chart_in_headless_chromium(browser, artifact):
    report = fixture_report()
    shown = show(browser, report, artifact("report_2019.html"), artifact("report_2019.png"))
    check(shown, report)
    sections = {s["id"]: s for s in shown.facts["sections"]}
    metrics = report["metrics"]
    # The chart kinds the data asks for: one point per week with a median; columns of weekly
    # deployments (zero weeks included); bars of the stage results (reruns and attempts aside).
    assert sections["pipeline_duration"]["marks"] == len(metrics["pipeline_duration"]["weekly"])
    assert sections["job_duration"]["marks"] == 10, "weeks without samples are not drawn as zero"
    assert sections["deployment_frequency"]["marks"] == 12
    assert sections["stage_status"]["marks"] == len(metrics["stage_status"]["counts"]) - 2
    assert sections["change_failure_rate"]["marks"] == 4
    assert f"rate {metrics['change_failure_rate']['summary']['value'] * 100:.1f}%" in sections["change_failure_rate"]["summary"]
    assert sections["freshness_work_item"]["marks"] == 1, "no weekly data: the groups are the chart"
    assert all(sections[mid]["note"].startswith("YAML environments: not available") for mid in DEPLOYMENT_METRICS)
    assert HOSTILE in shown.facts["cells"], "a hostile pipeline name is shown as text"
    assert 'payments "v2" & co' in shown.facts["cells"]
    assert artifact("report_2019.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_page_says_why_a_metric_is_not_available(browser, artifact):
    report = without_deployments(fixture_report())
    shown = show(browser, report, artifact("report_unavailable.html"), artifact("report_unavailable.png"))
    check(shown, report)
    assert sorted(s["id"] for s in shown.facts["sections"] if s["available"] == "false") == sorted(DEPLOYMENT_METRICS)


def test_report_page_without_data_renders_without_errors(browser, artifact, tmp_path):
    """A receiver that holds nothing yet: every metric available, no samples, no chart, no error."""
    ids = fixture_report()["metrics"]
    report = {
        "generated_at": "2024-03-22T09:41:07Z",
        "server": {"api_versions": ["7.0", "7.1"]},
        "metrics": {
            mid: {"title": m["title"], "unit": m["unit"], "available": True, "reason": None,
                  "summary": {"count": 0, "p50": None, "p90": None, "value": None},
                  "groups": [], "weekly": [], "counts": {}}
            for mid, m in ids.items()
        },
    }
    shown = show(browser, report, tmp_path / "empty.html", tmp_path / "empty.png")
    assert shown.errors == [] and shown.requests == [shown.url]
    assert all(s["svgs"] == 0 and s["available"] == "true" for s in shown.facts["sections"])
    assert "7.0, 7.1" in shown.facts["meta"]


def test_the_harness_sees_errors_and_loads(browser, tmp_path):
    """The checks above can fail: a thrown error, a console error and a load are all seen."""
    page_file = tmp_path / "broken.html"
    page_file.write_text(
        "<!DOCTYPE html><title>broken</title><img src='http://127.0.0.1:9/x.png'>"
        "<script>console.error('boom'); undefined_function();</script>",
        encoding="utf-8",
    )
    page = browser.new_page()
    try:
        page.navigate(page_file.as_uri())
        errors, requests = page.errors(), page.requests()
    finally:
        page.close()
    assert any("boom" in e for e in errors) and any("undefined_function" in e for e in errors), errors
    assert "http://127.0.0.1:9/x.png" in requests, requests


@pytest.fixture(scope="module", autouse=True)
def _browser_version(browser):
    assert "Chrome/" in browser.version()
