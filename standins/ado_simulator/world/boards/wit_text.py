"""Deterministic text of work items: titles, descriptions, comments and tags, derived from ids.

Nothing here is stored: the same (item id, version) always gives the same text, so bodies can
be rebuilt on request.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["title", "description", "comment_text", "tags"]

_AREAS = ("checkout", "login page", "search results", "export job", "settings dialog", "billing run", "order history",
          "notification center", "report builder", "mobile app", "admin portal", "API gateway", "inventory sync",
          "shipping labels", "user profile", "dashboard")
_PROBLEMS = ("times out under load", "shows a blank page", "loses the selected filter", "rounds totals wrongly",
             "crashes on an empty list", "ignores the locale", "double-submits the form", "leaks a connection")
_ACTIONS = ("Add paging to", "Write tests for", "Refactor", "Document", "Add logging to", "Speed up", "Review",
            "Localize", "Harden input validation in", "Add retries to")
_ROLES = ("customer", "store manager", "support agent", "administrator", "field technician", "accountant")
_GOALS = ("see my recent orders", "export data to CSV", "reset my password", "filter by date", "get an email receipt",
          "save a draft", "share a report", "pay with a saved card")
_THEMES = ("Self-service", "Mobile first", "Faster checkout", "Compliance", "Reporting overhaul", "Partner onboarding")
_SENTENCES = ("Reproduced on the staging environment.", "Moving this to the next sprint.",
              "The fix is in the linked commit, please verify.", "Talked to the customer, the priority is right.",
              "Blocked until the API change is deployed.", "Estimate updated after the design review.",
              "Added acceptance criteria from the planning meeting.", "Could not reproduce with the latest build.",
              "Pairing on this tomorrow.", "QA signed off.")
_TAGS = ("", "frontend", "backend", "customer; regression", "tech-debt", "security; backend", "performance",
         "frontend; ux")


def _pick(words: tuple[str, ...], n: int) -> str:
    return words[n % len(words)]


@lru_cache(maxsize=1 << 16)  # pure; a page's revisions repeat their items'
def title(type_name: str, item_id: int) -> str:
    n = item_id * 2654435761 % 2**32
    area, other = _pick(_AREAS, n), _pick(_AREAS, n >> 8)
    if type_name == "Bug":
        return f"The {area} {_pick(_PROBLEMS, n >> 4)}"
    if type_name == "User Story":
        return f"As a {_pick(_ROLES, n >> 4)}, I can {_pick(_GOALS, n >> 12)}"
    if type_name == "Feature":
        return f"{_pick(_GOALS, n >> 4).capitalize()} from the {area}"
    if type_name == "Epic":
        return f"{_pick(_THEMES, n >> 4)}: {area} and {other}"
    if type_name == "Issue":
        return f"Waiting on the {area} team for the {other} change"
    return f"{_pick(_ACTIONS, n >> 4)} the {area}"


@lru_cache(maxsize=1 << 16)
def description(type_name: str, item_id: int, version: int) -> str:
    n = (item_id * 40503 + version * 9973) % 2**31
    return (f"<div>{type_name} {item_id}: {_pick(_SENTENCES, n)}</div>"
            f"<div>Revision {version} of the description. {_pick(_SENTENCES, n >> 5)}</div>")


def comment_text(item_id: int, comment_id: int) -> str:
    n = (item_id * 31 + comment_id * 1009) % 2**31
    return _pick(_SENTENCES, n) + ("" if n % 3 else " " + _pick(_SENTENCES, n >> 7))


def tags(version: int) -> str:
    """``System.Tags`` for a tag-set version ("" = no tags)."""
    return _pick(_TAGS, version)
