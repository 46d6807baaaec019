"""The recorded parents the streams run under: one project, its repository and its team."""

from __future__ import annotations

from tests.unit.streams.harness import COLLECTION_ID, recorded

__all__ = ["CID", "PROJECT", "PROJECT_ID", "REPOSITORY", "REPOSITORY_ID", "REPOSITORY_BASE", "TEAM", "TEAM_ID"]

CID = COLLECTION_ID
PROJECT = recorded("core_projects")["value"][0]  # Proseware Analytics
PROJECT_ID = PROJECT["id"]
REPOSITORY = recorded("git_repositories")["value"][0]  # proseware-identity: its refs, pushes and commits are recorded
REPOSITORY_ID = REPOSITORY["id"]
REPOSITORY_BASE = f"{PROJECT_ID}/_apis/git/repositories/{REPOSITORY_ID}"
TEAM = recorded("core_teams")["value"][0]
TEAM_ID = TEAM["id"]

assert REPOSITORY["project"]["id"] == PROJECT_ID and TEAM["projectId"] == PROJECT_ID
