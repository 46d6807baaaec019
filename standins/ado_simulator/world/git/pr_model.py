"""Pull request records: frozen, compact; comment texts and iterations are derived on request.

A pull request always targets the default branch of its repository. Times are Unix seconds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["Reviewer", "Thread", "PullRequest", "TEXT", "INLINE", "VOTE", "ACTIVE", "COMPLETED", "ABANDONED",
           "preview_merge_id"]

TEXT, INLINE, VOTE = "text", "inline", "vote"  # thread kinds: a discussion, a code comment, a vote's system note
ACTIVE, COMPLETED, ABANDONED = "active", "completed", "abandoned"


@dataclass(frozen=True, slots=True)
class Reviewer:
    person: int  # index into the world's people
    vote: int = 0  # 10 approved, 5 with suggestions, 0 none, -5 waiting for author, -10 rejected
    required: bool = False
    declined: bool = False
    flagged: bool = False


@dataclass(frozen=True, slots=True)
class Thread:
    """A comment thread. Its comments are generated from the thread id when read: ``comments`` of
    them spread from ``published`` to ``settled``, then one per later reply at ``replies``."""

    id: int
    kind: str
    author: int
    published: int
    settled: int
    comments: int
    status: str = ""  # text and inline threads only; system threads have none
    vote: int = 0  # VOTE threads: the vote that was cast
    replies: tuple[int, ...] = ()

    @property
    def updated(self) -> int:
        return self.replies[-1] if self.replies else self.settled

    @property
    def comment_count(self) -> int:
        return self.comments + len(self.replies)


@dataclass(frozen=True, slots=True)
class PullRequest:
    id: int
    repository_id: str
    source: str
    title: str
    description: str
    creator: int
    created: int
    reviewers: tuple[Reviewer, ...]
    threads: tuple[Thread, ...]
    work_items: tuple[int, ...]
    labels: tuple[str, ...]
    draft: bool = False
    conflicts: bool = False
    status: str = ACTIVE
    closed: int = 0
    closed_by: int = -1
    delete_source: bool = False
    # Fixed when the pull request closes; while it is active they follow the branches.
    source_commit: str = ""
    target_commit: str = ""
    merge_commit: str = ""  # completed: the merge commit on the target; otherwise the last merge preview

    @property
    def code_review_id(self) -> int:
        return self.id


def preview_merge_id(source: str, target: str) -> str:
    """The id of the merge the server test-builds for an open pull request (not on any branch)."""
    return hashlib.sha1(f"merge {target} {source}".encode()).hexdigest()
