"""Reporting streams: work item revisions (GET and POST) and work item links, as ``StreamedBatch``es.

Both walk an append-only log in watermark order. The continuation token is
``<next position>;<last id>;<last rev>``: opaque to clients, valid forever, and a token from
an earlier run yields exactly what was recorded since. A batch holds up to ``$maxPageSize``
items (revisions: default and cap 1000, 200 with ``$expand=fields``) and scans at most
``_SCAN_LIMIT`` log entries, so a selective filter can give short or empty batches with
``isLastBatch: false``, as the server's do. ``startDateTime`` (first run only; a token wins over
it) starts at the first entry at or after it.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from orjson import Fragment

from satellite import json_codec
from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.api.core.core_routes import resolve_project
from standins.ado_simulator.wire.routing import COLLECTION, Location, Route
from standins.ado_simulator.wire.binding import REPORTING_REVISIONS_EXPAND
from standins.ado_simulator.wire.wire import ApiError, Response, json_response
from standins.ado_simulator.api.wit.wit_bodies import (RenderedPeople, field_values, identity_string, parse_stamp, selected_field_values,
                                                  wit_date)
from standins.ado_simulator.world.boards.wit_process import FIELDS_BY_REF, LONG_TEXT_FIELDS, TYPES
from standins.ado_simulator.api.wit.wit_routes import json_body, work_items_of
from standins.ado_simulator.world.boards.work_item_history import replay
from standins.ado_simulator.world.boards.work_items import LINK_NAMES, WorkItemsDomain

__all__ = ["ROUTES", "LOCATIONS", "PAGE_SIZE", "PAGE_SIZE_WITH_FIELDS"]

_WORK = "vso.work"
PAGE_SIZE = 1000
PAGE_SIZE_WITH_FIELDS = 200
_SCAN_LIMIT = 50_000
_CARRIED = ("fields", "types", "linkTypes", "includeIdentityRef", "includeDeleted", "includeTagRef", "includeLatestOnly",
            "$expand", "includeDiscussionChangesOnly", "$maxPageSize")
_REVISIONS = "{project?}/_apis/wit/reporting/workitemrevisions"
_LINKS = "{project?}/_apis/wit/reporting/workitemlinks"

LOCATIONS = (
    Location("f828fe59-dd87-495d-a17c-7a8d6211ca6c", "wit", "workItemRevisions", "{project}/_apis/wit/reporting/workItemRevisions",
             2, (COLLECTION,)),
    Location("b5b5b6d0-0308-40a1-b3f4-b9bb3c66878f", "wit", "workItemLinks", "{project}/_apis/wit/reporting/workItemLinks", 3,
             (COLLECTION,)),
)


@dataclass(frozen=True, slots=True)
class _Filter:
    fields: tuple[str, ...] | None
    types: frozenset[str] | None
    include_deleted: bool
    identity_ref: bool
    tag_ref: bool
    latest_only: bool
    discussion_only: bool
    expand_fields: bool


def _names(value: Any) -> tuple[str, ...] | None:
    """A field or type list: comma-separated text (query) or a JSON array (POST body)."""
    if value is None or value == "":
        return None
    items = value.split(",") if isinstance(value, str) else value
    return tuple(str(i).strip() for i in items if str(i).strip()) or None


def _start(log_times: Any, req: Request, count: int) -> int:
    """Where a batch starts: the token's position (startDateTime is then ignored), the first entry at or
    after startDateTime, or 0."""
    token, start_date = req.query.get("continuationToken"), req.query.get("startDateTime")
    if token:
        head = token.split(";")[0]
        if not head.isdigit():
            raise ApiError.bad_argument(f"The continuation token '{token}' is not valid.")
        return min(int(head), count)
    if start_date:
        return bisect_left(log_times, parse_stamp(start_date, "startDateTime") // 1000)
    return 0


def _batch(req: Request, values: list, next_position: int, last: tuple[int, int], done: bool, base: str) -> Response:
    """The StreamedBatch; ``nextLink`` repeats the request's options with the new token. ``values``: objects,
    or their JSON already encoded (``orjson.Fragment``)."""
    token = f"{next_position};{last[0]};{last[1]}"
    kept = [(name, value) for name in _CARRIED if (value := req.query.get(name)) is not None]
    pairs = [("continuationToken", token)] + kept + [("api-version", str(req.version or ""))]
    link = f"{base}?{urlencode(pairs, safe=';,$')}"
    return json_response({"values": values, "nextLink": link, "continuationToken": token, "isLastBatch": done}, req.version)


def _base(site: Site, req: Request, resource: str) -> str:
    project = req.params.get("project")
    prefix = f"/{resolve_project(site, project).id}" if project else ""
    return f"{site.collection_url(req)}{prefix}/_apis/wit/reporting/{resource}"


# -- revisions -----------------------------------------------------------------------------


def _revision_filter(req: Request, body: dict | None) -> _Filter:
    source = body if body is not None else {}
    query = req.query

    def flag(name: str) -> bool:
        if body is not None:
            return bool(source.get(name))
        return query.get_bool(name)

    expand = query.get_enum(REPORTING_REVISIONS_EXPAND, "$expand", default="none")
    fields = _names(source.get("fields") if body is not None else query.get("fields"))
    for name in fields or ():
        if name.lower() not in FIELDS_BY_REF:
            raise ApiError.bad_argument(f"TF51535: Cannot find field {name}.")
    types = _names(source.get("types") if body is not None else query.get("types"))
    return _Filter(fields, frozenset(t.lower() for t in types) if types else None, flag("includeDeleted"),
                   flag("includeIdentityRef"), flag("includeTagRef"), flag("includeLatestOnly"),
                   body is None and query.get_bool("includeDiscussionChangesOnly"), expand == "fields")


def _revision_values(site: Site, req: Request, domain: WorkItemsDomain, positions: list[int], options: _Filter) -> list[Fragment]:
    """Each position's revision as {id, rev, fields}, encoded at once (a page holds no more than one
    revision's objects at a time: fewer for the garbage collector to sweep); an item's revisions replayed
    once, going on from the state an earlier page left it in (``WorkItemsDomain.replays``)."""
    log = domain.log
    encoded: list[Fragment | None] = [None] * len(positions)
    wanted: dict[int, list[tuple[int, int]]] = {}  # item id -> (index in the page, rev), revision order (the log's)
    item_of, rev_of = log.item, log.rev
    for index, p in enumerate(positions):
        wanted.setdefault(item_of[p], []).append((index, rev_of[p]))
    requested = frozenset(f.lower() for f in options.fields) if options.fields else None
    revised_wanted = requested is None or "system.reviseddate" in requested  # the only use of the next stamp
    # without a field list: every field with $expand=fields, else all but the long texts
    dropped = frozenset() if requested is not None or options.expand_fields else LONG_TEXT_FIELDS
    render = (lambda person: site.identity(req, person)) if options.identity_ref else identity_string
    people = RenderedPeople(domain.world.people, render)  # each person's made once a page (and only encoded)
    tag_ref = options.tag_ref
    items, by_item, replays = domain.items, log.by_item, domain.replays
    for item_id, item_entries in wanted.items():
        item = items[item_id]
        assert item is not None
        positions_of = by_item[item_id]
        count = len(positions_of)
        pending = iter(item_entries)
        index, wanted_rev = next(pending)
        state = start = replays.take(item_id, wanted_rev)
        for state in replay(log, item, TYPES[item.type], item_entries[-1][1], start):
            rev = state.rev
            if rev != wanted_rev:
                continue
            revised = log.stamp(positions_of[rev]) if rev < count and revised_wanted else None
            if requested is not None:
                values = selected_field_values(domain, item, state, revised, requested, people)
            else:
                values = field_values(domain, item, state, revised, people)
                if dropped:
                    values = {ref: value for ref, value in values.items() if ref not in dropped}
            if tag_ref and "System.Tags" in values:
                values["System.Tags"] = [{"name": t.strip()} for t in values["System.Tags"].split(";")]
            encoded[index] = Fragment(json_codec.dumps({"id": item_id, "rev": rev, "fields": values}))
            index, wanted_rev = next(pending, (index, wanted_rev))
        replays.keep(item_id, state)
    return encoded  # type: ignore[return-value]  # every index filled


def _revisions(site: Site, req: Request, body: dict | None) -> Response:
    """includeDiscussionChangesOnly (wit/azure-devops-server-{5.0,6.0,7.0,7.1}/workItemTracking-onprem.json):
    "Return only the those revisions of work items, where only history field was changed". A save
    that moves the state and adds a comment changed more than the history: it is left out (worlds
    with the ``comments_with_changes`` semantics have many such saves)."""
    options = _revision_filter(req, body)
    cap = PAGE_SIZE_WITH_FIELDS if options.expand_fields else PAGE_SIZE
    size = min(req.query.get_int("$maxPageSize", default=cap, minimum=1) or cap, cap)
    project_key = req.params.get("project")
    project_index = site.world.projects.index(resolve_project(site, project_key)) if project_key else None
    base = _base(site, req, "workItemRevisions")
    domain = work_items_of(site)
    with site.world.lock:
        log, items, deleted, destroyed = domain.log, domain.items, domain.current.deleted, domain.destroyed
        count = len(log)
        position = start = _start(log.time, req, count)
        chosen: list[int] = []
        if (project_index is None and not destroyed and options.types is None and options.include_deleted
                and not options.latest_only and not options.discussion_only):  # no filter: every entry is kept
            position = min(count, start + size)
            chosen = list(range(start, position))
        while position < count and len(chosen) < size and position - start < _SCAN_LIMIT:
            item = items[log.item[position]]
            assert item is not None
            if ((project_index is None or item.project == project_index)
                    and item.id not in destroyed  # destroyed "permanently": see WorkItemsDomain._destroy
                    and (options.types is None or TYPES[item.type].name.lower() in options.types)
                    and (options.include_deleted or not deleted[item.id])
                    and (not options.latest_only or log.rev[position] == log.revisions(item.id))
                    and (not options.discussion_only or log.history_only(position))):
                chosen.append(position)
            position += 1
        values = _revision_values(site, req, domain, chosen, options)
        last = (log.item[position - 1], log.rev[position - 1]) if position else (0, 0)
    return _batch(req, values, position, last, position >= count, base)


def read_revisions(site: Site, req: Request) -> Response:
    return _revisions(site, req, None)


def read_revisions_post(site: Site, req: Request) -> Response:
    return _revisions(site, req, json_body(req))


# -- links ---------------------------------------------------------------------------------


def read_links(site: Site, req: Request) -> Response:
    """Link changes in order: ``isActive: false`` when a link was removed or one of its ends deleted."""
    query = req.query
    link_types = {t.lower() for t in _names(query.get("linkTypes")) or ()}
    types = {t.lower() for t in _names(query.get("types")) or ()}
    project_key = req.params.get("project")
    project_index = site.world.projects.index(resolve_project(site, project_key)) if project_key else None
    base = _base(site, req, "workItemLinks")
    domain = work_items_of(site)
    with site.world.lock:
        links, items = domain.links, domain.items
        count = len(links.event_link)
        position = start = _start(links.event_time, req, count)
        values: list[dict] = []
        while position < count and len(values) < PAGE_SIZE and position - start < _SCAN_LIMIT:
            link = links.event_link[position]
            rel = LINK_NAMES[links.kind[link]]
            source = items[links.source[link]]
            assert source is not None
            if ((not link_types or rel.lower() in link_types)
                    and (not types or TYPES[source.type].name.lower() in types)
                    and (project_index is None or source.project == project_index)):
                values.append({"rel": rel, "sourceId": links.source[link], "targetId": links.target[link],
                               "changedDate": wit_date(links.event_time[position] * 1000),
                               "isActive": bool(links.event_active[position])})
            position += 1
        last = (links.source[links.event_link[position - 1]], links.target[links.event_link[position - 1]]) if position else (0, 0)
    return _batch(req, values, position, last, position >= count, base)


ROUTES = (
    Route("GET", (COLLECTION,), _REVISIONS, read_revisions, scope=_WORK),
    Route("POST", (COLLECTION,), _REVISIONS, read_revisions_post, scope=_WORK),
    Route("GET", (COLLECTION,), _LINKS, read_links, scope=_WORK),
)
