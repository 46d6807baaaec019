"""The Agile process of every simulated project: fields, work item types, states and reasons.

Static data, identical in every world. ``FIELDS`` is the collection's field catalogue (what
``_apis/wit/fields`` lists); ``TYPES`` the work item types of each project, with their states
(in lifecycle order), transition reasons and the fields each type carries.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FieldDef", "FIELDS", "FIELDS_BY_REF", "WorkItemTypeDef", "TYPES", "TYPES_BY_NAME", "STATE_CATEGORY",
           "STATE_COLOR", "IDENTITY_FIELDS", "LONG_TEXT_FIELDS", "HIERARCHY_FORWARD", "HIERARCHY_REVERSE", "RELATED",
           "ARTIFACT_LINK"]

HIERARCHY_FORWARD = "System.LinkTypes.Hierarchy-Forward"  # parent -> child
HIERARCHY_REVERSE = "System.LinkTypes.Hierarchy-Reverse"  # child -> parent
RELATED = "System.LinkTypes.Related"
ARTIFACT_LINK = "ArtifactLink"


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One work item field. ``core``: returned by a plain work item GET (not only with ``$expand=fields``)."""

    reference_name: str
    name: str
    type: str  # FieldType enum: string, integer, dateTime, plainText, html, treePath, history, double, boolean...
    read_only: bool = False
    is_identity: bool = False
    core: bool = False
    description: str = ""

    @property
    def long_text(self) -> bool:
        """Long text fields come back from reporting only with ``$expand=fields``."""
        return self.type in ("html", "plainText", "history")


def _f(ref: str, name: str, kind: str, **flags: bool) -> FieldDef:
    return FieldDef(ref, name, kind, **flags)


FIELDS: tuple[FieldDef, ...] = (
    _f("System.Id", "ID", "integer", read_only=True),
    _f("System.AreaId", "Area ID", "integer"),
    _f("System.AreaPath", "Area Path", "treePath", core=True),
    _f("System.TeamProject", "Team Project", "string", read_only=True, core=True),
    _f("System.NodeName", "Node Name", "string", read_only=True),
    _f("System.AreaLevel1", "Area Level 1", "string", read_only=True),
    _f("System.AreaLevel2", "Area Level 2", "string", read_only=True),
    _f("System.Rev", "Rev", "integer", read_only=True),
    _f("System.AuthorizedDate", "Authorized Date", "dateTime", read_only=True),
    _f("System.RevisedDate", "Revised Date", "dateTime", read_only=True),
    _f("System.IterationId", "Iteration ID", "integer"),
    _f("System.IterationPath", "Iteration Path", "treePath", core=True),
    _f("System.IterationLevel1", "Iteration Level 1", "string", read_only=True),
    _f("System.IterationLevel2", "Iteration Level 2", "string", read_only=True),
    _f("System.IterationLevel3", "Iteration Level 3", "string", read_only=True),
    _f("System.WorkItemType", "Work Item Type", "string", core=True),
    _f("System.State", "State", "string", core=True),
    _f("System.Reason", "Reason", "string", core=True),
    _f("System.AssignedTo", "Assigned To", "string", is_identity=True, core=True),
    _f("System.CreatedDate", "Created Date", "dateTime", read_only=True, core=True),
    _f("System.CreatedBy", "Created By", "string", read_only=True, is_identity=True, core=True),
    _f("System.ChangedDate", "Changed Date", "dateTime", read_only=True, core=True),
    _f("System.ChangedBy", "Changed By", "string", read_only=True, is_identity=True, core=True),
    _f("System.AuthorizedAs", "Authorized As", "string", read_only=True, is_identity=True),
    _f("System.PersonId", "Person ID", "integer", read_only=True),
    _f("System.Watermark", "Watermark", "integer", read_only=True),
    _f("System.IsDeleted", "Is Deleted", "boolean", read_only=True),
    _f("System.CommentCount", "Comment Count", "integer", read_only=True, core=True),
    _f("System.Title", "Title", "string", core=True),
    _f("System.BoardColumn", "Board Column", "string", read_only=True, core=True),
    _f("System.BoardColumnDone", "Board Column Done", "boolean", read_only=True, core=True),
    _f("System.Tags", "Tags", "plainText", core=True),
    _f("System.Description", "Description", "html", core=True),
    _f("System.History", "History", "history"),
    _f("Microsoft.VSTS.Common.StateChangeDate", "State Change Date", "dateTime", read_only=True, core=True),
    _f("Microsoft.VSTS.Common.ActivatedDate", "Activated Date", "dateTime", read_only=True, core=True),
    _f("Microsoft.VSTS.Common.ActivatedBy", "Activated By", "string", read_only=True, is_identity=True, core=True),
    _f("Microsoft.VSTS.Common.ResolvedDate", "Resolved Date", "dateTime", read_only=True, core=True),
    _f("Microsoft.VSTS.Common.ResolvedBy", "Resolved By", "string", read_only=True, is_identity=True, core=True),
    _f("Microsoft.VSTS.Common.ResolvedReason", "Resolved Reason", "string", read_only=True, core=True),
    _f("Microsoft.VSTS.Common.ClosedDate", "Closed Date", "dateTime", read_only=True, core=True),
    _f("Microsoft.VSTS.Common.ClosedBy", "Closed By", "string", read_only=True, is_identity=True, core=True),
    _f("Microsoft.VSTS.Common.Priority", "Priority", "integer", core=True),
    _f("Microsoft.VSTS.Common.Severity", "Severity", "string", core=True),
    _f("Microsoft.VSTS.Common.ValueArea", "Value Area", "string", core=True),
    _f("Microsoft.VSTS.Common.AcceptanceCriteria", "Acceptance Criteria", "html", core=True),
    _f("Microsoft.VSTS.Scheduling.StoryPoints", "Story Points", "double", core=True),
    _f("Microsoft.VSTS.Scheduling.Effort", "Effort", "double", core=True),
    _f("Microsoft.VSTS.Scheduling.OriginalEstimate", "Original Estimate", "double", core=True),
    _f("Microsoft.VSTS.Scheduling.RemainingWork", "Remaining Work", "double", core=True),
    _f("Microsoft.VSTS.Scheduling.CompletedWork", "Completed Work", "double", core=True),
    _f("Microsoft.VSTS.Scheduling.TargetDate", "Target Date", "dateTime", core=True),
    _f("Microsoft.VSTS.TCM.ReproSteps", "Repro Steps", "html", core=True),
    _f("Microsoft.VSTS.TCM.SystemInfo", "System Info", "html", core=True),
    _f("Microsoft.VSTS.TCM.Steps", "Steps", "html", core=True),
    _f("Microsoft.VSTS.TCM.AutomationStatus", "Automation status", "string", core=True),
    _f("Microsoft.VSTS.Build.FoundIn", "Found In", "string", core=True),
    _f("Microsoft.VSTS.Build.IntegrationBuild", "Integration Build", "string", core=True),
    _f("Microsoft.VSTS.CMMI.Blocked", "Blocked", "string", core=True),
)
FIELDS_BY_REF: dict[str, FieldDef] = {f.reference_name.lower(): f for f in FIELDS}
IDENTITY_FIELDS = frozenset(f.reference_name for f in FIELDS if f.is_identity)
LONG_TEXT_FIELDS = frozenset(f.reference_name for f in FIELDS if f.long_text)

STATE_CATEGORY = {"New": "Proposed", "Active": "InProgress", "Resolved": "Resolved", "Closed": "Completed",
                  "Removed": "Removed", "Design": "Proposed", "Ready": "InProgress"}
STATE_COLOR = {"New": "b2b2b2", "Active": "007acc", "Resolved": "ff9d00", "Closed": "339933", "Removed": "ffffff",
               "Design": "b2b2b2", "Ready": "007acc"}

_COMMON = ("System.Id", "System.Rev", "System.AreaId", "System.AreaPath", "System.TeamProject", "System.IterationId",
           "System.IterationPath", "System.WorkItemType", "System.State", "System.Reason", "System.AssignedTo",
           "System.CreatedDate", "System.CreatedBy", "System.ChangedDate", "System.ChangedBy", "System.Title",
           "System.Tags", "System.Description", "System.History", "System.CommentCount", "System.BoardColumn",
           "Microsoft.VSTS.Common.StateChangeDate", "Microsoft.VSTS.Common.ActivatedDate",
           "Microsoft.VSTS.Common.ActivatedBy", "Microsoft.VSTS.Common.ClosedDate", "Microsoft.VSTS.Common.ClosedBy",
           "Microsoft.VSTS.Common.Priority")
_RESOLVED = ("Microsoft.VSTS.Common.ResolvedDate", "Microsoft.VSTS.Common.ResolvedBy",
             "Microsoft.VSTS.Common.ResolvedReason")


@dataclass(frozen=True, slots=True)
class WorkItemTypeDef:
    """A work item type. ``states`` are in lifecycle order; ``reasons[state]`` = (entering, re-entering)."""

    name: str
    reference_name: str
    description: str
    color: str
    icon: str
    states: tuple[str, ...]
    reasons: dict[str, tuple[str, str]]
    fields: tuple[str, ...]
    weight: float  # share of the generated work items


def _type(name: str, ref: str, description: str, color: str, icon: str, states: tuple[str, ...],
          reasons: dict[str, tuple[str, str]], extra: tuple[str, ...], weight: float) -> WorkItemTypeDef:
    return WorkItemTypeDef(name, ref, description, color, icon, states, reasons, _COMMON + extra, weight)


_PLANNING = ("Microsoft.VSTS.Common.ValueArea", "Microsoft.VSTS.Scheduling.TargetDate")
TYPES: tuple[WorkItemTypeDef, ...] = (
    _type("Bug", "Microsoft.VSTS.WorkItemTypes.Bug",
          "Describes a divergence between required and actual behavior, and tracks the work done to correct the defect"
          " and verify the correction.", "CC293D", "icon_insect", ("New", "Active", "Resolved", "Closed"),
          {"New": ("New", "New"), "Active": ("Approved", "Reactivated"), "Resolved": ("Fixed", "Fixed"),
           "Closed": ("Verified", "Verified")},
          _RESOLVED + ("Microsoft.VSTS.Common.Severity", "Microsoft.VSTS.TCM.ReproSteps", "Microsoft.VSTS.TCM.SystemInfo",
                       "Microsoft.VSTS.Build.FoundIn", "Microsoft.VSTS.Build.IntegrationBuild",
                       "Microsoft.VSTS.Scheduling.StoryPoints"), 0.17),
    _type("Task", "Microsoft.VSTS.WorkItemTypes.Task",
          "Tracks work that needs to be done.", "F2CB1D", "icon_clipboard", ("New", "Active", "Closed"),
          {"New": ("New", "New"), "Active": ("Work started", "Reactivated"), "Closed": ("Completed", "Completed")},
          ("Microsoft.VSTS.Scheduling.OriginalEstimate", "Microsoft.VSTS.Scheduling.RemainingWork",
           "Microsoft.VSTS.Scheduling.CompletedWork", "Microsoft.VSTS.CMMI.Blocked"), 0.35),
    _type("User Story", "Microsoft.VSTS.WorkItemTypes.UserStory",
          "Tracks an activity the user will be able to perform with the product.", "009CCC", "icon_book",
          ("New", "Active", "Resolved", "Closed"),
          {"New": ("New", "New"), "Active": ("Implementation started", "Reactivated"),
           "Resolved": ("Code complete and unit tests pass", "Code complete and unit tests pass"),
           "Closed": ("Acceptance tests pass", "Acceptance tests pass")},
          _RESOLVED + _PLANNING + ("Microsoft.VSTS.Scheduling.StoryPoints",
                                   "Microsoft.VSTS.Common.AcceptanceCriteria"), 0.35),
    _type("Feature", "Microsoft.VSTS.WorkItemTypes.Feature",
          "Tracks a feature that will be released with the product.", "773B93", "icon_trophy",
          ("New", "Active", "Resolved", "Closed"),
          {"New": ("New feature", "New feature"), "Active": ("Implementation started", "Reactivated"),
           "Resolved": ("Stories complete", "Stories complete"), "Closed": ("Acceptance tests pass", "Acceptance tests pass")},
          _RESOLVED + _PLANNING + ("Microsoft.VSTS.Scheduling.Effort", "Microsoft.VSTS.Common.AcceptanceCriteria"), 0.08),
    _type("Epic", "Microsoft.VSTS.WorkItemTypes.Epic",
          "Epics help teams effectively manage and groom their product backlog.", "FF7B00", "icon_crown",
          ("New", "Active", "Resolved", "Closed"),
          {"New": ("New epic", "New epic"), "Active": ("Implementation started", "Reactivated"),
           "Resolved": ("Features complete", "Features complete"), "Closed": ("Acceptance tests pass", "Acceptance tests pass")},
          _RESOLVED + _PLANNING + ("Microsoft.VSTS.Scheduling.Effort",), 0.02),
    _type("Issue", "Microsoft.VSTS.WorkItemTypes.Issue",
          "Tracks an obstacle to progress.", "B4009E", "icon_traffic_cone", ("Active", "Closed"),
          {"Active": ("New", "Reactivated"), "Closed": ("Resolved", "Resolved")},
          ("Microsoft.VSTS.Scheduling.TargetDate",), 0.03),
    _type("Test Case", "Microsoft.VSTS.WorkItemTypes.TestCase",
          "Server-side data for a set of steps to be tested.", "004B50", "icon_test_case", ("Design", "Ready", "Closed"),
          {"Design": ("New", "New"), "Ready": ("Completed design", "Reactivated"), "Closed": ("Obsolete", "Obsolete")},
          ("Microsoft.VSTS.TCM.Steps", "Microsoft.VSTS.TCM.AutomationStatus"), 0.0),
)
TYPES_BY_NAME: dict[str, WorkItemTypeDef] = {t.name.lower(): t for t in TYPES}
