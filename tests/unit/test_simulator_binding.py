"""The simulator binds query values as the server's .NET binder does (standins/ado_simulator/wire/binding.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from standins.ado_simulator.wire import binding
from standins.ado_simulator.wire.binding import BindingError, bind_bool, bind_date, bind_enum, bind_flags
from standins.ado_simulator.wire.wire import ApiError, Query


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


ACCEPTED_DATES = [
    # M/d/yyyy h:mm:ss tt: AM takes hours 0-12 (12 is midnight), PM takes 0-23
    ("6/14/2018 12:00:00 AM", _utc(2018, 6, 14, 0)),  # the 7.0 spec's own example
    ("01/01/2000 00:00:00 AM", _utc(2000, 1, 1, 0)),
    ("11/04/2024 14:00:00 PM", _utc(2024, 11, 4, 14)),
    ("11/04/2024 02:00:00 PM", _utc(2024, 11, 4, 14)),
    ("11/04/2024 12:30:00 PM", _utc(2024, 11, 4, 12, 30)),
    ("3/1/2024 9:05:07 am", _utc(2024, 3, 1, 9, 5, 7)),
    ("3/1/2024 9:05 PM", _utc(2024, 3, 1, 21, 5)),
    # M/d/yyyy and M/d/yyyy H:mm:ss
    ("3/1/2024", _utc(2024, 3, 1)),
    ("03/01/2024", _utc(2024, 3, 1)),
    ("3-1-2024", _utc(2024, 3, 1)),
    ("3/1/2024 23:59:59", _utc(2024, 3, 1, 23, 59, 59)),
    ("3/1/2024 7:00", _utc(2024, 3, 1, 7)),
    # RFC 1123 (JavaScript's Date.toUTCString, the Node.js client's form)
    ("Fri, 01 Mar 2024 00:00:00 GMT", _utc(2024, 3, 1)),
    ("Mon, 01 Jan 2024 13:14:15 GMT", _utc(2024, 1, 1, 13, 14, 15)),
    ("01 Mar 2024 00:00:00 GMT", _utc(2024, 3, 1)),
    # ISO 8601, with or without offset, up to 7 fractional digits
    ("2024-03-01", _utc(2024, 3, 1)),
    ("2024-03-01T10:00:00", _utc(2024, 3, 1, 10)),
    ("2024-03-01T10:00:00Z", _utc(2024, 3, 1, 10)),
    ("2024-03-01 10:00:00", _utc(2024, 3, 1, 10)),
    ("2024-03-01T10:00Z", _utc(2024, 3, 1, 10)),
    ("2024-03-01T10:00:00.5Z", _utc(2024, 3, 1, 10, 0, 0, 500000)),
    ("2024-03-01T10:00:00.1234567Z", _utc(2024, 3, 1, 10, 0, 0, 123456)),
    ("2024-03-01T10:00:00+02:00", _utc(2024, 3, 1, 8)),
    ("2024-03-01T10:00:00-0130", _utc(2024, 3, 1, 11, 30)),
    ("  2024-03-01T10:00:00Z  ", _utc(2024, 3, 1, 10)),
]

REFUSED_DATES = [
    "1/2/2024 13:00:00 AM",  # AM takes 0-12 only
    "1/2/2024 24:00:00 PM",
    "13/01/2024",  # month 13 (en-US reads M/d)
    "2/30/2024",
    "Sat, 01 Mar 2024 00:00:00 GMT",  # the day of week does not match
    "Fri, 01 Foo 2024 00:00:00 GMT",
    "2024-03-01T10:00:00.12345678Z",  # 8 fractional digits: below a tick
    "yesterday",
    "1709251200",
    "2024/03",
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED_DATES)
def test_dates_net_parses(text: str, expected: datetime) -> None:
    assert bind_date(text, "fromDate") == expected


@pytest.mark.parametrize("text", REFUSED_DATES)
def test_dates_net_refuses(text: str) -> None:
    with pytest.raises(BindingError):
        bind_date(text, "fromDate")


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("True", True), ("TRUE", True), (" true ", True),
                                                ("false", False), ("False", False), ("FALSE", False)])
def test_booleans_net_parses(text: str, expected: bool) -> None:
    assert bind_bool(text, "includeLinks") is expected


@pytest.mark.parametrize("text", ["1", "0", "yes", "no", "t", "on", "truee"])
def test_booleans_net_refuses(text: str) -> None:
    with pytest.raises(BindingError):
        bind_bool(text, "includeLinks")


ENUMS = [
    (binding.PULL_REQUEST_STATUS, "4", "all"),
    (binding.PULL_REQUEST_STATUS, "Completed", "completed"),
    (binding.PULL_REQUEST_STATUS, "ACTIVE", "active"),
    (binding.PULL_REQUEST_STATUS, "0", "notSet"),
    (binding.GIT_VERSION_TYPE, "0", "branch"),
    (binding.GIT_VERSION_TYPE, "2", "commit"),
    (binding.GIT_VERSION_TYPE, "Tag", "tag"),
    (binding.WORK_ITEM_EXPAND, "1", "relations"),
    (binding.WORK_ITEM_EXPAND, "4", "all"),
    (binding.WORK_ITEM_EXPAND, "fields", "fields"),
    (binding.BUILD_QUERY_ORDER, "4", "queueTimeDescending"),
    (binding.BUILD_QUERY_ORDER, "finishtimeascending", "finishTimeAscending"),
    (binding.RELEASE_QUERY_ORDER, "1", "ascending"),
    (binding.PROJECT_STATE, "-1", "all"),
    (binding.QUERY_DELETED_OPTION, "2", "onlyDeleted"),
]


@pytest.mark.parametrize(("enum", "text", "expected"), ENUMS)
def test_enums_by_name_or_number(enum: binding.DotNetEnum, text: str, expected: str) -> None:
    assert bind_enum(text, enum, "p") == expected


@pytest.mark.parametrize(("enum", "text"), [(binding.PULL_REQUEST_STATUS, "5"), (binding.PULL_REQUEST_STATUS, "open"),
                                            (binding.GIT_VERSION_TYPE, "sha"), (binding.WORK_ITEM_EXPAND, "-1"),
                                            (binding.BUILD_QUERY_ORDER, "1")])
def test_enums_refused(enum: binding.DotNetEnum, text: str) -> None:
    with pytest.raises(BindingError):
        bind_enum(text, enum, "p")


FLAGS = [
    (binding.BUILD_STATUS, "completed", {"completed"}),
    (binding.BUILD_STATUS, "2", {"completed"}),
    (binding.BUILD_STATUS, "3", {"inProgress", "completed"}),
    (binding.BUILD_STATUS, "inProgress, NotStarted", {"inProgress", "notStarted"}),
    (binding.BUILD_STATUS, "47", {"all"}),
    (binding.BUILD_RESULT, "10", {"succeeded", "failed"}),
    (binding.BUILD_REASON, "256", {"pullRequest"}),
    (binding.DEPLOYMENT_STATUS, "20", {"succeeded", "failed"}),
    (binding.RELEASE_EXPANDS, "6", {"environments", "artifacts"}),
]


@pytest.mark.parametrize(("enum", "text", "expected"), FLAGS)
def test_flag_enums(enum: binding.DotNetEnum, text: str, expected: set[str]) -> None:
    assert bind_flags(text, enum, "p") == expected


@pytest.mark.parametrize(("enum", "text"), [(binding.BUILD_STATUS, "16"), (binding.BUILD_RESULT, "1"),
                                            (binding.BUILD_STATUS, "done")])
def test_flag_enums_refused(enum: binding.DotNetEnum, text: str) -> None:
    with pytest.raises(BindingError):
        bind_flags(text, enum, "p")


def test_query_refusals_are_wrapped_exceptions() -> None:
    query = Query("searchCriteria.fromDate=01/01/2000+13:00:00+AM&includeLinks=1&searchCriteria.status=9")
    for read in (lambda: query.get_date("searchCriteria.fromDate"), lambda: query.get_bool("includeLinks"),
                 lambda: query.get_enum(binding.PULL_REQUEST_STATUS, "searchCriteria.status")):
        with pytest.raises(ApiError) as caught:
            read()
        response = caught.value.response()
        body = json.loads(response.body)
        assert response.status == 400 and response.content_type.startswith("application/json")
        assert body["typeKey"] == "ArgumentException" and body["message"].startswith("The value '")
        assert {"$id", "innerException", "message", "typeName", "typeKey", "errorCode", "eventId"} <= set(body)


def test_query_accessors() -> None:
    query = Query("fromDate=Fri%2C+01+Mar+2024+00%3A00%3A00+GMT&flag=False&status=4&statusFilter=3&empty=")
    assert query.get_date("searchCriteria.fromDate", "fromDate") == int(_utc(2024, 3, 1).timestamp())
    assert query.get_bool("flag", default=True) is False and query.get_bool("empty", default=True) is True
    assert query.get_enum(binding.PULL_REQUEST_STATUS, "status") == "all"
    assert query.get_enum(binding.PULL_REQUEST_STATUS, "missing", default="active") == "active"
    assert query.get_flags(binding.BUILD_STATUS, "statusFilter") == {"inProgress", "completed"}
    assert query.get_flags(binding.BUILD_STATUS, "missing") == frozenset()
