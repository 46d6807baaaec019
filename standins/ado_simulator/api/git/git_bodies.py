"""Git response bodies: GitRepository, GitRef, GitCommitRef/GitCommit and GitPush, per the on-prem specs."""

from __future__ import annotations

from urllib.parse import quote

from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.api.core.core_routes import project_json
from standins.ado_simulator.api.git.file_changes import FileChange
from standins.ado_simulator.world.git.history import Tag
from standins.ado_simulator.world.model import Commit, Push, Ref, Repository

__all__ = ["repository_json", "repository_links", "shallow_repository", "ref_json", "tag_ref_json", "commit_ref_json",
           "commit_json", "push_ref", "push_json", "user_date", "git_change_json", "MAX_COMMENT"]

MAX_COMMENT = 100  # Get Commits lists the first line of a message, cut to this length


def repository_json(site: Site, req: Request, repo: Repository) -> dict:
    """GitRepository; ``webUrl`` exists from 6.0, ``isDisabled`` from 7.0, ``isInMaintenance`` from 7.1."""
    project = site.world.project(repo.project_id)
    assert project is not None
    body = {
        "id": repo.id,
        "name": repo.name,
        "url": site.repository_url(req, repo),
        "project": project_json(site, req, project),
        "defaultBranch": repo.default_branch,  # left out below for an empty repository, as the server does
        "size": repo.size,
        "remoteUrl": site.remote_url(req, repo),
        "sshUrl": site.ssh_url(req, repo),
    }
    if not repo.default_branch:
        del body["defaultBranch"]
    profile = site.profile
    if profile.has("6.0"):
        body["webUrl"] = body["remoteUrl"]
    if profile.has("7.0"):
        body["isDisabled"] = repo.disabled
    if profile.has("7.1"):
        body["isInMaintenance"] = False
    return body


def repository_links(site: Site, req: Request, repo: Repository) -> dict:
    """``_links`` of a repository (single GET, or ``includeLinks=true``)."""
    url = site.repository_url(req, repo)
    links = {"self": {"href": url}, "project": {"href": f"vstfs:///Classification/TeamProject/{repo.project_id}"},
             "web": {"href": site.remote_url(req, repo)}}
    for name in ("commits", "refs", "pullRequests", "items", "pushes"):
        links[name] = {"href": f"{url}/{name}"}
    return links


def shallow_repository(site: Site, req: Request, repo: Repository) -> dict:
    """The repository as embedded in a push."""
    project = site.world.project(repo.project_id)
    assert project is not None
    return {"id": repo.id, "name": repo.name, "url": site.repository_url(req, repo),
            "project": project_json(site, req, project), "defaultBranch": repo.default_branch,
            "remoteUrl": site.remote_url(req, repo)}


def user_date(site: Site, who: int, date: str) -> dict:
    """GitUserDate (author, committer)."""
    person = site.world.people[who]
    return {"name": person.display_name, "email": person.email, "date": date}


def commit_ref_json(site: Site, commit: Commit, base: str, remote: str) -> dict:
    """GitCommitRef as listed by Get Commits (comment cut to its first line, at most 100 characters)."""
    comment = commit.message.split("\n", 1)[0][:MAX_COMMENT]
    body = {
        "commitId": commit.commit_id,
        "author": user_date(site, commit.author, commit.author_date),
        "committer": user_date(site, commit.committer, commit.commit_date),
        "comment": comment,
    }
    if comment != commit.message:
        body["commentTruncated"] = True
    body["changeCounts"] = {"Add": commit.adds, "Edit": commit.edits, "Delete": commit.deletes}
    body["url"] = f"{base}/commits/{commit.commit_id}"
    body["remoteUrl"] = f"{remote}/commit/{commit.commit_id}"
    return body


def push_ref(site: Site, req: Request, push: Push) -> dict:
    """GitPushRef fields: who pushed, which push, when."""
    return {"pushedBy": site.identity(req, site.world.people[push.pusher]), "pushId": push.push_id, "date": push.date}


def push_json(site: Site, req: Request, repo: Repository, push: Push, ref_updates: bool) -> dict:
    """GitPush as listed (``refUpdates`` only when asked for)."""
    body: dict = {}
    if ref_updates:
        body["refUpdates"] = [
            {"repositoryId": repo.id, "name": u.name, "oldObjectId": u.old_object_id, "newObjectId": u.new_object_id}
            for u in push.ref_updates
        ]
    body["repository"] = shallow_repository(site, req, repo)
    body.update(push_ref(site, req, push))
    body["url"] = f"{site.repository_url(req, repo)}/pushes/{push.push_id}"
    return body


def ref_json(site: Site, req: Request, repository_url: str, ref: Ref) -> dict:
    """GitRef as listed by Get Refs."""
    return {
        "name": ref.name,
        "objectId": ref.object_id,
        "creator": site.identity(req, site.world.people[ref.creator]),
        "url": f"{repository_url}/refs?filter={quote(ref.name[5:], safe='')}",
    }


def tag_ref_json(site: Site, req: Request, repository_url: str, tag: Tag, peel: bool) -> dict:
    """GitRef of a tag: ``peeledObjectId`` (the commit) only for annotated tags, and only when asked."""
    body = {"name": tag.name, "objectId": tag.object_id}
    if peel and tag.annotated:
        body["peeledObjectId"] = tag.commit_id
    body["creator"] = site.identity(req, site.world.people[tag.tagger])
    body["url"] = f"{repository_url}/refs?filter={quote(tag.name[5:], safe='')}"
    return body


def commit_json(site: Site, req: Request, repo: Repository, commit: Commit, push: Push) -> dict:
    """GitCommit (one commit): full comment, parents, push and links."""
    base, remote = site.repository_url(req, repo), site.remote_url(req, repo)
    url = f"{base}/commits/{commit.commit_id}"
    return {
        "treeId": commit.tree_id,
        "commitId": commit.commit_id,
        "author": user_date(site, commit.author, commit.author_date),
        "committer": user_date(site, commit.committer, commit.commit_date),
        "comment": commit.message,
        "parents": list(commit.parents),
        "push": push_ref(site, req, push),
        "changeCounts": {"Add": commit.adds, "Edit": commit.edits, "Delete": commit.deletes},
        "url": url,
        "remoteUrl": f"{remote}/commit/{commit.commit_id}",
        "_links": {
            "self": {"href": url},
            "repository": {"href": base},
            "changes": {"href": f"{url}/changes"},
            "web": {"href": f"{remote}/commit/{commit.commit_id}"},
            "tree": {"href": f"{base}/trees/{commit.tree_id}"},
        },
    }


def git_change_json(base: str, commit_id: str, change: FileChange) -> dict:
    """GitChange of a file (``item`` a GitItem at ``commit_id``); see ``file_changes`` for how files are derived."""
    item = {"objectId": change.object_id}
    if change.original_object_id:
        item["originalObjectId"] = change.original_object_id
    url = f"{base}/items{quote(change.path)}?versionType=Commit&version={commit_id}"
    item.update({"gitObjectType": "blob", "commitId": commit_id, "path": change.path, "url": url})
    return {"item": item, "changeType": change.change_type}
