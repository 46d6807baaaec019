"""What a route handler sees: the ``Site`` (world, profile, URL builders) and the ``Request``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from standins.ado_simulator.semantics import DEFAULT_SEMANTICS, ServerSemantics
from standins.ado_simulator.world.model import Person, Project, Repository
from standins.ado_simulator.wire.profiles import Profile
from standins.ado_simulator.wire.wire import NOT_FOUND_HTML, ApiError, ApiVersion, FragmentCache, Query, Response, html_response
from standins.ado_simulator.world.world import World

__all__ = ["Request", "Site", "SERVER_PATH"]

SERVER_PATH = "/tfs"


@dataclass(frozen=True, slots=True)
class Request:
    """One authenticated, routed request."""

    method: str
    path: str
    params: dict[str, str]
    query: Query
    origin: str  # scheme://host[:port] as the client addressed us
    version: ApiVersion | None
    user: Person
    body: bytes = b""  # the request body (POST/PUT/PATCH), raw

    @property
    def server_url(self) -> str:
        return self.origin + SERVER_PATH


@dataclass(frozen=True, slots=True)
class Site:
    """The simulated server: its world, profile and semantics, plus the URL shapes it writes into bodies."""

    world: World
    profile: Profile
    fragments: FragmentCache = field(default_factory=FragmentCache)
    semantics: ServerSemantics = DEFAULT_SEMANTICS  # what the routes cap and in which order (semantics.py)
    hooks: Any = field(default=None, compare=False)  # the service hooks (events/service.py HookService), set by the app

    def collection_url(self, req: Request) -> str:
        return f"{req.origin}{SERVER_PATH}/{self.world.collection.name}"

    def project_url(self, req: Request, project: Project) -> str:
        return f"{self.collection_url(req)}/_apis/projects/{project.id}"

    def repository_url(self, req: Request, repo: Repository) -> str:
        return f"{self.collection_url(req)}/{repo.project_id}/_apis/git/repositories/{repo.id}"

    def remote_url(self, req: Request, repo: Repository) -> str:
        project = self.world.project(repo.project_id)
        assert project is not None
        return f"{self.collection_url(req)}/{quote(project.name)}/_git/{quote(repo.name)}"

    def ssh_url(self, req: Request, repo: Repository) -> str:
        project = self.world.project(repo.project_id)
        assert project is not None
        host = req.origin.split("://", 1)[-1].rsplit(":", 1)[0]
        return f"ssh://{host}:22{SERVER_PATH}/{self.world.collection.name}/{quote(project.name)}/_git/{quote(repo.name)}"

    def identity(self, req: Request, person: Person) -> dict:
        """IdentityRef as the server writes it (pushedBy, creator...)."""
        collection = self.collection_url(req)
        return {
            "displayName": person.display_name,
            "url": f"{collection}/_apis/Identities/{person.id}",
            "_links": {"avatar": {"href": f"{collection}/_apis/GraphProfile/MemberAvatars/{person.descriptor}"}},
            "id": person.id,
            "uniqueName": person.unique_name,
            "imageUrl": f"{collection}/_api/_common/identityImage?id={person.id}",
            "descriptor": person.descriptor,
        }


def require_preview_before(site: Site, req: Request, released: str) -> None:
    """On a server before api-version ``released`` the resource is in preview: a plain version is refused."""
    version = req.version
    if version is not None and not site.profile.has(released) and not version.preview:
        raise ApiError.preview_required(version.plain)


def unavailable(site: Site, req: Request, since: str, released: str) -> Response | None:
    """The HTML 404 page on a server before ``since`` (the route does not exist there); the preview
    error for a plain api-version before ``released``; None where the route answers."""
    if not site.profile.has(since):
        return html_response(404, NOT_FOUND_HTML)
    require_preview_before(site, req, released)
    return None
