""".NET-style binding of query-string values: dates, booleans and enums as Azure DevOps Server reads them.

The server binds query parameters with .NET's parsers (``DateTime.Parse``, ``Boolean.Parse``,
``Enum.Parse``), so it accepts more than the forms the REST docs show:

- dates: ``M/d/yyyy`` (or ``M-d-yyyy``), ``M/d/yyyy H:mm[:ss]``, ``M/d/yyyy h:mm[:ss] tt`` (en-US; with ``AM`` the hour is
  0-12, 12 meaning midnight; with ``PM`` 0-23, below 12 adding 12, as ``DateTime.Parse`` does), RFC 1123
  (``Fri, 01 Mar 2024 00:00:00 GMT``; the day name must match the date), ISO 8601 with ``T`` or a
  space, with or without ``Z``/offset, up to 7 fractional digits (one .NET tick). No zone means the
  server's local time, which the simulator takes as UTC.
- booleans: ``true``/``false`` in any case, surrounding blanks allowed; nothing else (not ``1``/``yes``).
- enums: a member name in any case or the member's number; flag enums also a comma list of names, or a
  number whose bits are members.

What it refuses raises ``BindingError``; ``Query`` (wire.py) turns it into the 400 WrappedException body
with the ASP.NET model-binding message ``The value '<raw>' is not valid for <parameter>.``
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

__all__ = [
    "BindingError",
    "DotNetEnum",
    "bind_date",
    "bind_bool",
    "bind_enum",
    "bind_flags",
    "PULL_REQUEST_STATUS",
    "PULL_REQUEST_TIME_RANGE_TYPE",
    "GIT_VERSION_TYPE",
    "WORK_ITEM_EXPAND",
    "REPORTING_REVISIONS_EXPAND",
    "BUILD_STATUS",
    "BUILD_RESULT",
    "BUILD_REASON",
    "BUILD_QUERY_ORDER",
    "QUERY_DELETED_OPTION",
    "DEFINITION_QUERY_ORDER",
    "RELEASE_QUERY_ORDER",
    "RELEASE_STATUS",
    "RELEASE_EXPANDS",
    "RELEASE_DEFINITION_QUERY_ORDER",
    "DEPLOYMENT_STATUS",
    "DEPLOYMENT_OPERATION_STATUS",
    "PROJECT_STATE",
]


class BindingError(ValueError):
    """A value the server's binder refuses (a 400 on the wire)."""

    def __init__(self, raw: str, parameter: str) -> None:
        super().__init__(f"The value '{raw}' is not valid for {parameter}.")
        self.raw = raw
        self.parameter = parameter


# -- dates ---------------------------------------------------------------------------------

_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_US = re.compile(
    r"^(?P<month>\d{1,2})(?P<sep>[/-])(?P<day>\d{1,2})(?P=sep)(?P<year>\d{4})"
    r"(?:\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,7}))?)?"
    r"(?:\s*(?P<ampm>[AaPp][Mm]))?)?$"
)
_RFC1123 = re.compile(
    r"^(?:(?P<dayname>[A-Za-z]{3}),\s*)?(?P<day>\d{1,2})\s+(?P<month>[A-Za-z]{3})\s+(?P<year>\d{4})"
    r"\s+(?P<hour>\d{1,2}):(?P<minute>\d{2}):(?P<second>\d{2})\s+(?P<zone>GMT|UTC|Z)$",
    re.IGNORECASE,
)
_ISO = re.compile(
    r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?:[Tt ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,7}))?)?"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?)?$"
)


def _fraction(text: str | None) -> int:
    """Microseconds of a 1-7 digit fraction (the 7th digit, below a microsecond, is dropped)."""
    return int((text or "").ljust(7, "0")[:6]) if text else 0


def _zone(text: str | None) -> timezone:
    if not text or text.upper() in ("Z", "GMT", "UTC"):
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _twelve_hour(hour: int, ampm: str | None) -> int | None:
    """The 24-hour value, or None where .NET refuses: AM takes 0-12 (12 is midnight); PM takes 0-23."""
    if ampm is None:
        return hour if hour <= 23 else None
    if ampm.upper() == "AM":
        return None if hour > 12 else hour % 12
    if hour > 23:
        return None
    return hour + 12 if hour < 12 else hour


def _moment(text: str) -> datetime | None:
    match = _US.match(text)
    if match:
        hour = _twelve_hour(int(match["hour"] or 0), match["ampm"])
        if hour is None:
            return None
        return datetime(int(match["year"]), int(match["month"]), int(match["day"]), hour, int(match["minute"] or 0),
                        int(match["second"] or 0), _fraction(match["fraction"]), timezone.utc)
    match = _RFC1123.match(text)
    if match:
        month = _MONTHS.get(match["month"].lower())
        if month is None:
            return None
        moment = datetime(int(match["year"]), month, int(match["day"]), int(match["hour"]), int(match["minute"]),
                          int(match["second"]), tzinfo=timezone.utc)
        dayname = match["dayname"]
        if dayname is not None and _DAYS[moment.weekday()] != dayname.lower():
            return None  # "the day of week was incorrect"
        return moment
    match = _ISO.match(text)
    if match:
        return datetime(int(match["year"]), int(match["month"]), int(match["day"]), int(match["hour"] or 0),
                        int(match["minute"] or 0), int(match["second"] or 0), _fraction(match["fraction"]),
                        _zone(match["zone"]))
    return None


def bind_date(raw: str, parameter: str) -> datetime:
    """The instant (UTC) ``DateTime.Parse`` reads from ``raw``."""
    try:
        moment = _moment(raw.strip())
    except ValueError:  # out-of-range month, day, hour...
        moment = None
    if moment is None:
        raise BindingError(raw, parameter)
    return moment.astimezone(timezone.utc)


# -- booleans ------------------------------------------------------------------------------


def bind_bool(raw: str, parameter: str) -> bool:
    """``Boolean.Parse``: ``true``/``false`` in any case, blanks around allowed."""
    text = raw.strip().lower()
    if text == "true":
        return True
    if text == "false":
        return False
    raise BindingError(raw, parameter)


# -- enums ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DotNetEnum:
    """A server enum: member names (as the specs spell them) and their numbers; ``flags`` for [Flags] enums."""

    name: str
    members: tuple[tuple[str, int], ...]
    flags: bool = False

    def by_name(self, text: str) -> str | None:
        low = text.lower()
        return next((name for name, _ in self.members if name.lower() == low), None)

    def by_number(self, number: int) -> str | None:
        return next((name for name, value in self.members if value == number), None)

    def singles(self, names: frozenset[str]) -> frozenset[str]:
        """``names`` with each composite member (``all``, ``triggered``) replaced by its single-bit members."""
        values = dict(self.members)
        out: set[str] = set()
        for name in names:
            value = values[name]
            if value & (value - 1) == 0:
                out.add(name)
            else:
                out |= {n for n, v in self.members if v and v & (v - 1) == 0 and value & v == v}
        return frozenset(out)

    def decompose(self, number: int) -> frozenset[str] | None:
        """The single-bit members whose union is ``number`` (flag enums); None when bits are left over."""
        if number == 0:
            zero = self.by_number(0)
            return frozenset((zero,)) if zero else frozenset()
        names = {name for name, value in self.members if value and value & (value - 1) == 0 and number & value}
        covered = 0
        for name, value in self.members:
            if name in names:
                covered |= value
        return frozenset(names) if covered == number else None


def _number(text: str) -> int | None:
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else None


def bind_enum(raw: str, enum: DotNetEnum, parameter: str) -> str:
    """``Enum.Parse(ignoreCase: true)`` of a single value: the member's name as the spec spells it."""
    text = raw.strip()
    number = _number(text)
    name = enum.by_number(number) if number is not None else enum.by_name(text)
    if name is None:
        raise BindingError(raw, parameter)
    return name


def bind_flags(raw: str, enum: DotNetEnum, parameter: str) -> frozenset[str]:
    """A [Flags] value: comma-separated names and/or numbers; a number stands for its member bits.
    A composite member (``all``) is returned as itself; callers decide what it admits."""
    names: set[str] = set()
    for part in raw.split(","):
        text = part.strip()
        if not text:
            continue
        number = _number(text)
        if number is None:
            name = enum.by_name(text)
            if name is None:
                raise BindingError(raw, parameter)
            names.add(name)
            continue
        exact = enum.by_number(number)
        found = frozenset((exact,)) if exact is not None else enum.decompose(number)
        if found is None:
            raise BindingError(raw, parameter)
        names |= found
    return frozenset(names)


# Member numbers: the REST specs list only names (in declaration order); the numbers are those of the
# server's contracts as Microsoft's generated clients carry them (azure-devops-node-api interfaces/*.ts,
# azure-devops-python-api models). Non-flag enums whose numbers follow the spec order are marked so.

PULL_REQUEST_STATUS = DotNetEnum("PullRequestStatus", (("notSet", 0), ("active", 1), ("abandoned", 2), ("completed", 3),
                                                       ("all", 4)))  # spec order
PULL_REQUEST_TIME_RANGE_TYPE = DotNetEnum("PullRequestTimeRangeType", (("created", 1), ("closed", 2)))
GIT_VERSION_TYPE = DotNetEnum("GitVersionType", (("branch", 0), ("tag", 1), ("commit", 2)))  # spec order
WORK_ITEM_EXPAND = DotNetEnum("WorkItemExpand", (("none", 0), ("relations", 1), ("fields", 2), ("links", 3),
                                                 ("all", 4)))  # spec order
REPORTING_REVISIONS_EXPAND = DotNetEnum("ReportingRevisionsExpand", (("none", 0), ("fields", 1)))  # spec order
BUILD_STATUS = DotNetEnum("BuildStatus", (("none", 0), ("inProgress", 1), ("completed", 2), ("cancelling", 4),
                                          ("postponed", 8), ("notStarted", 32), ("all", 47)), flags=True)
BUILD_RESULT = DotNetEnum("BuildResult", (("none", 0), ("succeeded", 2), ("partiallySucceeded", 4), ("failed", 8),
                                          ("canceled", 32)), flags=True)
BUILD_REASON = DotNetEnum("BuildReason", (("none", 0), ("manual", 1), ("individualCI", 2), ("batchedCI", 4),
                                          ("schedule", 8), ("scheduleForced", 16), ("userCreated", 32),
                                          ("validateShelveset", 64), ("checkInShelveset", 128), ("pullRequest", 256),
                                          ("buildCompletion", 512), ("resourceTrigger", 1024), ("triggered", 1967),
                                          ("all", 2031)), flags=True)
BUILD_QUERY_ORDER = DotNetEnum("BuildQueryOrder", (("finishTimeAscending", 2), ("finishTimeDescending", 3),
                                                   ("queueTimeDescending", 4), ("queueTimeAscending", 5),
                                                   ("startTimeDescending", 6), ("startTimeAscending", 7)))
QUERY_DELETED_OPTION = DotNetEnum("QueryDeletedOption", (("excludeDeleted", 0), ("includeDeleted", 1),
                                                         ("onlyDeleted", 2)))  # spec order
DEFINITION_QUERY_ORDER = DotNetEnum("DefinitionQueryOrder", (("none", 0), ("lastModifiedAscending", 1),
                                                             ("lastModifiedDescending", 2), ("definitionNameAscending", 3),
                                                             ("definitionNameDescending", 4)))  # spec order
RELEASE_QUERY_ORDER = DotNetEnum("ReleaseQueryOrder", (("descending", 0), ("ascending", 1)))  # spec order
RELEASE_STATUS = DotNetEnum("ReleaseStatus", (("undefined", 0), ("draft", 1), ("active", 2), ("abandoned", 4)),
                            flags=True)
RELEASE_EXPANDS = DotNetEnum("ReleaseExpands", (("none", 0), ("environments", 2), ("artifacts", 4), ("approvals", 8),
                                                ("manualInterventions", 16), ("variables", 32), ("tags", 64)),
                             flags=True)
RELEASE_DEFINITION_QUERY_ORDER = DotNetEnum("ReleaseDefinitionQueryOrder", (("idAscending", 0), ("idDescending", 1),
                                                                            ("nameAscending", 2),
                                                                            ("nameDescending", 3)))  # spec order
DEPLOYMENT_STATUS = DotNetEnum("DeploymentStatus", (("undefined", 0), ("notDeployed", 1), ("inProgress", 2),
                                                    ("succeeded", 4), ("partiallySucceeded", 8), ("failed", 16),
                                                    ("all", 31)), flags=True)
DEPLOYMENT_OPERATION_STATUS = DotNetEnum("DeploymentOperationStatus", (
    ("undefined", 0), ("queued", 1), ("scheduled", 2), ("pending", 4), ("approved", 8), ("rejected", 16),
    ("deferred", 32), ("queuedForAgent", 64), ("phaseInProgress", 128), ("phaseSucceeded", 256),
    ("phasePartiallySucceeded", 512), ("phaseFailed", 1024), ("canceled", 2048), ("phaseCanceled", 4096),
    ("manualInterventionPending", 8192), ("queuedForPipeline", 16384), ("cancelling", 32768),
    ("evaluatingGates", 65536), ("gateFailed", 131072), ("all", 258047)), flags=True)
PROJECT_STATE = DotNetEnum("ProjectState", (("deleting", 2), ("new", 0), ("wellFormed", 1), ("createPending", 3),
                                            ("all", -1), ("unchanged", -2), ("deleted", 4)))
