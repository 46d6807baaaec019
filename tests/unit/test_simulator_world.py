"""The simulator's world: determinism, internal consistency, documented sizes, advance."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from standins.ado_simulator.world.generate import SCALES
from standins.ado_simulator.world.model import ZERO_ID
from standins.ado_simulator.world.world import World, generate_world

DOCS = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"


def _histories(world: World):
    histories = []
    for repo in world.repositories:
        with world.reading(repo.id) as history:
            histories.append(history)
    return histories


def _documented(scale: str) -> dict[str, int]:
    header = next(line for line in DOCS.read_text().splitlines() if line.startswith("| scale |"))
    row = next(line for line in DOCS.read_text().splitlines() if line.startswith(f"| {scale} |"))
    names = [c.strip() for c in header.strip("|").split("|")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    return {n: int(c) for n, c in zip(names, cells) if re.fullmatch(r"\d+", c)}


def test_same_seed_same_world_other_seed_other_world():
    a, b = generate_world(7, "small"), generate_world(7, "small")
    assert a.truth() == b.truth()
    assert (a.people, a.projects, a.repositories) == (b.people, b.projects, b.repositories)
    for ha, hb in zip(_histories(a), _histories(b)):
        assert ha.commits == hb.commits and ha.pushes == hb.pushes and ha.refs == hb.refs
    assert generate_world(8, "small").truth() != a.truth()


@pytest.mark.parametrize("scale", ["tiny", "small"])
def test_sizes_match_the_documentation(scale):
    world = generate_world(7, scale)
    documented = _documented(scale)
    truth = world.truth()
    histories = _histories(world)
    assert len(truth["core.project"]) == documented["projects"]
    assert len(truth["git.repository"]) == documented["repositories"]
    assert len(truth["git.commit"]) == documented["commits"] == SCALES[scale].commits
    assert len(world.people) == documented["people"]
    assert sum(len(h.refs) for h in histories) == documented["branches"]
    assert sum(len(h.pushes) for h in histories) == documented["pushes"]


def test_history_is_consistent():
    world = generate_world(7, "small")
    for repo, history in zip(world.repositories, _histories(world)):
        assert history.head(repo.default_branch) is not None
        assert 3 <= len(history.refs) <= 7
        seen: set[str] = set()
        last_time = 0
        for commit in history.commits:
            assert re.fullmatch(r"[0-9a-f]{40}", commit.commit_id)
            assert all(p in seen for p in commit.parents)  # parents exist first: a DAG
            assert commit.commit_time > last_time  # committer dates strictly increase
            last_time = commit.commit_time
            seen.add(commit.commit_id)
        assert any(len(c.parents) == 2 for c in history.commits) or len(history.commits) < 40
        heads: dict[str, str] = {}
        for number, push in enumerate(history.pushes, start=1):
            assert push.push_id == number and push.commit_ids
            for update in push.ref_updates:
                assert update.old_object_id == heads.get(update.name, ZERO_ID)
                heads[update.name] = update.new_object_id
        assert heads == {name: ref.object_id for name, ref in history.refs.items()}


def test_advance_is_deterministic_and_only_adds_git_history():
    a, b = generate_world(7, "tiny"), generate_world(7, "tiny")
    before = a.truth()
    counts = a.advance(6)
    assert counts == b.advance(6)
    assert counts["pushes"] >= 6 and counts["commits"] >= counts["pushes"]
    after = a.truth()
    assert after == b.truth()
    assert after["core.project"] == before["core.project"]
    assert after["git.repository"] == before["git.repository"]
    assert set(before["git.commit"]) < set(after["git.commit"])
    assert len(after["git.commit"]) == len(before["git.commit"]) + counts["commits"]
    assert (a.projects, a.repositories) == (generate_world(7, "tiny").projects, generate_world(7, "tiny").repositories)


def test_advance_while_reading_is_safe():
    world = generate_world(7, "tiny")
    repo = world.repositories[0]
    errors: list[Exception] = []

    def reader():
        try:
            for _ in range(300):
                with world.reading(repo.id) as history:
                    head = history.head(repo.default_branch)
                    positions = history.log(head)
                    assert history.commits[positions[0]].commit_id == head
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    world.advance(50)
    thread.join()
    assert not errors


def test_log_is_git_log_compare_dot_dot_item():
    world = generate_world(7, "small")
    history = _histories(world)[0]
    main = history.head("refs/heads/main")
    feature = next(n for n in history.ref_names if n != "refs/heads/main")
    head = history.head(feature)
    everything = {history.commits[p].commit_id for p in history.log(head)}
    on_main = {history.commits[p].commit_id for p in history.log(main)}
    between = [history.commits[p].commit_id for p in history.log(head, main)]
    assert set(between) == everything - on_main and len(between) == len(set(between))
    assert history.log(main, main) == ()


def test_medium_generates_quickly():
    started = time.perf_counter()
    world = generate_world(7, "medium")
    assert time.perf_counter() - started < 10
    assert len(world.repositories) == 40 and len(world.truth()["git.commit"]) == 40_000


def test_unknown_scale_is_refused():
    with pytest.raises(ValueError, match="unknown scale"):
        generate_world(7, "huge")
