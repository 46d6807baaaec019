"""Work items: WIQL, work items by id (GET and batch), revisions, updates and comments.

Deleted work items (recycle bin) are gone here: 404 TF401232 (or null with
``errorPolicy=omit``) and never in WIQL results. A comment is the ``System.History`` of the
revision that added it; api 6.0 made comments a resource of their own (CommentList), a 2019
server lists them per revision (WorkItemComments).
"""

from __future__ import annotations

import json
from typing import Any

from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.api.core.core_routes import resolve_project
from standins.ado_simulator.wire.routing import COLLECTION, Location, Route
from standins.ado_simulator.api.core.team_routes import resolve_team
from standins.ado_simulator.api.wit.wiql import WitError, parse
from standins.ado_simulator.api.wit.wiql_eval import Scope, run
from standins.ado_simulator.wire.binding import WORK_ITEM_EXPAND, BindingError, bind_enum
from standins.ado_simulator.wire.wire import ApiError, Response, json_response, list_response
from standins.ado_simulator.api.wit.wit_bodies import (
    comment_json,
    field_values,
    identity_string,
    parse_stamp,
    relations_json,
    update_json,
    wit_date,
    work_item_json,
    work_item_url,
)
from standins.ado_simulator.world.boards.wit_process import FIELDS_BY_REF
from standins.ado_simulator.world.boards.wit_text import comment_text
from standins.ado_simulator.world.boards.work_item_history import WorkItem
from standins.ado_simulator.world.boards.work_items import WorkItemsDomain

__all__ = ["ROUTES", "LOCATIONS", "work_items_of", "json_body", "MAX_IDS"]

_WORK = "vso.work"
MAX_IDS = 200
_ITEM = "{project?}/_apis/wit/workItems/{id}"

LOCATIONS = (
    Location("1a9c53f7-f243-4447-b110-35ef023636e4", "wit", "wiql", "{project}/{team}/_apis/wit/wiql/{id}", 2, (COLLECTION,)),
    Location("72c7ddf8-2cdc-4f60-90cd-ab71c14a399b", "wit", "workItems", "{project}/_apis/wit/workItems/{id}", 3, (COLLECTION,)),
    Location("908509b6-4248-4475-a1cd-829139ba419f", "wit", "workItemsBatch", "{project}/_apis/wit/workItemsBatch", 1,
             (COLLECTION,)),
    Location("a00c85a5-80fa-4565-99c3-bcd2181434bb", "wit", "revisions",
             "{project}/_apis/wit/workItems/{id}/revisions/{revisionNumber}", 3, (COLLECTION,)),
    Location("6570bf97-d02c-4a91-8d93-3abe9895b1a9", "wit", "updates", "{project}/_apis/wit/workItems/{id}/updates/{updateNumber}",
             3, (COLLECTION,)),
    Location("608aac0a-32e1-4493-a863-b9cf4566d257", "wit", "comments",
             "{project}/_apis/wit/workItems/{workItemId}/comments/{commentId}", 3, (COLLECTION,), preview=True),
)


def work_items_of(site: Site) -> WorkItemsDomain:
    return site.world.domain("work_items")  # type: ignore[return-value]


def _not_found(item_id: int | str) -> WitError:
    return WitError.of(404, f"TF401232: Work item {item_id} does not exist, or you do not have permissions to read it.",
                       "WorkItemUnauthorizedAccessException")


def _project_checked(site: Site, req: Request) -> None:
    if "project" in req.params:
        resolve_project(site, req.params["project"])


def _item_id(text: str) -> int:
    if not text.strip().isdigit():
        raise ApiError.bad_argument(f"The value '{text}' is not valid for id.")
    return int(text)


def _item(site: Site, req: Request, key: str = "id") -> WorkItem:
    """The route's live work item (call under the World's lock)."""
    _project_checked(site, req)
    item_id = _item_id(req.params[key])
    item = work_items_of(site).item(item_id)
    if item is None:
        raise _not_found(item_id)
    return item


def _revised(domain: WorkItemsDomain, item: WorkItem, rev: int) -> int | None:
    """Stamp of revision ``rev + 1`` (what revision ``rev``'s RevisedDate says), None for the latest."""
    positions = domain.log.by_item[item.id]
    return domain.log.stamp(positions[rev]) if rev < len(positions) else None


def _expand(value: Any) -> str:
    """WorkItemExpand by case-insensitive name or number (query or body), lower-cased."""
    if value is None or value == "":
        return "none"
    try:
        return bind_enum(str(value), WORK_ITEM_EXPAND, "$expand").lower()
    except BindingError as error:
        raise ApiError.bad_argument(str(error)) from None


# -- by id ---------------------------------------------------------------------------------


def _read(site: Site, req: Request, ids: list[int], fields: list[str] | None, expand: str, as_of: str | None,
          error_policy: str) -> list[dict | None]:
    """Work items by id for GET workitems and workitemsbatch (ids <= 200; omit: null per missing id)."""
    if len(ids) > MAX_IDS:
        raise WitError.of(400, f"VS403474: You requested {len(ids)} work items which exceeds the limit of {MAX_IDS}",
                          "WorkItemTrackingTooManyWorkItemsRequestedException")
    if fields and expand not in ("none", "links"):
        raise ApiError.bad_argument("The expand parameter can not be used with the fields parameter.")
    for name in fields or ():
        if name.lower() not in FIELDS_BY_REF:
            raise WitError.of(400, f"TF51535: Cannot find field {name}.", "WorkItemFieldInvalidException")
    stamp = parse_stamp(as_of, "asOf") if as_of else None
    domain = work_items_of(site)
    found: list[dict | None] = []
    with site.world.lock:
        for item_id in ids:
            item = domain.item(item_id)
            state = domain.state(item, as_of=stamp) if item is not None else None
            if item is None or state is None:
                if error_policy == "omit":
                    found.append(None)
                    continue
                raise _not_found(item_id)
            found.append(work_item_json(site, req, domain, item, state, _revised(domain, item, state.rev), expand, fields))
    return found


def _ids(text: str) -> list[int]:
    try:
        return [int(i) for i in text.split(",") if i.strip()]
    except ValueError:
        raise ApiError.bad_argument(f"The value '{text}' is not valid for ids.") from None


def list_work_items(site: Site, req: Request) -> Response:
    _project_checked(site, req)
    query = req.query
    ids = _ids(query.get("ids") or "")
    if not ids:
        raise ApiError.bad_argument("The ids parameter is required.")
    fields = [f for f in (query.get("fields") or "").split(",") if f.strip()] or None
    items = _read(site, req, ids, fields, _expand(query.get("$expand")), query.get("asOf"),
                  (query.get("errorPolicy") or "fail").lower())
    return list_response(items, req.version)


def json_body(req: Request) -> dict:
    try:
        body = json.loads(req.body or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError.bad_argument("The request body must be a JSON object.")
    return body


def batch_work_items(site: Site, req: Request) -> Response:
    _project_checked(site, req)
    body = json_body(req)
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, int) for i in ids):
        raise ApiError.bad_argument("The ids of the work items to get are required.")
    fields = body.get("fields") or None
    items = _read(site, req, ids, fields, _expand(body.get("$expand")), body.get("asOf"),
                  str(body.get("errorPolicy") or "fail").lower())
    return list_response(items, req.version)


def get_work_item(site: Site, req: Request) -> Response:
    fields = [f for f in (req.query.get("fields") or "").split(",") if f.strip()] or None
    _project_checked(site, req)
    items = _read(site, req, [_item_id(req.params["id"])], fields, _expand(req.query.get("$expand")), req.query.get("asOf"),
                  "fail")
    return json_response(items[0], req.version)


# -- revisions and updates -------------------------------------------------------------------


def _revision_bodies(site: Site, req: Request, item: WorkItem, expand: str, wanted: range | None) -> list[dict]:
    domain = work_items_of(site)
    project = domain.project(item)
    base = f"{site.collection_url(req)}/{project.id}/_apis/wit/workItems/{item.id}/revisions"
    bodies = []
    with site.world.lock:
        for state in domain.history(item):
            if wanted is None or state.rev in wanted:
                bodies.append(work_item_json(site, req, domain, item, state, _revised(domain, item, state.rev), expand, None,
                                             f"{base}/{state.rev}"))
    return bodies


def _paged(req: Request, default_top: int = 200) -> range:
    top = req.query.get_int("$top", default=default_top) or 0
    skip = req.query.get_int("$skip", default=0) or 0
    return range(skip + 1, skip + top + 1)


def list_revisions(site: Site, req: Request) -> Response:
    with site.world.lock:
        item = _item(site, req)
    return list_response(_revision_bodies(site, req, item, _expand(req.query.get("$expand")), _paged(req)), req.version)


def get_revision(site: Site, req: Request) -> Response:
    with site.world.lock:
        item = _item(site, req)
    rev = _item_id(req.params["revisionNumber"])
    bodies = _revision_bodies(site, req, item, _expand(req.query.get("$expand")), range(rev, rev + 1))
    if not bodies:
        raise WitError.of(404, f"VS402474: Revision {rev} of work item {item.id} does not exist.", "WorkItemRevisionNotFoundException")
    return json_response(bodies[0], req.version)


def _update_bodies(site: Site, req: Request, item: WorkItem, wanted: range) -> list[dict]:
    domain = work_items_of(site)
    bodies = []
    before: dict | None = None
    relations_before: list[dict] = []
    with site.world.lock:
        for state in domain.history(item, wanted.stop - 1):
            after = field_values(domain, item, state, _revised(domain, item, state.rev))
            relations_after = relations_json(site, req, domain, item, state)
            if state.rev in wanted:
                bodies.append(update_json(site, req, domain, item, before, after, relations_before, relations_after, state,
                                          _revised(domain, item, state.rev)))
            before, relations_before = after, relations_after
    return bodies


def list_updates(site: Site, req: Request) -> Response:
    with site.world.lock:
        item = _item(site, req)
    return list_response(_update_bodies(site, req, item, _paged(req)), req.version)


def get_update(site: Site, req: Request) -> Response:
    with site.world.lock:
        item = _item(site, req)
    number = _item_id(req.params["updateNumber"])
    bodies = _update_bodies(site, req, item, range(number, number + 1))
    if not bodies:
        raise WitError.of(404, f"VS402475: Update {number} of work item {item.id} does not exist.", "WorkItemUpdateNotFoundException")
    return json_response(bodies[0], req.version)


# -- comments (6.0+) -------------------------------------------------------------------------


def list_comments(site: Site, req: Request) -> Response:
    """CommentList, newest first unless ``order=asc``; the continuation token (in the body) is a comment id.

    A 2019 server has the older revision-based API instead (WorkItemComments)."""
    if not site.profile.has("6.0"):
        return _revision_comments(site, req)
    query = req.query
    top = query.get_int("$top", default=200) or 0
    include_deleted = query.get_bool("includeDeleted")
    ascending = (query.get("order") or "desc").lower() == "asc"
    token = query.get("continuationToken")
    if token is not None and not token.isdigit():
        raise ApiError.bad_argument(f"The continuation token '{token}' is not valid.")
    domain = work_items_of(site)
    with site.world.lock:
        item = _item(site, req, "workItemId")
        comments = [c for c in domain.comments(item) if include_deleted or not c.deleted]
    if not ascending:
        comments.reverse()
    start = 0
    if token is not None:
        after = int(token)
        start = next((i for i, c in enumerate(comments) if (c.id >= after if ascending else c.id <= after)), len(comments))
    page = comments[start : start + top]
    url = f"{site.collection_url(req)}/{domain.project(item).id}/_apis/wit/workItems/{item.id}/comments"
    body: dict[str, Any] = {"totalCount": len(comments), "count": len(page),
                            "comments": [comment_json(site, req, domain, item, c) for c in page]}
    if start + top < len(comments):
        following = str(comments[start + top].id)
        body["nextPage"] = f"{url}?continuationToken={following}&$top={top}" + ("&order=asc" if ascending else "")
        body["continuationToken"] = following
    body["url"] = url
    return json_response(body, req.version)


def _revision_comments(site: Site, req: Request) -> Response:
    """api 5.0: the ``System.History`` of the revisions from ``fromRevision`` on (``order`` asc by default)."""
    query = req.query
    top = query.get_int("$top", default=200) or 0
    first = query.get_int("fromRevision", default=1) or 1
    descending = (query.get("order") or "asc").lower() == "desc"
    domain = work_items_of(site)
    with site.world.lock:
        item = _item(site, req, "workItemId")
        comments = domain.comments(item)
    following = [c for c in comments if c.rev >= first]
    if descending:
        following.reverse()
    url = f"{site.collection_url(req)}/{domain.project(item).id}/_apis/wit/workItems/{item.id}/comments"
    page = []
    for comment in following[:top]:
        person = domain.person(comment.author)
        page.append({"revision": comment.rev, "text": comment_text(item.id, comment.id),
                     "revisedBy": {"id": person.id, "name": identity_string(person)} | site.identity(req, person),
                     "revisedDate": wit_date(comment.created), "url": f"{url}/{comment.rev}"})
    body = {"totalCount": len(comments), "fromRevisionCount": len(following), "count": len(page), "comments": page, "url": url}
    return json_response(body, req.version)


# -- WIQL ------------------------------------------------------------------------------------


def query_by_wiql(site: Site, req: Request) -> Response:
    project = resolve_project(site, req.params["project"]) if "project" in req.params else None
    if project is not None and "team" in req.params:
        resolve_team(site, project, req.params["team"])
    text = json_body(req).get("query")
    if not isinstance(text, str) or not text.strip():
        raise ApiError.bad_argument("The query text (WIQL) is required.")
    query = parse(text, lambda field: field.lower() in FIELDS_BY_REF)
    top = req.query.get_int("$top", default=None)
    domain = work_items_of(site)
    with site.world.lock:
        now = site.world.clock * 1000
        ids = run(domain, query, Scope(project, req.user, now, req.query.get_bool("timePrecision")), top)
    field_url = f"{site.collection_url(req)}/_apis/wit/fields"

    def reference(name: str) -> dict:
        field = FIELDS_BY_REF[name.lower()]
        return {"referenceName": field.reference_name, "name": field.name, "url": f"{field_url}/{field.reference_name}"}

    body = {
        "queryType": "flat",
        "queryResultType": "workItem",
        "asOf": wit_date(now),
        "columns": [reference(c) for c in query.columns],
        "sortColumns": [{"field": reference(f), "descending": d} for f, d in query.order],
        "workItems": [{"id": i, "url": work_item_url(site, req, i)} for i in ids],
    }
    return json_response(body, req.version)


ROUTES = (
    Route("POST", (COLLECTION,), "{project?}/_apis/wit/wiql", query_by_wiql, scope=_WORK),
    Route("POST", (COLLECTION,), "{project}/{team}/_apis/wit/wiql", query_by_wiql, scope=_WORK),
    Route("POST", (COLLECTION,), "{project?}/_apis/wit/workitemsbatch", batch_work_items, scope=_WORK),
    Route("GET", (COLLECTION,), "{project?}/_apis/wit/workitems", list_work_items, scope=_WORK),
    Route("GET", (COLLECTION,), _ITEM, get_work_item, scope=_WORK),
    Route("GET", (COLLECTION,), f"{_ITEM}/revisions", list_revisions, scope=_WORK),
    Route("GET", (COLLECTION,), f"{_ITEM}/revisions/{{revisionNumber}}", get_revision, scope=_WORK),
    Route("GET", (COLLECTION,), f"{_ITEM}/updates", list_updates, scope=_WORK),
    Route("GET", (COLLECTION,), f"{_ITEM}/updates/{{updateNumber}}", get_update, scope=_WORK),
    Route("GET", (COLLECTION,), "{project}/_apis/wit/workItems/{workItemId}/comments", list_comments, scope=_WORK, preview=True),
)
