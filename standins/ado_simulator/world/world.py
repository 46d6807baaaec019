"""The simulated collection: a deterministic world that can ``advance`` like a live server.

    world = generate_world(seed=7, scale="small")
    world.truth()          # {"core.project": [...], "git.repository": [...], "git.commit": [...]}
    world.advance(3)       # {"pushes": 4, "commits": 9, "branches": 1}

Projects and repositories never change after generation (but in a messy world, world/messy.py);
advancing only adds pushes, commits and branches. Every read of git history happens under ``world.lock`` so the server
can serve while another thread advances.
"""

from __future__ import annotations

import random
import threading
from contextlib import contextmanager
from typing import Iterator

from standins.ado_simulator.world.generate import (
    EPOCH,
    MAIN,
    SCALES,
    RepoWriter,
    fill_repository,
    guid,
    make_people,
    make_projects,
    make_repositories,
    split_commits,
)
from standins.ado_simulator.semantics import DEFAULT_SEMANTICS, ServerSemantics
from standins.ado_simulator.world.domain import DOMAIN_BUILDERS, Domain
from standins.ado_simulator.world.git.history import RepoHistory
from standins.ado_simulator.world.messy import Messy, messy_after_domains, messy_base
from standins.ado_simulator.world.model import Collection, Person, Project, Repository

__all__ = ["World", "generate_world"]


class World:
    """One collection with its projects, repositories and their (growing) git histories."""

    def __init__(
        self,
        seed: int,
        scale: str,
        collection: Collection,
        deployment_id: str,
        people: tuple[Person, ...],
        projects: tuple[Project, ...],
        repositories: tuple[Repository, ...],
        writers: dict[str, RepoWriter],
        semantics: ServerSemantics = DEFAULT_SEMANTICS,
    ) -> None:
        self.seed = seed
        self.scale = scale
        self.collection = collection
        self.deployment_id = deployment_id
        self.people = people
        self.projects = projects
        self.repositories = repositories
        self.semantics = semantics  # the server behaviours of issue 13 this world shows (see semantics.py)
        self._writers = writers
        self.messy: Messy | None = None  # a messy world's changes and extras (world/messy.py), None otherwise
        self.reindex(projects, repositories)
        self._lock = threading.RLock()
        self._domains: dict[str, Domain] = {}
        self._steps = 0
        last = max((w.history.pushes[-1].time for w in writers.values() if w.history.pushes), default=EPOCH)
        self._clock = (last // 3600 + 1) * 3600

    def reindex(self, projects: tuple[Project, ...], repositories: tuple[Repository, ...]) -> None:
        """The lookups of the live projects and repositories (a messy world renames, moves and deletes)."""
        self._projects_by_key = {p.id.lower(): p for p in projects} | {p.name.lower(): p for p in projects}
        self._repos_by_id = {r.id.lower(): r for r in repositories}
        self._repos_by_project: dict[str, tuple[Repository, ...]] = {
            p.id: tuple(r for r in repositories if r.project_id == p.id) for p in projects
        }

    # -- lookups (immutable data: no lock needed) ---------------------------------------

    def project(self, key: str) -> Project | None:
        """By id or name (case-insensitive)."""
        return self._projects_by_key.get(key.lower())

    def project_repositories(self, project_id: str) -> tuple[Repository, ...]:
        return self._repos_by_project.get(project_id, ())

    def repository(self, key: str, project: Project | None = None) -> Repository | None:
        """By id (anywhere, or within ``project``) or by name (within ``project`` only)."""
        repo = self._repos_by_id.get(key.lower())
        if repo is not None:
            return repo if project is None or repo.project_id == project.id else None
        if project is None:
            return None
        lowered = key.lower()
        return next((r for r in self._repos_by_project[project.id] if r.name.lower() == lowered), None)

    def add_writer(self, repository_id: str, writer: RepoWriter) -> None:
        """The history of a repository outside ``repositories`` (a messy world's empty one)."""
        self._writers[repository_id] = writer

    # -- domains (one per API area beyond git) ------------------------------------------

    def add_domain(self, domain: Domain) -> None:
        self._domains[domain.name] = domain

    def domain(self, name: str) -> Domain:
        return self._domains[name]

    @property
    def clock(self) -> int:
        """The simulated 'now' (Unix seconds): after the last generated event, moved by ``advance``."""
        return self._clock

    # -- git history ---------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    @contextmanager
    def reading(self, repository_id: str) -> Iterator[RepoHistory]:
        """The repository's history, locked for the duration of the block."""
        with self._lock:
            yield self._writers[repository_id].history

    def truth(self, max_version: str | None = None) -> dict[str, list[str]]:
        """Record type -> sorted keys of everything that exists now (on a server of ``max_version``)."""
        with self._lock:
            commits = [
                f"{repo_id}:{sha}" for repo_id, writer in self._writers.items() for sha in writer.history.reachable_ids()
            ]
            truth = {
                "core.project": sorted(p.id for p in self.projects),
                "git.repository": sorted(r.id for r in self.repositories),
                "git.commit": sorted(commits),
            }
            for domain in self._domains.values():
                for record_type, keys in domain.truth().items():
                    needs = domain.min_versions.get(record_type)
                    if max_version is None or needs is None or _version(max_version) >= _version(needs):
                        truth[record_type] = keys
            if self.messy is not None:
                truth = self.messy.truth(self, truth)
        return truth

    def advance(self, steps: int = 1) -> dict[str, int]:
        """Simulate ``steps`` hours of activity; returns what was created."""
        counts = {"pushes": 0, "commits": 0, "branches": 0}
        with self._lock:
            for _ in range(max(0, steps)):
                self._steps += 1
                self._clock += 3600
                if self.messy is not None:  # renames, moves and deletes at the start of the first hour
                    self.messy.advance(self, counts)
                self._step(random.Random(f"{self.seed}:{self.scale}:advance:{self._steps}"), counts)
                for name, domain in self._domains.items():
                    domain.advance(random.Random(f"{self.seed}:{self.scale}:advance:{self._steps}:{name}"), self._clock, counts)
        return counts

    def _step(self, rng: random.Random, counts: dict[str, int]) -> None:
        """Git activity of the hour before ``clock``: pushes, new branches, now and then a release tag.

        Events use the first part of the hour, 30 s apart, so commit times keep increasing inside a
        repository; domains act later in the hour. Merges happen when pull requests complete.
        """
        repos = self.repositories
        start = self._clock - 3600
        for i in range(rng.randint(1, min(50, 3 + len(repos) // 20))):
            when = start + 30 * (i + 1)
            writer = self._writers[rng.choice(repos).id]
            history = writer.history
            roll = rng.random()
            if roll < 0.1:
                push = writer.create_branch(rng, when, writer.new_branch_name(rng), history.head(MAIN), rng.randint(1, 3))
                counts["branches"] += 1
            else:
                others = [n for n in history.ref_names if n != MAIN]
                branch = rng.choice(others) if others and roll < 0.5 else MAIN
                push = writer.push(rng, when, branch, rng.randint(1, 3))
            counts["pushes"] += 1
            counts["commits"] += len(push.commit_ids)
        if rng.random() < 0.1:
            self._writers[rng.choice(repos).id].release(rng, start + 1800)
            counts["tags"] = counts.get("tags", 0) + 1


def _version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


def generate_world(seed: int = 7, scale: str = "small", semantics: ServerSemantics = DEFAULT_SEMANTICS,
                   messy: bool = False) -> World:
    """Build the world for (seed, scale, semantics); same inputs, same world. ``messy``: with the
    disabled, empty, renamed, moved and deleted things of world/messy.py (off: the world is unchanged)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose from {', '.join(SCALES)}")
    spec = SCALES[scale]
    rng = random.Random(f"{seed}:{scale}:world")
    collection = Collection(guid(rng), "DefaultCollection")
    deployment_id = guid(rng)
    people = make_people(rng, spec.people)
    projects = make_projects(rng, spec.projects)
    repositories = tuple(
        repo for project, count in zip(projects, spec.repos_per_project) for repo in make_repositories(rng, project, count)
    )
    if messy:
        people, projects, repositories = messy_base(seed, scale, people, projects, repositories)
    shares = split_commits(rng, spec.commits, len(repositories))
    writers: dict[str, RepoWriter] = {}
    for index, (repo, share) in enumerate(zip(repositories, shares)):
        repo_rng = random.Random(f"{seed}:{scale}:repo:{index}")
        contributors = tuple(sorted(repo_rng.sample(range(len(people)), min(len(people), repo_rng.randint(3, 6)))))
        writer = RepoWriter(RepoHistory(repo.id), contributors, people)
        features = repo_rng.randint(*spec.feature_branches)
        fill_repository(writer, repo_rng, share, features, EPOCH + repo_rng.randint(0, 14) * 86400)
        writers[repo.id] = writer
    world = World(seed, scale, collection, deployment_id, people, projects, repositories, writers, semantics)
    for build_domain in DOMAIN_BUILDERS:
        world.add_domain(build_domain(world, seed, scale))
    if messy:
        messy_after_domains(world)
    return world
