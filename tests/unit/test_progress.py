import io

import structlog

from satellite.streams.base import Record
from satellite.sync.progress import Progress
from tests.support import wait_until


def record(t: str) -> Record:
    return Record(t, "k", "upsert", "2026-01-01T00:00:00Z", {})


def test_progress_logs_each_busy_stream_and_draws_a_line_on_a_terminal():
    terminal = io.StringIO()
    with structlog.testing.capture_logs() as logs:
        with Progress(interval=0.05, terminal=terminal) as progress:
            for _ in range(30):
                progress.record(record("git.commit"))
            progress.record(record("wit.work_item_revision"))
            wait_until(lambda: {"git.commit", "wit.work_item_revision"} <= {l.get("record_type") for l in logs}
                       and "31 records" in terminal.getvalue(), 10, "a progress line per stream and the line drawn")
    events = [l for l in logs if l["event"] == "stream_progress"]
    assert {e["record_type"]: e["records"] for e in events} == {"git.commit": 30, "wit.work_item_revision": 1}
    assert "31 records" in terminal.getvalue() and "git.commit 30" in terminal.getvalue()
