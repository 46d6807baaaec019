"""Identities (IMS) as the server writes them: users (the world's people) and groups (teams, PCVU).

Users' descriptors are ``System.Security.Principal.WindowsIdentity;<sid>``, groups'
``Microsoft.TeamFoundation.Identity;<sid>``; subject descriptors are ``win.``/``vssgp.`` +
base64 of the sid. ``queryMembership`` Direct and Expanded both list the flat membership the
simulator has: Project Collection Valid Users and each team group contain people directly.
"""

from __future__ import annotations

import base64
from typing import Any

from standins.ado_simulator.world.model import Person
from standins.ado_simulator.world.teams import Group, TeamsDomain

__all__ = ["user_descriptor", "group_subject", "user_json", "group_json"]


def user_descriptor(person: Person) -> str:
    return "System.Security.Principal.WindowsIdentity;" + person.sid


def group_subject(group: Group) -> str:
    return "vssgp." + base64.b64encode(group.sid.encode()).decode().rstrip("=")


def _property(value: str, kind: str = "System.String") -> dict:
    return {"$type": kind, "$value": value}


def user_json(domain: TeamsDomain, person: Person, membership: bool) -> dict[str, Any]:
    index = domain.world.people.index(person)
    member_of = [g.descriptor for g in domain.groups_of(index)] if membership else []
    return {
        "id": person.id,
        "descriptor": user_descriptor(person),
        "subjectDescriptor": person.descriptor,
        "providerDisplayName": person.display_name,
        "isActive": True,
        "members": [],
        "memberOf": member_of,
        "memberIds": [],
        "properties": {
            "SchemaClassName": _property("User"),
            "Description": _property(""),
            "Domain": _property(person.unique_name.split("\\")[0]),
            "Account": _property(person.unique_name.split("\\")[1]),
            "DN": _property(""),
            "Mail": _property(person.email),
            "SpecialType": _property("Generic"),
        },
        "resourceVersion": 2,
        "metaTypeId": 0,
    }


def group_json(domain: TeamsDomain, group: Group, membership: bool) -> dict[str, Any]:
    people = domain.world.people
    members = [people[i] for i in group.members] if membership else []
    return {
        "id": group.id,
        "descriptor": group.descriptor,
        "subjectDescriptor": group_subject(group),
        "providerDisplayName": group.name,
        "isActive": True,
        "isContainer": True,
        "members": [user_descriptor(p) for p in members],
        "memberOf": [],
        "memberIds": [p.id for p in members],
        "properties": {
            "SchemaClassName": _property("Group"),
            "Description": _property(group.description),
            "Domain": _property(group.domain),
            "Account": _property(group.account),
            "SecurityGroup": _property("SecurityGroup"),
            "SpecialType": _property("Generic" if group.id != domain.valid_users.id else "EveryoneApplicationGroup"),
        },
        "resourceVersion": 2,
        "metaTypeId": 255,
    }
