"""``log.file``: every event also goes to a local file as a JSON line, redacted, rotated by size."""

from __future__ import annotations

import io
import json
import logging

import structlog

from satellite.config.model import LogSettings
from satellite.log import close_log_file, configure_logging, log_to_file
from satellite.secret import Secret


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_events_go_to_the_file_as_json_redacted_whatever_the_stream_shows(tmp_path):
    secret = Secret("CANARY-logfile-secret-1234")
    out = io.StringIO()
    configure_logging("info", json_output=False, stream=out)
    settings = LogSettings(file=tmp_path / "logs" / "satellite.log")
    try:
        assert log_to_file(settings)
        structlog.get_logger("t").info("hello", token="abc", detail=f"value {secret.reveal()} here", n=3)
        structlog.get_logger("t").debug("not at info")
        logging.getLogger("thirdparty").warning("library says %s", secret.reveal())
    finally:
        close_log_file()
    events = _lines(settings.file)
    assert [e["event"] for e in events] == ["hello", "library says ***"]
    assert events[0]["token"] == "***" and events[0]["detail"] == "value *** here" and events[0]["n"] == 3
    assert events[0]["level"] == "info" and "timestamp" in events[0]
    assert "CANARY-logfile" not in settings.file.read_text() and "hello" in out.getvalue()


def test_the_file_rotates_by_size_keeping_backups(tmp_path):
    configure_logging("info", json_output=True, stream=io.StringIO())
    settings = LogSettings(file=tmp_path / "satellite.log", max_bytes=64 * 1024, backups=2)
    try:
        log_to_file(settings)
        for i in range(2000):
            structlog.get_logger("t").info("filler", i=i, pad="x" * 100)
    finally:
        close_log_file()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["satellite.log", "satellite.log.1", "satellite.log.2"]
    assert all(p.stat().st_size <= 64 * 1024 for p in tmp_path.iterdir())
    assert {p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {0o600}
    assert _lines(tmp_path / "satellite.log")[-1]["i"] == 1999


def test_no_file_configured_or_unusable_is_no_file(tmp_path):
    out = io.StringIO()
    configure_logging("info", json_output=True, stream=out)
    assert not log_to_file(LogSettings())
    (tmp_path / "blocker").write_text("a file, not a directory")
    assert not log_to_file(LogSettings(file=tmp_path / "blocker" / "satellite.log"))
    assert "log_file_unusable" in out.getvalue()
    structlog.get_logger("t").info("still logs")
    assert "still logs" in out.getvalue()
