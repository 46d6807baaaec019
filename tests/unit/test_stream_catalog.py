from pathlib import Path

from satellite.streams import STREAMS, Scope
from satellite.streams.catalog import update_document

DOC = Path(__file__).resolve().parents[2] / "docs" / "streams.md"


def test_docs_table_matches_the_declarations():
    text = DOC.read_text()
    assert update_document(text) == text, "run: python -m satellite.streams.catalog docs/streams.md"


def test_every_stream_is_fully_declared_and_unique():
    names = [s.name for s in STREAMS]
    assert len(names) == len(set(names))
    for stream in STREAMS:
        assert stream.record_type and stream.key_format and stream.service and isinstance(stream.scope, Scope)
        assert stream.min_version in ("5.0", "6.0", "7.0", "7.1")
