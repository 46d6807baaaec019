"""The pure parts of the simulator's issue-13 semantics: the switches, the revision flag of a comment saved
with another change, long descriptions, a deployment committed late, a re-run build's timeline."""

from __future__ import annotations

import argparse
from dataclasses import replace

import pytest

from standins.ado_simulator.command import semantics as parse_argument
from standins.ado_simulator.semantics import DEFAULT_SEMANTICS, PAGE_CAP, RUNS_CAP, SWITCHES, ServerSemantics
from standins.ado_simulator.world.boards.wit_process import TYPES
from standins.ado_simulator.world.boards.work_item_history import Change, RevisionLog, WorkItem, adds_comment, replay
from standins.ado_simulator.world.git.pr_content import long_description
from standins.ado_simulator.world.pipelines.build_timeline import timeline_record_ids, timeline_records
from standins.ado_simulator.world.pipelines.builds import COMPLETED, IN_PROGRESS, Build
from standins.ado_simulator.world.pipelines.releases import IN_PROGRESS as DEPLOYING
from standins.ado_simulator.world.pipelines.releases import Deployment

# -- the switches ----------------------------------------------------------------------------------


HANDLED = {"pipeline_reruns", "late_visible", "release_edits", "comments_with_changes", "long_pr_descriptions",
           "tfvc_top_before_sort"}  # the satellite handles them: on by default


def test_the_defaults_are_on_for_what_the_satellite_handles():
    assert DEFAULT_SEMANTICS == ServerSemantics()
    assert HANDLED <= {name for name, kind in SWITCHES.items() if kind == "bool" and getattr(DEFAULT_SEMANTICS, name)}
    assert DEFAULT_SEMANTICS.pipeline_runs_cap == RUNS_CAP == 10_000 and DEFAULT_SEMANTICS.page_cap == PAGE_CAP == 20
    assert DEFAULT_SEMANTICS.names() == [] and DEFAULT_SEMANTICS.capped(1000) == PAGE_CAP


def test_parse_reads_names_with_dashes_numbers_and_all():
    parsed = ServerSemantics.parse("comments-with-changes, late_visible=off,pipeline-runs-cap=50,page-cap=7")
    assert parsed == replace(DEFAULT_SEMANTICS, comments_with_changes=True, late_visible=False, pipeline_runs_cap=50, page_cap=7)
    assert {"late-visible=0", "pipeline-runs-cap=50", "page-cap=7"} <= set(parsed.names())
    assert ServerSemantics.parse(",".join(parsed.names())) == parsed
    everything = ServerSemantics.parse("all")
    assert all(getattr(everything, n) is True for n, kind in SWITCHES.items() if kind == "bool")
    assert everything.pipeline_runs_cap == RUNS_CAP and everything.page_cap == PAGE_CAP
    assert ServerSemantics.parse("all,release-edits=off").release_edits is False
    assert ServerSemantics.parse("") == DEFAULT_SEMANTICS
    assert parsed.capped(1000) == 7 and parsed.capped(3) == 3


@pytest.mark.parametrize("text", ["bogus", "page-cap", "page-cap=x", "late-visible=maybe"])
def test_parse_refuses_what_it_does_not_know(text):
    with pytest.raises(ValueError):
        ServerSemantics.parse(text)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_argument(text)


# -- a comment saved with another change -----------------------------------------------------------


def test_a_revision_flagged_with_a_comment_adds_the_next_comment_and_its_history():
    kind = TYPES[0]
    item = WorkItem(1, 0, 0, 0, 0, 10, 20, 2, 0)
    log = RevisionLog()
    log.append(1, 100, Change.CREATE, 0, 0)
    log.append(1, 200, Change.COMMENT, 0, 1)  # a comment alone
    log.append(1, 300, Change.STATE | Change.WITH_COMMENT, 1, 1)  # the state moves, and a comment says why
    log.append(1, 400, Change.ASSIGN, 1, 2)
    states = [(s.rev, s.state, s.comments, s.history, s.change) for s in replay(log, item, kind)]
    assert states == [(1, 0, 0, 0, Change.CREATE), (2, 0, 1, 1, Change.COMMENT), (3, 1, 2, 2, Change.STATE),
                      (4, 1, 2, 0, Change.ASSIGN)]
    assert [log.kind(p) for p in range(4)] == [Change.CREATE, Change.COMMENT, Change.STATE, Change.ASSIGN]
    assert [log.history_only(p) for p in range(4)] == [False, True, False, False]
    assert [adds_comment(log.code[p] & 0xFF) for p in range(4)] == [False, True, True, False]


# -- long pull request descriptions ----------------------------------------------------------------


def test_long_descriptions_are_a_pure_function_of_the_id_and_exceed_400_characters_for_most():
    texts = [long_description(i, f"Fix retry {i}") for i in range(1, 301)]
    assert texts == [long_description(i, f"Fix retry {i}") for i in range(1, 301)]
    long = [t for t in texts if t is not None]
    assert 0.5 < len(long) / len(texts) < 0.8
    assert all(len(t) > 400 for t in long)


# -- a deployment committed late -------------------------------------------------------------------


def test_a_deployment_committed_late_reads_as_running_until_its_visible_clock():
    done = Deployment(1, 1, 0, 1, "automated", 0, queued=100, started=200, completed=300, outcome="succeeded")
    late = replace(done, visible=1000)
    assert (done.status(500), done.modified(500), done.done(500)) == ("succeeded", 300, True)
    assert (late.status(500), late.modified(500), late.done(500)) == (DEPLOYING, 200, False)
    assert (late.status(1000), late.modified(1000), late.done(1000)) == ("succeeded", 300, True)  # its time is the old one


# -- a re-run build's timeline ---------------------------------------------------------------------


def _build(**changes) -> Build:
    base = Build(7, 1, "20240101.1", "refs/heads/main", "a" * 40, "manual", 0, 0, queued=1_000, started=1_010,
                 finished=2_000, result="failed", status=COMPLETED, changed=2_010)
    return replace(base, **changes)


def test_a_rerun_keeps_the_record_ids_and_gives_the_rerun_stage_the_new_attempt():
    key = "7:tiny:build:timeline:7"
    first = timeline_records(key, _build(), True, "web", 2, clock=10_000)
    rerun = _build(attempt=2, rerun=5_000, first=(2_000, "failed"), finished=6_000, result="succeeded", changed=6_010)
    second = timeline_records(key, rerun, True, "web", 2, clock=10_000)
    assert [r.id for r in first] == [r.id for r in second] == timeline_record_ids(key, True)
    assert not any(r.result == "failed" for r in second) and any(r.result == "failed" for r in first)
    retried = [r for r in second if r.attempt > 1 and r.start is not None and r.start > 2_000]
    assert retried and all(5_000 < r.start <= r.finish < 6_000 for r in retried)
    for record in retried:
        assert [a for a, _, _ in record.previous] == list(range(1, record.attempt))
    unchanged = [(a, b) for a, b in zip(first, second) if b.attempt == 1]
    assert unchanged and all((a.start, a.finish, a.result) == (b.start, b.finish, b.result) for a, b in unchanged)
    assert max(r.change_id for r in retried) > max(r.change_id for r in first)


def test_a_rerun_in_progress_shows_its_stage_running_or_pending():
    key = "7:tiny:build:timeline:7"
    running = _build(attempt=2, rerun=5_000, first=(2_000, "failed"), finished=6_000, result="succeeded",
                     status=IN_PROGRESS, changed=5_000)
    records = timeline_records(key, running, True, "web", 2, clock=5_001)
    assert any(r.attempt > 1 and r.state in ("pending", "inProgress") for r in records)
    assert all(r.result != "failed" or r.attempt == 1 for r in records)


def test_a_build_never_rerun_has_the_timeline_it_always_had():
    key = "9:small:build:timeline:3"
    build = _build(result="canceled", finished=1_700)
    assert timeline_records(key, build, True, "api", 1, 9_999) == timeline_records(key, replace(build, first=(0, "")), True, "api", 1, 9_999)
