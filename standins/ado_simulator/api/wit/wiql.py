"""The WIQL subset the simulator answers: flat ``SELECT … FROM WorkItems [WHERE …] [ORDER BY …]``.

Conditions: ``= <> > < >= <=``, ``[NOT] IN (…)``, ``[NOT] UNDER`` and ``[NOT] CONTAINS`` on
Id, Rev, TeamProject, WorkItemType, State, Title, AssignedTo, CreatedBy, ChangedBy,
AreaPath, IterationPath, CreatedDate and ChangedDate, combined with AND, OR, NOT and
parentheses; values are 'strings', numbers and the macros @project, @me and @today[±n].
Dates compare by day unless ``timePrecision`` is on, and then a time in the literal is an
error, as on the server. Anything else answers the server's 400 (TF51005 unknown field,
TF51006 syntax).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

from standins.ado_simulator.wire.wire import ApiError, Response

__all__ = ["Query", "Condition", "Logical", "Node", "Value", "WitError", "parse", "conditions", "wiql_error", "SUPPORTED"]

_WIT_SERVER = "Microsoft.TeamFoundation.WorkItemTracking.Server"
# Fields a condition or ORDER BY can use (what the simulator keeps current values of).
SUPPORTED = frozenset(f.lower() for f in (
    "System.Id", "System.Rev", "System.TeamProject", "System.WorkItemType", "System.State", "System.Title",
    "System.AssignedTo", "System.CreatedBy", "System.ChangedBy", "System.AreaPath", "System.IterationPath",
    "System.CreatedDate", "System.ChangedDate",
))
_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
  | (?P<field>\[[^\]]*\])
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<macro>@[A-Za-z]+)
  | (?P<op><>|>=|<=|=|<|>|\(|\)|,|\+|-)
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
)""", re.VERBOSE)


class WitError(ApiError):
    """An error of the work item tracking service, which reports them with eventId 3200."""

    @classmethod
    def of(cls, status: int, message: str, type_key: str) -> "WitError":
        return cls(status, message, type_key, f"{_WIT_SERVER}.{type_key}, {_WIT_SERVER}")

    def response(self) -> Response:
        body = {"$id": "1", "innerException": None, "message": self.message, "typeName": self.type_name,
                "typeKey": self.type_key, "errorCode": 0, "eventId": 3200}
        return Response(self.status, json.dumps(body, separators=(",", ":")).encode(), "application/json; charset=utf-8")


def wiql_error(message: str) -> WitError:
    return WitError.of(400, message, "ValidationException")


@dataclass(frozen=True, slots=True)
class Value:
    kind: str  # "string", "number", "macro"
    text: str
    offset: float = 0.0  # @today - 7


@dataclass(frozen=True, slots=True)
class Condition:
    field: str  # reference name as written (resolved later)
    op: str  # =, <>, >, <, >=, <=, in, under, contains (prefixed "not " when negated)
    values: tuple[Value, ...]
    source: str  # the clause as written, for error messages


@dataclass(frozen=True, slots=True)
class Logical:
    op: str  # "and", "or", "not"
    parts: tuple["Node", ...]


Node = Condition | Logical


@dataclass(frozen=True, slots=True)
class Query:
    columns: tuple[str, ...]
    where: Node | None
    order: tuple[tuple[str, bool], ...]  # (field, descending)


class _Tokens:
    def __init__(self, text: str) -> None:
        self.items: list[tuple[str, str, int]] = []  # (kind, text, start)
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                if text[position:].strip() == "":
                    break
                raise wiql_error(f"TF51006: The query statement is not valid. The error is caused by «{text[position:].split()[0]}».")
            kind = match.lastgroup or ""
            self.items.append((kind, match.group(kind), match.start(kind)))
            position = match.end()
        self.index = 0
        self.text = text

    def peek(self, offset: int = 0) -> tuple[str, str]:
        if self.index + offset < len(self.items):
            kind, text, _ = self.items[self.index + offset]
            return kind, text
        return "", ""

    def next(self) -> tuple[str, str]:
        token = self.peek()
        self.index += 1
        return token

    def keyword(self, *words: str) -> bool:
        """Consume the keywords ``words`` if they come next (case-insensitive)."""
        for offset, word in enumerate(words):
            kind, text = self.peek(offset)
            if kind != "word" or text.lower() != word:
                return False
        self.index += len(words)
        return True

    def error(self, expected: str) -> ApiError:
        _, text = self.peek()
        caused = text or self.text.strip().split()[-1]
        return wiql_error(f"TF51006: The query statement is missing {expected}. The error is caused by «{caused}».")

    def start(self) -> int:
        return self.items[self.index][2] if self.index < len(self.items) else len(self.text)


def _field(tokens: _Tokens) -> str:
    kind, text = tokens.next()
    if kind == "field":
        return text[1:-1].strip()
    if kind == "word":
        return text
    tokens.index -= 1
    raise tokens.error("a field name")


def _value(tokens: _Tokens) -> Value:
    kind, text = tokens.next()
    if kind == "string":
        return Value("string", text[1:-1].replace("''", "'"))
    if kind == "number":
        return Value("number", text)
    if kind == "macro":
        offset = 0.0
        sign_kind, sign = tokens.peek()
        if sign_kind == "number" and sign.startswith("-"):  # @today-7
            offset = float(tokens.next()[1])
        elif sign_kind == "op" and sign in ("+", "-") and tokens.peek(1)[0] == "number":
            tokens.next()
            offset = float(tokens.next()[1]) * (1 if sign == "+" else -1)
        return Value("macro", text[1:].lower(), offset)
    if kind == "word" and text.lower() in ("true", "false"):
        return Value("string", text.lower())
    tokens.index -= 1
    raise tokens.error("a value")


def _condition(tokens: _Tokens) -> Condition:
    start = tokens.start()
    field = _field(tokens)
    negated = tokens.keyword("not")
    kind, text = tokens.peek()
    if kind == "op" and text in ("=", "<>", ">", "<", ">=", "<=") and not negated:
        tokens.next()
        op, values = text, (_value(tokens),)
    elif tokens.keyword("in"):
        if tokens.next() != ("op", "("):
            raise tokens.error("a (")
        items = [_value(tokens)]
        while tokens.peek() == ("op", ","):
            tokens.next()
            items.append(_value(tokens))
        if tokens.next() != ("op", ")"):
            raise tokens.error("a )")
        op, values = "in", tuple(items)
    elif tokens.keyword("under"):
        op, values = "under", (_value(tokens),)
    elif tokens.keyword("contains"):
        op, values = "contains", (_value(tokens),)
    else:
        raise tokens.error("an operator")
    return Condition(field, ("not " if negated else "") + op, values, tokens.text[start:tokens.start()].strip())


def _factor(tokens: _Tokens) -> Node:
    if tokens.keyword("not"):
        return Logical("not", (_factor(tokens),))
    if tokens.peek() == ("op", "("):
        tokens.next()
        node = _or(tokens)
        if tokens.next() != ("op", ")"):
            raise tokens.error("a )")
        return node
    return _condition(tokens)


def _and(tokens: _Tokens) -> Node:
    parts = [_factor(tokens)]
    while tokens.keyword("and"):
        parts.append(_factor(tokens))
    return parts[0] if len(parts) == 1 else Logical("and", tuple(parts))


def _or(tokens: _Tokens) -> Node:
    parts = [_and(tokens)]
    while tokens.keyword("or"):
        parts.append(_and(tokens))
    return parts[0] if len(parts) == 1 else Logical("or", tuple(parts))


def parse(text: str, known: Callable[[str], bool]) -> Query:
    """Parse ``text``; ``known(field)`` says whether a field exists (TF51005 otherwise)."""
    tokens = _Tokens(text)
    if not tokens.keyword("select"):
        raise tokens.error("a SELECT clause")
    columns = [_field(tokens)]
    while tokens.peek() == ("op", ","):
        tokens.next()
        columns.append(_field(tokens))
    if not tokens.keyword("from"):
        raise tokens.error("a FROM clause")
    kind, source = tokens.next()
    if kind != "word" or source.lower() != "workitems":
        raise wiql_error(f"TF51006: The query statement is not valid. The error is caused by «{source}».")
    where = _or(tokens) if tokens.keyword("where") else None
    order: list[tuple[str, bool]] = []
    if tokens.keyword("order", "by"):
        while True:
            field = _field(tokens)
            descending = tokens.keyword("desc")
            if not descending:
                tokens.keyword("asc")
            order.append((field, descending))
            if tokens.peek() != ("op", ","):
                break
            tokens.next()
    if tokens.peek() != ("", ""):
        raise wiql_error(f"TF51006: Expecting end of string. The error is caused by «{tokens.peek()[1]}».")
    for field in columns + [f for f, _ in order] + _fields(where):
        if not known(field):
            raise wiql_error(f"TF51005: The query references a field that does not exist. The error is caused by «[{field}]».")
    for field in [f for f, _ in order] + _fields(where):
        if field.lower() not in SUPPORTED:
            raise wiql_error(f"TF51006: The query statement is not valid. The error is caused by «[{field}]».")
    return Query(tuple(columns), where, tuple(order))


def _fields(node: Node | None) -> list[str]:
    if node is None:
        return []
    if isinstance(node, Condition):
        return [node.field]
    return [f for part in node.parts for f in _fields(part)]


def conditions(node: Node | None) -> list[Condition]:
    """The conditions joined by AND at the top level (for scan bounds)."""
    if isinstance(node, Condition):
        return [node]
    if isinstance(node, Logical) and node.op == "and":
        return [c for part in node.parts for c in conditions(part)]
    return []
