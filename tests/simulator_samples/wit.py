"""Samples for the work item tracking routes: metadata, WIQL, work items, history, comments, reporting."""

from __future__ import annotations

from typing import Callable

from standins.ado_simulator.world.boards.work_items import WorkItemsDomain
from standins.ado_simulator.world.world import World
from tests.simulator_samples import Sample

WIQL = ("SELECT [System.Id], [System.Title], [System.State] FROM WorkItems WHERE [System.TeamProject] = @project"
        " AND [System.ChangedDate] >= '2024-01-01' AND [System.Id] > 0 ORDER BY [System.Id] ASC")


def _domain(world: World) -> WorkItemsDomain:
    return world.domain("work_items")  # type: ignore[return-value]


def _item(world: World, wanted=lambda domain, item_id: True) -> int:
    """The live work item with the most revisions among those ``wanted`` selects."""
    domain = _domain(world)
    live = [i for i in range(1, len(domain.items)) if not domain.current.deleted[i] and wanted(domain, i)]
    return max(live, key=domain.log.revisions)


def _commented(world: World) -> int:
    return _item(world, lambda domain, i: domain.current.comments[i] > 1)


def _linked(world: World) -> int:
    return _item(world, lambda domain, i: domain.items[i].parent_link > 0)  # type: ignore[union-attr]


def _project_of(world: World, item_id: int) -> str:
    domain = _domain(world)
    return domain.project(domain.items[item_id]).id  # type: ignore[arg-type]


def _ids(world: World, count: int) -> list[int]:
    domain = _domain(world)
    return [i for i in range(1, len(domain.items)) if not domain.current.deleted[i]][:count]


SAMPLES: dict[str, Callable[[World], list[Sample]]] = {
    "{project?}/_apis/wit/fields": lambda w: [
        ("GET", "_apis/wit/fields", {}),
        ("GET", f"{w.projects[0].id}/_apis/wit/fields", {"$expand": "extensionFields"}),
    ],
    "{project?}/_apis/wit/fields/{fieldNameOrRefName}": lambda w: [
        ("GET", "_apis/wit/fields/System.AssignedTo", {}),
        ("GET", f"{w.projects[0].id}/_apis/wit/fields/Microsoft.VSTS.Scheduling.RemainingWork", {}),
    ],
    "{project}/_apis/wit/workitemtypes": lambda w: [("GET", f"{w.projects[0].id}/_apis/wit/workitemtypes", {})],
    "{project}/_apis/wit/workitemtypes/{type}": lambda w: [("GET", f"{w.projects[0].name}/_apis/wit/workitemtypes/User Story", {})],
    "{project}/_apis/wit/classificationnodes": lambda w: [
        ("GET", f"{w.projects[0].id}/_apis/wit/classificationnodes", {}),
        ("GET", f"{w.projects[0].id}/_apis/wit/classificationnodes", {"$depth": "2"}),
        ("GET", f"{w.projects[0].id}/_apis/wit/classificationnodes", {"ids": "1,2,999999", "errorPolicy": "omit"}),
    ],
    "{project}/_apis/wit/classificationnodes/{structureGroup}/{path?}": lambda w: [
        ("GET", f"{w.projects[0].id}/_apis/wit/classificationnodes/Areas", {"$depth": "1"}),
        ("GET", f"{w.projects[0].id}/_apis/wit/classificationnodes/Iterations/Sprint 3", {}),
    ],
    "{project?}/_apis/wit/wiql": lambda w: [
        ("POST", f"{w.projects[0].id}/_apis/wit/wiql", {"$top": "5"}, {"query": WIQL}),
        ("POST", "_apis/wit/wiql", {"timePrecision": "true"},
         {"query": "SELECT [System.Id] FROM WorkItems WHERE [System.ChangedDate] >= '2024-03-01T12:00:00Z'"
                   " ORDER BY [System.ChangedDate] DESC"}),
    ],
    "{project}/{team}/_apis/wit/wiql": lambda w: [
        ("POST", f"{w.projects[0].id}/{w.projects[0].default_team_id}/_apis/wit/wiql", {}, {"query": WIQL}),
    ],
    "{project?}/_apis/wit/workitemsbatch": lambda w: [
        ("POST", "_apis/wit/workitemsbatch", {}, {"ids": _ids(w, 5), "fields": ["System.Id", "System.Title", "System.AssignedTo"]}),
        ("POST", f"{w.projects[0].id}/_apis/wit/workitemsbatch", {},
         {"ids": _ids(w, 3) + [999999], "$expand": "all", "errorPolicy": "omit"}),
    ],
    "{project?}/_apis/wit/workitems": lambda w: [
        ("GET", "_apis/wit/workitems", {"ids": ",".join(map(str, _ids(w, 4)))}),
        ("GET", "_apis/wit/workitems", {"ids": str(_linked(w)), "$expand": "relations", "asOf": "2024-12-01T00:00:00Z"}),
    ],
    "{project?}/_apis/wit/workItems/{id}": lambda w: [
        ("GET", f"_apis/wit/workItems/{_linked(w)}", {"$expand": "all"}),
        ("GET", f"{_project_of(w, _commented(w))}/_apis/wit/workItems/{_commented(w)}", {}),
    ],
    "{project?}/_apis/wit/workItems/{id}/revisions": lambda w: [
        ("GET", f"_apis/wit/workItems/{_linked(w)}/revisions", {"$expand": "relations"}),
        ("GET", f"{_project_of(w, _commented(w))}/_apis/wit/workItems/{_commented(w)}/revisions", {"$top": "3", "$skip": "1"}),
    ],
    "{project?}/_apis/wit/workItems/{id}/revisions/{revisionNumber}": lambda w: [
        ("GET", f"_apis/wit/workItems/{_linked(w)}/revisions/2", {"$expand": "fields"}),
    ],
    "{project?}/_apis/wit/workItems/{id}/updates": lambda w: [
        ("GET", f"_apis/wit/workItems/{_linked(w)}/updates", {}),
        ("GET", f"{_project_of(w, _commented(w))}/_apis/wit/workItems/{_commented(w)}/updates", {"$top": "2", "$skip": "1"}),
    ],
    "{project?}/_apis/wit/workItems/{id}/updates/{updateNumber}": lambda w: [
        ("GET", f"_apis/wit/workItems/{_linked(w)}/updates/1", {}),
    ],
    "{project}/_apis/wit/workItems/{workItemId}/comments": lambda w: [
        ("GET", f"{_project_of(w, _commented(w))}/_apis/wit/workItems/{_commented(w)}/comments", {}),
        ("GET", f"{_project_of(w, _commented(w))}/_apis/wit/workItems/{_commented(w)}/comments",
         {"$top": "1", "order": "asc", "includeDeleted": "true"}),
    ],
    "{project?}/_apis/wit/reporting/workitemrevisions": lambda w: [
        ("GET", "_apis/wit/reporting/workitemrevisions", {"$maxPageSize": "50"}),
        ("GET", f"{w.projects[0].id}/_apis/wit/reporting/workitemrevisions",
         {"includeIdentityRef": "true", "includeDeleted": "true", "$expand": "fields", "$maxPageSize": "20"}),
        ("GET", "_apis/wit/reporting/workitemrevisions",
         {"fields": "System.Id,System.State,System.Tags", "types": "Bug,Task", "includeLatestOnly": "true",
          "includeTagRef": "true", "startDateTime": "2024-06-01T00:00:00Z"}),
        ("POST", "_apis/wit/reporting/workitemrevisions", {"$maxPageSize": "10"},
         {"fields": ["System.Id", "System.Title", "System.AssignedTo"], "types": ["User Story"], "includeIdentityRef": True}),
    ],
    "{project?}/_apis/wit/reporting/workitemlinks": lambda w: [
        ("GET", "_apis/wit/reporting/workitemlinks", {}),
        ("GET", f"{w.projects[0].id}/_apis/wit/reporting/workitemlinks", {"linkTypes": "System.LinkTypes.Related"}),
    ],
}
