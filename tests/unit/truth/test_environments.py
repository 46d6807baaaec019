"""YAML environment deployments: one per (environment, run, stage attempt), the worst result, finished only."""

from __future__ import annotations

from dataclasses import dataclass

from standins.ado_simulator.truth.environments import yaml_deployments
from standins.ado_simulator.truth.instants import US
from standins.ado_simulator.world.world import generate_world


@dataclass(frozen=True)
class _Environment:
    id: int
    name: str


@dataclass(frozen=True)
class _Record:
    environment_id: int
    build_id: int
    attempt: int
    finished: int
    result: str
    definition_id: int = 1

    def seen(self, clock: int):
        return (self.finished - 60, self.finished, self.result) if self.finished <= clock else (None, None, None)


class _Environments:
    def __init__(self, records: list[_Record]) -> None:
        self.records = records

    def environment(self, environment_id: int) -> _Environment:
        return {1: _Environment(1, "Dev"), 2: _Environment(2, "Production"), 3: _Environment(3, "prod-eu")}[environment_id]


class _World:
    """A real world's builds with made-up environment records."""

    def __init__(self, records: list[_Record]) -> None:
        self._world = generate_world(seed=7, scale="tiny")
        self._environments = _Environments(records)
        self.clock = 1_000

    def domain(self, name: str):
        return self._environments if name == "environments" else self._world.domain(name)


def test_one_deployment_per_stage_attempt_of_a_production_environment():
    records = [
        _Record(1, 10, 1, 100, "failed"),  # Dev: not production
        _Record(2, 10, 1, 200, "failed"),  # attempt 1 failed ...
        _Record(2, 10, 2, 300, "succeededWithIssues"),  # ... attempt 2 partially succeeded: two deployments
        _Record(2, 11, 1, 400, "succeeded"), _Record(2, 11, 1, 450, "canceled"),  # worst of a group: canceled
        _Record(3, 12, 1, 500, "succeeded"), _Record(3, 12, 1, 2_000, "succeeded"),  # one record still running
        _Record(3, 13, 1, 600, "succeeded"),
    ]
    found = yaml_deployments(_World(records))
    assert sorted((d.build_id, d.result, d.finish_us // US) for d in found) == [
        (10, "failed", 200), (10, "partiallySucceeded", 300), (11, "canceled", 450), (13, "succeeded", 600)]
    assert {d.source for d in found} == {"yaml"}
    assert {d.pipeline.split(" / ")[1] for d in found} == {"Production", "prod-eu"}
    assert len({d.key for d in found}) == 2  # (definition, environment): the TTR sequences


def test_a_world_without_environments_has_no_yaml_deployments():
    class Bare(_World):
        def domain(self, name: str):
            if name == "environments":
                raise KeyError(name)
            return super().domain(name)

    assert yaml_deployments(Bare([])) == []


def test_production_deployments_as_the_served_records_group_them():
    """The records a tiny world serves, grouped by (environment, run, stage attempt) as docs/metrics.md says,
    are the truth's YAML deployments: result, finish and build."""
    from collections import defaultdict

    from tests.unit.truth.served import Served
    from tests.unit.truth.test_instants import parsed

    world = generate_world(seed=7, scale="tiny")
    world.advance(6)
    served = Served(world, "7.1")
    worst = ("failed", "canceled", "partiallySucceeded", "succeeded")
    expected = []
    for project in world.projects:
        for environment in served.items(f"{project.id}/_apis/distributedtask/environments"):
            if not environment["name"].lower().startswith("prod"):
                continue
            path = f"{project.id}/_apis/distributedtask/environments/{environment['id']}/environmentdeploymentrecords"
            groups = defaultdict(list)
            for record in served.items(path, top="10000"):
                groups[(record["owner"]["id"], record["stageAttempt"])].append(record)
            for (build_id, _), records in groups.items():
                if all("finishTime" in r for r in records):
                    results = {{"succeededWithIssues": "partiallySucceeded"}.get(r["result"], r["result"]) for r in records}
                    result = next(r for r in worst if r in results)
                    expected.append((build_id, result, max(parsed(r["finishTime"]) for r in records)))
    found = yaml_deployments(world)
    assert expected and sorted((d.build_id, d.result, d.finish_us) for d in found) == sorted(expected)
