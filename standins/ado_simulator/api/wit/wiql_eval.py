"""Running a parsed WIQL query over the live work items' current values.

Results are ids in the query's order (by id when there is no ORDER BY). More than 20,000
matches without a ``$top`` of at most 20,000 is the server's VS402337; a
``$top`` truncates. A leading ``[System.Id] > n`` bound starts the scan at n + 1, and an
id-ordered query stops scanning once it has enough, so keyset paging stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from standins.ado_simulator.world.generate import DAY
from standins.ado_simulator.world.model import Person, Project
from standins.ado_simulator.api.wit.wiql import Condition, Logical, Node, Query, Value, WitError, conditions, wiql_error
from standins.ado_simulator.api.wit.wit_bodies import identity_string, parse_stamp
from standins.ado_simulator.world.boards.wit_process import TYPES
from standins.ado_simulator.world.messy import work_item_title
from standins.ado_simulator.world.boards.work_items import WorkItemsDomain

__all__ = ["Scope", "MAX_RESULTS", "run"]

MAX_RESULTS = 20_000
_DAY_MS = DAY * 1000


@dataclass(frozen=True, slots=True)
class Scope:
    """What macros and dates resolve against."""

    project: Project | None
    user: Person
    now: int  # ms
    time_precision: bool


def run(domain: WorkItemsDomain, query: Query, scope: Scope, top: int | None) -> list[int]:
    """Ids of the live work items matching ``query`` (call under the World's lock)."""
    accessors = _Accessors(domain)
    matches = _compile(query.where, accessors, scope) if query.where is not None else (lambda i: True)
    deleted = domain.current.deleted
    start, count = _lowest_id(query.where), len(domain.items)
    capped = top is not None and top <= MAX_RESULTS
    by_id = not query.order or (len(query.order) == 1 and query.order[0][0].lower() == "system.id" and not query.order[0][1])
    wanted = (top if capped else MAX_RESULTS + 1) if by_id else None
    found = []
    for i in range(max(1, start), count):
        if not deleted[i] and matches(i):
            found.append(i)
            if wanted is not None and len(found) >= wanted:
                break
    if len(found) > MAX_RESULTS and not capped:
        raise WitError.of(400, f"VS402337: The number of work items returned exceeds the size limit of {MAX_RESULTS}."
                          " Change the query to return fewer items.", "WorkItemTrackingQueryResultSizeLimitExceededException")
    if not by_id:
        found.sort()
        for field, descending in reversed(query.order):
            key = accessors.sort_key(field)
            found.sort(key=key, reverse=descending)
    return found[:top] if top is not None else found


def _lowest_id(node: Node | None) -> int:
    lowest = 1
    for condition in conditions(node):
        if condition.field.lower() == "system.id" and condition.op in (">", ">=", "=") and condition.values[0].kind == "number":
            value = int(float(condition.values[0].text))
            lowest = max(lowest, value + 1 if condition.op == ">" else value)
    return lowest


class _Accessors:
    """Current values of a field for an item id."""

    def __init__(self, domain: WorkItemsDomain) -> None:
        items, current, log, nodes = domain.items, domain.current, domain.log, domain.teams.nodes
        people = domain.world.people
        projects = [p.name for p in domain.world.projects]

        def person(index: int) -> Person | None:
            return people[index] if index >= 0 else None

        self.get: dict[str, Callable[[int], Any]] = {
            "system.id": lambda i: i,
            "system.rev": lambda i: log.revisions(i),
            "system.teamproject": lambda i: projects[items[i].project],  # type: ignore[union-attr]
            "system.workitemtype": lambda i: TYPES[items[i].type].name,  # type: ignore[union-attr]
            "system.state": lambda i: TYPES[items[i].type].states[current.state[i]],  # type: ignore[union-attr]
            "system.title": lambda i: work_item_title(domain.world, TYPES[items[i].type].name, i),  # type: ignore[union-attr]
            "system.assignedto": lambda i: person(current.assignee[i] - 1),
            "system.createdby": lambda i: people[items[i].created_by],  # type: ignore[union-attr]
            "system.changedby": lambda i: people[current.changed_by[i]],
            "system.areapath": lambda i: nodes[current.area[i]].item_path,
            "system.iterationpath": lambda i: nodes[current.iteration[i]].item_path,
            "system.createddate": lambda i: log.stamp(log.by_item[i][0]),
            "system.changeddate": lambda i: log.stamp(log.by_item[i][-1]),
        }

    def sort_key(self, field: str) -> Callable[[int], Any]:
        get = self.get[field.lower()]

        def key(i: int) -> Any:
            value = get(i)
            if value is None:
                return ""
            if isinstance(value, Person):
                return value.display_name.lower()
            return value.lower() if isinstance(value, str) else value

        return key


_DATES = ("system.createddate", "system.changeddate")
_NUMBERS = ("system.id", "system.rev")
_IDENTITIES = ("system.assignedto", "system.createdby", "system.changedby")


def _compile(node: Node, accessors: _Accessors, scope: Scope) -> Callable[[int], bool]:
    if isinstance(node, Logical):
        parts = [_compile(p, accessors, scope) for p in node.parts]
        if node.op == "not":
            return lambda i: not parts[0](i)
        if node.op == "and":
            return lambda i: all(p(i) for p in parts)
        return lambda i: any(p(i) for p in parts)
    return _condition(node, accessors, scope)


def _condition(condition: Condition, accessors: _Accessors, scope: Scope) -> Callable[[int], bool]:
    field = condition.field.lower()
    get = accessors.get[field]
    negated = condition.op.startswith("not ")
    op = condition.op[4:] if negated else condition.op
    values = [_literal(field, v, condition, scope) for v in condition.values]
    if field in _DATES and not scope.time_precision:
        raw = get
        get = lambda i: raw(i) // _DAY_MS * _DAY_MS  # noqa: E731
    if field in _IDENTITIES:
        test = _identity_test(op, values, condition)
    else:
        test = _test(op, values, condition)
    if negated:
        return lambda i: not test(get(i))
    return lambda i: test(get(i))


def _literal(field: str, value: Value, condition: Condition, scope: Scope) -> Any:
    if value.kind == "macro":
        if value.text == "project":
            if scope.project is None:
                raise wiql_error(f"TF51011: The @project macro requires a project context. The error is caused by «{condition.source}».")
            return scope.project.name.lower()
        if value.text == "me":
            return scope.user
        if value.text == "today":
            return scope.now // _DAY_MS * _DAY_MS + int(value.offset * _DAY_MS)
        raise wiql_error(f"TF51006: The macro @{value.text} is not supported. The error is caused by «{condition.source}».")
    if field in _NUMBERS:
        try:
            return int(float(value.text))
        except ValueError:
            raise wiql_error(f"TF51003: The value is not valid for the field. The error is caused by «{condition.source}».") from None
    if field in _DATES:
        has_time = "T" in value.text.upper() or ":" in value.text
        if has_time and not scope.time_precision:
            raise wiql_error("You cannot supply a time with the date when running a query using date precision."
                             f" The error is caused by «{condition.source}».")
        stamp = parse_stamp(value.text, condition.field)
        return stamp if scope.time_precision else stamp // _DAY_MS * _DAY_MS
    return value.text.lower()


def _test(op: str, values: list[Any], condition: Condition) -> Callable[[Any], bool]:
    target = values[0]

    def text(v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v

    if op == "=":
        return lambda v: text(v) == target
    if op == "<>":
        return lambda v: text(v) != target
    if op == ">":
        return lambda v: text(v) > target
    if op == "<":
        return lambda v: text(v) < target
    if op == ">=":
        return lambda v: text(v) >= target
    if op == "<=":
        return lambda v: text(v) <= target
    if op == "in":
        allowed = set(values)
        return lambda v: text(v) in allowed
    if op == "under":
        return lambda v: text(v) == target or text(v).startswith(target + "\\")
    if op == "contains":
        return lambda v: target in text(v)
    raise wiql_error(f"TF51006: The query statement is not valid. The error is caused by «{condition.source}».")


def _identity_forms(person: Person | None) -> set[str]:
    if person is None:
        return {""}
    return {person.display_name.lower(), person.unique_name.lower(), identity_string(person).lower(), person.email.lower()}


def _identity_test(op: str, values: list[Any], condition: Condition) -> Callable[[Any], bool]:
    wanted = [v if isinstance(v, str) else identity_string(v).lower() for v in values]
    if op in ("=", "in"):
        return lambda p: any(w in _identity_forms(p) for w in wanted)
    if op == "<>":
        return lambda p: wanted[0] not in _identity_forms(p)
    if op == "contains":
        return lambda p: p is not None and wanted[0] in identity_string(p).lower()
    raise wiql_error(f"TF51006: The operator is not supported for this field. The error is caused by «{condition.source}».")
