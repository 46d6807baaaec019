"""A messy world (``generate_world(..., messy=True)``, ``satellite simulator --messy``): what real
collections hold and a tidy generated one never does.

At generation:
- people with non-Latin, emoji and combining-mark names, one 250+ characters long; two of them
  with no e-mail (a ``DOMAIN\\user`` unique name, no ``mailAddress``);
- a project with a non-Latin name, one more project (``Legacy Sunset``) that the first advance
  deletes, a repository with a 250+ character non-Latin name (its CI definition named after it), a
  non-Latin branch and a 250-character one in it, a designer definition renamed to 260 characters,
  non-Latin and 255-character work item titles (``work_item_title``);
- a disabled repository (``isDisabled: true``; its refs, commits, pushes, PRs and every other read
  below it answer 404 TF401019, as a real server answers for a disabled repository) and an empty
  one (no refs, no ``defaultBranch``, no commits).

On the first ``advance``: the first project is renamed (same id), a repository of it moves to the
second project (same id), ``Legacy Sunset`` is deleted (its repositories, PRs, teams, classification
nodes, work item types, TFVC branches and labels, definitions, builds, runs, environments and
releases are gone; its work items and changesets stay in the collection's reporting and changeset
history, as this simulator chooses), and two deletions are armed for the next sync: the first
build whose timeline or changes are read, and the first PR whose threads are read, are deleted
just before that read is answered (so mid-sync; the read answers 404). ``events`` lists what
happened; ``GET /_sim/messy`` shows it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import unquote

from standins.ado_simulator.world.generate import (
    MAIN,
    RepoWriter,
    guid,
    make_repositories,
)
from standins.ado_simulator.world.git.history import RepoHistory
from standins.ado_simulator.world.model import Person, Project, Repository, iso_fraction

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = [
    "DOOMED",
    "LONG",
    "LONG_BRANCH",
    "UNICODE_BRANCH",
    "UNICODE_PROJECT",
    "Messy",
    "disabled_error",
    "messy_after_domains",
    "messy_base",
    "work_item_title",
]

LONG = 260  # characters of the long names
UNICODE_PROJECT = "Ωmega Проект データ 🚀"
DOOMED = "Legacy Sunset"
UNICODE_BRANCH = "refs/heads/feature/ünïcødé-ветка-機能-🚀"
LONG_BRANCH = "refs/heads/" + (  # 250 characters after refs/heads/
    "release/" + "очень-длинная-ветка-とても長いブランチ-" * 10)[:250]
_PEOPLE = (  # (index, display name, keeps e-mail): index 0 is the authenticated user, left alone
    (1, "Zoë Ångström-Łukasiewicz 李小龍 🚀", False),
    (2, "Jose\u0301 Mari\u0301a Nu\u0301n\u0303ez " + "Åsa-Ødegård-Ἀλέξανδρος-" * 12, False),
    (3, "محمد بن سلمان 🌙", True),
)
_DISABLED = re.compile(r"/_apis/git/repositories/([^/]+)/.+", re.IGNORECASE)
_BUILD_READ = re.compile(r"/_apis/build/builds/(\d+)/(?:timeline|changes)", re.IGNORECASE)
_PR_READ = re.compile(r"/pullrequests/(\d+)/threads", re.IGNORECASE)
_GIT = "Microsoft.TeamFoundation.Git.Server"


def _long(text: str) -> str:
    """``text`` padded with non-Latin words to ``LONG`` characters."""
    filler = "-длинное-имя-長い名前-ﾃｽﾄ"
    return (text + filler * (LONG // len(filler) + 1))[:LONG]


def messy_base(seed: int, scale: str, people: tuple[Person, ...], projects: tuple[Project, ...],
               repositories: tuple[Repository, ...]) -> tuple[tuple[Person, ...], tuple[Project, ...], tuple[Repository, ...]]:
    """People, projects and repositories of the messy world, before git histories and domains."""
    rng = random.Random(f"{seed}:{scale}:messy")
    people = tuple(_renamed_person(person, i) for i, person in enumerate(people))
    projects = tuple(replace(p, name=UNICODE_PROJECT) if i == 1 else p for i, p in enumerate(projects))
    created = projects[0].last_update_time
    doomed = Project(guid(rng), DOOMED, "A project deleted between syncs.", 7, created, guid(rng))
    long_repo = Repository(guid(rng), _long("Ünïcødé-репозиторий-リポジトリ-🚀"), projects[0].id, MAIN, rng.randint(200_000, 9_000_000))
    extra = (long_repo, *make_repositories(rng, doomed, 2))
    return people, (*projects, doomed), (*repositories, *extra)


def _renamed_person(person: Person, index: int) -> Person:
    for i, name, keeps_mail in _PEOPLE:
        if i == index:
            return replace(person, display_name=name, email=person.email if keeps_mail else "")
    return person


@dataclass
class Messy:
    """The messy part of a world: extra repositories, what was deleted, what is armed (mutable: under
    ``world.lock``)."""

    extras: tuple[Repository, ...]  # the disabled and the empty repository (not in world.repositories)
    doomed: str  # id of the project the first advance deletes
    renamed: str  # id of the project the first advance renames
    moved: str  # id of the repository the first advance moves
    target: str  # id of the project it moves to
    deleted: set[str] = field(default_factory=set)  # project ids
    armed: set[str] = field(default_factory=set)  # "build", "pull_request": deleted at their next read
    events: list[str] = field(default_factory=list)
    # comments of the deleted projects' work items when they went: the comments route is under the
    # project, so later ones are unreadable (the simulator's work items live on; see the module doc)
    frozen_comments: frozenset[str] = frozenset()

    @property
    def disabled(self) -> Repository:
        return next(r for r in self.extras if r.disabled)

    # -- world changes ----------------------------------------------------------------------

    def advance(self, world: World, counts: dict[str, int]) -> None:
        """On the first step: rename, move, delete; arm the deletions during the next sync."""
        if self.deleted:
            return
        old_name, new_name = world.project(self.renamed).name, _long("Renamed Проект ")
        world.projects = tuple(
            replace(p, name=new_name, revision=p.revision + 1, last_update_time=iso_fraction(world.clock, 1))
            if p.id == self.renamed else p
            for p in world.projects
        )
        _rename_label_scopes(world, old_name, new_name)
        world.repositories = tuple(replace(r, project_id=self.target) if r.id == self.moved else r for r in world.repositories)
        self.deleted.add(self.doomed)
        self.reindex(world)
        work_items = world.domain("work_items")
        self.frozen_comments = frozenset(k for k in work_items.truth()["wit.comment"] if self._doomed_item(world, k))
        self.armed |= {"build", "pull_request"}
        self.events += [f"renamed project {self.renamed}", f"moved repository {self.moved} to project {self.target}",
                        f"deleted project {self.doomed}"]
        counts.update(projects_renamed=1, repositories_moved=1, projects_deleted=1)

    def reindex(self, world: World) -> None:
        live_projects = tuple(p for p in world.projects if p.id not in self.deleted)
        repositories = (*world.repositories, *self.extras)
        world.reindex(live_projects, tuple(r for r in repositories if r.project_id not in self.deleted))

    def intercept(self, world: World, path: str) -> Exception | None:
        """Before a request is answered: the error a disabled repository's reads answer, or None; fires
        an armed deletion when its read comes (the read then answers as the route does for it gone)."""
        match = _DISABLED.search(path)
        disabled = self.disabled
        if match and unquote(match.group(1)).lower() in (disabled.id, disabled.name.lower()):
            return disabled_error(unquote(match.group(1)))
        if not self.armed:
            return None
        with world.lock:
            if "build" in self.armed and (match := _BUILD_READ.search(path)):
                self._delete_build(world, int(match.group(1)))
            elif "pull_request" in self.armed and (match := _PR_READ.search(path)):
                self._delete_pull_request(world, int(match.group(1)))
        return None

    def _delete_build(self, world: World, build_id: int) -> None:
        from standins.ado_simulator.world.pipelines.builds import builds_of

        domain = builds_of(world)
        build = domain.build(build_id)
        if build is None or build.deleted:
            return
        domain.builds[build_id - 1] = replace(build, deleted=world.clock, deleted_by=0, changed=max(build.changed + 1, world.clock))
        self.armed.discard("build")
        self.events.append(f"deleted build {build_id} during a sync")

    def _delete_pull_request(self, world: World, pr_id: int) -> None:
        domain = world.domain("pull_requests")
        pr = domain.get(pr_id)
        if pr is None:
            return
        del domain._prs[pr_id]
        domain._by_repo[pr.repository_id].remove(pr_id)
        for source, active in list(domain._active.items()):
            if active == pr_id:
                del domain._active[source]
        self.armed.discard("pull_request")
        self.events.append(f"deleted pull request {pr_id} during a sync")

    # -- ground truth ---------------------------------------------------------------------------

    def truth(self, world: World, truth: dict[str, list[str]]) -> dict[str, list[str]]:
        """``truth`` with the extra repositories and without what the deleted projects held."""
        live = {r.id for r in self.extras if r.project_id not in self.deleted}
        truth["git.repository"] = sorted({*truth.get("git.repository", ()), *live})
        if not self.deleted:
            return truth
        gone = _owned(world, self.deleted)
        truth = {t: [k for k in keys if not _held(t, k, gone)] for t, keys in truth.items()}
        if "wit.comment" in truth:
            kept = (k for k in truth["wit.comment"] if not self._doomed_item(world, k))
            truth["wit.comment"] = sorted({*kept, *self.frozen_comments})
        return truth

    def _doomed_item(self, world: World, comment_key: str) -> bool:
        """Whether the work item of a comment key ``<collection>:<item>:<n>`` is in a deleted project."""
        item = world.domain("work_items").items[int(comment_key.split(":")[1])]
        return item is not None and world.projects[item.project].id in self.deleted

    def summary(self) -> dict:
        return {"deleted_projects": sorted(self.deleted), "armed": sorted(self.armed), "events": list(self.events),
                "disabled": self.disabled.id, "empty": next(r.id for r in self.extras if not r.default_branch),
                "renamed": self.renamed, "moved": self.moved, "target": self.target, "doomed": self.doomed}


def _rename_label_scopes(world: World, old: str, new: str) -> None:
    """TFVC labels scoped to the renamed project's root follow it (``$/<new name>``), as the server's
    do; branch and changeset paths made before keep the old name (a simplification: their keys)."""
    tfvc = world.domain("tfvc")
    for i, label in enumerate(tfvc.labels):
        if label.scope == f"$/{old}" or label.scope.startswith(f"$/{old}/"):
            tfvc.labels[i] = replace(label, scope=f"$/{new}{label.scope[len(old) + 2:]}")


def messy_after_domains(world: World) -> None:
    """The extras the domains must not know: a non-Latin branch, a long definition name, the disabled
    and the empty repository; ``world.messy`` set."""
    from standins.ado_simulator.world.pipelines.builds import builds_of

    rng = random.Random(f"{world.seed}:{world.scale}:messy:after")
    first, second, doomed = world.projects[0], world.projects[1], world.projects[-1]
    long_repo = next(r for r in world.repositories if r.project_id == first.id and len(r.name) >= LONG)
    with world.reading(long_repo.id) as history:
        when = history.pushes[-1].time + 1
        writer = RepoWriter(history, (0, 1, 2), world.people)
        writer.create_branch(rng, when, UNICODE_BRANCH, history.head(MAIN), 2)
        writer.create_branch(rng, when + 1, LONG_BRANCH, history.head(MAIN), 1)
    builds = builds_of(world)
    index = next((i for i, d in enumerate(builds.definitions) if not d.yaml), 0)
    builds.definitions[index] = replace(builds.definitions[index], name=_long("Сборка ビルド 🚀 CI"))
    disabled = Repository(guid(rng), "disabled-репозиторий", first.id, MAIN, rng.randint(200_000, 9_000_000), disabled=True)
    empty = Repository(guid(rng), "empty-空のリポジトリ", first.id, "", 0)
    for repo in (disabled, empty):  # no history to read: the disabled one's is unreadable, the empty one has none
        world.add_writer(repo.id, RepoWriter(RepoHistory(repo.id), (0,), world.people))
    moved = next(r for r in world.repositories if r.project_id == first.id and r.id != long_repo.id)
    world.messy = Messy((disabled, empty), doomed.id, first.id, moved.id, second.id)
    world.messy.reindex(world)


def work_item_title(world: World, type_name: str, item_id: int) -> str:
    """``System.Title``: in a messy world every fifth work item's is non-Latin with emoji and combining
    marks, every tenth's 255 characters (the field's maximum)."""
    from standins.ado_simulator.world.boards.wit_text import title

    base = title(type_name, item_id)
    if world.messy is None or item_id % 5:
        return base
    text = f"{base} — ошибка 错误 🐛 José Ångström"
    return _long(text)[:255] if item_id % 10 == 0 else text


def disabled_error(key: str) -> Exception:
    from standins.ado_simulator.wire.wire import ApiError

    return ApiError(
        404,
        f"TF401019: The Git repository with name or identifier {key} does not exist or you do not have"
        " permissions for the operation you are attempting.",
        "GitRepositoryNotFoundException",
        f"{_GIT}.GitRepositoryNotFoundException, {_GIT}",
    )


@dataclass(frozen=True, slots=True)
class _Gone:
    """What the deleted projects held, by the key parts that tell it."""

    projects: frozenset[str]
    repositories: frozenset[str]
    teams: frozenset[str]
    builds: frozenset[str]  # "<collection>:<build id>"
    build_definitions: frozenset[str]
    release_definitions: frozenset[str]
    releases: frozenset[str]
    deployments: frozenset[str]
    tfvc_branches: frozenset[str]
    tfvc_labels: frozenset[str]


def _owned(world: World, deleted: set[str]) -> _Gone:
    from standins.ado_simulator.world.pipelines.builds import builds_of

    c = world.collection.id
    indexes = {i for i, p in enumerate(world.projects) if p.id in deleted}
    builds = builds_of(world)
    definitions = {d.id for d in builds.definitions if d.project in indexes}
    releases = world.domain("release")
    release_definitions = {d.id for d in releases.definitions if d.project in indexes}
    gone_releases = [r.id for r in releases.releases if r.definition in release_definitions]
    tfvc = world.domain("tfvc")
    teams = world.domain("teams")
    return _Gone(
        frozenset(deleted),
        frozenset(r.id for r in world.repositories if r.project_id in deleted),
        frozenset(t.id for t in teams.teams if t.project_id in deleted),
        frozenset(f"{c}:{b.id}" for b in builds.builds if b.definition in definitions),
        frozenset(f"{c}:{d}" for d in definitions),
        frozenset(f"{c}:{d}" for d in release_definitions),
        frozenset(f"{c}:{r}" for r in gone_releases),
        frozenset(f"{c}:{d}" for r in gone_releases for d in releases.by_release[r]),
        frozenset(f"{c}:{b.path}" for b in tfvc.branches.values() if b.project in indexes),
        frozenset(f"{c}:{label.id}" for label in tfvc.labels if label.project in indexes),
    )


_BY_PROJECT = frozenset({"core.project", "wit.work_item_type", "wit.classification_node", "distributedtask.environment",
                         "distributedtask.environment_deployment"})
_BY_BUILD = frozenset({"build.build", "build.timeline_record", "build.change", "pipelines.run"})


def _held(record_type: str, key: str, gone: _Gone) -> bool:
    """Whether the record ``key`` of ``record_type`` belonged to a deleted project."""
    head = key.split(":", 1)[0]
    if record_type in _BY_PROJECT:
        return head in gone.projects
    if record_type.startswith("git."):
        return head in gone.repositories
    if record_type in ("core.team", "core.team_member", "work.team_iteration"):
        return head in gone.teams
    two = ":".join(key.split(":", 2)[:2])
    if record_type in _BY_BUILD:
        return two in gone.builds
    return {
        "build.definition": gone.build_definitions, "pipelines.pipeline": gone.build_definitions,
        "release.definition": gone.release_definitions, "release.release": gone.releases,
        "release.deployment": gone.deployments, "tfvc.label": gone.tfvc_labels,
    }.get(record_type, frozenset()).__contains__(two) or (record_type == "tfvc.branch" and key in gone.tfvc_branches)
