"""Samples for the TFVC routes: changesets (list, one, changes, work items, batch), branches, labels."""

from __future__ import annotations

from typing import Callable

from standins.ado_simulator.world.tfvc import Changeset, tfvc_of
from standins.ado_simulator.world.world import World
from tests.simulator_samples import Sample


def _linked(world: World) -> Changeset:
    """A changeset with work items (else the newest)."""
    changesets = tfvc_of(world).changesets
    return next((c for c in changesets if c.work_items), changesets[-1])


def _project(world: World, changeset: Changeset) -> str:
    return world.projects[changeset.project].id


def _main(world: World) -> str:
    return next(b.path for b in tfvc_of(world).branches.values() if b.parent is None)


SAMPLES: dict[str, Callable[[World], list[Sample]]] = {
    "{project?}/_apis/tfvc/changesets": lambda w: [
        ("GET", "_apis/tfvc/changesets", {}),
        ("GET", f"{w.projects[0].id}/_apis/tfvc/changesets",
         {"$orderby": "id asc", "maxCommentLength": "20", "searchCriteria.includeLinks": "true"}),
    ],
    "{project?}/_apis/tfvc/changesets/{id}": lambda w: [
        ("GET", f"_apis/tfvc/changesets/{_linked(w).id}", {}),
        ("GET", f"{_project(w, _linked(w))}/_apis/tfvc/changesets/{_linked(w).id}",
         {"includeDetails": "true", "includeWorkItems": "true", "maxChangeCount": "5"}),
    ],
    "_apis/tfvc/changesets/{id}/changes": lambda w: [("GET", "_apis/tfvc/changesets/2/changes", {})],
    "_apis/tfvc/changesets/{id}/workItems": lambda w: [("GET", f"_apis/tfvc/changesets/{_linked(w).id}/workItems", {})],
    "_apis/tfvc/changesetsbatch": lambda w: [
        ("POST", "_apis/tfvc/changesetsbatch", {}, {"changesetIds": [3, 2, 1], "commentLength": 20, "includeLinks": True}),
    ],
    "{project?}/_apis/tfvc/branches": lambda w: [
        ("GET", f"{w.projects[0].id}/_apis/tfvc/branches", {"includeChildren": "true", "includeLinks": "true"}),
        ("GET", "_apis/tfvc/branches", {"path": _main(w), "includeParent": "true", "includeChildren": "true"}),
        ("GET", "_apis/tfvc/branches", {"scopePath": "$/", "includeDeleted": "true"}),
    ],
    "{project?}/_apis/tfvc/labels": lambda w: [
        ("GET", "_apis/tfvc/labels", {}),
        ("GET", f"{w.projects[tfvc_of(w).labels[0].project].id}/_apis/tfvc/labels", {"requestData.includeLinks": "true"}),
    ],
    "{project?}/_apis/tfvc/labels/{labelId}": lambda w: [
        ("GET", f"_apis/tfvc/labels/{tfvc_of(w).labels[0].id}", {"requestData.maxItemCount": "10"}),
    ],
    "_apis/tfvc/labels/{labelId}/items": lambda w: [("GET", f"_apis/tfvc/labels/{tfvc_of(w).labels[-1].id}/items", {})],
}
