"""How many items of each API area a scale holds at generation (exact, documented in docs/simulator.md).

The git base (projects, repositories, commits, people) is in ``generate.SCALES``; the other
areas read their sizes here so they agree with each other (e.g. pull requests link to work
item ids ``1..work_items``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AreaScale", "AREA_SCALES"]


@dataclass(frozen=True, slots=True)
class AreaScale:
    pull_requests: int          # across all repositories, each with reviewers, threads and iterations
    changesets: int             # TFVC, ids 1..changesets, across the collection
    build_definitions: int      # across all projects (some YAML, i.e. also pipelines)
    builds: int                 # across all definitions, each with a stage/job/task timeline
    release_definitions: int
    releases: int               # each with one or more deployments
    work_items: int             # ids 1..work_items
    work_item_revisions: int    # total revisions of all work items at generation
    teams_per_project: int


AREA_SCALES: dict[str, AreaScale] = {
    "tiny": AreaScale(pull_requests=12, changesets=30, build_definitions=3, builds=40, release_definitions=2,
                      releases=6, work_items=40, work_item_revisions=200, teams_per_project=1),
    "small": AreaScale(pull_requests=150, changesets=400, build_definitions=8, builds=600, release_definitions=4,
                       releases=40, work_items=600, work_item_revisions=5_000, teams_per_project=2),
    "medium": AreaScale(pull_requests=4_000, changesets=5_000, build_definitions=40, builds=20_000,
                        release_definitions=20, releases=500, work_items=20_000, work_item_revisions=200_000,
                        teams_per_project=3),
    "large": AreaScale(pull_requests=40_000, changesets=50_000, build_definitions=400, builds=200_000,
                       release_definitions=200, releases=5_000, work_items=200_000, work_item_revisions=2_000_000,
                       teams_per_project=3),
    # issue 22's large collection (git base in generate.SCALES): many projects, repositories and teams, little else
    "collection": AreaScale(pull_requests=500, changesets=1_200, build_definitions=100, builds=1_000,
                            release_definitions=20, releases=60, work_items=1_000, work_item_revisions=5_000,
                            teams_per_project=3),
}
