"""TFVC area routes: changesets, their changes and work items, branches, labels (``{project?}/_apis/tfvc/...``)."""

from __future__ import annotations

import fnmatch
import json
from urllib.parse import quote

from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.api.core.core_routes import CONTINUATION_HEADER, resolve_project
from standins.ado_simulator.world.model import Person
from standins.ado_simulator.wire.routing import COLLECTION, Location, Route
from standins.ado_simulator.world.tfvc import Branch, Change, Changeset, Label, LabelItem, TfvcDomain, tfvc_of
from standins.ado_simulator.wire.wire import ApiError, Response, json_response, list_response

__all__ = ["ROUTES", "LOCATIONS"]

_VC = "Microsoft.TeamFoundation.VersionControl.Server"
_CODE = "vso.code"
_LIST_COMMENT = 80  # Get Changesets cuts comments to 80 characters unless maxCommentLength says otherwise
_MAX_CHANGES = 100

LOCATIONS = (
    Location("0bc8f0a4-6bfb-42a9-ba84-139da7b99c49", "tfvc", "changesets", "{project}/_apis/tfvc/changesets/{id}", 3, (COLLECTION,)),
    Location("f32b86f2-15b9-4fe6-81b1-6f8938617ee5", "tfvc", "changesetChanges", "_apis/tfvc/changesets/{id}/changes", 1, (COLLECTION,)),
    Location("64ae0bea-1d71-47c9-a9e5-fe73f5ea0ff4", "tfvc", "changesetWorkItems", "_apis/tfvc/changesets/{id}/workItems", 1, (COLLECTION,)),
    Location("b7e7c173-803c-4fea-9ec8-31ee35c5502a", "tfvc", "changesetsBatch", "_apis/tfvc/changesetsbatch", 1, (COLLECTION,)),
    Location("bc1f417e-239d-42e7-85e1-76e80cb2d6eb", "tfvc", "branches", "{project}/_apis/tfvc/branches", 1, (COLLECTION,)),
    Location("a5d9bd7f-b661-4d0e-b9be-d9c16affae54", "tfvc", "labels", "{project}/_apis/tfvc/labels/{labelId}", 1, (COLLECTION,)),
    Location("06166e34-de17-4b60-8cd1-23182a346fda", "tfvc", "labelItems", "_apis/tfvc/labels/{labelId}/items", 1, (COLLECTION,)),
)


# -- lookups -----------------------------------------------------------------------------


def _project_index(site: Site, req: Request) -> int | None:
    """Index of the route's project, None for collection-wide routes."""
    if "project" not in req.params:
        return None
    return site.world.projects.index(resolve_project(site, req.params["project"]))


def _int_param(req: Request, name: str) -> int:
    raw = req.params[name]
    if not raw.isdigit():
        raise ApiError.bad_argument(f"The value '{raw}' is not valid for {name}.")
    return int(raw)


def _changeset(domain: TfvcDomain, changeset_id: int) -> Changeset:
    changeset = domain.changeset(changeset_id)
    if changeset is None:
        raise ApiError(404, f"TF14019: The changeset {changeset_id} does not exist.", "ChangesetNotFoundException",
                       f"{_VC}.ChangesetNotFoundException, {_VC}")
    return changeset


def _label(domain: TfvcDomain, req: Request) -> Label:
    raw = req.params["labelId"]
    label = domain.label(int(raw)) if raw.isdigit() else None
    if label is None:
        raise ApiError(404, f"TF14021: The label {raw} could not be found.", "LabelNotFoundException",
                       f"{_VC}.LabelNotFoundException, {_VC}")
    return label


def _matches(person: Person, text: str) -> bool:
    """Alias, display name, account, e-mail or id of a person (case-insensitive)."""
    text = text.lower()
    alias = person.unique_name.split("\\", 1)[-1].lower()
    return text in (person.display_name.lower(), person.unique_name.lower(), alias, person.email, person.id)


# -- bodies ------------------------------------------------------------------------------


def _changeset_url(site: Site, req: Request, changeset_id: int) -> str:
    return f"{site.collection_url(req)}/_apis/tfvc/changesets/{changeset_id}"


def _item_url(site: Site, req: Request, path: str, version: int) -> str:
    return f"{site.collection_url(req)}/_apis/tfvc/items/{quote(path)}?versionType=Changeset&version={version}"


def _changeset_ref(site: Site, req: Request, changeset: Changeset, max_comment: int | None, links: bool) -> dict:
    """TfvcChangesetRef; the comment cut to ``max_comment`` characters (None: whole)."""
    people = site.world.people
    author, checked_in_by = people[changeset.author], people[changeset.checked_in_by]
    url = _changeset_url(site, req, changeset.id)
    body: dict = {
        "changesetId": changeset.id,
        "url": url,
        "author": site.identity(req, author),
        "checkedInBy": site.identity(req, checked_in_by),
        "createdDate": changeset.date,
    }
    if changeset.comment:
        comment = changeset.comment if max_comment is None else changeset.comment[:max_comment]
        body["comment"] = comment
        if comment != changeset.comment:
            body["commentTruncated"] = True
    if links:
        project = site.world.projects[changeset.project]
        body["_links"] = {
            "self": {"href": url},
            "changes": {"href": f"{url}/changes"},
            "workItems": {"href": f"{url}/workItems"},
            "web": {"href": f"{site.collection_url(req)}/{quote(project.name)}/_versionControl/changeset/{changeset.id}"},
            "author": {"href": body["author"]["url"]},
            "checkedInBy": {"href": body["checkedInBy"]["url"]},
        }
    return body


def _change_json(site: Site, req: Request, change: Change, version: int) -> dict:
    item: dict = {"version": version}
    if change.is_folder:
        item |= {"path": change.path, "isFolder": True}
    else:
        item |= {"size": change.size, "hashValue": change.hash_value, "path": change.path}
    item["url"] = _item_url(site, req, change.path, version)
    return {"item": item, "changeType": change.change_type}


def _item_json(site: Site, req: Request, item: LabelItem) -> dict:
    body: dict = {"version": item.version, "path": item.path}
    if item.is_folder:
        body["isFolder"] = True
    body["url"] = _item_url(site, req, item.path, item.version)
    return body


def _work_item_json(site: Site, req: Request, domain: TfvcDomain, work_item_id: int) -> dict:
    kind, state, title = domain.work_item(work_item_id)
    collection = site.collection_url(req)
    return {
        "webUrl": f"{collection}/web/wi.aspx?pcguid={site.world.collection.id}&id={work_item_id}",
        "id": work_item_id,
        "title": title,
        "workItemType": kind,
        "state": state,
        "url": f"{collection}/_apis/wit/workItems/{work_item_id}",
    }


def _branch_url(site: Site, req: Request, path: str) -> str:
    return f"{site.collection_url(req)}/_apis/tfvc/branches/{quote(path)}"


def _branch_ref(site: Site, req: Request, branch: Branch, links: bool) -> dict:
    """TfvcBranchRef."""
    owner = site.identity(req, site.world.people[branch.owner])
    url = _branch_url(site, req, branch.path)
    body: dict = {}
    if links:
        body["_links"] = {"self": {"href": url}, "owner": {"href": owner["url"]}}
    body["path"] = branch.path
    if branch.description:
        body["description"] = branch.description
    body |= {"owner": owner, "createdDate": branch.date}
    if branch.deleted:
        body["isDeleted"] = True
    body["url"] = url
    return body


def _branch_json(site: Site, req: Request, branch: Branch, branches: list[Branch], options: "_BranchOptions") -> dict:
    """TfvcBranch: a deleted branch has lost its parent and is related to it instead."""
    body = _branch_ref(site, req, branch, options.links)
    if branch.deleted:
        related = [branch.parent] if branch.parent else []
    else:
        related = [b.path for b in branches if b.parent == branch.path and b.deleted and options.deleted]
    if options.parent and branch.parent and not branch.deleted:
        body["parent"] = {"path": branch.parent}
    body["relatedBranches"] = [{"path": path} for path in related]
    body["mappings"] = []
    if options.children:
        kids = [b for b in branches if b.parent == branch.path and not b.deleted]
        body["children"] = [_branch_json(site, req, kid, branches, options) for kid in kids]
    return body


class _BranchOptions:
    __slots__ = ("parent", "children", "deleted", "links")

    def __init__(self, req: Request) -> None:
        query = req.query
        self.parent = query.get_bool("includeParent")
        self.children = query.get_bool("includeChildren")
        self.deleted = query.get_bool("includeDeleted")
        self.links = query.get_bool("includeLinks")


def _label_ref(site: Site, req: Request, label: Label, links: bool) -> dict:
    """TfvcLabelRef."""
    owner = site.identity(req, site.world.people[label.owner])
    url = f"{site.collection_url(req)}/_apis/tfvc/labels/{label.id}"
    body: dict = {}
    if links:
        body["_links"] = {"self": {"href": url}, "items": {"href": f"{url}/items"}, "owner": {"href": owner["url"]}}
    body |= {"id": label.id, "name": label.name, "description": label.description, "labelScope": label.scope,
             "modifiedDate": label.date, "owner": owner, "url": url}
    return body


# -- handlers ----------------------------------------------------------------------------


def list_changesets(site: Site, req: Request) -> Response:
    """Get Changesets: newest first unless ``$orderby=id asc``; ``searchCriteria.*`` filters; ``$top``/``$skip``.

    tfvc/azure-devops-server-*/tfvc-onprem.json: ``$orderby`` "Results are sorted by ID in descending order by
    default. Use id asc to sort by ID in ascending order."; ``searchCriteria.fromId`` "If provided, only include
    changesets after this changesetID." No text or example says whether ``$top``/``$skip`` apply before or after
    the ascending sort. Default (``semantics.tfvc_top_before_sort`` off): sort, then page, as SQL's ORDER BY ...
    OFFSET/FETCH would and as the simulator always did. On: the page is cut from the default newest-first order
    and then sorted ascending, so ``fromId=1&$orderby=id asc&$top=N`` gives the newest N, skipping the range
    in between. ``$top`` is also capped by ``semantics.page_cap``."""
    query = req.query
    project = _project_index(site, req)
    top = site.semantics.capped(query.get_int("$top", default=100) or 0)
    skip = query.get_int("$skip", default=0) or 0
    ascending = (query.get("$orderby") or "").strip().lower() == "id asc"
    max_comment = query.get_int("maxCommentLength", default=_LIST_COMMENT)
    low = query.get_int("searchCriteria.fromId", default=1) or 1
    high = query.get_int("searchCriteria.toId", default=None)
    since = query.get_date("searchCriteria.fromDate")
    until = query.get_date("searchCriteria.toDate")
    author = query.get("searchCriteria.author") or ""
    item_path = (query.get("searchCriteria.itemPath") or "").rstrip("/").lower()
    links = query.get_bool("searchCriteria.includeLinks")
    domain = tfvc_of(site.world)
    people = site.world.people
    with site.world.lock:
        candidates = domain.changesets[low - 1 : high]
    chosen = [
        c for c in (reversed(candidates) if not ascending else candidates)
        if (project is None or c.project == project)
        and (since is None or c.time >= since)
        and (until is None or c.time <= until)
        and (not author or _matches(people[c.author], author))
    ]
    if item_path and item_path != "$":
        chosen = [c for c in chosen if _touches(domain, c, item_path)]
    if ascending and site.semantics.tfvc_top_before_sort:
        page = chosen[::-1][skip : skip + top][::-1]
    else:
        page = chosen[skip : skip + top]
    return list_response([_changeset_ref(site, req, c, max_comment, links) for c in page], req.version)


def _touches(domain: TfvcDomain, changeset: Changeset, item_path: str) -> bool:
    """True when the changeset changed ``item_path`` or something below it."""
    branch = changeset.branch.lower()
    if branch == item_path or branch.startswith(item_path + "/"):
        return True
    if not item_path.startswith(branch + "/"):
        return False
    return any(c.path.lower() == item_path or c.path.lower().startswith(item_path + "/") for c in domain.changes(changeset))


def get_changeset(site: Site, req: Request) -> Response:
    query = req.query
    domain = tfvc_of(site.world)
    changeset_id = _int_param(req, "id")
    with site.world.lock:
        changeset = _changeset(domain, changeset_id)
    max_changes = min(query.get_int("maxChangeCount", default=0) or 0, _MAX_CHANGES)
    body: dict = {}
    if max_changes:
        changes = domain.changes(changeset)
        body["changes"] = [_change_json(site, req, c, changeset.id) for c in changes[:max_changes]]
        if len(changes) > max_changes:
            body["hasMoreChanges"] = True
    if query.get_bool("includeDetails"):
        body |= {"checkinNotes": [], "policyOverride": {"policyFailures": []}}
    if query.get_bool("includeWorkItems"):
        body["workItems"] = [_work_item_json(site, req, domain, w) for w in changeset.work_items]
    body |= _changeset_ref(site, req, changeset, query.get_int("maxCommentLength", default=None), links=True)
    return json_response(body, req.version)


def list_changeset_changes(site: Site, req: Request) -> Response:
    """Changes of one changeset by path; ``$top``/``$skip``, and on 6.0+ ``continuationToken`` (header)."""
    query = req.query
    domain = tfvc_of(site.world)
    changeset_id = _int_param(req, "id")
    with site.world.lock:
        changeset = _changeset(domain, changeset_id)
    changes = domain.changes(changeset)
    top = site.semantics.capped(query.get_int("$top", default=100) or 0)
    start = query.get_int("$skip", default=0) or 0
    tokens = site.profile.has("6.0")
    token = query.get("continuationToken") if tokens else None
    if token:
        if not token.isdigit():
            raise ApiError.bad_argument(f"The continuation token '{token}' is not valid.")
        start = int(token)
    page = changes[start : start + top]
    headers: tuple[tuple[str, str], ...] = ()
    if tokens and start + top < len(changes):
        headers = ((CONTINUATION_HEADER, str(start + top)),)
    return list_response([_change_json(site, req, c, changeset.id) for c in page], req.version, headers)


def list_changeset_work_items(site: Site, req: Request) -> Response:
    domain = tfvc_of(site.world)
    changeset_id = _int_param(req, "id")
    with site.world.lock:
        changeset = _changeset(domain, changeset_id)
    return list_response([_work_item_json(site, req, domain, w) for w in changeset.work_items], req.version)


def changesets_batch(site: Site, req: Request) -> Response:
    """POST body ``{changesetIds, commentLength, includeLinks}``: the known ids, in the order asked."""
    try:
        payload = json.loads(req.body or b"{}")
        ids = [int(i) for i in payload.get("changesetIds") or []]
        comment_length = payload.get("commentLength")
        links = bool(payload.get("includeLinks"))
    except (ValueError, TypeError, AttributeError):
        raise ApiError.bad_argument("The request body must be a TfvcChangesetsRequestData object.") from None
    domain = tfvc_of(site.world)
    with site.world.lock:
        found = [c for c in (domain.changeset(i) for i in ids) if c is not None]
    max_comment = int(comment_length) if comment_length is not None else None
    return list_response([_changeset_ref(site, req, c, max_comment, links) for c in found], req.version)


def list_branches(site: Site, req: Request) -> Response:
    """``path``: one branch; ``scopePath``: branch refs below it; neither: the root branches (with children)."""
    query = req.query
    project = _project_index(site, req)
    options = _BranchOptions(req)
    domain = tfvc_of(site.world)
    with site.world.lock:
        branches = sorted(domain.branches.values(), key=lambda b: b.path.lower())
    path = query.get("path")
    if project is not None and not path:  # a path names its branch wherever the route's project is
        branches = [b for b in branches if b.project == project]
    if path:
        found = next((b for b in branches if b.path.lower() == path.rstrip("/").lower()), None)
        if found is None or (found.deleted and not options.deleted):
            raise ApiError(404, f"TF400889: The following path is not a branch: {path}.", "ItemNotFoundException",
                           f"{_VC}.ItemNotFoundException, {_VC}")
        return json_response(_branch_json(site, req, found, branches, options), req.version)
    scope = query.get("scopePath")
    if scope is not None:
        prefix = scope.rstrip("/").lower()
        refs = [b for b in branches if (options.deleted or not b.deleted)
                and (prefix in ("", "$") or b.path.lower() == prefix or b.path.lower().startswith(prefix + "/"))]
        return list_response([_branch_ref(site, req, b, options.links) for b in refs], req.version)
    roots = [b for b in branches if (b.parent is None and not b.deleted) or (b.deleted and options.deleted)]
    return list_response([_branch_json(site, req, b, branches, options) for b in roots], req.version)


def list_labels(site: Site, req: Request) -> Response:
    """Newest first; ``requestData.name`` (``*`` wildcards), ``owner``, ``labelScope``, ``itemLabelFilter``; ``$top`` default 100."""
    query = req.query
    project = _project_index(site, req)
    name = (query.get("requestData.name") or "").lower()
    owner = query.get("requestData.owner") or ""
    scope = (query.get("requestData.labelScope") or "").rstrip("/").lower()
    item = (query.get("requestData.itemLabelFilter") or "").rstrip("/").lower()
    links = query.get_bool("requestData.includeLinks")
    top = site.semantics.capped(query.get_int("$top", default=100) or 0)
    skip = query.get_int("$skip", default=0) or 0
    people = site.world.people
    domain = tfvc_of(site.world)
    with site.world.lock:
        labels = domain.labels[::-1]
    chosen = [
        label for label in labels
        if (project is None or label.project == project)
        and (not name or fnmatch.fnmatchcase(label.name.lower(), name))
        and (not owner or _matches(people[label.owner], owner))
        and (not scope or label.scope.lower() == scope or label.scope.lower().startswith(scope + "/"))
        and (not item or any(i.path.lower() == item for i in domain.label_items(label)))
    ]
    return list_response([_label_ref(site, req, label, links) for label in chosen[skip : skip + top]], req.version)


def get_label(site: Site, req: Request) -> Response:
    domain = tfvc_of(site.world)
    with site.world.lock:
        label = _label(domain, req)
    body = _label_ref(site, req, label, links=True)
    max_items = req.query.get_int("requestData.maxItemCount", default=None)
    if max_items:
        body["items"] = [_item_json(site, req, i) for i in domain.label_items(label)[:max_items]]
    return json_response(body, req.version)


def list_label_items(site: Site, req: Request) -> Response:
    domain = tfvc_of(site.world)
    with site.world.lock:
        label = _label(domain, req)
    top = site.semantics.capped(req.query.get_int("$top", default=100) or 0)
    skip = req.query.get_int("$skip", default=0) or 0
    items = domain.label_items(label)[skip : skip + top]
    return list_response([_item_json(site, req, i) for i in items], req.version)


ROUTES = (
    Route("GET", (COLLECTION,), "{project?}/_apis/tfvc/changesets", list_changesets, scope=_CODE),
    Route("GET", (COLLECTION,), "{project?}/_apis/tfvc/changesets/{id}", get_changeset, scope=_CODE),
    Route("GET", (COLLECTION,), "_apis/tfvc/changesets/{id}/changes", list_changeset_changes, scope=_CODE),
    Route("GET", (COLLECTION,), "_apis/tfvc/changesets/{id}/workItems", list_changeset_work_items, scope=_CODE),
    Route("POST", (COLLECTION,), "_apis/tfvc/changesetsbatch", changesets_batch, scope=_CODE),
    Route("GET", (COLLECTION,), "{project?}/_apis/tfvc/branches", list_branches, scope=_CODE),
    Route("GET", (COLLECTION,), "{project?}/_apis/tfvc/labels", list_labels, scope=_CODE),
    Route("GET", (COLLECTION,), "{project?}/_apis/tfvc/labels/{labelId}", get_label, scope=_CODE),
    Route("GET", (COLLECTION,), "_apis/tfvc/labels/{labelId}/items", list_label_items, scope=_CODE),
)
