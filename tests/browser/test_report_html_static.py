"""The HTML report without a browser: self-contained (no URL anywhere), every string from the
server escaped, human durations and rates, unavailable metrics say why (never zero)."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser

import pytest

from standins.sei_receiver.report.html import human_duration, render_html
from tests.browser.samples import DEPLOYMENT_METRICS, fixture_report, without_deployments

HOSTILE = "<script>alert(1)</script>"
BREAKOUT = "\"'><svg onload=alert(2)>&amp;"


@pytest.fixture
def report() -> dict:
    return fixture_report()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


def test_the_page_names_no_url_at_all(report):
    page = render_html(report)
    assert "://" not in page
    assert "@import" not in page and "url(" not in page and "@font-face" not in page
    tags = parse(page).tags
    assert not [t for t, a in tags if t in ("script", "link", "img", "iframe", "object", "embed", "base")]
    assert not [(t, a) for t, a in tags if {"src", "href", "srcset", "xlink:href", "action"} & set(a)]
    csp = [a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0] and "script-src" not in csp[0]


def test_names_from_the_server_are_escaped_everywhere(report):
    hostile = copy.deepcopy(report)
    hostile["generated_at"] = BREAKOUT
    hostile["server"]["api_versions"] = [HOSTILE]
    metric = hostile["metrics"]["pipeline_duration"]
    metric["title"] = BREAKOUT
    metric["groups"][0]["name"] = HOSTILE
    metric["weekly"][0]["week"] = HOSTILE
    hostile["metrics"]["stage_status"]["counts"][HOSTILE] = 3
    hostile["metrics"]["lead_time"]["reason"] = "not available on this server version " + HOSTILE
    hostile["metrics"][BREAKOUT] = copy.deepcopy(hostile["metrics"]["queue_time"])  # an unknown id
    page = render_html(hostile)
    assert HOSTILE not in page and "<svg onload" not in page
    parsed = parse(page)
    assert not [t for t, _ in parsed.tags if t == "script"]
    assert not [(t, a) for t, a in parsed.tags if any(k.startswith("on") for k in a)]
    assert [a for t, a in parsed.tags if a.get("data-metric") == BREAKOUT], "an unknown metric id kept as it is"
    text = "".join(parsed.text)
    assert text.count(HOSTILE) >= 4 and BREAKOUT in text, "shown as the text it is"


def test_summaries_are_human(report):
    page = render_html(report)
    assert [human_duration(s) for s in (0, 45, 192, 3600, 3660, 187200, -35, None)] == [
        "0s", "45s", "3m12s", "1h", "1h1m", "2d4h", "-35s", "n/a"]
    rate = copy.deepcopy(report)
    rate["metrics"]["change_failure_rate"].update(
        available=True, reason=None, summary={"count": 40, "p50": None, "p90": None, "value": 0.125},
        counts={"succeeded": 30, "partiallySucceeded": 5, "failed": 5})
    rate["metrics"]["deployment_frequency"].update(
        available=True, reason=None, summary={"count": 35, "p50": None, "p90": None, "value": 2.9166},
        weekly=[{"week": "2024-W01", "count": 3, "p50": None}, {"week": "2024-W02", "count": 0, "p50": None}])
    page = render_html(rate)
    assert "rate <b>12.5%</b>" in page and "<b>2.9 per week</b>" in page
    assert page.count('class="mark bar"') > 0
    assert f"<b>{report['metrics']['pipeline_duration']['summary']['count']:,}</b> samples" in page


def test_an_unavailable_metric_shows_its_reason_never_zero(report):
    page = render_html(without_deployments(report))
    sections = re.findall(r'<section class="metric"[^>]*data-metric="([^"]+)"[^>]*>(.*?)</section>', page, re.S)
    unavailable = {mid: body for mid, body in sections if 'data-available="false"' in page.split(f'data-metric="{mid}"')[1][:40]}
    assert sorted(unavailable) == sorted(DEPLOYMENT_METRICS)
    for body in unavailable.values():
        assert "not available on this server version" in body
        assert "<svg" not in body and "samples" not in body and not re.search(r">\s*0\s*<|0s|0\.0%", body)
    gone = without_deployments(report)
    gone["metrics"]["lead_time"]["reason"] = None
    assert "not available on this server version" in render_html(gone).split('data-metric="lead_time"')[1]


def test_an_available_metric_with_a_missing_part_shows_it_as_a_note(report):
    page = render_html(report)
    lead = page.split('data-metric="lead_time"')[1].split("</section>")[0]
    assert "<svg" in lead and '<p class="note" data-note>YAML environments: not available' in lead
    assert "3 records lacking a field skipped" in page.split('data-metric="job_duration"')[1].split("</section>")[0]


def test_a_partial_report_still_renders():
    assert "unknown" in render_html({})
    page = render_html({"generated_at": "2024-01-01T00:00:00Z", "metrics": {"x": {"available": True}}})
    assert 'data-metric="x"' in page and "no samples yet" in page
