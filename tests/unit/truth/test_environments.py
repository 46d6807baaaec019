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
