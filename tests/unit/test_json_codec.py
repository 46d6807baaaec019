"""json_codec: orjson where it can, the standard module where orjson refuses, the same JSON either way."""

from __future__ import annotations

import json

import pytest

from satellite import json_codec
from satellite.streams.base import content_hash

VALUES = [
    {"b": 1, "a": [1, 2.5, None, True], "ü": "naïve ☃", "nested": {"z": {}, "y": []}},
    {"big": 2**70, "neg": -(2**65)},  # beyond 64 bits: orjson refuses, the fallback does not
]


@pytest.mark.parametrize("value", VALUES)
def test_dumps_writes_what_the_standard_module_writes_compactly(value):
    assert json.loads(json_codec.dumps(value)) == value
    assert json_codec.dumps(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def test_dumps_writes_non_finite_floats_as_null_which_any_json_parser_reads():
    assert json_codec.dumps([float("nan"), float("inf"), 1.5]) == b"[null,null,1.5]"


def test_canonical_ignores_key_order_and_content_hash_follows():
    assert json_codec.canonical({"b": 1, "a": 2}) == json_codec.canonical({"a": 2, "b": 1}) == b'{"a":2,"b":1}'
    assert content_hash({"b": 1, "a": 2}) == content_hash({"a": 2, "b": 1}) != content_hash({"a": 2, "b": 2})


def test_loads_takes_what_the_standard_module_takes():
    assert json_codec.loads(b'{"a": 9223372036854775807, "b": -9223372036854775808}') == {"a": 2**63 - 1, "b": -(2**63)}
    assert json.dumps(json_codec.loads("[NaN, Infinity]")) == "[NaN, Infinity]"
    assert json_codec.loads("\ufeff[1]".encode("utf-8")) == [1]  # a byte order mark, as IIS may send
    assert json_codec.loads(json.dumps({"x": "é"}).encode("utf-16")) == {"x": "é"}


@pytest.mark.parametrize("garbage", [b"<html>", b'{"a": 1', b"", b"\xff\xfe\x00"])
def test_loads_raises_value_error_on_garbage(garbage):
    with pytest.raises(ValueError):
        json_codec.loads(garbage)
