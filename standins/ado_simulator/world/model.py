"""The simulator's data model: immutable records of people, projects, repositories and git history.

Times are whole seconds since the Unix epoch (UTC); the ISO strings that go on the wire are
precomputed once, when a record is created.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

__all__ = [
    "ZERO_ID",
    "iso",
    "iso_fraction",
    "Person",
    "Collection",
    "Project",
    "Repository",
    "Commit",
    "RefUpdate",
    "Push",
    "Ref",
]

ZERO_ID = "0" * 40


def iso(seconds: int) -> str:
    """``2024-01-01T00:00:00Z`` for a Unix time."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def iso_fraction(seconds: int, ticks: int) -> str:
    """ISO time with 7 fractional digits (100 ns ticks), as the server writes push dates."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ticks:07d}Z"


@dataclass(frozen=True, slots=True)
class Person:
    """A Windows account of the simulated domain."""

    id: str
    display_name: str
    unique_name: str  # DOMAIN\alias
    email: str
    sid: str

    @property
    def descriptor(self) -> str:
        """Graph subject descriptor (``win.<base64 sid>``)."""
        return "win." + base64.b64encode(self.sid.encode()).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class Collection:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    name: str
    description: str
    revision: int
    last_update_time: str
    default_team_id: str


@dataclass(frozen=True, slots=True)
class Repository:
    id: str
    name: str
    project_id: str
    default_branch: str  # "" in an empty repository (a messy world's)
    size: int  # fixed at generation: never changes, so the repository's JSON never does
    disabled: bool = False  # isDisabled (a messy world's): its git reads answer TF401019


@dataclass(frozen=True, slots=True)
class Commit:
    """One commit. ``author``/``committer``/``pusher`` are indexes into the world's people."""

    commit_id: str
    parents: tuple[str, ...]
    tree_id: str
    author: int
    committer: int
    author_date: str
    commit_time: int
    commit_date: str
    message: str
    adds: int
    edits: int
    deletes: int
    push_id: int


@dataclass(frozen=True, slots=True)
class RefUpdate:
    name: str
    old_object_id: str
    new_object_id: str


@dataclass(frozen=True, slots=True)
class Push:
    push_id: int
    time: int
    date: str
    pusher: int
    ref_updates: tuple[RefUpdate, ...]
    commit_ids: tuple[str, ...]  # commits introduced by this push, oldest first


@dataclass(frozen=True, slots=True)
class Ref:
    name: str
    object_id: str
    creator: int
