"""Scope filters beside projects (issue 16): excluded repositories, TFVC paths and work item types
are not collected, and what was sent of them before is deleted by the next listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.streams import RECORD_TYPES
from satellite.sync.once import sync_once
from standins.ado_simulator.world.world import generate_world
from tests.support import Receiver, start_receiver, start_simulator, write_config

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)
FILTERS = """\
    repositories: {exclude: [CONTOSO-SDK]}
    tfvc_paths: {exclude: ["$/Contoso Fiber/Dev"]}
    work_item_types: {exclude: [bug]}
"""
REPOSITORY_KEYED = ("git.repository", "git.ref", "git.push", "git.commit", "git.pull_request", "git.pull_request_reviewer",
                    "git.pull_request_thread", "git.pull_request_iteration", "git.pull_request_work_item",
                    "git.pull_request_commit")


def sync(directory: Path, simulator, receiver: Receiver, key_files, env, filters: str = "") -> None:
    path = write_config(directory, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files,
                        extra_integration=filters)
    result = sync_once(load_config(path, env=env), ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
    assert result.ok, result.errors


def live(receiver: Receiver) -> dict[str, dict[str, object]]:
    return {t: {k: data for k, (op, data) in receiver.records(t).items() if op == "upsert"} for t in sorted(RECORD_TYPES)}


def test_excluded_repositories_paths_and_work_item_types_are_not_collected(tmp_path, key_files, env):
    world = generate_world(seed=11, scale="tiny")
    excluded_repo = next(r.id for r in world.repositories if r.name == "contoso-sdk")
    full_receiver = start_receiver(tmp_path / "r-full", key_files)
    scoped_receiver = start_receiver(tmp_path / "r-scoped", key_files)
    try:
        with start_simulator(world) as simulator:
            sync(tmp_path / "full", simulator, full_receiver, key_files, env)
            sync(tmp_path / "scoped", simulator, scoped_receiver, key_files, env, FILTERS)
            full, scoped = live(full_receiver), live(scoped_receiver)
            # the same data dir, the filters added: the listings now lack them, so SEI is told
            sync(tmp_path / "full", simulator, full_receiver, key_files, env, FILTERS)
            after = {t: full_receiver.records(t) for t in ("git.repository", "tfvc.branch", "wit.work_item_type")}
    finally:
        full_receiver.close()
        scoped_receiver.close()

    bug_items = {":".join(k.split(":")[:2]) for k, d in full["wit.work_item_revision"].items()
                 if d["fields"].get("System.WorkItemType") == "Bug"}
    assert bug_items and any(k.startswith(excluded_repo) for k in full["git.commit"])

    def expected(record_type: str, key: str) -> bool:
        if record_type in REPOSITORY_KEYED and key.startswith(excluded_repo):
            return False
        if record_type == "tfvc.branch":
            return not key.endswith(":$/Contoso Fiber/Dev")
        if record_type == "tfvc.change":
            return not key.endswith(":$/Contoso Fiber/Dev") and ":$/Contoso Fiber/Dev/" not in key
        if record_type == "wit.work_item_type":
            return not key.endswith(":Bug")
        if record_type in ("wit.work_item", "wit.work_item_revision", "wit.comment", "wit.work_item_link"):
            return ":".join(key.split(":")[:2]) not in bug_items
        return True

    for record_type, records in full.items():
        assert set(scoped[record_type]) == {k for k in records if expected(record_type, k)}, record_type
    assert len(scoped["tfvc.change"]) < len(full["tfvc.change"])
    assert len(scoped["wit.comment"]) < len(full["wit.comment"])
    assert after["git.repository"][excluded_repo][0] == "delete"
    assert [op for k, (op, _) in after["tfvc.branch"].items() if k.endswith(":$/Contoso Fiber/Dev")] == ["delete"]
    assert {op for k, (op, _) in after["wit.work_item_type"].items() if k.endswith(":Bug")} == {"delete"}
