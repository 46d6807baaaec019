"""JSON of work items as the server writes it: field values, relations, updates, comments.

``field_values`` turns a replayed ``ItemState`` into the revision's fields (identities as
``Person``); the body builders render identities the way each route does: IdentityRef
objects on the work item routes, ``"Name <DOMAIN\\alias>"`` strings in reporting unless
``includeIdentityRef``.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Sequence

from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.world.model import Person
from standins.ado_simulator.world.boards.classification import ClassificationNode
from standins.ado_simulator.world.boards.wit_process import (FIELDS, FIELDS_BY_REF, HIERARCHY_FORWARD, HIERARCHY_REVERSE, RELATED, TYPES,
                                                              WorkItemTypeDef)
from standins.ado_simulator.world.boards.wit_text import comment_text, description, tags, title
from standins.ado_simulator.world.boards.work_item_history import HIERARCHY, ItemState, WorkItem
from standins.ado_simulator.world.boards.work_items import Comment, WorkItemsDomain
from standins.ado_simulator.world.messy import work_item_title
from standins.ado_simulator.wire.binding import BindingError, bind_date
from standins.ado_simulator.wire.wire import ApiError

__all__ = ["END_OF_TIME", "wit_date", "parse_stamp", "identity_string", "field_values", "selected_field_values",
           "RenderedPeople", "render_fields", "core_field",
           "relations_json", "work_item_json", "update_json", "comment_json", "work_item_url"]

END_OF_TIME = "9999-01-01T00:00:00Z"
_ORDER = {f.reference_name: i for i, f in enumerate(FIELDS)}


_DAYS: dict[int, str] = {}  # day since the epoch -> "YYYY-MM-DDT"
_FRACTIONS = tuple((f".{f'{n:03d}'.rstrip('0')}Z" if n else "Z") for n in range(1000))


_DATES: dict[int, str] = {}  # recent answers: an item's revisions repeat its creation, state change... stamps


def wit_date(ms: int) -> str:
    """``2024-03-05T10:15:27.503Z`` with trailing zeros of the fraction trimmed, as .NET writes it."""
    text = _DATES.get(ms)
    if text is None:
        if len(_DATES) >= 200_000:
            _DATES.clear()
        text = _DATES[ms] = _format_date(ms)
    return text


def _format_date(ms: int) -> str:
    seconds, milli = divmod(ms, 1000)
    day, second = divmod(seconds, 86_400)
    prefix = _DAYS.get(day)
    if prefix is None:
        if len(_DAYS) >= 100_000:
            _DAYS.clear()
        prefix = _DAYS[day] = time.strftime("%Y-%m-%dT", time.gmtime(day * 86_400))
    hour, rest = divmod(second, 3600)
    minute, sec = divmod(rest, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{sec:02d}{_FRACTIONS[milli]}"


def parse_stamp(text: str, name: str) -> int:
    """Milliseconds since the epoch of a date parameter, in any form ``DateTime.Parse`` reads (wire/binding.py)."""
    try:
        moment = bind_date(text, name)
    except BindingError as error:
        raise ApiError.bad_argument(str(error)) from None
    return int(moment.timestamp() * 1000)


def identity_string(person: Person) -> str:
    return f"{person.display_name} <{person.unique_name}>"


def work_item_url(site: Site, req: Request, item_id: int) -> str:
    return f"{site.collection_url(req)}/_apis/wit/workItems/{item_id}"


def field_values(domain: WorkItemsDomain, item: WorkItem, state: ItemState, revised: int | None,
                 people: Sequence[Any] | Mapping[int, Any] | None = None) -> dict[str, Any]:
    """Every field of the revision ``state`` (``revised``: the next revision's stamp, None for the latest),
    in field order (``wit_process.FIELDS``); ``people``: what to write for a person index (default: the
    ``Person``, see ``RenderedPeople``)."""
    kind, project = TYPES[item.type], domain.project(item)
    if people is None:
        people = domain.world.people
    nodes = domain.teams.nodes
    area, iteration = nodes[state.area], nodes[state.iteration]
    state_name = kind.states[state.state]
    dates = _DATES  # most stamps were written before (an item's revisions share them): their text
    changed = dates.get(state.changed) or wit_date(state.changed)
    area_head, area_tail = _area_fields(area)
    values: dict[str, Any] = {"System.Id": item.id}
    values.update(area_head)
    values["System.TeamProject"] = project.name
    values.update(area_tail)
    values["System.Rev"] = state.rev
    values["System.AuthorizedDate"] = changed
    values["System.RevisedDate"] = END_OF_TIME if revised is None else (dates.get(revised) or wit_date(revised))
    values.update(_iteration_fields(iteration))
    values["System.WorkItemType"] = kind.name
    values["System.State"] = state_name
    values["System.Reason"] = state.reason
    if state.assignee >= 0:
        values["System.AssignedTo"] = people[state.assignee]
    values["System.CreatedDate"] = dates.get(state.created) or wit_date(state.created)
    values["System.CreatedBy"] = people[item.created_by]
    values["System.ChangedDate"] = changed
    values["System.ChangedBy"] = values["System.AuthorizedAs"] = people[state.changed_by]
    values["System.PersonId"] = 5_000_000 + state.changed_by * 7919
    values["System.Watermark"] = state.position + 1
    if state.deleted:
        values["System.IsDeleted"] = True
    values["System.CommentCount"] = state.comments
    # the messy world's are unicode, long
    values["System.Title"] = title(kind.name, item.id) if domain.world.messy is None else work_item_title(domain.world, kind.name, item.id)
    values["System.BoardColumn"] = state_name
    values["System.BoardColumnDone"] = False
    if state.tags:
        values["System.Tags"] = tags(state.tags)
    values["System.Description"] = description(kind.name, item.id, state.description)
    if state.history:
        values["System.History"] = comment_text(item.id, state.history)
    values["Microsoft.VSTS.Common.StateChangeDate"] = dates.get(state.state_changed) or wit_date(state.state_changed)
    if state.activated is not None:
        values["Microsoft.VSTS.Common.ActivatedDate"] = dates.get(state.activated[0]) or wit_date(state.activated[0])
        values["Microsoft.VSTS.Common.ActivatedBy"] = people[state.activated[1]]
    if state.resolved is not None:
        values["Microsoft.VSTS.Common.ResolvedDate"] = dates.get(state.resolved[0]) or wit_date(state.resolved[0])
        values["Microsoft.VSTS.Common.ResolvedBy"] = people[state.resolved[1]]
        values["Microsoft.VSTS.Common.ResolvedReason"] = (state.reason if state_name == "Resolved"
                                                          else kind.reasons["Resolved"][0])
    if state.closed is not None:
        values["Microsoft.VSTS.Common.ClosedDate"] = dates.get(state.closed[0]) or wit_date(state.closed[0])
        values["Microsoft.VSTS.Common.ClosedBy"] = people[state.closed[1]]
    values["Microsoft.VSTS.Common.Priority"] = state.priority
    _type_values(values, kind.name, item, state, state_name)
    for ref in _foreign(kind):
        values.pop(ref, None)
    return values


_AREA_LEVELS = ("System.AreaLevel1", "System.AreaLevel2")
_ITERATION_LEVELS = ("System.IterationLevel1", "System.IterationLevel2", "System.IterationLevel3")
# A node's fields, by id() of the node (kept beside them: a node is frozen, the id is not reused while kept).
_AREAS: dict[int, tuple[ClassificationNode, dict[str, Any], dict[str, Any]]] = {}
_ITERATIONS: dict[int, tuple[ClassificationNode, dict[str, Any]]] = {}


def _area_fields(node: ClassificationNode) -> tuple[dict[str, Any], dict[str, Any]]:
    """An area's fields before ``System.TeamProject`` (id, path) and after it (name, levels)."""
    kept = _AREAS.get(id(node))
    if kept is None or kept[0] is not node:
        if len(_AREAS) >= 10_000:
            _AREAS.clear()
        tail = {"System.NodeName": node.name} | dict(zip(_AREA_LEVELS, node.path))
        kept = _AREAS[id(node)] = (node, {"System.AreaId": node.id, "System.AreaPath": node.item_path}, tail)
    return kept[1], kept[2]


def _iteration_fields(node: ClassificationNode) -> dict[str, Any]:
    """An iteration's fields: id, path, levels."""
    kept = _ITERATIONS.get(id(node))
    if kept is None or kept[0] is not node:
        if len(_ITERATIONS) >= 10_000:
            _ITERATIONS.clear()
        fields = {"System.IterationId": node.id, "System.IterationPath": node.item_path} | dict(zip(_ITERATION_LEVELS, node.path))
        kept = _ITERATIONS[id(node)] = (node, fields)
    return kept[1]
# The fields ``field_values`` writes whatever the type: those a type does not have are taken out again.
_COMMON = ("Microsoft.VSTS.Common.StateChangeDate", "Microsoft.VSTS.Common.ActivatedDate", "Microsoft.VSTS.Common.ActivatedBy",
           "Microsoft.VSTS.Common.ResolvedDate", "Microsoft.VSTS.Common.ResolvedBy", "Microsoft.VSTS.Common.ResolvedReason",
           "Microsoft.VSTS.Common.ClosedDate", "Microsoft.VSTS.Common.ClosedBy", "Microsoft.VSTS.Common.Priority")
_FOREIGN: dict[str, tuple[str, ...]] = {}


def _foreign(kind: WorkItemTypeDef) -> tuple[str, ...]:
    refs = _FOREIGN.get(kind.name)
    if refs is None:
        refs = _FOREIGN[kind.name] = tuple(ref for ref in _COMMON if ref not in kind.fields)
    return refs


class RenderedPeople(dict):
    """Person index -> ``render(person)``, each made once (what ``field_values`` writes for people)."""

    def __init__(self, people: Sequence[Person], render: Callable[[Person], Any]) -> None:
        super().__init__()
        self._people, self._render = people, render

    def __missing__(self, index: int) -> Any:
        value = self[index] = self._render(self._people[index])
        return value


def _type_values(values: dict[str, Any], kind: str, item: WorkItem, state: ItemState, state_name: str) -> None:
    """The type's own fields, in field order."""
    base = 1 + item.id % 8
    work = state.work or base
    if kind == "Bug":
        values["Microsoft.VSTS.Common.Severity"] = ("1 - Critical", "2 - High", "3 - Medium", "4 - Low")[state.priority - 1]
        values["Microsoft.VSTS.Scheduling.StoryPoints"] = float(work % 8 or 1)
        values["Microsoft.VSTS.TCM.ReproSteps"] = f"<div>Open the {title(kind, item.id).split(' ', 2)[1]} and wait.</div>"
    elif kind == "Task":
        remaining = 0.0 if state_name == "Closed" else float(min(work, base * 2))
        values["Microsoft.VSTS.Scheduling.OriginalEstimate"] = float(base * 2)
        values["Microsoft.VSTS.Scheduling.RemainingWork"] = remaining
        values["Microsoft.VSTS.Scheduling.CompletedWork"] = float(base * 2) - remaining
    elif kind == "User Story":
        values["Microsoft.VSTS.Common.ValueArea"] = "Architectural" if item.id % 5 == 0 else "Business"
        values["Microsoft.VSTS.Common.AcceptanceCriteria"] = "<div>All acceptance tests pass.</div>"
        values["Microsoft.VSTS.Scheduling.StoryPoints"] = float((1, 2, 3, 5, 8, 13)[work % 6])
    elif kind in ("Feature", "Epic"):
        values["Microsoft.VSTS.Common.ValueArea"] = "Architectural" if item.id % 5 == 0 else "Business"
        values["Microsoft.VSTS.Scheduling.Effort"] = float(work * 5)


_KIND_FIELDS: dict[str, tuple[str, ...]] = {}


def _fields_of(kind: WorkItemTypeDef) -> tuple[str, ...]:
    """The reference names a revision of ``kind`` can carry, in field order: System.* and the type's own."""
    refs = _KIND_FIELDS.get(kind.name)
    if refs is None:
        refs = _KIND_FIELDS[kind.name] = tuple(f.reference_name for f in FIELDS
                                               if f.reference_name.startswith("System.") or f.reference_name in kind.fields)
    return refs


_ABSENT = object()
# Fields computed alone from the replayed state, each exactly as ``field_values`` does (_ABSENT: not set).
_CHEAP: dict[str, Callable[[WorkItemsDomain, WorkItem, ItemState], Any]] = {
    "System.Id": lambda domain, item, state: item.id,
    "System.Rev": lambda domain, item, state: state.rev,
    "System.TeamProject": lambda domain, item, state: domain.project(item).name,
    "System.WorkItemType": lambda domain, item, state: TYPES[item.type].name,
    "System.CommentCount": lambda domain, item, state: state.comments,
    "System.Watermark": lambda domain, item, state: state.position + 1,
    "System.ChangedDate": lambda domain, item, state: wit_date(state.changed),
    "System.History": lambda domain, item, state: comment_text(item.id, state.history) if state.history else _ABSENT,
    "System.IsDeleted": lambda domain, item, state: True if state.deleted else _ABSENT,
}
_PLANS: dict[tuple[str, frozenset[str]], tuple[tuple[str, Callable], ...] | None] = {}


def _plan(kind: WorkItemTypeDef, wanted: frozenset[str]) -> tuple[tuple[str, Callable], ...] | None:
    """The getters of the ``wanted`` fields (lower-case names) a revision of ``kind`` can carry, in field
    order; None when one of them has no getter of its own."""
    key = (kind.name, wanted)
    if key not in _PLANS:
        refs = [ref for ref in _fields_of(kind) if ref.lower() in wanted]
        _PLANS[key] = tuple((ref, _CHEAP[ref]) for ref in refs) if all(ref in _CHEAP for ref in refs) else None
    return _PLANS[key]


def selected_field_values(domain: WorkItemsDomain, item: WorkItem, state: ItemState, revised: int | None,
                          wanted: frozenset[str], people: Sequence[Any] | Mapping[int, Any] | None = None) -> dict[str, Any]:
    """The fields of ``field_values`` whose lower-case reference names are in ``wanted``, in the same
    order; only those computed when each has a getter of its own (a few short fields, none an identity)."""
    plan = _plan(TYPES[item.type], wanted)
    if plan is None:
        return {ref: value for ref, value in field_values(domain, item, state, revised, people).items()
                if ref.lower() in wanted}
    values: dict[str, Any] = {}
    for ref, get in plan:
        value = get(domain, item, state)
        if value is not _ABSENT:
            values[ref] = value
    return values


def render_fields(values: dict[str, Any], identity: Callable[[Person], Any], wanted: Callable[[str], bool]) -> dict[str, Any]:
    """The fields ``wanted`` selects, identities rendered by ``identity``."""
    return {ref: identity(v) if isinstance(v, Person) else v for ref, v in values.items() if wanted(ref)}


def core_field(ref: str) -> bool:
    field = FIELDS_BY_REF.get(ref.lower())
    return field is not None and field.core


def relations_json(site: Site, req: Request, domain: WorkItemsDomain, item: WorkItem, state: ItemState) -> list[dict]:
    """The item's links at that revision (both directions of hierarchy links) and its commit links."""
    relations = []
    links = domain.links
    for link, added in state.links.items():
        if not domain.live_link(link, state.changed):
            continue
        other = links.other_end(link, item.id)
        if links.kind[link] == HIERARCHY:
            rel, name = (HIERARCHY_FORWARD, "Child") if links.source[link] == item.id else (HIERARCHY_REVERSE, "Parent")
        else:
            rel, name = RELATED, "Related"
        relations.append({"rel": rel, "url": work_item_url(site, req, other), "attributes": {"isLocked": False, "name": name}})
    for index, added in state.artifacts.items():
        artifact = domain.artifacts[index]
        added_date = wit_date(added)
        relations.append({
            "rel": "ArtifactLink",
            "url": f"vstfs:///Git/Commit/{artifact.project_id}%2F{artifact.repository_id}%2F{artifact.commit_id}",
            "attributes": {"authorizedDate": added_date, "id": 100_000 + index, "resourceCreatedDate": added_date,
                           "resourceModifiedDate": added_date, "revisedDate": END_OF_TIME, "name": "Fixed in Commit"},
        })
    return relations


def work_item_json(site: Site, req: Request, domain: WorkItemsDomain, item: WorkItem, state: ItemState,
                   revised: int | None, expand: str, fields: list[str] | None, url: str | None = None) -> dict:
    """A WorkItem (``expand``: none|relations|fields|links|all; ``fields``: explicit field list)."""
    values = field_values(domain, item, state, revised)
    wanted_refs = {f.lower() for f in fields} if fields else None
    if wanted_refs is not None:
        wanted = lambda ref: ref.lower() in wanted_refs  # noqa: E731
    elif expand in ("fields", "all"):
        wanted = lambda ref: ref != "System.History" or state.history > 0  # noqa: E731
    else:
        wanted = core_field
    body: dict[str, Any] = {"id": item.id, "rev": state.rev,
                            "fields": render_fields(values, lambda p: site.identity(req, p), wanted)}
    if expand in ("relations", "all"):
        relations = relations_json(site, req, domain, item, state)
        if relations:
            body["relations"] = relations
    if state.history and site.profile.has("6.0"):
        body["commentVersionRef"] = {"commentId": state.history, "version": 1,
                                     "url": f"{work_item_url(site, req, item.id)}/comments/{state.history}/versions/1"}
    self_url = url or work_item_url(site, req, item.id)
    if expand in ("links", "all"):
        body["_links"] = _links(site, req, domain, item, self_url)
    body["url"] = self_url
    return body


def _links(site: Site, req: Request, domain: WorkItemsDomain, item: WorkItem, self_url: str) -> dict:
    base = work_item_url(site, req, item.id)
    project = domain.project(item)
    collection = site.collection_url(req)
    return {
        "self": {"href": self_url},
        "workItemUpdates": {"href": f"{base}/updates"},
        "workItemRevisions": {"href": f"{base}/revisions"},
        "workItemComments": {"href": f"{base}/comments"},
        "html": {"href": f"{collection}/web/wi.aspx?pcguid={domain.world.collection.id}&id={item.id}"},
        "workItemType": {"href": f"{collection}/{project.id}/_apis/wit/workItemTypes/{TYPES[item.type].name}"},
        "fields": {"href": f"{collection}/_apis/wit/fields"},
    }


def update_json(site: Site, req: Request, domain: WorkItemsDomain, item: WorkItem, before: dict[str, Any] | None,
                after: dict[str, Any], relations_before: list[dict], relations_after: list[dict], state: ItemState,
                revised: int | None) -> dict:
    """A WorkItemUpdate: what revision ``state`` changed compared to the previous one (``before``)."""
    person = domain.person(state.changed_by)
    identity = lambda p: site.identity(req, p)  # noqa: E731
    changes: dict[str, dict] = {}
    previous = before or {}
    for ref in sorted(set(previous) | set(after), key=lambda r: _ORDER[r]):
        old, new = previous.get(ref), after.get(ref)
        if ref == "System.History":
            if new is not None:
                changes[ref] = {"newValue": new}
        elif old != new:
            entry = {}
            if old is not None:
                entry["oldValue"] = identity(old) if isinstance(old, Person) else old
            if new is not None:
                entry["newValue"] = identity(new) if isinstance(new, Person) else new
            changes[ref] = entry
    body: dict[str, Any] = {
        "id": state.rev,
        "workItemId": item.id,
        "rev": state.rev,
        "revisedBy": {"id": person.id, "name": identity_string(person)} | site.identity(req, person),
        "revisedDate": END_OF_TIME if revised is None else wit_date(revised),
        "fields": changes,
    }
    added = [r for r in relations_after if r not in relations_before]
    removed = [r for r in relations_before if r not in relations_after]
    if added or removed:
        body["relations"] = {k: v for k, v in (("added", added), ("removed", removed)) if v}
    project = domain.project(item)
    body["url"] = f"{site.collection_url(req)}/{project.id}/_apis/wit/workItems/{item.id}/updates/{state.rev}"
    return body


def comment_json(site: Site, req: Request, domain: WorkItemsDomain, item: WorkItem, comment: Comment) -> dict:
    author = site.identity(req, domain.person(comment.author))
    project = domain.project(item)
    text = comment_text(item.id, comment.id)
    body: dict[str, Any] = {
        "workItemId": item.id,
        "id": comment.id,
        "version": 1,
        "text": text,
        "createdBy": author,
        "createdDate": wit_date(comment.created),
        "modifiedBy": author,
        "modifiedDate": wit_date(comment.deleted or comment.created),
    }
    if comment.deleted:
        body["isDeleted"] = True
    if site.profile.has("7.1"):
        body["format"] = "html"
        body["renderedText"] = f"<p>{text}</p>"
    body["url"] = f"{site.collection_url(req)}/{project.id}/_apis/wit/workItems/{item.id}/comments/{comment.id}"
    return body
