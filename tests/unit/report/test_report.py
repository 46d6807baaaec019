"""The whole report from a real receiver store: the JSON shape, the metric ids, the heartbeat's server
versions, the injectable clock, and ``satellite receiver report``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from satellite.sealing.batch_format import BatchHeader, OpenedBatch
from standins.sei_receiver.command import main as receiver_main
from standins.sei_receiver.report import METRIC_IDS, build_report
from standins.sei_receiver.report.records import api_versions_of
from standins.sei_receiver.storage import ReceiverStorage
from tests.support import FakeClock
from tests.unit.report.records import build, timeline


def store(storage: ReceiverStorage, batch_id: str, *records) -> None:
    header = BatchHeader(batch_id=batch_id, satellite_id="sat", tenant="t", integration_id="i", service="pipelines",
                         stream="build.builds", seq=1, schema_version=1, created_at="2024-02-01T00:00:00Z",
                         record_count=len(records), cursor_from=None, cursor_to=None, recipient_key_id="r",
                         signer_key_id="s")
    rows = tuple({"type": r.type, "key": r.key, "op": "upsert", "observed_at": "2024-02-01T00:00:00Z", "data": dict(r.data)}
                 for r in records)
    assert storage.store_batch(OpenedBatch(header, rows))


def stored(tmp_path):
    clock = FakeClock(datetime(2024, 2, 1, tzinfo=UTC).timestamp())
    storage = ReceiverStorage(tmp_path / "receiver", clock=clock)
    store(storage, "b1", build(1, start="2024-01-08T10:00:00Z", finish="2024-01-08T10:10:00Z",
                                changed="2024-01-08T10:10:00Z"))
    clock.now += 3600
    store(storage, "b2", build(2, start="2024-02-01T00:10:00Z", finish="2024-02-01T00:20:00Z", changed="2024-02-01T00:30:00Z"),
          timeline(2, "j", "Job", "Build", start="2024-02-01T00:10:00Z", finish="2024-02-01T00:19:00Z"))
    storage.store_heartbeat("sat", {"satellite_id": "sat", "integrations": [{"id": "i", "api_version": "7.0"},
                                                                             {"id": "j", "api_version": "5.0"}]})
    return storage


def test_the_report_reads_the_store_and_its_clock(tmp_path):
    storage = stored(tmp_path)
    now = datetime(2024, 3, 1, tzinfo=UTC)
    report = build_report(storage, now=now)
    storage.close()
    document = report.to_json()
    assert document["generated_at"] == "2024-03-01T00:00:00Z"
    assert document["server"] == {"api_versions": ["5.0", "7.0"]}
    assert list(document["metrics"]) == list(METRIC_IDS)
    for metric in document["metrics"].values():
        assert set(metric) == {"title", "unit", "available", "reason", "summary", "groups", "weekly", "counts", "skipped"}
        assert set(metric["summary"]) == {"count", "p50", "p90", "value"}
        assert metric["unit"] in ("seconds", "ratio", "count", "per_week")
    assert document["metrics"]["pipeline_duration"]["summary"] == {"count": 2, "p50": 600, "p90": 600, "value": None}
    assert document["metrics"]["job_duration"]["groups"][0]["name"] == "web CI / Build"
    # build 2 changed 30 min after the first batch and arrived with the batch an hour after it
    assert document["metrics"]["freshness_build"]["summary"] == {"count": 1, "p50": 1800, "p90": 1800, "value": None}
    assert "api-version 5.0" in document["metrics"]["lead_time"]["reason"]
    assert build_report(tmp_path / "receiver", now=now).to_json() == document  # a data dir alike
    json.dumps(document)


def test_api_versions_come_from_heartbeats_that_name_them():
    assert api_versions_of([{"integrations": [{"api_version": "7.1"}, {"api_version": "6.0"}, {}]}, {"satellite_id": "x"},
                            {"integrations": "bad"}, {"integrations": [{"api_version": "10.0"}]}]) == ("6.0", "7.1", "10.0")


def test_the_report_command_prints_a_table_or_json(tmp_path, capsys):
    stored(tmp_path).close()
    assert receiver_main(["report", "--data-dir", str(tmp_path / "receiver")]) == 0
    table = capsys.readouterr().out
    assert "== Pipeline duration [pipeline_duration]" in table and "2 samples, p50 10m0s" in table
    assert "not available on this server version" in table
    assert receiver_main(["report", "--data-dir", str(tmp_path / "receiver"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["queue_time"]["unit"] == "seconds"


def test_the_report_command_without_a_database_exits_2(tmp_path, capsys):
    assert receiver_main(["report", "--data-dir", str(tmp_path / "nothing")]) == 2
    assert "no receiver database" in capsys.readouterr().err


def test_the_report_command_writes_the_html_page(tmp_path, capsys):
    stored(tmp_path).close()
    page = tmp_path / "report.html"
    assert receiver_main(["report", "--data-dir", str(tmp_path / "receiver"), "--html", str(page)]) == 0
    assert "<html" in page.read_text(encoding="utf-8").lower() and "wrote" in capsys.readouterr().err


def test_without_the_html_module_the_report_command_exits_2(tmp_path, capsys, monkeypatch):
    import sys

    stored(tmp_path).close()
    monkeypatch.setitem(sys.modules, "standins.sei_receiver.report.html", None)  # import raises ImportError
    assert receiver_main(["report", "--data-dir", str(tmp_path / "receiver"), "--html", str(tmp_path / "x.html")]) == 2
    assert "HTML page is not available" in capsys.readouterr().err and not (tmp_path / "x.html").exists()


def test_a_summary_line_per_metric():
    from standins.sei_receiver.report.model import Summary, unavailable
    from standins.sei_receiver.report.text import summary_line

    metric = unavailable("lead_time", "Lead time", "seconds", "not available on this server version (api-version 5.0)")
    assert summary_line(metric) == "not available on this server version (api-version 5.0)"
    from dataclasses import replace

    timed = replace(metric, available=True, reason=None, summary=Summary(1204, 192, 7800))
    assert summary_line(timed) == "1,204 samples, p50 3m12s, p90 2h10m"
