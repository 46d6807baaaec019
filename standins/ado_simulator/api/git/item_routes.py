"""Git items (metadata): ``GET {project}/_apis/git/repositories/{repositoryId}/items``, over ``file_tree``.

One route serves both operations the server keeps under that URL:

- Get Item: ``path`` given and no recursion (``recursionLevel`` absent or ``none``): one GitItem, with
  ``_links``; ``includeContent=true`` adds a small generated text ``content`` to a file;
- Get Items: otherwise, ``{count, value}`` of the item at ``scopePath`` (or ``path``; default ``/``) and,
  for a folder, its children (``oneLevel``, ``oneLevelPlusNestedEmptyFolders``: there are no empty
  folders) or every descendant (``full``), depth-first with names compared ordinally as the
  server lists them; ``_links`` per item with ``includeLinks=true``.

The version is ``versionDescriptor.version``/``versionType``/``versionOptions`` (also spelled without
the prefix, as item URLs do): the default branch when absent; ``previousChange`` takes the resolved
commit's first parent, ``firstParent`` the commit itself. ``includeContentMetadata`` adds
``contentMetadata``, ``latestProcessedChange`` the GitCommitRef of the newest commit that changed the
item. Only metadata is served: ``download``, ``$format`` (``json``, ``zip``, ``text``...), ``resolveLfs``,
``sanitize`` and ``zipForUnix`` are bound (booleans as .NET parses them) but the answer stays JSON.
"""

from __future__ import annotations

from urllib.parse import quote

from standins.ado_simulator.api.git.diff_routes import unresolvable
from standins.ado_simulator.api.git.file_tree import ROOT, FileTree, TreeItem, file_tree
from standins.ado_simulator.api.git.git_bodies import commit_ref_json
from standins.ado_simulator.api.git.git_routes import route_repository
from standins.ado_simulator.wire.binding import GIT_VERSION_TYPE, DotNetEnum
from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.wire.routing import COLLECTION, Location, Route
from standins.ado_simulator.wire.wire import (
    ApiError,
    Response,
    json_response,
    list_response,
)
from standins.ado_simulator.world.git.history import RepoHistory
from standins.ado_simulator.world.model import Repository

__all__ = ["LOCATIONS", "RECURSION_TYPE", "ROUTES", "VERSION_OPTIONS"]

_GIT = "Microsoft.TeamFoundation.Git.Server"
_CODE = "vso.code"
_REPO = "{project?}/_apis/git/repositories/{repositoryId}"
_TEMPLATE = "{project}/_apis/git/repositories/{repositoryId}"

# VersionControlRecursionType and GitVersionOptions, numbers as Microsoft's generated clients carry them
RECURSION_TYPE = DotNetEnum("VersionControlRecursionType", (("none", 0), ("oneLevel", 1),
                                                            ("oneLevelPlusNestedEmptyFolders", 4), ("full", 120)))
VERSION_OPTIONS = DotNetEnum("GitVersionOptions", (("none", 0), ("previousChange", 1), ("firstParent", 2)))
_DEPTH = {"none": "none", "oneLevel": "one", "oneLevelPlusNestedEmptyFolders": "one", "full": "full"}
_BOOLEANS = ("includeContentMetadata", "latestProcessedChange", "download", "includeLinks", "includeContent",
             "resolveLfs", "sanitize", "zipForUnix")
_CONTENT_TYPES = {"json": "application/json", "md": "text/markdown"}

LOCATIONS = (  # the id Microsoft's clients carry (GitClient.get_item, get_items)
    Location("fb93c0db-47ed-4a31-8c20-47552878fb44", "git", "items", f"{_TEMPLATE}/items/{{*path}}", 1, (COLLECTION,)),
)


def _normalize(raw: str) -> str:
    """``/``-rooted, no trailing slash, backslashes as slashes (the server's path normalisation)."""
    path = "/" + raw.replace("\\", "/").strip("/")
    while "//" in path:
        path = path.replace("//", "/")
    return path


def _not_found(path: str, repo: Repository, descriptor: str, commit_id: str) -> ApiError:
    return ApiError(
        404,
        f"TF401174: The item '{path}' could not be found in the repository '{repo.name}' at the version specified"
        f" by '{descriptor}' (resolved to commit '{commit_id}').",
        "GitItemNotFoundException",
        f"{_GIT}.GitItemNotFoundException, {_GIT}",
    )


class _Version:
    """The requested version descriptor: the commit it resolves to and how item URLs spell it."""

    def __init__(self, req: Request, history: RepoHistory, repo: Repository) -> None:
        query = req.query
        version = query.get("versionDescriptor.version", "version") or ""
        kind = query.get_enum(GIT_VERSION_TYPE, "versionDescriptor.versionType", "versionType", default="branch")
        options = query.get_enum(VERSION_OPTIONS, "versionDescriptor.versionOptions", "versionOptions", default="none")
        label = str(kind).capitalize()
        if kind == "commit":
            commit = version.lower() if history.commit(version.lower()) is not None else None
        else:
            name = version or (repo.default_branch if kind == "branch" else "")
            prefix = "refs/heads/" if kind == "branch" else "refs/tags/"
            commit = history.resolve(name if name.startswith("refs/") else prefix + name) if name else None
            version = version or name.removeprefix("refs/heads/")
        if commit is None:
            raise unresolvable(label, version, repo)
        if options == "previousChange":
            parents = history.commits[history.positions[commit]].parents
            if not parents:
                raise unresolvable(label, version, repo)
            commit = parents[0]
        self.commit_id = commit
        self.descriptor = f"<{label}: {version} >"
        spelled = f"&version={quote(version, safe='')}" if req.query.get("versionDescriptor.version", "version") else ""
        self.query = f"versionType={label}{spelled}&versionOptions={str(options)[0].upper()}{str(options)[1:]}"


def _metadata(item: TreeItem) -> dict:
    """FileContentMetadata: a folder's name; a file's name, extension and type (UTF-8 text)."""
    if item.is_folder:
        return {"fileName": item.name}
    extension = item.name.rsplit(".", 1)[-1] if "." in item.name else ""
    return {"encoding": 65001, "contentType": _CONTENT_TYPES.get(extension, "text/plain"), "fileName": item.name,
            "extension": extension}


def _content(item: TreeItem) -> str:
    """The generated text of a file: the same for the same blob."""
    return f"{item.path}\nblob {item.object_id}\n"


def _item_json(site: Site, req: Request, history: RepoHistory, repo: Repository, version: _Version, item: TreeItem,
               extras: dict[str, bool]) -> dict:
    base = site.repository_url(req, repo)
    url = f"{base}/items{quote(item.path)}?{version.query}"
    body: dict = {"objectId": item.object_id, "gitObjectType": "tree" if item.is_folder else "blob",
                  "commitId": version.commit_id, "path": item.path}
    if item.is_folder:
        body["isFolder"] = True
    if extras["includeContentMetadata"]:
        body["contentMetadata"] = _metadata(item)
    if extras["latestProcessedChange"]:
        body["latestProcessedChange"] = commit_ref_json(site, history.commits[item.changed_by], base,
                                                        site.remote_url(req, repo))
    if extras["includeContent"] and not item.is_folder:
        body["content"] = _content(item)
    body["url"] = url
    if extras["includeLinks"]:
        kind = "tree" if item.is_folder else "blob"
        body["_links"] = {"self": {"href": url}, "repository": {"href": base},
                          kind: {"href": f"{base}/{kind}s/{item.object_id}"}}
    return body


def get_items(site: Site, req: Request) -> Response:
    """Get Item (``path``, no recursion: one GitItem) or Get Items (a ``{count, value}`` listing)."""
    repo = route_repository(site, req)
    query = req.query
    extras = {name: query.get_bool(name) for name in _BOOLEANS}
    level = query.get_enum(RECURSION_TYPE, "recursionLevel")
    raw_path = query.get("path")
    single = bool(raw_path) and level in (None, "none")
    path = _normalize(raw_path or query.get("scopePath") or ROOT)
    with site.world.reading(repo.id) as history:
        version = _Version(req, history, repo)
        tree: FileTree = file_tree(history, version.commit_id)
        if tree.get(path) is None:
            raise _not_found(path, repo, version.descriptor, version.commit_id)
        if single:
            extras["includeLinks"] = True
            body = _item_json(site, req, history, repo, version, tree.items[path], extras)
            return json_response(body, req.version)
        extras["includeContent"] = False
        items = [_item_json(site, req, history, repo, version, item, extras)
                 for item in tree.listing(path, _DEPTH[level or "none"])]
    return list_response(items, req.version)


ROUTES = (Route("GET", (COLLECTION,), f"{_REPO}/items", get_items, scope=_CODE),)
