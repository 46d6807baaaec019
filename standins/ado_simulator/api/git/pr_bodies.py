"""Pull request response bodies: GitPullRequest, IdentityRefWithVote, GitPullRequestCommentThread,
Comment, GitPullRequestIteration and ResourceRef, with field presence per the on-prem specs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.world.generate import MAIN
from standins.ado_simulator.api.git.git_bodies import push_ref, user_date
from standins.ado_simulator.world.model import Commit, Repository, iso, iso_fraction
from standins.ado_simulator.world.git.pr_model import COMPLETED, INLINE, VOTE, PullRequest, Reviewer, Thread
from standins.ado_simulator.world.git.pr_timeline import Comment, Iteration, inline_position

__all__ = ["PullRequestUrls", "pull_request_json", "reviewer_json", "thread_json", "comment_json", "iteration_json",
           "work_item_ref"]

_SERVICE_ACCOUNTS = "Project Collection Service Accounts"


@dataclass(frozen=True, slots=True)
class PullRequestUrls:
    """URLs of one pull request as the request addressed the server."""

    repository: str
    collection: str
    pull_request: str

    @classmethod
    def of(cls, site: Site, req: Request, repo: Repository, pr: PullRequest) -> "PullRequestUrls":
        base = site.repository_url(req, repo)
        return cls(base, site.collection_url(req), f"{base}/pullRequests/{pr.id}")


def _ticks(seed: int) -> int:
    return seed * 2654435761 % 10_000_000


def _commit(urls: PullRequestUrls, commit_id: str) -> dict:
    return {"commitId": commit_id, "url": f"{urls.repository}/commits/{commit_id}"}


def pull_request_json(site: Site, req: Request, repo: Repository, pr: PullRequest, merges: tuple[str, str, str],
                      merge_commit: Commit | None, detail: bool = False, links: bool = False) -> dict:
    """GitPullRequest as listed; ``detail`` (a single GET) adds ``artifactId``, ``_links`` and the merge
    commit's author, committer and comment. ``merge_commit`` is the completed merge (None otherwise)."""
    urls = PullRequestUrls.of(site, req, repo, pr)
    project = site.world.project(repo.project_id)
    assert project is not None
    source, target, merge = merges
    people = site.world.people
    body: dict = {
        "repository": {"id": repo.id, "name": repo.name, "url": urls.repository,
                       "project": {"id": project.id, "name": project.name, "state": "unchanged"}},
        "pullRequestId": pr.id,
        "codeReviewId": pr.code_review_id,
        "status": pr.status,
        "createdBy": site.identity(req, people[pr.creator]),
        "creationDate": iso_fraction(pr.created, _ticks(pr.id)),
    }
    if pr.closed:
        body["closedDate"] = iso_fraction(pr.closed, _ticks(pr.id + 1))
    body.update({
        "title": pr.title,
        "description": pr.description,
        "sourceRefName": pr.source,
        "targetRefName": MAIN,
        "isDraft": pr.draft,
        "mergeStatus": "conflicts" if pr.conflicts else "succeeded",
        "mergeId": str(uuid.uuid5(uuid.NAMESPACE_OID, f"merge:{repo.id}:{pr.id}:{merge}")),
        "lastMergeSourceCommit": _commit(urls, source),
        "lastMergeTargetCommit": _commit(urls, target),
    })
    if not pr.conflicts:
        body["lastMergeCommit"] = _commit(urls, merge)
        if detail and merge_commit is not None:
            body["lastMergeCommit"] = {
                "commitId": merge, "author": user_date(site, merge_commit.author, merge_commit.author_date),
                "committer": user_date(site, merge_commit.committer, merge_commit.commit_date),
                "comment": merge_commit.message, "url": body["lastMergeCommit"]["url"],
            }
    body["reviewers"] = [reviewer_json(site, req, urls, r) for r in pr.reviewers]
    if pr.labels:
        body["labels"] = [_label(urls, name) for name in pr.labels]
    body["url"] = urls.pull_request
    if detail or links:
        body["_links"] = _links(urls, source, target, people[pr.creator].id)
    body["supportsIterations"] = True
    if pr.closed:
        body["closedBy"] = site.identity(req, people[pr.closed_by])
    if pr.status == COMPLETED:
        body["completionQueueTime"] = iso_fraction(pr.closed - 1, _ticks(pr.id + 2))
        body["completionOptions"] = _completion_options(site, pr, merge_commit)
    if detail:
        body["artifactId"] = f"vstfs:///Git/PullRequestId/{repo.project_id}%2f{repo.id}%2f{pr.id}"
    return body


def _completion_options(site: Site, pr: PullRequest, merge_commit: Commit | None) -> dict:
    options: dict = {"deleteSourceBranch": pr.delete_source, "squashMerge": False}
    if merge_commit is not None:
        options["mergeCommitMessage"] = merge_commit.message
    if site.profile.has("6.0"):
        options["mergeStrategy"] = "noFastForward"
    return options


def _label(urls: PullRequestUrls, name: str) -> dict:
    label_id = str(uuid.uuid5(uuid.NAMESPACE_OID, f"label:{name}"))
    return {"id": label_id, "name": name, "active": True, "url": f"{urls.pull_request}/labels/{label_id}"}


def _links(urls: PullRequestUrls, source: str, target: str, creator_id: str) -> dict:
    links = {
        "self": urls.pull_request,
        "repository": urls.repository,
        "workItems": f"{urls.pull_request}/workitems",
        "sourceBranch": f"{urls.repository}/refs",
        "targetBranch": f"{urls.repository}/refs",
        "statuses": f"{urls.pull_request}/statuses",
        "sourceCommit": f"{urls.repository}/commits/{source}",
        "targetCommit": f"{urls.repository}/commits/{target}",
        "createdBy": f"{urls.collection}/_apis/Identities/{creator_id}",
        "iterations": f"{urls.pull_request}/iterations",
    }
    return {name: {"href": href} for name, href in links.items()}


def reviewer_json(site: Site, req: Request, urls: PullRequestUrls, reviewer: Reviewer) -> dict:
    """IdentityRefWithVote: ``hasDeclined``/``isFlagged`` joined the model in 6.0; ``isRequired`` only when set."""
    person = site.world.people[reviewer.person]
    body: dict = {"reviewerUrl": f"{urls.pull_request}/reviewers/{person.id}", "vote": reviewer.vote}
    if site.profile.has("6.0"):
        body["hasDeclined"] = reviewer.declined
        body["isFlagged"] = reviewer.flagged
    if reviewer.required:
        body["isRequired"] = True
    body.update(site.identity(req, person))
    return body


def _service_identity(site: Site, req: Request) -> dict:
    """The author of system comments (votes, merge attempts...)."""
    collection = site.world.collection
    identity_id = str(uuid.uuid5(uuid.NAMESPACE_OID, f"service-accounts:{collection.id}"))
    base = site.collection_url(req)
    return {"displayName": f"[{collection.name}]\\{_SERVICE_ACCOUNTS}", "url": f"{base}/_apis/Identities/{identity_id}",
            "id": identity_id, "uniqueName": f"vstfs:///Framework/IdentityDomain/{collection.id}\\{_SERVICE_ACCOUNTS}",
            "imageUrl": f"{base}/_api/_common/identityImage?id={identity_id}", "isContainer": True}


def comment_json(site: Site, req: Request, urls: PullRequestUrls, thread: Thread, comment: Comment) -> dict:
    """Comment of a thread."""
    when = iso(comment.published)
    author = _service_identity(site, req) if comment.system else site.identity(req, site.world.people[comment.author])
    url = f"{urls.pull_request}/threads/{thread.id}/comments/{comment.id}"
    return {
        "id": comment.id,
        "parentCommentId": comment.parent,
        "author": author,
        "content": comment.content,
        "publishedDate": when,
        "lastUpdatedDate": when,
        "lastContentUpdatedDate": when,
        "commentType": "system" if comment.system else "text",
        "usersLiked": [],
        "_links": {"self": {"href": url}, "repository": {"href": urls.repository},
                   "threads": {"href": f"{urls.pull_request}/threads/{thread.id}"},
                   "pullRequests": {"href": urls.pull_request}},
    }


def thread_json(site: Site, req: Request, urls: PullRequestUrls, seed: str, thread: Thread, comments: list[Comment],
                iteration: int) -> dict:
    """GitPullRequestCommentThread with its comments inline; ``iteration`` is the one the thread was written on."""
    body: dict = {"pullRequestThreadContext": None, "id": thread.id, "publishedDate": iso(thread.published),
                  "lastUpdatedDate": iso(thread.updated),
                  "comments": [comment_json(site, req, urls, thread, c) for c in comments]}
    if thread.kind != VOTE:
        body["status"] = thread.status
    body["threadContext"] = None
    if thread.kind == INLINE:
        path, line = inline_position(seed, thread)
        body["threadContext"] = {"filePath": f"/{path}", "rightFileStart": {"line": line, "offset": 1},
                                 "rightFileEnd": {"line": line, "offset": 40}}
        body["pullRequestThreadContext"] = {
            "iterationContext": {"firstComparingIteration": 1, "secondComparingIteration": iteration},
            "changeTrackingId": 1 + thread.id % 7,
        }
    body["properties"] = _thread_properties(site, thread)
    body["isDeleted"] = False
    url = f"{urls.pull_request}/threads/{thread.id}"
    body["_links"] = {"self": {"href": url}, "repository": {"href": urls.repository}}
    return body


def _thread_properties(site: Site, thread: Thread) -> dict:
    if thread.kind == VOTE:
        voter = site.world.people[thread.author]
        values = {"CodeReviewThreadType": "VoteUpdate", "CodeReviewVotedByDisplayName": voter.display_name,
                  "CodeReviewVotedByTfId": voter.id, "CodeReviewVoteResult": str(thread.vote)}
        return {name: {"$type": "System.String", "$value": value} for name, value in values.items()}
    unique = str(uuid.uuid5(uuid.NAMESPACE_OID, f"thread:{site.world.collection.id}:{thread.id}"))
    return {"Microsoft.TeamFoundation.Discussion.SupportsMarkdown": {"$type": "System.Int32", "$value": 1},
            "Microsoft.TeamFoundation.Discussion.UniqueID": {"$type": "System.String", "$value": unique}}


def iteration_json(site: Site, req: Request, urls: PullRequestUrls, pr: PullRequest, iteration: Iteration,
                   common: str, commits: list[dict] | None) -> dict:
    """GitPullRequestIteration (``commits`` only when asked for with includeCommits)."""
    when = iso(iteration.time)
    body: dict = {
        "id": iteration.number,
        "description": pr.title,
        "author": site.identity(req, site.world.people[iteration.author]),
        "createdDate": when,
        "updatedDate": when,
        "sourceRefCommit": {"commitId": iteration.source_commit},
        "targetRefCommit": {"commitId": iteration.target_commit},
        "commonRefCommit": {"commitId": common},
        "hasMoreCommits": False,
        "reason": "create" if iteration.number == 1 else "push",
        "push": push_ref(site, req, iteration.push),
    }
    if commits is not None:
        body["commits"] = commits
    return body


def work_item_ref(urls: PullRequestUrls, work_item: int) -> dict:
    """ResourceRef of a linked work item (the id is a string)."""
    return {"id": str(work_item), "url": f"{urls.collection}/_apis/wit/workItems/{work_item}"}
