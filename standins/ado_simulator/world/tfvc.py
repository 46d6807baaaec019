"""TFVC area data: one version-control folder per project (``$/Project``), changesets 1..N across
the collection, branches (``Main``, ``Dev``...) and labels.

Changesets are stored compactly; their changes (paths, change types) and the items under a label
are generated on demand from the changeset or label id, so they are identical on every request.
"""

from __future__ import annotations

import base64
import random
from bisect import bisect_right
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

from standins.ado_simulator.world.gc_pause import gc_paused
from standins.ado_simulator.world.generate import EPOCH
from standins.ado_simulator.world.model import iso_fraction
from standins.ado_simulator.world.scales import AREA_SCALES

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = ["Changeset", "Change", "Branch", "Label", "LabelItem", "TfvcDomain", "build_tfvc", "tfvc_of"]

DAY = 86400
_FOLDERS = ("src", "src/Api", "src/Web", "src/Core", "src/Data", "tests", "tests/Integration", "docs", "build", "tools")
_FILES = ("Program.cs", "Startup.cs", "Settings.config", "README.md", "OrderService.cs", "Repository.cs",
          "Invoice.cs", "Customer.cs", "Report.sql", "Deploy.ps1", "App.config", "Web.config", "Helpers.cs",
          "Validation.cs", "Export.cs", "Logging.cs", "build.proj", "Module.csproj", "Tests.cs", "Schema.xsd")
_EDIT_TYPES = ("edit",) * 12 + ("add",) * 3 + ("delete",) * 2 + ("rename",) + ("edit, rename",) + ("edit, encoding",)
_COMMENTS = ("Fix null check in {t}", "Update {t} for the new schema", "Refactor {t}", "Add logging to {t}",
             "Merge changes from Main", "Remove dead code in {t}", "Bump version numbers", "Code review fixes in {t}",
             "Handle timeouts in {t}", "Check-in for the nightly build")
_TARGETS = ("OrderService", "the export job", "Repository", "Invoice", "the deploy script", "Settings", "Validation")
_LABEL_NAMES = ("Release {n}.0", "Build 2024.{n}", "Sprint {n}", "Hotfix {n}", "Milestone {n}")
_WORK_ITEM_TYPES = (("Bug", "Active"), ("Task", "Closed"), ("User Story", "Resolved"), ("Bug", "Closed"))


@dataclass(frozen=True, slots=True)
class Changeset:
    """One check-in. ``branch`` is the folder it touched; ``kind`` decides what its changes are."""

    id: int
    project: int  # index into world.projects
    branch: str
    kind: str  # "folder" | "initial" | "branch" | "edit" | "delete-branch"
    author: int  # index into world.people
    checked_in_by: int
    time: int
    date: str
    comment: str  # "" when the check-in had none
    work_items: tuple[int, ...]
    source: str = ""  # the branch a "branch" changeset copied


@dataclass(frozen=True, slots=True)
class Change:
    path: str
    change_type: str
    is_folder: bool
    size: int
    hash_value: str


@dataclass(frozen=True, slots=True)
class Branch:
    path: str
    project: int
    parent: str | None
    owner: int
    date: str
    description: str
    changeset: int  # the changeset that created it
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class Label:
    id: int
    name: str
    project: int
    scope: str  # labelScope: the project folder
    branch: str  # the branch whose items it labels
    owner: int
    date: str
    description: str
    version: int  # changeset the labelled items are at


@dataclass(frozen=True, slots=True)
class LabelItem:
    path: str
    version: int
    is_folder: bool


class TfvcDomain:
    """Changesets, branches and labels of the collection (mutable: guarded by ``world.lock``)."""

    name = "tfvc"
    min_versions: dict[str, str] = {}

    def __init__(self, world: "World", seed: int, scale: str) -> None:
        self._world = world
        self._seed = f"{seed}:{scale}:tfvc"
        self.changesets: list[Changeset] = []  # changeset n is changesets[n - 1]
        self.branches: dict[str, Branch] = {}  # by path, in creation order
        self.labels: list[Label] = []  # label n is labels[n - 1]
        self._by_project: dict[int, tuple[list[int], list[int]]] = {}  # project -> (times, changeset ids)
        self._work_items = AREA_SCALES[scale].work_items
        self._change_keys: list[str] = []
        self._keyed = 0  # changesets whose change keys are in _change_keys
        self._generate(AREA_SCALES[scale].changesets)

    # -- generation ----------------------------------------------------------------------

    def _generate(self, total: int) -> None:
        world = self._world
        rng = random.Random(f"{self._seed}:changesets")
        projects = len(world.projects)
        start, end = EPOCH - 300 * DAY, world.clock - 3600
        times = sorted(rng.randint(start, end) for _ in range(total))
        for i in range(1, total):  # strictly increasing: ids follow creation time
            times[i] = max(times[i], times[i - 1] + 1)
        owners = [rng.randrange(projects) for _ in range(total)]
        for p in range(projects):  # every project gets its folder, Main and Dev
            for slot in range(3):
                owners[p * 3 + slot] = p
        per_project: dict[int, list[int]] = {}
        for index, project in enumerate(owners):
            per_project.setdefault(project, []).append(index)
        plans = {p: self._plan(rng, p, len(indexes)) for p, indexes in per_project.items()}
        seen = {p: 0 for p in per_project}
        for index, project in enumerate(owners):
            kind, branch, source = plans[project][seen[project]]
            seen[project] += 1
            self._add_changeset(rng, times[index], project, kind, branch, source)
        edits = [c for c in self.changesets if c.kind == "edit"] or self.changesets[2:3]
        for _ in range(max(projects, total // 20)):
            edit = rng.choice(edits)
            self._add_label(rng, edit.time, edit.project)
        self.labels.sort(key=lambda label: label.date)
        self.labels = [replace(label, id=i + 1) for i, label in enumerate(self.labels)]

    def _plan(self, rng: random.Random, project: int, count: int) -> list[tuple[str, str, str]]:
        """What each of a project's changesets does, in order: (kind, branch, source branch)."""
        root = self._root(project)
        main, dev = f"{root}/Main", f"{root}/Dev"
        plan = [("folder", root, ""), ("initial", main, ""), ("branch", dev, main)]
        live = [main, dev]
        release_at = count * 3 // 5 if count >= 12 else -1
        spike_at, spike_gone = (count * 2 // 5, count // 2) if count >= 20 else (-1, -1)
        for i in range(3, count):
            if i == release_at:
                plan.append(("branch", f"{root}/Release", main))
                live.append(f"{root}/Release")
            elif i == spike_at:
                plan.append(("branch", f"{root}/Spike", dev))
                live.append(f"{root}/Spike")
            elif i == spike_gone:
                plan.append(("delete-branch", f"{root}/Spike", ""))
                live.remove(f"{root}/Spike")
            else:
                plan.append(("edit", rng.choice(live), ""))
        return plan

    def _root(self, project: int) -> str:
        return "$/" + self._world.projects[project].name

    def _add_changeset(self, rng: random.Random, when: int, project: int, kind: str, branch: str, source: str) -> Changeset:
        people = len(self._world.people)
        author = rng.randrange(people)
        checked_in_by = author if rng.random() < 0.9 else rng.randrange(people)
        cid = len(self.changesets) + 1
        comment = self._comment(rng, kind, branch, source)
        linked = tuple(sorted(rng.sample(range(1, self._work_items + 1), rng.randint(1, 2)))) \
            if kind == "edit" and self._work_items and rng.random() < 0.3 else ()
        changeset = Changeset(cid, project, branch, kind, author, checked_in_by, when,
                              iso_fraction(when, rng.randrange(10_000_000)), comment, linked, source)
        self.changesets.append(changeset)
        times, ids = self._by_project.setdefault(project, ([], []))
        times.append(when)
        ids.append(cid)
        if kind in ("initial", "branch"):
            parent = source or None
            description = f"Branched from {source}" if source else ""
            self.branches[branch] = Branch(branch, project, parent, author, changeset.date, description, cid)
        elif kind == "delete-branch":
            self.branches[branch] = replace(self.branches[branch], deleted=True)
        return changeset

    def _comment(self, rng: random.Random, kind: str, branch: str, source: str) -> str:
        if kind == "folder":
            return f"Created team project folder {branch} via the Team Project Creation Wizard"
        if kind == "initial":
            return "Initial check-in"
        if kind == "branch":
            return f"Branched from {source}"
        if kind == "delete-branch":
            return f"Delete branch {branch.rsplit('/', 1)[1]}"
        if rng.random() < 0.12:
            return ""
        text = rng.choice(_COMMENTS).format(t=rng.choice(_TARGETS))
        if rng.random() < 0.15:
            text += " after the review comments on error handling, retries, paging and the edge cases found by QA last sprint"
        return text

    def _add_label(self, rng: random.Random, when: int, project: int) -> Label:
        """A label on one of the project's branches that existed at ``when``."""
        existing = bisect_right(self.changesets, when, key=lambda c: c.time)  # changesets 1..existing
        branch = rng.choice([b for b in self.branches.values()
                             if b.project == project and not b.deleted and b.changeset <= existing])
        times, ids = self._by_project[branch.project]
        version = ids[bisect_right(times, when) - 1]
        number = rng.randint(1, 40)
        label = Label(len(self.labels) + 1, rng.choice(_LABEL_NAMES).format(n=number), branch.project,
                      self._root(branch.project), branch.path, rng.randrange(len(self._world.people)),
                      iso_fraction(when, rng.randrange(10_000_000)), "" if rng.random() < 0.6 else "Labelled for the release",
                      version)
        self.labels.append(label)
        return label

    # -- derived content (pure functions of ids) -----------------------------------------

    def changes(self, changeset: Changeset) -> list[Change]:
        """The changes of a changeset, sorted by path (generated from its id)."""
        rng = random.Random(f"{self._seed}:changes:{changeset.id}")
        kind = changeset.kind
        if kind in ("folder", "delete-branch"):
            change_type = "add" if kind == "folder" else "delete"
            return [Change(changeset.branch, change_type, True, 0, "")]
        if kind in ("initial", "branch"):
            change_type = "add" if kind == "initial" else "branch"
            files = self._branch_files(changeset.branch)
            changes = [Change(changeset.branch, change_type, True, 0, "")]
            changes += [self._file_change(rng, path, change_type) for path in files]
        else:
            files = self._branch_files(changeset.branch)
            picked = rng.sample(files, min(len(files), rng.randint(1, 6)))
            changes = [self._file_change(rng, path, rng.choice(_EDIT_TYPES)) for path in picked]
            if rng.random() < 0.2:
                changes.append(self._file_change(rng, f"{changeset.branch}/src/Feature{changeset.id}.cs", "add"))
        return sorted(changes, key=lambda c: c.path.lower())

    def _branch_files(self, branch: str) -> list[str]:
        """The files every branch of a project starts with (same names in Main, Dev...)."""
        rng = random.Random(f"{self._seed}:files:{branch.rpartition('/')[0]}")
        count = rng.randint(5, 24)
        names = sorted({f"{rng.choice(_FOLDERS)}/{rng.choice(_FILES)}" for _ in range(count)})
        return [f"{branch}/{name}" for name in names]

    @staticmethod
    def _file_change(rng: random.Random, path: str, change_type: str) -> Change:
        digest = base64.b64encode(rng.getrandbits(128).to_bytes(16, "big")).decode()
        return Change(path, change_type, False, rng.randint(200, 90_000), digest)

    def label_items(self, label: Label) -> list[LabelItem]:
        """The items a label holds: its branch's folders and files at the labelled changeset."""
        files = self._branch_files(label.branch)
        folders = sorted({path.rsplit("/", 1)[0] for path in files} | {label.branch})
        items = [LabelItem(path, label.version, True) for path in folders]
        items += [LabelItem(path, label.version, False) for path in files]
        return sorted(items, key=lambda item: item.path.lower())

    def work_item(self, work_item_id: int) -> tuple[str, str, str]:
        """(type, state, title) shown for a linked work item."""
        rng = random.Random(f"{self._seed}:workitem:{work_item_id}")
        kind, state = rng.choice(_WORK_ITEM_TYPES)
        return kind, state, rng.choice(_COMMENTS).format(t=rng.choice(_TARGETS))

    # -- lookups -------------------------------------------------------------------------

    def changeset(self, changeset_id: int) -> Changeset | None:
        return self.changesets[changeset_id - 1] if 1 <= changeset_id <= len(self.changesets) else None

    def label(self, label_id: int) -> Label | None:
        return self.labels[label_id - 1] if 1 <= label_id <= len(self.labels) else None

    # -- Domain --------------------------------------------------------------------------

    def truth(self) -> dict[str, list[str]]:
        c = self._world.collection.id
        for changeset in self.changesets[self._keyed :]:
            self._change_keys += [f"{c}:{changeset.id}:{change.path}" for change in self.changes(changeset)]
        self._keyed = len(self.changesets)
        return {
            "tfvc.changeset": sorted(f"{c}:{cs.id}" for cs in self.changesets),
            "tfvc.change": sorted(self._change_keys),
            "tfvc.branch": sorted(f"{c}:{b.path}" for b in self.branches.values()),  # deleted ones too (isDeleted)
            "tfvc.label": sorted(f"{c}:{label.id}" for label in self.labels),
        }

    def advance(self, rng: random.Random, clock: int, counts: dict[str, int]) -> None:
        """An hour of check-ins: a few changesets, sometimes a new feature branch or a label."""
        projects = len(self._world.projects)
        made = rng.randint(1, 1 + projects // 10)
        when = max(clock - 3600, self.changesets[-1].time)
        for _ in range(made):
            when += rng.randint(1, 3600 // (made + 1))
            project = rng.randrange(projects)
            live = [b.path for b in self.branches.values() if b.project == project and not b.deleted]
            self._add_changeset(rng, when, project, "edit", rng.choice(live), "")
        if rng.random() < 0.05:
            project = rng.randrange(projects)
            number = sum(1 for b in self.branches.values() if b.project == project) + 1
            when += 1
            self._add_changeset(rng, when, project, "branch", f"{self._root(project)}/Feature-{number}",
                                f"{self._root(project)}/Main")
            made += 1
            counts["tfvc_branches"] = counts.get("tfvc_branches", 0) + 1
        if rng.random() < 0.1:
            self._add_label(rng, when, rng.randrange(projects))
            counts["tfvc_labels"] = counts.get("tfvc_labels", 0) + 1
        counts["changesets"] = counts.get("changesets", 0) + made


def build_tfvc(world: "World", seed: int, scale: str) -> TfvcDomain:
    with gc_paused():
        return TfvcDomain(world, seed, scale)


def tfvc_of(world: "World") -> TfvcDomain:
    return cast(TfvcDomain, world.domain("tfvc"))
