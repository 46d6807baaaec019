"""``satellite check`` for one integration: reachability, PAT, api-version, services, projects.

Per collection, in order: the PAT is accepted (``GET _apis/connectionData``), the server's
api-version is 5.0 (Azure DevOps Server 2019) or later, each enabled service answers one cheap
read (a refusal names the missing PAT scope), users can be read (2020+), and the project filter
keeps at least one visible project. Every request is tried once with a short timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from satellite.ado.client import AdoClient, CollectionTarget, TlsOptions, segment
from satellite.ado.versions import ApiVersion
from satellite.ado.windows_auth import WINDOWS_AUTH_FIX, WindowsAuthRequired
from satellite.check.probes import CONNECT_TIMEOUT, NetworkTarget, network_checks
from satellite.check.result import CheckResult, failed, passed, skipped
from satellite.errors import (
    AdoAuthError,
    AdoError,
    AdoNotFoundError,
    AdoPermissionError,
    AdoVersionError,
)
from satellite.retrying import RetryPolicy
from satellite.streams.core import IdentitiesStream

__all__ = ["integration_checks", "SCOPE_NAMES", "SERVICE_READS", "READ_TIMEOUT"]

READ_TIMEOUT = 15.0
NO_RETRY = RetryPolicy(max_attempts=1)
SCOPE_NAMES = {  # PAT scope -> how the PAT page names it
    "vso.project": "Project and Team (read)",
    "vso.code": "Code (read)",
    "vso.build": "Build (read)",
    "vso.release": "Release (read)",
    "vso.work": "Work Items (read)",
    "vso.identity": "Identity (read)",
}
VALID_USERS = IdentitiesStream.VALID_USERS  # the group the users stream reads


@dataclass(frozen=True, slots=True)
class _Read:
    """One cheap read that proves a service is readable with this PAT."""

    what: str
    path: str  # "{project}" is replaced by a visible project's id
    params: dict[str, Any]
    scope: str


SERVICE_READS: dict[str, tuple[_Read, ...]] = {
    "repos": (_Read("git repositories", "_apis/git/repositories", {"$top": 1}, "vso.code"),),
    "tfvc": (_Read("TFVC changesets", "_apis/tfvc/changesets", {"$top": 1}, "vso.code"),),
    "pipelines": (
        _Read("build definitions", "{project}/_apis/build/definitions", {"$top": 1}, "vso.build"),
        _Read("release definitions", "{project}/_apis/release/definitions", {"$top": 1}, "vso.release"),
    ),
    "boards": (_Read("work item revisions", "_apis/wit/reporting/workitemrevisions", {"$maxPageSize": 1}, "vso.work"),),
}


def _scope_text(scope: str) -> str:
    return f"{scope} ({SCOPE_NAMES.get(scope, scope)})"


class _IntegrationCheck:
    def __init__(self, index: int, integration, limits, timeout: float, read_timeout: float) -> None:
        self.integration = integration
        self.limits = limits
        self.label = integration.id
        self.key = f"integrations[{index}]"
        self.timeout = timeout
        self.read_timeout = read_timeout
        self.tls = TlsOptions(verify=integration.tls.verify, ca_bundle=integration.tls.ca_bundle)
        self.services = tuple(integration.services)
        self.per_collection = ("pat", "api-version", *(f"service {s}" for s in self.services), "users", "projects")

    # -- helpers -----------------------------------------------------------------------------

    def client(self, url: str, name: str) -> AdoClient:
        return AdoClient(
            CollectionTarget(url, name),
            self.integration.pat,
            tls=self.tls,
            proxy=self.integration.proxy,
            timeout=httpx.Timeout(self.read_timeout, connect=self.timeout),  # type: ignore[arg-type]
            retry=NO_RETRY,
            max_connections=2,
        )

    def skip_from(self, collection: str, target: str, first: str, reason: str) -> list[CheckResult]:
        """Skip lines for ``first`` and every later per-collection check."""
        names = self.per_collection[self.per_collection.index(first):]
        return [skipped(self.label, collection, name, target, reason) for name in names]

    def collections_hint(self, server_url: str) -> str:
        """Which collections the server has (best effort), for a wrong-collection hint."""
        try:
            with self.client(server_url, "server") as server:
                body, _ = server.request("GET", "_apis/projectCollections", {"api-version": "1.0"})
            names = sorted(str(c.get("name")) for c in body.get("value", []) if isinstance(c, dict))
        except (AdoError, AttributeError, TypeError):
            return ""
        return f"; the collections at {server_url} are: {', '.join(names)}" if names else ""

    # -- the checks ----------------------------------------------------------------------------

    def run(self) -> list[CheckResult]:
        proxy_key = f"{self.key}.proxy (or satellite.proxy, which it inherits)"
        network = NetworkTarget(self.label, self.integration.url, self.tls.verify, self.tls.ca_bundle, self.integration.proxy,
                                f"{self.key}.url", proxy_key, f"{self.key}.tls")
        results = network_checks(network, self.timeout)
        names = list(self.integration.collections)
        if not all(r.ok for r in results):
            for name, url in self.named_collections() or [("*", self.integration.url)]:
                results += self.skip_from(name, url, "pat", "the server cannot be reached")
            return results
        targets = self.named_collections()
        if targets is None:  # collections: ["*"]
            targets = self.all_collections(results)
            if targets is None:
                return results
        for name, url in targets:
            results += self.collection_checks(name, url, named=bool(names))
        return results

    def named_collections(self) -> list[tuple[str, str]] | None:
        """(name, URL) of each configured collection; None for ["*"]."""
        base = self.integration.url.rstrip("/")
        if not self.integration.collections:
            return [(base.rsplit("/", 1)[-1], base)]
        if list(self.integration.collections) == ["*"]:
            return None
        return [(name, f"{base}/{name}") for name in self.integration.collections]

    def all_collections(self, results: list[CheckResult]) -> list[tuple[str, str]] | None:
        base = self.integration.url.rstrip("/")
        with self.client(base, "server") as server:
            pat = self.pat_check(server, "*", server_level=True)
            results.append(pat)
            if not pat.ok:
                results += self.skip_from("*", base, "api-version", "the PAT was not accepted")
                return None
            try:
                names = [c["name"] for page in server.pages_by_offset("_apis/projectCollections", page_size=100) for c in page]
            except AdoError as exc:
                results.append(failed(self.label, "*", "collections", base, f"cannot list the collections: {exc}",
                                      f"list the collections by name in {self.key}.collections"))
                return None
        if not names:
            results.append(failed(self.label, "*", "collections", base, "the server lists no collection for this PAT",
                                  f"name the collections in {self.key}.collections"))
            return None
        results.append(passed(self.label, "*", "collections", base, f"{len(names)} collection(s): {', '.join(names)}"))
        return [(name, f"{base}/{name}") for name in names]

    def collection_checks(self, name: str, url: str, *, named: bool) -> list[CheckResult]:
        with self.client(url, name) as client:
            pat = self.pat_check(client, name, named=named)
            if not pat.ok:
                return [pat, *self.skip_from(name, url, "api-version", "the PAT or the collection URL was not accepted")]
            version_line, version = self.version_check(client, name)
            if version is None:
                return [pat, version_line, *self.skip_from(name, url, f"service {self.services[0]}", "the api-version is not supported")]
            projects_line, projects = self.projects_check(client, name)
            project = projects[0] if projects else None
            services = [self.service_check(client, name, service, project) for service in self.services]
            users = self.users_check(client, name, version)
        return [pat, version_line, *services, users, projects_line]

    def pat_check(self, client: AdoClient, name: str, *, named: bool = False, server_level: bool = False) -> CheckResult:
        url = client.target.url
        new_pat = (f"create a new PAT on this server (user menu > Personal access tokens; read scopes as in the README) and"
                   f" put it where {self.key}.pat points")
        try:
            body, _ = client.request("GET", "_apis/connectionData", {"api-version": "1.0-preview"})
        except WindowsAuthRequired:
            return self.windows_auth_failure(name, url)
        except AdoAuthError as exc:
            status = f"HTTP {exc.status}" if exc.status else "a sign-in page"
            return failed(self.label, name, "pat", url, f"the server refused the PAT ({status}): it is wrong, expired or revoked, "
                          "or was created on another server", new_pat)
        except AdoNotFoundError:
            if named:
                server, where = self.integration.url.rstrip("/"), f"{self.key}.collections"
            else:
                server, where = url.rstrip("/").rsplit("/", 1)[0], f"{self.key}.url"
            return failed(self.label, name, "pat", url,
                          f"wrong collection URL: there is no collection at {url} (HTTP 404, page not found)",
                          f"correct {where}: a collection URL looks like https://server/tfs/DefaultCollection"
                          + self.collections_hint(server))
        except AdoError as exc:
            hint = f"check {self.key}.url"
            if exc.status and 300 <= exc.status < 400:
                hint = f"the server redirects: put the final URL (usually https://...) in {self.key}.url"
            return failed(self.label, name, "pat", url, f"connectionData failed: {exc}", hint)
        if not isinstance(body, dict):
            return failed(self.label, name, "pat", url, "connectionData did not answer a JSON object",
                          f"is {self.key}.url an Azure DevOps Server collection URL?")
        user = body.get("authenticatedUser") or {}
        who = user.get("customDisplayName") or user.get("providerDisplayName") or "an unnamed user"
        if not server_level and body.get("instanceId") and body.get("instanceId") == body.get("deploymentId"):
            return failed(self.label, name, "pat", url, f"{url} is the server root, not a collection (PAT accepted for {who})",
                          f"add `collections: [DefaultCollection]` (the collection names) to {self.key}, or append the"
                          f" collection name to {self.key}.url" + self.collections_hint(url))
        return passed(self.label, name, "pat", url, f"accepted: authenticated as {who}")

    def windows_auth_failure(self, name: str, url: str) -> CheckResult:
        """The pat line for a server that answered with Windows-authentication challenges only."""
        detail = ("the server refused the PAT and asks for Windows authentication only (HTTP 401, WWW-Authenticate:"
                  " Negotiate/NTLM); the satellite authenticates with a PAT over Basic and does not do Windows"
                  " (Negotiate/NTLM/Kerberos) authentication")
        hint = WINDOWS_AUTH_FIX
        if url.lower().startswith("http://"):
            hint += (f"; Microsoft supports PATs on Azure DevOps Server over HTTPS: use the server's https:// URL in"
                     f" {self.key}.url")
        return failed(self.label, name, "pat", url, detail, f"{hint}; the PAT goes where {self.key}.pat points")

    def version_check(self, client: AdoClient, name: str) -> tuple[CheckResult, ApiVersion | None]:
        url = client.target.url
        try:
            version = client.api_version()
        except AdoVersionError as exc:
            text = str(exc)
            if "at most" in text:
                hint = ("upgrade the server to Azure DevOps Server 2019 or later (TFS 2018 and older have no REST api-version 5.0);"
                        f" or remove {self.key} from the config")
            else:
                hint = f"check that {self.key}.url is an Azure DevOps Server collection URL"
            return failed(self.label, name, "api-version", url, text, hint), None
        except AdoError as exc:
            return failed(self.label, name, "api-version", url, f"cannot learn the server's api-version: {exc}",
                          f"check that {self.key}.url is an Azure DevOps Server collection URL"), None
        detail = f"server supports api-version {version.server_max}; using {version.base} ({version.server_name})"
        return passed(self.label, name, "api-version", url, detail), version

    def projects_check(self, client: AdoClient, name: str) -> tuple[CheckResult, list[dict]]:
        """The projects line, and the kept projects (else the visible ones) for per-project reads."""
        url = client.target.url
        try:
            visible = [p for page in client.pages_by_offset("_apis/projects", {"stateFilter": "wellFormed"},
                                                            page_size=self.limits.page_sizes.projects) for p in page]
        except (AdoPermissionError, AdoAuthError) as exc:
            return failed(self.label, name, "projects", url, f"the PAT may not list projects: it lacks scope {_scope_text('vso.project')}"
                          f" (HTTP {exc.status})", f"create a PAT with {SCOPE_NAMES['vso.project']} on this server"), []
        except AdoError as exc:
            return failed(self.label, name, "projects", url, f"cannot list projects: {exc}"), []
        kept = [p for p in visible if self.integration.projects.matches(str(p.get("name", "")))]
        if not visible:
            return failed(self.label, name, "projects", url, "the PAT's user sees no project in this collection",
                          "give the PAT's user read access (e.g. Readers) to the projects to collect"), []
        if not kept:
            shown = ", ".join(sorted(str(p.get("name")) for p in visible)[:10])
            return failed(self.label, name, "projects", url,
                          f"{len(visible)} project(s) visible, none kept by {self.key}.projects include/exclude",
                          f"change {self.key}.projects.include / .exclude (case-insensitive patterns); visible: {shown}"), visible
        return passed(self.label, name, "projects", url, f"{len(visible)} project(s) visible, {len(kept)} kept by the include/exclude filter"), kept

    def service_check(self, client: AdoClient, name: str, service: str, project: dict | None) -> CheckResult:
        url, check = client.target.url, f"service {service}"
        missing: list[tuple[_Read, int | None]] = []
        problems: list[str] = []
        done: list[str] = []
        for read in SERVICE_READS[service]:
            if "{project}" in read.path and project is None:
                return skipped(self.label, name, check, url, f"no visible project to read {read.what} from")
            path = read.path.format(project=segment(project["id"]) if project else "")
            try:
                client.get(path, read.params)
            except (AdoPermissionError, AdoAuthError) as exc:
                missing.append((read, exc.status))
            except AdoError as exc:
                problems.append(f"reading {read.what} failed: {exc}")
            else:
                done.append(read.what)
        if missing:
            scopes = sorted({r.scope for r, _ in missing})
            refused = ", ".join(f"{r.what} (HTTP {status})" for r, status in missing)
            return failed(self.label, name, check, url,
                          f"the PAT lacks scope {' and '.join(_scope_text(s) for s in scopes)}: refused {refused}",
                          f"create a PAT on this server that also has {', '.join(SCOPE_NAMES[s] for s in scopes)},"
                          f" or remove '{service}' from {self.key}.services")
        if problems:
            return failed(self.label, name, check, url, "; ".join(problems))
        scopes = sorted({r.scope for r in SERVICE_READS[service]})
        return passed(self.label, name, check, url, f"read {' and '.join(done)} ({', '.join(scopes)})")

    def users_check(self, client: AdoClient, name: str, version: ApiVersion) -> CheckResult:
        url = client.target.url
        if not version.at_least("6.0"):
            return passed(self.label, name, "users", url,
                          f"{version.server_name} has no identities API: users come with team members only")
        try:
            client.get("_apis/identities", {"searchFilter": "General", "filterValue": VALID_USERS, "queryMembership": "None"})
        except (AdoPermissionError, AdoAuthError) as exc:
            return failed(self.label, name, "users", url,
                          f"the PAT lacks scope {_scope_text('vso.identity')}: refused identities (HTTP {exc.status})",
                          f"create a PAT on this server that also has {SCOPE_NAMES['vso.identity']} (without it, users are not"
                          " collected; everything else is)")
        except AdoError as exc:
            return failed(self.label, name, "users", url, f"reading identities failed: {exc}")
        return passed(self.label, name, "users", url, "read identities (vso.identity)")


def integration_checks(index: int, integration, limits, *, timeout: float = CONNECT_TIMEOUT,
                       read_timeout: float = READ_TIMEOUT) -> list[CheckResult]:
    """Every check of ``config.integrations[index]``."""
    return _IntegrationCheck(index, integration, limits, timeout, read_timeout).run()

