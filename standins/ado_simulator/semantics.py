"""Server semantics the satellite gets wrong today, each behind a named switch (issue 13).

    semantics = ServerSemantics.parse("comments-with-changes,late-visible,pipeline-runs-cap=50")
    world = generate_world(7, "tiny", semantics=semantics)
    app = create_app(world)        # the app follows ``world.semantics`` unless given its own

Every behaviour comes from a sentence of Microsoft's on-prem specs (quoted where it is modelled
and in docs/simulator.md, "Semantics we model"). A switch is on by default once the satellite
handles it, so every end-to-end test and the demo exercise it; the others stay off while the agent
is being fixed. Switches that shape the world (comments saved with other changes, long descriptions,
reruns, late-visible items, release edits, destroyed work items) act at generation and in
``advance`` through random streams of their own, so switching one on leaves the rest of the
world as it was. Switches that only change what a route answers (caps, the TFVC order) act in
the routes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

__all__ = ["as_asked", "ServerSemantics", "DEFAULT_SEMANTICS", "SWITCHES", "RUNS_CAP", "PAGE_CAP"]

RUNS_CAP = 10_000  # pipelines 6.0-7.1: "Gets top 10000 runs for a particular pipeline."
PAGE_CAP = 20  # below the $top the satellite asks of commits, pushes, changesets and changes, so every test caps


@dataclass(frozen=True, slots=True)
class ServerSemantics:
    """One field per behaviour; see docs/simulator.md, "Semantics we model"."""

    # wit 5.0-7.1 includeDiscussionChangesOnly: "only those revisions of work items, where only history
    # field was changed". On: most comments are saved together with another field change.
    comments_with_changes: bool = True  # on: the satellite handles it (issue 13)
    # git 7.0/7.1 PR lists: "description field will be truncated up to 400 symbols in the result".
    # On: a good share of the pull requests have descriptions longer than 400 characters.
    long_pr_descriptions: bool = True  # on: the satellite handles it (issue 13)
    # YAML runs re-run: same run (build) id, a new attempt on the timeline records, state, result
    # and finish time change again. On: ``advance`` re-runs completed failed/canceled runs.
    pipeline_reruns: bool = True  # on: the satellite handles it (issue 13)
    # Builds (finish time) and deployments (modified time) that become visible after later ones were
    # served. On: ``advance`` stamps some completions a few minutes before the newest time visible.
    late_visible: bool = True  # on: the satellite handles it (issue 13)
    # pipelines 6.0-7.1 runs list: "Gets top 10000 runs for a particular pipeline." (no paging).
    pipeline_runs_cap: int = RUNS_CAP
    # $top/$skip lists with no documented cap (git commits and pushes, TFVC changesets, changes,
    # labels, label items) answer at most this many items whatever ``$top`` asks; 0 = as asked.
    page_cap: int = PAGE_CAP  # on: the satellite handles it (issue 13)
    # TFVC changesets with ``$orderby=id asc``: off = sort, then ``$skip``/``$top`` (the default);
    # on = ``$top`` of the default newest-first order first, that page then sorted ascending.
    tfvc_top_before_sort: bool = True  # on: the satellite handles it (issue 13)
    # Releases abandoned or edited (description, keepForever) with no deployment change: the releases
    # list filters on created time only. On: ``advance`` does that now and then.
    release_edits: bool = True  # on: the satellite handles it (issue 13)
    # Work items destroyed (permanently deleted, from the recycle bin or directly): gone from every
    # route, their revisions gone from reporting even with includeDeleted. On: ``advance`` destroys some.
    destroyed_work_items: bool = False

    @classmethod
    def parse(cls, text: str) -> "ServerSemantics":
        """``NAME[,NAME][,NAME=N]`` (dashes or underscores; ``all`` = every on/off switch) -> semantics."""
        result = cls()
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, sep, value = part.partition("=")
            key = name.strip().lower().replace("-", "_")
            if key == "all" and not sep:
                result = replace(result, **{f.name: True for f in fields(cls) if f.type in (bool, "bool")})
                continue
            if key not in SWITCHES:
                raise ValueError(f"unknown semantics {name!r}; choose from all, {', '.join(n.replace('_', '-') for n in SWITCHES)}")
            kind = SWITCHES[key]
            if kind == "int":
                if not sep or not value.strip().isdigit():
                    raise ValueError(f"{name} needs a number: {name}=N")
                result = replace(result, **{key: int(value)})
            else:
                if sep and value.strip().lower() not in ("true", "false", "on", "off", "1", "0"):
                    raise ValueError(f"{name} is on or off, not {value!r}")
                result = replace(result, **{key: not sep or value.strip().lower() in ("true", "on", "1")})
        return result

    def names(self) -> list[str]:
        """The switches that differ from the defaults, as ``parse`` reads them."""
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value != getattr(DEFAULT_SEMANTICS, f.name):
                name = f.name.replace("_", "-")
                out.append(name if value is True else f"{name}={int(value)}")
        return out

    def capped(self, top: int) -> int:
        """The items a capped ``$top/$skip`` list answers when ``top`` are asked."""
        return min(top, self.page_cap) if self.page_cap > 0 else top


DEFAULT_SEMANTICS = ServerSemantics()
SWITCHES: dict[str, str] = {
    f.name: "int" if f.type in (int, "int") else "bool" for f in fields(ServerSemantics)
}


def as_asked(semantics: ServerSemantics) -> ServerSemantics:
    """``semantics`` with the routes answering exactly what a request asks (no page cap, TFVC's
    ascending sort before ``$top``): for tests of the routes' own paging, not of the satellite."""
    return replace(semantics, page_cap=0, tfvc_top_before_sort=False)
