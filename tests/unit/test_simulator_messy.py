"""A messy world's generation (standins/ado_simulator/world/messy.py): names, e-mail-less people,
disabled and empty repositories, the rename, move and deletion of the first advance, and the
deletions armed for the next sync; its truth after each change; messy off changes nothing."""

from __future__ import annotations

import base64
import json

import pytest

from standins.ado_simulator.app import create_app
from standins.ado_simulator.wire.wire import ApiError
from standins.ado_simulator.world.messy import (
    DOOMED,
    LONG,
    LONG_BRANCH,
    UNICODE_BRANCH,
    UNICODE_PROJECT,
)
from standins.ado_simulator.world.pipelines.builds import builds_of
from standins.ado_simulator.world.world import generate_world

AUTH = {"authorization": "Basic " + base64.b64encode(b":pat").decode()}
C = "/tfs/DefaultCollection"


@pytest.fixture
def world():
    return generate_world(23, "tiny", messy=True)  # the renamed project has TFVC labels, the deleted one builds


def get(world, path: str, version: str = "7.0"):
    app = create_app(world, "2022", {"pat": frozenset({"full"})})
    path, _, query = path.partition("?")
    raw = f"api-version={version}" + (f"&{query}" if query else "")
    response = app.handle("GET", f"{C}/{path}", raw.encode(), AUTH, "http://sim")
    return response.status, json.loads(response.body)


def test_messy_is_off_by_default():
    tidy = generate_world(9, "tiny")
    assert tidy.messy is None
    assert DOOMED not in {p.name for p in tidy.projects}
    assert all(p.email for p in tidy.people)
    assert tidy.truth() != generate_world(9, "tiny", messy=True).truth()


def test_names_are_unicode_and_long_and_some_people_have_no_email(world):
    names = [p.display_name for p in world.people]
    assert any(any(ord(ch) > 0x3000 for ch in n) for n in names)  # CJK
    assert any("\u0301" in n for n in names)  # combining marks
    assert any(len(n) >= 250 for n in names)
    no_mail = [p for p in world.people if not p.email]
    assert len(no_mail) == 2 and all(p.unique_name.startswith("FABRIKAM\\") for p in no_mail)
    assert world.people[0].email  # the authenticated user keeps hers
    assert UNICODE_PROJECT in {p.name for p in world.projects}
    assert any(len(r.name) >= LONG for r in world.repositories)
    assert any(len(d.name) >= LONG for d in builds_of(world).definitions)
    long_repo = next(r for r in world.repositories if len(r.name) >= LONG)
    assert {f"{long_repo.id}:{UNICODE_BRANCH}", f"{long_repo.id}:{LONG_BRANCH}"} <= set(world.truth()["git.ref"])
    assert len(LONG_BRANCH.removeprefix("refs/heads/")) == 250


def test_an_identity_without_email_has_no_mail_property(world):
    person = next(p for p in world.people if not p.email)
    status, body = get(world, f"_apis/identities?identityIds={person.id}")
    assert status == 200
    identity = body["value"][0]
    assert identity["properties"]["Mail"]["$value"] == ""  # an AD account without a mail attribute
    assert identity["properties"]["Domain"]["$value"] == "FABRIKAM"
    assert identity["providerDisplayName"] == person.display_name


def test_the_disabled_repository_is_listed_and_its_reads_answer_tf401019(world):
    messy = world.messy
    disabled = messy.disabled
    project = world.project(disabled.project_id)
    status, body = get(world, f"{project.id}/_apis/git/repositories")
    listed = {r["id"]: r for r in body["value"]}
    assert listed[disabled.id]["isDisabled"] is True
    assert not any(r["isDisabled"] for key, r in listed.items() if key != disabled.id)
    assert disabled.id in world.truth()["git.repository"]
    for part in ("refs", "commits", "pushes", "pullrequests"):
        status, body = get(world, f"{project.id}/_apis/git/repositories/{disabled.id}/{part}")
        assert status == 404 and body["message"].startswith("TF401019"), part
    assert get(world, f"_apis/git/repositories/{disabled.id}")[0] == 200  # the repository itself answers
    assert isinstance(messy.intercept(world, f"{C}/_apis/git/repositories/{disabled.name}/refs"), ApiError)


def test_the_empty_repository_has_no_refs_no_default_branch_and_no_commits(world):
    empty = next(r for r in world.messy.extras if not r.default_branch)
    status, body = get(world, f"_apis/git/repositories/{empty.id}")
    assert status == 200 and "defaultBranch" not in body
    assert get(world, f"_apis/git/repositories/{empty.id}/refs")[1]["value"] == []
    assert get(world, f"_apis/git/repositories/{empty.id}/pushes")[1]["value"] == []
    truth = world.truth()
    assert empty.id in truth["git.repository"]
    assert not [k for t in ("git.ref", "git.commit", "git.push") for k in truth[t] if k.startswith(empty.id)]


def test_the_first_advance_renames_moves_and_deletes_and_the_truth_follows(world):
    messy = world.messy
    before = world.truth()
    doomed_repos = {r.id for r in world.repositories if r.project_id == messy.doomed}
    old_name = world.project(messy.renamed).name
    assert doomed_repos and messy.doomed in before["core.project"]
    counts = world.advance(2)
    assert counts["projects_renamed"] == counts["repositories_moved"] == counts["projects_deleted"] == 1
    renamed = world.project(messy.renamed)
    assert renamed.id == messy.renamed and renamed.name != old_name and len(renamed.name) >= LONG
    index = world.projects.index(renamed)
    scopes = {label.scope for label in world.domain("tfvc").labels if label.project == index}
    assert scopes <= {f"$/{renamed.name}"}  # the labels' scope follows the rename
    assert not [label for label in world.domain("tfvc").labels if label.scope.startswith(f"$/{old_name}")]
    assert world.repository(messy.moved).project_id == messy.target
    assert messy.moved in {r.id for r in world.project_repositories(messy.target)}
    assert world.project(messy.doomed) is None and world.project(DOOMED) is None
    after = world.truth()
    assert messy.doomed not in after["core.project"]
    for record_type, keys in after.items():
        assert not [k for k in keys if k.split(":")[0] in doomed_repos | {messy.doomed}], record_type
    doomed_teams = {t.id for t in world.domain("teams").teams if t.project_id == messy.doomed}
    assert doomed_teams and not doomed_teams & set(after["core.team"])
    _status, body = get(world, "_apis/projects")
    assert messy.doomed not in {p["id"] for p in body["value"]}
    assert get(world, f"{messy.doomed}/_apis/git/repositories")[0] == 404
    assert get(world, f"_apis/git/repositories/{min(doomed_repos)}")[0] == 404
    world.advance(1)
    assert world.project(messy.renamed).name == renamed.name  # once only


def test_a_build_and_a_pull_request_are_deleted_at_their_first_read_after_the_advance(world):
    messy = world.messy
    builds = builds_of(world)
    build = next(b for b in builds.builds if not b.deleted and b.status == "completed")
    pr = max(world.domain("pull_requests")._prs.values(), key=lambda p: p.id)
    repo = world.repository(pr.repository_id)
    timeline = f"{C}/{repo.project_id}/_apis/build/builds/{build.id}/timeline"
    threads = f"{C}/{repo.project_id}/_apis/git/repositories/{repo.id}/pullRequests/{pr.id}/threads"
    assert messy.intercept(world, timeline) is None and messy.intercept(world, threads) is None
    assert not builds.build(build.id).deleted  # not armed before the advance
    world.advance(1)
    live = {i for i, p in enumerate(world.projects) if world.project(p.id) is not None}
    build = next(b for b in builds.builds if not b.deleted and b.status == "completed"
                 and builds.definitions[b.definition - 1].project in live)
    key = f"{world.collection.id}:{build.id}"
    assert key in world.truth()["build.build"]
    messy.intercept(world, f"{C}/p/_apis/build/builds/{build.id}/timeline")
    assert builds.build(build.id).deleted and key not in world.truth()["build.build"]
    pr = next(iter(world.domain("pull_requests")._prs.values()))
    repo = world.repository(pr.repository_id) or next(r for r in world.repositories if r.id == pr.repository_id)
    messy.intercept(world, f"{C}/_apis/git/repositories/{repo.id}/pullRequests/{pr.id}/threads")
    assert world.domain("pull_requests").get(pr.id) is None
    assert f"{repo.id}:{pr.id}" not in world.truth()["git.pull_request"]
    assert [e for e in messy.events if "during a sync" in e] == [
        f"deleted build {build.id} during a sync", f"deleted pull request {pr.id} during a sync"]
    other = next(b for b in builds.builds if not b.deleted and b.status == "completed")
    messy.intercept(world, f"{C}/x/_apis/build/builds/{other.id}/changes")
    assert not builds.build(other.id).deleted  # one each per advance


def test_some_work_item_titles_are_unicode_and_255_characters(world):
    titles = {}
    for item_id in (5, 10, 11):
        status, body = get(world, f"_apis/wit/workitems/{item_id}")
        assert status == 200
        titles[item_id] = body["fields"]["System.Title"]
    assert "🐛" in titles[5] and "\u0301" in titles[5] and len(titles[5]) < 255
    assert len(titles[10]) == 255
    assert titles[11].isascii()
    tidy = generate_world(9, "tiny")
    assert get(tidy, "_apis/wit/workitems/10")[1]["fields"]["System.Title"].isascii()


def test_the_simulator_command_takes_messy():
    import argparse

    from standins.ado_simulator.command import configure_parser

    parser = argparse.ArgumentParser()
    configure_parser(parser)
    assert parser.parse_args(["--messy"]).messy is True
    assert parser.parse_args([]).messy is False


@pytest.mark.parametrize("seed", range(1, 13))
def test_a_messy_world_lives_on_for_days_whatever_its_seed(seed):
    """The disabled and empty repositories, the moved one and the deleted project never trip a domain
    (a work item linking a commit of a project's repositories picks them too)."""
    world = generate_world(seed, "tiny", messy=True)
    world.advance(48)
    truth = world.truth("7.0")
    assert world.messy.doomed not in truth["core.project"]
    assert {r.id for r in world.messy.extras} <= set(truth["git.repository"])
