"""Deterministic generation: people, projects, repositories and their git histories.

Everything comes from ``random.Random`` instances seeded with strings built from
(seed, scale, purpose), so a world is a pure function of (seed, scale), and the n-th
``advance`` step is a pure function of (seed, scale, n).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from itertools import product

from standins.ado_simulator.world.git.history import RepoHistory, Tag
from standins.ado_simulator.world.model import (
    ZERO_ID,
    Commit,
    Person,
    Project,
    Push,
    RefUpdate,
    Repository,
    iso,
    iso_fraction,
)

__all__ = ["Scale", "SCALES", "EPOCH", "DOMAIN", "MAIN", "TAGS", "RepoWriter", "guid", "sha", "make_people",
           "make_projects", "make_repositories", "fill_repository", "split_commits", "merge_message", "split_merge_message",
           "change_title", "change_description"]

EPOCH = 1704067200  # 2024-01-01T00:00:00Z: history starts here, never at wall-clock time
DOMAIN = "FABRIKAM"
MAIN = "refs/heads/main"
TAGS = "refs/tags/"
DAY = 86400


@dataclass(frozen=True, slots=True)
class Scale:
    """How big a world is. ``commits`` is exact; it is split over the repositories."""

    name: str
    repos_per_project: tuple[int, ...]
    commits: int
    people: int
    feature_branches: tuple[int, int]  # per repository, inclusive range

    @property
    def projects(self) -> int:
        return len(self.repos_per_project)

    @property
    def repositories(self) -> int:
        return sum(self.repos_per_project)


SCALES: dict[str, Scale] = {
    s.name: s
    for s in (
        Scale("tiny", (2, 1), 60, 5, (2, 3)),
        Scale("small", (3, 3, 2), 1_500, 12, (2, 5)),
        Scale("medium", (8,) * 5, 40_000, 24, (3, 6)),
        Scale("large", (8,) * 50, 400_000, 60, (3, 6)),
        # issue 22's large collection, quiet and cheap: 300 projects, 5,000 repositories of 10 commits
        Scale("collection", (17, 17, 16) * 100, 50_000, 60, (1, 2)),
    )
}

_FIRST = ("Jamal", "Norman", "Chuck", "Christie", "Helena", "Johnnie", "Raisa", "Ivan", "Mateo", "Priya", "Sven",
          "Aiko", "Lena", "Omar", "Grace", "Tomasz", "Yuki", "Dmitri", "Fatima", "Lucas", "Nora", "Ravi", "Elena",
          "Kwame")
_LAST = ("Hartnett", "Paulk", "Reinhart", "Church", "Lindqvist", "McLeod", "Petrova", "Novak", "Garcia", "Sharma",
         "Berg", "Tanaka", "Fischer", "Haddad", "Okafor", "Kowalski", "Sato", "Volkov", "Rahman", "Silva", "Quinn",
         "Iyer", "Rossi", "Mensah")
_PROJECT_A = ("Fabrikam", "Contoso", "Tailspin", "Northwind", "Adventure", "Woodgrove", "Litware", "Proseware",
              "Wingtip", "Coho", "Alpine", "Lucerne")
_PROJECT_B = ("Fiber", "Retail", "Toys", "Traders", "Works", "Bank", "Payments", "Platform", "Mobile", "Analytics")
_REPO_WORDS = ("web", "api", "mobile", "infra", "docs", "billing", "payments", "identity", "search", "gateway",
               "reporting", "scheduler", "inventory", "catalog", "shipping", "notifications", "analytics", "etl",
               "portal", "sdk", "cli", "tools", "config", "ml")
_TOPICS = ("login", "cache", "retry", "export", "paging", "search", "audit", "cleanup", "upgrade", "logging",
           "metrics", "dark-mode", "i18n", "oauth", "pipeline", "refactor", "schema", "perf", "hotfix", "docs")
_VERBS = ("Fix", "Add", "Update", "Refactor", "Remove", "Improve", "Rename", "Document", "Bump", "Simplify",
          "Handle", "Guard")
_OBJECTS = ("null check in", "retry logic for", "unit tests for", "logging in", "validation of",
            "timeout handling in", "error message in", "caching of", "config for", "paging in")
_TARGETS = ("OrderService", "the login page", "BillingController", "the export job", "UserRepository",
            "the build script", "README", "SearchIndexer", "PaymentGateway", "the settings dialog", "api client",
            "ReportBuilder")
_BODIES = ("Reviewed with the team.", "Covers the edge case reported by QA.", "No functional change intended.",
           "Follow-up to the last release.", "See the linked work item for details.")


def guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def make_people(rng: random.Random, count: int) -> tuple[Person, ...]:
    names = list(product(_FIRST, _LAST))
    rng.shuffle(names)
    people = []
    for first, last in names[:count]:
        alias = (first[0] + last).lower()
        sid = f"S-1-5-21-{rng.randint(10**9, 4 * 10**9)}-{rng.randint(10**9, 4 * 10**9)}-1000-{rng.randint(1100, 9999)}"
        email = f"{first}.{last}@fabrikam.example".lower()
        people.append(Person(guid(rng), f"{first} {last}", f"{DOMAIN}\\{alias}", email, sid))
    return tuple(people)


def make_projects(rng: random.Random, count: int) -> tuple[Project, ...]:
    names = [f"{a} {b}" for a, b in product(_PROJECT_A, _PROJECT_B)]
    if count > len(names):  # more projects than names (the collection scale): "Contoso Toys 2", ... beyond them
        names += [f"{name} {n}" for n in range(2, -(-count // len(names)) + 1) for name in list(names)]
    rng.shuffle(names)
    projects = []
    for name in names[:count]:
        created = EPOCH - rng.randint(30, 400) * DAY
        updated = iso_fraction(created, rng.randint(0, 9_999_999))
        projects.append(Project(guid(rng), name, f"{name} team project.", rng.randint(100, 900), updated, guid(rng)))
    return tuple(projects)


def make_repositories(rng: random.Random, project: Project, count: int) -> tuple[Repository, ...]:
    words = rng.sample(_REPO_WORDS, count)
    prefix = project.name.split()[0]
    dotted = rng.random() < 0.5
    names = [f"{prefix}.{w.capitalize()}" if dotted else f"{prefix.lower()}-{w}" for w in words]
    return tuple(Repository(guid(rng), name, project.id, MAIN, rng.randint(200_000, 60_000_000)) for name in names)


class RepoWriter:
    """Appends pushes (and their commits) to one repository's history."""

    __slots__ = ("history", "contributors", "people")

    def __init__(self, history: RepoHistory, contributors: tuple[int, ...], people: tuple[Person, ...]) -> None:
        self.history = history
        self.contributors = contributors
        self.people = people

    def push(self, rng: random.Random, when: int, branch: str, count: int) -> Push:
        """``count`` new commits on top of an existing branch."""
        old = self.history.head(branch)
        pusher = rng.choice(self.contributors)
        commits = self._commits(rng, when, old, count, pusher)
        return self._record(rng, when, pusher, (RefUpdate(branch, old, commits[-1].commit_id),), commits)

    def create_branch(self, rng: random.Random, when: int, name: str, base: str | None, count: int) -> Push:
        """A new branch: ``count`` commits on top of ``base`` (None: the repository's first push)."""
        pusher = rng.choice(self.contributors)
        commits = self._commits(rng, when, base, count, pusher)
        push = self._record(rng, when, pusher, (RefUpdate(name, ZERO_ID, commits[-1].commit_id),), commits)
        self.history.merged_heads[name] = base or ""
        return push

    def merge(self, rng: random.Random, when: int, source: str, message: str | None = None,
              pusher: int | None = None, target: str = MAIN) -> Push:
        """A completed pull request: one merge commit of ``source`` into ``target``.

        Without ``message`` the merge is numbered within the repository; the pull request domain
        renumbers it collection-wide once every repository exists.
        """
        history = self.history
        old, theirs = history.head(target), history.head(source)
        history.pull_requests += 1
        if pusher is None:
            pusher = rng.choice(self.contributors)
        if message is None:
            message = merge_message(history.pull_requests, change_title(rng, source), rng.choice(_BODIES))
        commit = self._commit(rng, when, (old, theirs), pusher, pusher, message)
        history.merged_heads[source] = theirs
        return self._record(rng, when, pusher, (RefUpdate(target, old, commit.commit_id),), [commit])

    def delete_branch(self, rng: random.Random, when: int, name: str, pusher: int) -> Push:
        """A push that deletes a branch (no commits)."""
        update = RefUpdate(name, self.history.head(name) or ZERO_ID, ZERO_ID)
        return self._record(rng, when, pusher, (update,), [])

    def tag(self, rng: random.Random, when: int, name: str, commit_id: str, tagger: int) -> Tag:
        """A tag on ``commit_id``: usually annotated (own object id and message), sometimes lightweight."""
        annotated = rng.random() < 0.75
        object_id = sha(rng) if annotated else commit_id
        message = f"Release {name.removeprefix(TAGS)}" if annotated else ""
        tag = Tag(name, object_id, commit_id, tagger, when, iso(when), message)
        self.history.add_tag(tag)
        return tag

    def release(self, rng: random.Random, when: int) -> Tag:
        """The next release tag on the default branch's head."""
        history = self.history
        return self.tag(rng, when, next_version(history.tag_names, rng), history.head(MAIN), rng.choice(self.contributors))

    def new_branch_name(self, rng: random.Random) -> str:
        kind = rng.random()
        topic = rng.choice(_TOPICS)
        if kind < 0.45:
            name = f"feature/{topic}"
        elif kind < 0.7:
            name = f"bugfix/{rng.randint(100, 9999)}-{topic}"
        elif kind < 0.9:
            alias = self.people[rng.choice(self.contributors)].unique_name.split("\\")[1]
            name = f"users/{alias}/{topic}"
        else:
            name = f"release/2024.{rng.randint(1, 12)}"
        ref = f"refs/heads/{name}"
        suffix = 2
        while ref in self.history.refs:
            ref = f"refs/heads/{name}-{suffix}"
            suffix += 1
        return ref

    def unmerged(self) -> list[str]:
        """Feature branches with commits the default branch has not merged yet."""
        history = self.history
        return [n for n in history.ref_names if n != MAIN and history.refs[n].object_id != history.merged_heads.get(n)]

    def _commits(self, rng: random.Random, when: int, parent: str | None, count: int, pusher: int) -> list[Commit]:
        commits = []
        for j in range(count):
            author = pusher if rng.random() < 0.8 else rng.choice(self.contributors)
            commit = self._commit(rng, when - 10 * (count - 1 - j), (parent,) if parent else (), author, pusher, _message(rng))
            commits.append(commit)
            parent = commit.commit_id
        return commits

    def _commit(self, rng: random.Random, at: int, parents: tuple[str, ...], author: int, committer: int, message: str) -> Commit:
        authored = at - (rng.randint(60, 3 * DAY) if rng.random() < 0.2 else 0)
        adds = rng.choice((0, 0, 0, 1, 1, 2, 3, 5))
        deletes = rng.choice((0, 0, 0, 0, 1, 2))
        commit = Commit(sha(rng), parents, sha(rng), author, committer, iso(authored), at, iso(at), message,
                        adds, rng.randint(0 if adds or deletes else 1, 12), deletes, len(self.history.pushes) + 1)
        self.history.add_commit(commit)
        return commit

    def _record(self, rng: random.Random, when: int, pusher: int, updates: tuple[RefUpdate, ...], commits: list[Commit]) -> Push:
        push = Push(len(self.history.pushes) + 1, when, iso_fraction(when, rng.randint(0, 9_999_999)), pusher,
                    updates, tuple(c.commit_id for c in commits))
        self.history.add_push(push)
        return push


def _verb(rng: random.Random) -> str:
    return rng.choice(_VERBS)


def change_title(rng: random.Random, branch: str) -> str:
    """A pull request title from its source branch (``Fix retry``)."""
    return f"{_verb(rng)} {branch.rsplit('/', 1)[-1].replace('-', ' ')}"


def change_description(rng: random.Random) -> str:
    return rng.choice(_BODIES)


def merge_message(number: int, title: str, description: str) -> str:
    """The merge commit message of a completed pull request, as the server writes it."""
    return f"Merged PR {number}: {title}\n\n{description}"


def split_merge_message(message: str) -> tuple[str, str]:
    """(title, description) of a ``merge_message``."""
    first, _, description = message.partition("\n\n")
    return first.partition(": ")[2], description


def next_version(tag_names: tuple[str, ...], rng: random.Random) -> str:
    """The next release tag after the newest ``refs/tags/vX.Y.0`` (a new major now and then)."""
    major, minor = 1, -1
    for name in tag_names:
        parts = name.removeprefix(TAGS + "v").split(".")
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            major, minor = max((major, minor), (int(parts[0]), int(parts[1])))
    if minor >= 0 and rng.random() < 0.1:
        return f"{TAGS}v{major + 1}.0.0"
    return f"{TAGS}v{major}.{minor + 1}.0"


def _message(rng: random.Random) -> str:
    line = f"{_verb(rng)} {rng.choice(_OBJECTS)} {rng.choice(_TARGETS)}"
    roll = rng.random()
    if roll < 0.1:
        return line + " after the review comments on error handling, retries, and the edge cases QA found last sprint"
    if roll < 0.3:
        return f"{line}\n\n{rng.choice(_BODIES)}"
    return line


def fill_repository(writer: RepoWriter, rng: random.Random, target: int, features: int, start: int) -> None:
    """Generate exactly ``target`` commits: main first, then ``features`` branches, pushes and merges."""
    history = writer.history
    made = 0
    pushes_estimate = max(1.0, target / 2.4)
    mean_gap = int(300 * DAY / pushes_estimate)
    low, high = max(600, mean_gap // 5), max(1200, mean_gap * 9 // 5)
    when = start
    first = min(rng.randint(1, 3), target)
    writer.create_branch(rng, when, MAIN, None, first)
    made += first
    thresholds = [target * (i + 1) // (features + 2) for i in range(features)]
    created = 0
    while made < target:
        when += rng.randint(low, high)
        remaining = target - made
        if created < features and made >= thresholds[created]:
            base = history.head(MAIN)
            for _ in range(rng.choice((0, 0, 1, 2))):  # sometimes fork from an older commit of main
                parents = history.commit(base).parents
                base = parents[0] if parents else base
            count = min(rng.randint(1, 4), remaining)
            writer.create_branch(rng, when, writer.new_branch_name(rng), base, count)
            created += 1
            made += count
            continue
        roll = rng.random()
        unmerged = writer.unmerged()
        if unmerged and roll < 0.22:
            writer.merge(rng, when, rng.choice(unmerged))
            made += 1
            continue
        others = [n for n in history.ref_names if n != MAIN]
        branch = rng.choice(others) if others and roll < 0.55 else MAIN
        count = min(rng.randint(1, 5), remaining)
        writer.push(rng, when, branch, count)
        made += count
    _tag_releases(writer, rng)


def _tag_releases(writer: RepoWriter, rng: random.Random) -> None:
    """Release tags on the default branch: one per 25 of its pushes (at least one), a day or so after the push.

    Runs after the history is complete, drawing from the same ``rng`` last, so the commits,
    branches and pushes are the same as without tags.
    """
    history = writer.history
    last = history.pushes[-1].time
    main_pushes = [p for p in history.pushes if any(u.name == MAIN for u in p.ref_updates)]
    for push in main_pushes[rng.randrange(min(len(main_pushes), 12))::25]:
        when = max(push.time, min(push.time + rng.randint(600, 2 * DAY), last))
        head = next(u.new_object_id for u in push.ref_updates if u.name == MAIN)
        writer.tag(rng, when, next_version(history.tag_names, rng), head, rng.choice(writer.contributors))


def split_commits(rng: random.Random, total: int, parts: int, minimum: int = 10) -> list[int]:
    """Split ``total`` into ``parts`` uneven shares (each >= minimum) that add up exactly."""
    weights = [rng.uniform(0.4, 1.6) for _ in range(parts)]
    spare = total - minimum * parts
    raw = [spare * w / sum(weights) for w in weights]
    shares = [int(r) for r in raw]
    order = sorted(range(parts), key=lambda i: raw[i] - shares[i], reverse=True)
    for i in order[: spare - sum(shares)]:
        shares[i] += 1
    return [minimum + s for s in shares]
