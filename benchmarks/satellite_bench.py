"""Satellite benchmark: backfill throughput, no-change cost, peak memory and sealing (issue 8).

    python benchmarks/satellite_bench.py                 # full run: medium, concurrency 4, 8, 16; writes docs/benchmarks.md
    python benchmarks/satellite_bench.py --quick         # smoke run: small, concurrency 8; prints only (unless --out)
    python benchmarks/satellite_bench.py --large         # also the peak memory of a sync of the large world
    python benchmarks/satellite_bench.py --out FILE      # where the Markdown report goes
    python benchmarks/satellite_bench.py --memory-only --large   # peak RSS at small, medium, large only; prints
    python benchmarks/satellite_bench.py --sealing-kems  # only "Sealing by KEM", rewritten in place in the report
    python benchmarks/satellite_bench.py --sealing       # only section 4 (sealing, compression table), rewritten in place
    python benchmarks/satellite_bench.py --requests      # only the requests per stream (no latency), rewritten in place
    python benchmarks/satellite_bench.py --backfill 16   # only section 1 at these concurrencies, rewritten in place
    python benchmarks/satellite_bench.py --events        # only "Events" (freshness, requests per hour; events_bench.py)
    python benchmarks/satellite_bench.py --politeness    # only the politeness section (load model; politeness_bench.py)

1. Backfill of a simulated collection (``satellite simulator`` in its own process, a fixed injected
   latency per request, no jitter) at several ``limits.concurrency``: wall time, requests (counted
   in the simulator's request log), records, records/s, and two ratios: wall time against the lower
   bound max(requests x latency / concurrency, longest chain of dependent requests x latency), and
   requests against the minimum number of requests at the largest page sizes the server allows
   (computed from the simulator's world, see ``minimum_requests``). The satellite runs in a child
   process whose HTTP transport times every request, so the report says where the time went.
2. A second sync with nothing new: requests in total, per repository, per project, per team, by route.
3. Peak RSS of ``satellite sync --once`` (a subprocess; the ``VmHWM`` of its address space) at
   ``small`` and ``medium`` (and ``large`` with ``--large``), and the growth ratio.
4. Sealing (zstd + HPKE + Ed25519, the product's ``Sealer``; format v1's gzip beside it) on records
   read from the simulator: MB/s and CPU seconds per 1,000 records, beside raw AES-256-GCM on the same
   bytes; and the compression table (gzip levels 1-9, zstd levels) that chose format v2's zstd 3.
   Sealing by KEM (issue 21): the same batches sealed to an X25519 key and to a hybrid MLKEM768-X25519
   key, side by side: CPU ms per batch, the fixed part of it, bytes per batch.

The reference receiver runs in its own process. Everything lives in a temporary directory and
every process started here is stopped at the end. Needs only the repository (no ../shared).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a fresh clone: the satellite package without an install
PAT = "bench-pat-0f9e8d7c6b5a"
API_KEY = "bench-api-key-1a2b3c4d5e6f"
SEED = 7
PROFILE = "2022"
LATENCY_MS = 20.0
CONCURRENCIES = (4, 8, 16)
SERVICES = "[repos, tfvc, pipelines, boards]"


# -- processes ------------------------------------------------------------------------------------


@dataclass
class Service:
    """A ``satellite`` subcommand running in its own process, with the URL it printed."""

    process: subprocess.Popen
    url: str

    def cpu_seconds(self) -> float:
        """user + system CPU of the process so far (from /proc)."""
        try:
            fields_ = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def satellite_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from satellite.cli import main; sys.exit(main())", *args]


def _ready(process: subprocess.Popen, what: str, marker: str, pattern: str) -> Service:
    """Wait for the ready line (the first on stdout) and keep the pipe drained afterwards."""
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(pattern, line)
    if marker not in line or not found:
        process.kill()
        process.wait()
        raise RuntimeError(f"{what} did not start: {line!r}")
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return Service(process, found.group(1))


def start_service(args: list[str], marker: str, pattern: str) -> Service:
    """Start a server subcommand on port 0; returns once it printed its URL (its first stdout line)."""
    process = subprocess.Popen(satellite_command(*args), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    return _ready(process, args[0], marker, pattern)


def start_simulator(scale: str, latency_ms: float) -> Service:
    """``satellite simulator`` in its own process; the URL is the collection's."""
    args = ["simulator", "--scale", scale, "--seed", str(SEED), "--profile", PROFILE, "--port", "0", "--pat", PAT]
    if latency_ms:
        args += ["--latency-ms", f"{latency_ms:g}"]
    return start_service(args, "simulator:", r"collection (\S+)")


RECEIVER = """\
import sys
from pathlib import Path
from standins.sei_receiver import ReceiverKeys, ReceiverStorage, create_receiver_app
from satellite.sealing.keys import load_ed25519_public, load_x25519_private
from satellite.secret import Secret
from standins.loopback import serve_forever
data, api_key, key_id, recipient, signer_id, signer = sys.argv[1:]
keys = ReceiverKeys(api_keys=(Secret(api_key),),
                    recipients={key_id: load_x25519_private(Path(recipient).read_bytes())},
                    signers={signer_id: load_ed25519_public(Path(signer).read_bytes())})
storage = ReceiverStorage(Path(data))
try:
    serve_forever(create_receiver_app(storage, keys, max_batch_bytes=64 * 1024 * 1024), "127.0.0.1", 0,
                  on_ready=lambda url: print(f"receiver: listening on {url}", flush=True))
finally:
    storage.close()
"""


def start_receiver(work: Path, keys) -> Service:
    """The reference receiver in its own process (what ``satellite receiver`` serves, built here so
    the benchmark needs no API key file or key registry on disk)."""
    process = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, str(work / "receiver"), API_KEY, keys.recipient_key_id, str(keys.recipient_private),
         keys.signer_key_id, str(keys.signing_public)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
    )
    return _ready(process, "receiver", "receiver:", r"listening on (\S+)")


def server_root(collection_url: str) -> str:
    return collection_url.split("/tfs/", 1)[0]


def write_config(directory: Path, *, ado_url: str, endpoint: str, keys, concurrency: int | None) -> Path:
    """A config for one run (its own data_dir); secrets through ${file:...} as a user's would be."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pat").write_text(PAT + "\n")
    (directory / "api_key").write_text(API_KEY + "\n")
    # A backfill "at concurrency N" holds N requests in flight (the bound assumes N): the adaptive limit is off,
    # or it would read the latency the machine's own CPU adds (three processes on 2 cores) as the server's load.
    limits = f"limits:\n  concurrency: {concurrency}\n  adaptive: false\n" if concurrency else ""
    path = directory / "satellite.yml"
    path.write_text(
        f"""\
satellite:
  id: bench-satellite
  tenant: bench
  endpoint: {endpoint}
  api_key: ${{file:{directory / 'api_key'}}}
  encryption:
    recipient_key_id: {keys.recipient_key_id}
    recipient_public_key: ${{file:{keys.recipient_public}}}
    signing_private_key: ${{file:{keys.signing_private}}}
  data_dir: {directory / 'data'}
  http:
    listen: ""
integrations:
  - id: bench
    url: {ado_url}
    pat: ${{file:{directory / 'pat'}}}
    services: {SERVICES}
{limits}"""
    )
    return path


class RequestLog:
    """Drains the simulator's request log (``GET`` then ``DELETE /_sim/requests``) every second, so
    its 10,000-entry ring never overflows: ``total`` sums what each DELETE cleared (exact), ``paths``
    keeps what each GET listed (all but the few requests answered between a GET and its DELETE)."""

    def __init__(self, collection_url: str) -> None:
        self._http = httpx.Client(base_url=server_root(collection_url), timeout=60)
        self.total = 0
        self.entries: list[dict] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def clear(self) -> None:
        self._http.delete("/_sim/requests").raise_for_status()
        self.total, self.entries = 0, []

    def drain(self) -> None:
        listed = self._http.get("/_sim/requests").json()["requests"]
        cleared = self._http.delete("/_sim/requests").json()["cleared"]
        self.entries.extend(listed)
        self.total += cleared

    def __enter__(self) -> "RequestLog":
        self.clear()

        def loop() -> None:
            while not self._stop.wait(1.0):
                self.drain()

        self._thread = threading.Thread(target=loop, daemon=True, name="request-log")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.drain()

    def close(self) -> None:
        self._http.close()


# -- the satellite in a child process, every request timed ----------------------------------------

_ID_SEGMENT = re.compile(r"/(?:[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|\d+)(?=/|$)")


def route_label(path: str, collection_path: str) -> str:
    """``/{id}/_apis/git/repositories/{id}/refs``: the path below the collection, ids masked."""
    below = path[len(collection_path):] if path.lower().startswith(collection_path.lower()) else path
    return _ID_SEGMENT.sub("/{id}", below or "/")


STREAM_OF_ROUTE: tuple[tuple[str, str], ...] = (
    (r"^/_apis$", "core (api-version, connectionData)"),
    (r"^/_apis/connectiondata$", "core (api-version, connectionData)"),
    (r"^/_apis/projects$", "core.projects"),
    (r"^/_apis/projects/\{id\}/teams$", "core.teams"),
    (r"/teams/\{id\}/members$", "core.team_members"),
    (r"/_apis/identities$", "core.identities"),
    (r"/_apis/wit/fields$", "wit.fields"),
    (r"/_apis/wit/reporting/workitemrevisions#discussion$", "wit.comments"),
    (r"/_apis/wit/workitems/\{id\}/comments$", "wit.comments"),
    (r"/_apis/wit/reporting/workitemrevisions$", "wit.revisions"),
    (r"/_apis/wit/reporting/workitemlinks$", "wit.links"),
    (r"/_apis/wit/workitemtypes$", "wit.work_item_types"),
    (r"/_apis/wit/classificationnodes$", "wit.classification_nodes"),
    (r"/_apis/work/teamsettings/iterations$", "work.team_iterations"),
    (r"/_apis/tfvc/changesets", "tfvc.changesets"),
    (r"/_apis/tfvc/branches$", "tfvc.branches"),
    (r"/_apis/tfvc/labels$", "tfvc.labels"),
    (r"/_apis/git/repositories$", "git.repositories"),
    (r"/_apis/git/repositories/\{id\}/refs$", "git.refs"),
    (r"/_apis/git/repositories/\{id\}/pushes$", "git.pushes"),
    (r"/_apis/git/repositories/\{id\}/commits$", "git.commits"),
    (r"/pullrequests", "git.pull_requests"),
    (r"/_apis/build/definitions$", "build.definitions"),
    (r"/_apis/build/builds", "build.builds"),
    (r"/_apis/pipelines$", "pipelines.pipelines"),
    (r"/_apis/pipelines/\{id\}/runs$", "pipelines.runs"),
    (r"/_apis/distributedtask/environments/\{id\}/environmentdeploymentrecords$", "pipelines.runs"),  # read with the runs
    (r"/_apis/distributedtask/environments$", "distributedtask.environments"),
    (r"/_apis/release/definitions$", "release.definitions"),
    (r"/_apis/release/", "release.releases"),
)
_STREAM_PATTERNS = tuple((re.compile(p, re.IGNORECASE), s) for p, s in STREAM_OF_ROUTE)
COLLECTION_SCOPE = ("core.projects", "wit.fields", "wit.revisions", "wit.links", "wit.comments", "tfvc.changesets")


def stream_of(label: str) -> str:
    return next((s for p, s in _STREAM_PATTERNS if p.search(label)), "other")


def _timed_transport_factory(log: list):
    """Transports that append (URL, start, end) per request; end = body read (the satellite's own
    ``CurlTransport``, one per connection, as it makes them when given none). The request is only timed
    here (its route is labelled after the run, ``_labelled``): what the timing costs is spent inside the
    request's slot, where the satellite's own work would be."""
    from satellite.http_curl import CurlTransport

    class TimingTransport(CurlTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            started = time.perf_counter()
            try:
                return super().handle_request(request)
            finally:
                log.append((request.url, started, time.perf_counter()))

    return lambda: TimingTransport(keepalive_expiry=KEEPALIVE_EXPIRY_S)


def _labelled(url: httpx.URL, collection_path: str) -> str:
    """A timed request's route label; the comments' walk of the revisions (five short fields) is told
    from the revisions stream's own walk by its ``fields``."""
    label = route_label(url.path, collection_path)
    return label + "#discussion" if "System.CommentCount" in url.params.get("fields", "") else label


def _sync_worker(config_path: str, results) -> None:
    """Child process: one ``sync_once`` with timed requests; puts a summary on ``results``."""
    from satellite.config import load_config
    from satellite.log import configure_logging
    from satellite.process_tuning import tune_process
    from satellite.sync.once import sync_once

    tune_process()  # as `satellite sync --once` does first
    configure_logging("error", json_output=True, stream=sys.stderr)
    config = load_config(config_path)
    collection_path = httpx.URL(config.integrations[0].url).path.rstrip("/")
    log: list[tuple[httpx.URL, float, float]] = []
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    result = sync_once(config, ado_transport_factory=_timed_transport_factory(log))
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    streams: dict[str, dict] = {}
    for outcome in result.collection.outcomes:
        entry = streams.setdefault(outcome.stream, {"units": 0, "records": 0, "seconds_max": 0.0})
        entry["units"] += 1
        entry["records"] += outcome.records
        entry["seconds_max"] = max(entry["seconds_max"], outcome.seconds)
    results.put({
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "maxrss_mib": after.ru_maxrss / 1024,
        "requests_client": result.collection.requests,
        "records": sum(o.records for o in result.collection.outcomes),
        "batches": sum(o.batches for o in result.collection.outcomes),
        "delivered": result.drain.delivered if result.drain else 0,
        "errors": result.errors,
        "ok": result.ok,
        "streams": streams,
        "timeline": [(_labelled(url, collection_path), s - started, e - started) for url, s, e in log],
    })


def run_sync_child(config: Path) -> dict:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_sync_worker, args=(str(config), results))
    child.start()
    try:
        outcome = results.get()
    finally:
        child.join()
    if os.environ.get("SATELLITE_BENCH_TIMELINE"):  # every request's (route, start, end), for a closer look
        Path(os.environ["SATELLITE_BENCH_TIMELINE"]).write_text(json.dumps(outcome["timeline"]))
    return outcome


# -- the minimum number of requests, from the simulator's world -----------------------------------

# The largest page each list call accepts: the simulator's cap where it has one, else the largest
# page size the satellite's configuration admits (``PageSizes``, which follows the server docs).
# The simulator's default semantics cap these $top/$skip lists (issue 13, ``page_cap``): the minimum
# counts pages of that size, as a client of that server must.
from standins.ado_simulator.semantics import DEFAULT_SEMANTICS  # noqa: E402
from satellite.http_clients import KEEPALIVE_EXPIRY_S  # noqa: E402

_CAP = DEFAULT_SEMANTICS.page_cap or 10000
MAX_PAGE = {
    "projects": 1000, "teams": 10000, "members": 10000, "refs": 1000, "pushes": _CAP, "commits": _CAP,
    "pull_requests": 1000, "changesets": _CAP, "changes": _CAP, "labels": _CAP, "builds": 10000,
    "build_definitions": 10000, "release_definitions": 100, "releases": 100, "deployments": 100,
    "revisions_with_fields": 200, "revisions": 1000, "links": 1000, "comments": 200, "identities": 50,
    "pipeline_runs": 10000, "build_changes": 10000, "environments": 10000, "deployment_records": 10000,
}
MINIMUM_ASSUMPTIONS = (
    f"largest page per call: the simulator's own cap where it has one (git commits and pushes, TFVC changesets, "
    f"changes and labels {_CAP}: the `page_cap` of its default semantics, a $top/$skip list with no documented "
    "maximum answering less than asked; reporting work item revisions 200 with "
    "`$expand=fields`, 1000 without; reporting links 1000; pull requests 1000; refs 1000; releases and deployments 100; "
    "work item comments 200), else the largest page size `limits.page_sizes` admits (10,000); identities resolved 50 per call",
    "`$top`/`$skip` lists end on a short page: floor(n / page) + 1 calls; continuation-token and reporting lists: "
    "ceil(n / page) calls (at least 1)",
    "one call per item where the API has no batch read: a started build's timeline and a completed build's changes; "
    "a pull request's threads, iterations (with their commits: `includeCommits`) and work item links (3 per PR), and "
    "on 7.0+ the pull request itself when its listed description may be cut (400 characters or more); a "
    "release's details; a changeset's changes; a YAML pipeline's runs; a YAML environment's deployment records; the "
    "comments of each work item with discussion changes (a comment added alone or with another change in the same "
    "save; none for one in the recycle bin), after a walk of every revision with five short fields, 1,000 per batch: "
    "`includeDiscussionChangesOnly` leaves out a comment saved with another change, and no route reads the comments "
    "of several work items in one request on any server version (docs/streams.md)",
    "one call each per collection (api-version, connectionData, fields), per project (repositories, teams, work item "
    "types, classification nodes, TFVC branches, labels, build definitions, pipelines, release definitions, builds, "
    "deployments, releases, pull requests) and per team (members, sprints), more only when a list exceeds a page",
    "commits: per repository the default branch in full, then every other branch head not yet seen as the range "
    "`default..head` (the commits API has no multi-branch read)",
    "the longest chain of dependent requests (the critical path) is the reporting revisions walk: each batch needs "
    "the previous batch's continuation token, after the api-version request",
)


def _offset_pages(n: int, page: int) -> int:
    return n // page + 1


def _token_pages(n: int, page: int) -> int:
    return max(1, math.ceil(n / page))


def _reporting_batches(positions: int, wanted, page: int, scan: int = 50_000) -> int:
    """Batches the reporting API needs to walk ``positions`` log entries (``wanted(p)`` filters)."""
    batches, position = 0, 0
    while True:
        batches += 1
        chosen, start = 0, position
        while position < positions and chosen < page and position - start < scan:
            chosen += bool(wanted(position))
            position += 1
        if position >= positions:
            return batches


def minimum_requests(world, max_version: str) -> dict:
    """Per stream the fewest requests a full read needs, and the longest chain of dependent requests."""
    from standins.ado_simulator.world.pipelines.builds import NOT_STARTED
    from standins.ado_simulator.world.generate import MAIN
    from standins.ado_simulator.world.boards.work_item_history import adds_comment

    truth = world.truth(max_version)
    projects = list(world.projects)
    project_of_repo = {r.id: r.project_id for r in world.repositories}
    minimum: Counter = Counter()
    minimum["core (api-version, connectionData)"] = 2
    minimum["core.projects"] = _token_pages(len(projects), MAX_PAGE["projects"])
    minimum["wit.fields"] = 1
    # git: repositories, refs, pushes, commits
    refs_per_repo = Counter(k.split(":", 1)[0] for k in truth["git.ref"])
    commit_chain = 0
    for repo in world.repositories:
        with world.reading(repo.id) as history:
            minimum["git.refs"] += _token_pages(refs_per_repo[repo.id], MAX_PAGE["refs"])
            minimum["git.pushes"] += _offset_pages(len(history.pushes), MAX_PAGE["pushes"])
            default = repo.default_branch or MAIN
            branches = sorted((n for n in history.refs if n.startswith("refs/heads/")), key=lambda n: (n != default, n))
            seen: set[str] = set()
            base = history.head(default)
            for name in branches:
                head = history.head(name)
                if head in seen:
                    continue
                seen.add(head)
                count = len(history.log(head, None if name == default else base))
                pages = _offset_pages(count, MAX_PAGE["commits"])
                minimum["git.commits"] += pages
                commit_chain = max(commit_chain, pages)
    # pull requests
    prs = Counter(project_of_repo[k.split(":", 1)[0]] for k in truth["git.pull_request"])
    for project in projects:
        minimum["git.pull_requests"] += _offset_pages(prs[project.id], MAX_PAGE["pull_requests"])
    minimum["git.pull_requests"] += 3 * len(truth["git.pull_request"])
    if tuple(map(int, max_version.split("."))) >= (7, 0):  # 7.0+ lists cut descriptions to 400: those read alone
        all_prs = world.domain("pull_requests").of_repositories(r.id for r in world.repositories)
        minimum["git.pull_requests"] += sum(1 for pr in all_prs if len(pr.description or "") >= 400)
    # per project singles
    for stream in ("git.repositories", "core.teams", "wit.work_item_types", "wit.classification_nodes", "tfvc.branches",
                   "build.definitions", "pipelines.pipelines", "release.definitions"):
        minimum[stream] += len(projects)
    # teams
    teams = world.domain("teams")
    minimum["core.team_members"] = sum(_offset_pages(len(t.members), MAX_PAGE["members"]) for t in teams.teams)
    minimum["work.team_iterations"] = len(teams.teams)
    identities = len(truth.get("core.identity", []))
    minimum["core.identities"] = 1 + math.ceil(identities / MAX_PAGE["identities"]) if identities else 0
    # builds and pipelines
    builds = world.domain("build")
    project_of_definition = {d.id: projects[d.project].id for d in builds.definitions}
    live = [b for b in builds.builds if not b.deleted]
    for project, n in Counter(project_of_definition[b.definition] for b in live).items():
        minimum["build.builds"] += _token_pages(n, MAX_PAGE["builds"]) - 1
    minimum["build.builds"] += len(projects) + sum(1 for b in live if b.status != NOT_STARTED)
    minimum["pipelines.runs"] = sum(1 for d in builds.definitions if d.yaml)
    # build changes (issue 14): one walk per completed build (no batch read), its pages
    minimum["build.builds"] += sum(_token_pages(len(builds.changes(b)), MAX_PAGE["build_changes"]) for b in live
                                   if b.status == "completed")
    # YAML environments (6.0+): the list per project, then each environment's deployment records
    if "distributedtask.environment" in truth:
        from standins.ado_simulator.world.pipelines.environments import environments_of

        environments = environments_of(world)
        minimum["distributedtask.environments"] = len(projects)
        records_of = Counter(k.split(":")[1] for k in truth.get("distributedtask.environment_deployment", []))
        minimum["pipelines.runs"] += sum(_token_pages(records_of[str(e.id)], MAX_PAGE["deployment_records"])
                                         for e in environments.environments if records_of[str(e.id)])
    # releases
    releases = world.domain("release")
    project_of_release_definition = {d.id: projects[d.project].id for d in releases.definitions}
    live_releases = [r for r in releases.releases if not r.deleted]
    per_release_project = Counter(project_of_release_definition[r.definition] for r in live_releases)
    per_deployment_project = Counter(project_of_release_definition[r.definition] for r in live_releases
                                     for _ in releases.by_release[r.id])
    for project in projects:
        minimum["release.releases"] += (_token_pages(per_release_project[project.id], MAX_PAGE["releases"])
                                        + _token_pages(per_deployment_project[project.id], MAX_PAGE["deployments"]))
    minimum["release.releases"] += len(live_releases)
    # tfvc
    tfvc = world.domain("tfvc")
    changesets = len(tfvc.changesets)
    minimum["tfvc.changesets"] = _offset_pages(changesets, MAX_PAGE["changesets"]) + sum(
        _token_pages(len(tfvc.changes(c)), MAX_PAGE["changes"]) for c in tfvc.changesets)
    labels = Counter(projects[label.project].id for label in tfvc.labels)
    minimum["tfvc.labels"] = sum(_offset_pages(labels[p.id], MAX_PAGE["labels"]) for p in projects)
    # boards: the reporting walks and the comments of each work item with discussion changes
    work = world.domain("work_items")
    log, links = work.log, work.links
    revisions_batches = _reporting_batches(len(log), lambda p: True, MAX_PAGE["revisions_with_fields"])
    minimum["wit.revisions"] = revisions_batches
    minimum["wit.links"] = _reporting_batches(len(links.event_link), lambda p: True, MAX_PAGE["links"])
    # comments: a walk of every revision (discussion changes are found from their fields: the
    # includeDiscussionChangesOnly filter leaves out a comment saved with another change), then one read
    # per work item with a comment added (alone or with another change) that is not in the recycle bin
    gone = work.destroyed
    discussion_batches = _reporting_batches(len(log), lambda p: log.item[p] not in gone, MAX_PAGE["revisions"])
    in_bin = {i for i in range(1, len(work.items)) if work.current.deleted[i]}
    comments_per_item = Counter(log.item[p] for p in range(len(log))
                                if adds_comment(log.code[p] & 0xFF) and log.item[p] not in in_bin)
    minimum["wit.comments"] = discussion_batches + sum(_token_pages(n, MAX_PAGE["comments"]) for n in comments_per_item.values())
    chains = {
        "wit.revisions (reporting batches after the api-version request)": 1 + revisions_batches,
        "wit.comments (the walk's reporting batches, then the comments)": 1 + discussion_batches + 1,
        "git.commits (api-version, projects, repositories, refs, then one branch's pages)": 4 + commit_chain,
    }
    longest = max(chains, key=chains.get)
    return {"per_stream": dict(minimum), "total": sum(minimum.values()), "chain": chains[longest], "chain_what": longest,
            "records_truth": sum(len(v) for v in truth.values())}


def _minimum_worker(scale: str, results) -> None:
    from standins.ado_simulator.wire.profiles import PROFILES
    from standins.ado_simulator.world.world import generate_world

    results.put(minimum_requests(generate_world(SEED, scale), PROFILES[PROFILE].max_version))


def compute_minimum(scale: str) -> dict:
    """In a child process, so the world's millions of objects never slow the measured runs."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_minimum_worker, args=(scale, results))
    child.start()
    try:
        return results.get()
    finally:
        child.join()


# -- 1. backfill ----------------------------------------------------------------------------------


@dataclass
class Backfill:
    concurrency: int
    wall: float
    requests: int  # the simulator's request log
    requests_client: int
    records: int
    cpu_satellite: float
    cpu_simulator: float
    cpu_receiver: float
    ok: bool
    errors: list[str]
    timeline: list[tuple[str, float, float]] = field(repr=False)
    logged_paths: list[str] = field(repr=False, default_factory=list)
    streams: dict = field(repr=False, default_factory=dict)  # per stream: units, records, seconds_max

    @property
    def rate(self) -> float:
        return self.records / self.wall

    def bound(self, latency: float) -> float:
        return self.requests * latency / self.concurrency


def backfill(work: Path, simulator: Service, receiver: Service, keys, concurrency: int) -> tuple[Backfill, Path]:
    config = write_config(work / f"backfill-c{concurrency}", ado_url=simulator.url, endpoint=receiver.url, keys=keys,
                          concurrency=concurrency)
    cpu_sim, cpu_rec = simulator.cpu_seconds(), receiver.cpu_seconds()
    requests_log = RequestLog(simulator.url)
    try:
        with requests_log:
            outcome = run_sync_child(config)
    finally:
        requests_log.close()
    return Backfill(
        concurrency, outcome["wall"], requests_log.total, outcome["requests_client"], outcome["records"], outcome["cpu"],
        simulator.cpu_seconds() - cpu_sim, receiver.cpu_seconds() - cpu_rec, outcome["ok"], outcome["errors"],
        outcome["timeline"], [e["path"] for e in requests_log.entries], outcome.get("streams", {}),
    ), config


def analyse_timeline(run: Backfill) -> dict:
    """Per stream: requests, time in requests, first start and last end; overall in-flight average."""
    per: dict[str, dict] = {}
    durations = []
    for label, start, end in run.timeline:
        stream = stream_of(label)
        entry = per.setdefault(stream, {"requests": 0, "busy": 0.0, "first": start, "last": end})
        entry["requests"] += 1
        entry["busy"] += end - start
        entry["first"] = min(entry["first"], start)
        entry["last"] = max(entry["last"], end)
        durations.append(end - start)
    collection = [e for s, e in per.items() if s in COLLECTION_SCOPE]
    last_request = max((e for _, _, e in run.timeline), default=0.0)
    return {
        "streams": per,
        "mean_latency": statistics.fmean(durations) if durations else 0.0,
        "p95_latency": statistics.quantiles(durations, n=20)[-1] if len(durations) > 20 else 0.0,
        "in_flight": sum(durations) / run.wall if run.wall else 0.0,
        "collection_scope_end": max((e["last"] for e in collection), default=0.0),
        "last_request": last_request,
    }


# -- 2. nothing new -------------------------------------------------------------------------------


QUIET_SCOPES = ("collection", "project", "repository", "team", "pull request", "pipeline", "environment")
_PER_ITEM = ((re.compile(r"/pullrequests/(\d+)", re.IGNORECASE), "pull request"),
             (re.compile(r"/_apis/pipelines/(\d+)/runs$", re.IGNORECASE), "pipeline"),
             (re.compile(r"/environments/(\d+)/environmentdeploymentrecords$", re.IGNORECASE), "environment"))
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def no_change_run(simulator: Service, config: Path) -> dict:
    """A second sync over the data dir of a finished backfill; the request log says what it cost,
    by scope: the collection, each project, repository and team (by the ids in the path), and the
    per-item reads that remain (threads of each open pull request, runs of each YAML pipeline)."""
    truth = httpx.get(f"{server_root(simulator.url)}/_sim/truth", timeout=300).json()["types"]
    owners = {"repository": set(truth["git.repository"]["keys"]), "team": set(truth["core.team"]["keys"]),
              "project": set(truth["core.project"]["keys"])}
    requests_log = RequestLog(simulator.url)
    try:
        with requests_log:
            outcome = run_sync_child(config)
    finally:
        requests_log.close()
    collection_path = httpx.URL(simulator.url).path.rstrip("/")
    per: dict[str, Counter] = {scope: Counter() for scope in QUIET_SCOPES}
    routes: dict[str, Counter] = {scope: Counter() for scope in QUIET_SCOPES}
    for entry in requests_log.entries:
        path = entry["path"]
        label = route_label(path, collection_path)
        if "System.CommentCount" in entry.get("query", ""):  # wit.comments' walk of the revisions
            label += "#discussion"
        scope, owner = "collection", ""
        for pattern, item in _PER_ITEM:
            found = pattern.search(path)
            if found:
                scope, owner = item, found.group(1)
                break
        else:
            ids = set(_GUID.findall(path.lower()))
            for candidate in ("repository", "team", "project"):
                if ids & owners[candidate]:
                    scope, owner = candidate, next(iter(ids & owners[candidate]))
                    break
        routes[scope][f"{entry['method']} {label}"] += 1
        if owner:
            per[scope][owner] += 1
    counts = {scope: sorted(per[scope].get(o, 0) for o in owners[scope]) if scope in owners else sorted(per[scope].values())
              for scope in QUIET_SCOPES if scope != "collection"}
    return {
        "wall": outcome["wall"], "records": outcome["records"], "requests": requests_log.total,
        "logged": len(requests_log.entries), "ok": outcome["ok"], "errors": outcome["errors"],
        "owners": {**{scope: len(ids) for scope, ids in owners.items()},
                   "pipeline": len(truth.get("pipelines.pipeline", {}).get("keys", []))}, "per": counts,
        "routes": {scope: dict(counter.most_common()) for scope, counter in routes.items()},
    }


# -- 3. peak memory -------------------------------------------------------------------------------


def _high_water_kib(pid: int) -> int:
    """``VmHWM`` of a running process (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def peak_memory(work: Path, simulator: Service, receiver: Service, keys, scale: str) -> dict:
    """``satellite sync --once`` as a subprocess with default limits; its peak RSS is the ``VmHWM`` of
    its own address space, polled every 50 ms until it exits. (Not ``wait4``'s ``ru_maxrss``: Linux
    carries the high-water mark of the address space replaced at ``exec`` into it, so that figure
    is never below the RSS of the process that started the child, here this benchmark.)"""
    config = write_config(work / f"memory-{scale}", ado_url=simulator.url, endpoint=receiver.url, keys=keys, concurrency=None)
    started = time.perf_counter()
    process = subprocess.Popen(satellite_command("--log-level", "error", "sync", "--once", "-c", str(config)),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    peak = 0
    while process.poll() is None:
        peak = max(peak, _high_water_kib(process.pid))
        time.sleep(0.05)
    reader.join()
    wall = time.perf_counter() - started
    found = re.search(r"sync: (\d+) record\(s\) collected", "".join(output))
    return {"scale": scale, "peak_mib": peak / 1024, "records": int(found.group(1)) if found else 0,
            "wall": wall, "exit": process.returncode, "config": config}


# -- 4. sealing -----------------------------------------------------------------------------------


def sample_records(collection_url: str, per_kind: int) -> list[dict]:
    """Realistic records read from the simulator: work item revisions (with fields), commits, build
    timeline records; shaped as the streams shape them."""
    from satellite.streams.base import upsert

    records: list[dict] = []
    with httpx.Client(base_url=collection_url.rstrip("/") + "/", auth=("", PAT), timeout=120) as http:
        token = None
        revisions = 0
        while revisions < per_kind:
            params = {"$expand": "fields", "includeIdentityRef": "true", "includeTagRef": "true", "includeDeleted": "true",
                      "$maxPageSize": 200, "api-version": "7.0"}
            if token:
                params["continuationToken"] = token
            body = http.get("_apis/wit/reporting/workitemrevisions", params=params).raise_for_status().json()
            for revision in body["values"]:
                records.append(upsert("wit.work_item_revision", f"c:{revision['id']}:{revision['rev']}", revision).to_json())
                revisions += 1
            token = body.get("continuationToken")
            if body.get("isLastBatch"):
                break
        projects = http.get("_apis/projects", params={"api-version": "7.0"}).raise_for_status().json()["value"]
        commits = 0
        for project in projects:
            repos = http.get(f"{project['id']}/_apis/git/repositories", params={"api-version": "7.0"}).json()["value"]
            for repo in repos:
                page = http.get(f"{project['id']}/_apis/git/repositories/{repo['id']}/commits",
                                params={"searchCriteria.$top": 1000, "api-version": "7.0"}).json()["value"]
                for commit in page:
                    records.append(upsert("git.commit", f"{repo['id']}:{commit['commitId']}", commit).to_json())
                    commits += 1
                if commits >= per_kind:
                    break
            if commits >= per_kind:
                break
        timeline = 0
        project = projects[0]
        builds = http.get(f"{project['id']}/_apis/build/builds",
                          params={"$top": 200, "statusFilter": "completed", "api-version": "7.0"}).json()["value"]
        for build in builds:
            body = http.get(f"{project['id']}/_apis/build/builds/{build['id']}/timeline", params={"api-version": "7.0"}).json()
            for record in body.get("records") or []:
                records.append(upsert("build.timeline_record", f"c:{build['id']}:{record['id']}", record).to_json())
                timeline += 1
            if timeline >= per_kind:
                break
    return records


def batches_of(records: list[dict], max_records: int = 5000, max_bytes: int = 4 * 1024 * 1024) -> list[list[dict]]:
    """Cut as ``BatchWriter`` cuts with the default limits."""
    out, pending, size = [], [], 0
    for record in records:
        pending.append(record)
        size += len(json.dumps(record, separators=(",", ":")))
        if len(pending) >= max_records or size >= max_bytes:
            out.append(pending)
            pending, size = [], 0
    if pending:
        out.append(pending)
    return out


SEAL_NOW = "seal_records, format v2 (JSON + zstd 3 + HPKE + Ed25519)"
SEAL_BEFORE = "seal_records, format v1 (JSON + gzip 6 + HPKE + Ed25519)"
GZIP_LEVELS = tuple(range(1, 10))
ZSTD_LEVELS = (1, 2, 3, 4, 5, 6, 7, 9, 12)


def sealing(records: list[dict], keys, min_seconds: float = 3.0) -> dict:
    """Seal every batch (repeatedly, at least ``min_seconds``) and time the parts; AES-256-GCM on the same
    NDJSON; and the compression table (``compression``)."""
    from dataclasses import replace

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from satellite.sealing.batch_format import CURRENT, FORMATS, BatchHeader, encode_records, ndjson_line, seal
    from satellite.sealing.keys import load_ed25519_private, load_x25519_public
    from satellite.sealing.sealer import Sealer

    sealer = Sealer("bench-satellite", "bench", keys.recipient_key_id, load_x25519_public(keys.recipient_public.read_bytes()),
                    load_ed25519_private(keys.signing_private.read_bytes()))
    before = replace(sealer, version=FORMATS[1])
    batches = batches_of(records)
    ndjson = [b"".join(ndjson_line(r) for r in batch) for batch in batches]
    raw_bytes = sum(map(len, ndjson))

    def timed(fn) -> tuple[float, int]:
        """CPU seconds per pass over every batch, and the passes made."""
        return _cpu_per_pass(fn, min_seconds), 0

    def seal_all(by: Sealer) -> None:
        for n, batch in enumerate(batches):
            by.seal_records(batch_id=f"b{n}", integration_id="bench", service="boards", stream="bench", seq=n,
                            records=batch, cursor_from=None, cursor_to=None)

    encoding = CURRENT.codec.name
    compressed = [encode_records(batch, encoding) for batch in batches]
    header = BatchHeader("b", "s", "t", "i", "svc", "stream", 1, 1, "2024-01-01T00:00:00Z", 1, None, None,
                         keys.recipient_key_id, sealer.signer_key_id, content_encoding=encoding)
    aes = AESGCM(AESGCM.generate_key(bit_length=256))
    nonce = os.urandom(12)
    parts = {
        SEAL_NOW: timed(lambda: seal_all(sealer))[0],
        SEAL_BEFORE: timed(lambda: seal_all(before))[0],
        "JSON encode (NDJSON, as the satellite does)": timed(lambda: [ndjson_line(r) for batch in batches for r in batch])[0],
        "zstd level 3 (format v2)": timed(lambda: [CURRENT.codec.compress(b) for b in ndjson])[0],
        "gzip level 6 (format v1)": timed(lambda: [FORMATS[1].codec.compress(b) for b in ndjson])[0],
        "HPKE + Ed25519 (on the zstd output)": timed(lambda: [seal(header, c, sealer.recipient, sealer.signer, CURRENT)
                                                             for c in compressed])[0],
        "AES-256-GCM (raw NDJSON, same bytes)": timed(lambda: [aes.encrypt(nonce, b, None) for b in ndjson])[0],
    }
    return {"records": len(records), "batches": len(batches), "raw_bytes": raw_bytes,
            "compressed_bytes": sum(map(len, compressed)), "parts": parts, "encoding": encoding,
            "kinds": Counter(r["type"] for r in records), "compression": compression(ndjson, min_seconds / 3)}


def compression(ndjson: list[bytes], min_seconds: float = 1.0) -> list[dict]:
    """Each candidate compression of the same NDJSON batches: CPU ms per batch to compress and to
    decompress (``process_time``, repeated for at least ``min_seconds``) and the bytes it gives."""
    import gzip

    import zstandard

    candidates: list[tuple[str, Any, Any]] = [
        (f"gzip {level}", lambda b, level=level: gzip.compress(b, compresslevel=level, mtime=0), gzip.decompress)
        for level in GZIP_LEVELS]
    for level in ZSTD_LEVELS:
        compressor, decompressor = zstandard.ZstdCompressor(level=level), zstandard.ZstdDecompressor()
        candidates.append((f"zstd {level}", compressor.compress, decompressor.decompress))
    rows = []
    for name, pack, unpack in candidates:
        packed = [pack(b) for b in ndjson]
        rows.append({"name": name, "bytes": sum(map(len, packed)),
                     "cpu_ms": _cpu_per_pass(lambda: [pack(b) for b in ndjson], min_seconds) / len(ndjson) * 1000,
                     "unpack_ms": _cpu_per_pass(lambda: [unpack(b) for b in packed], min_seconds) / len(ndjson) * 1000})
    return rows


def _cpu_per_pass(fn, min_seconds: float) -> float:
    """CPU seconds (``process_time``) per call of ``fn``, calls repeated for at least ``min_seconds``."""
    passes, started = 0, time.process_time()
    while True:
        fn()
        passes += 1
        spent = time.process_time() - started
        if spent >= min_seconds:
            return spent / passes


def kem_sealing(records: list[dict], min_seconds: float = 3.0, rounds: int = 3) -> dict:
    """The same batches sealed by the product's ``Sealer`` to an X25519 key and to a hybrid
    MLKEM768-X25519 key (issue 21): CPU per batch (the lower of ``rounds`` alternating rounds), the
    part that does not grow with the batch (a batch of 0 records: the KEM's encapsulation, the HPKE
    key schedule, the signature) and the bytes per batch as sealed."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from satellite.sealing.batch_format import read_header
    from satellite.sealing.keys import HybridPrivateKey, public_key_id
    from satellite.sealing.sealer import Sealer

    signer = Ed25519PrivateKey.generate()
    batches = batches_of(records)
    sealers = [Sealer("bench-satellite", "bench", public_key_id(key.public_key()), key.public_key(), signer)
               for key in (X25519PrivateKey.generate(), HybridPrivateKey.generate())]

    def seal(sealer: Sealer, batch: list[dict], n: int) -> bytes:
        return sealer.seal_records(batch_id=f"b{n}", integration_id="bench", service="boards", stream="bench", seq=n,
                                   records=batch, cursor_from=None, cursor_to=None)

    cpu: dict[str, list[float]] = {s.kem: [] for s in sealers}
    fixed: dict[str, list[float]] = {s.kem: [] for s in sealers}
    for _ in range(rounds):
        for sealer in sealers:
            cpu[sealer.kem].append(_cpu_per_pass(lambda s=sealer: [seal(s, b, n) for n, b in enumerate(batches)], min_seconds)
                                   / len(batches))
            fixed[sealer.kem].append(_cpu_per_pass(lambda s=sealer: [seal(s, [], n) for n in range(200)], min_seconds / 3) / 200)
    rows = []
    for sealer in sealers:
        sealed = [seal(sealer, b, n) for n, b in enumerate(batches)]
        rows.append({"kem": sealer.kem, "name": sealer.suite.names["kem"], "kem_id": sealer.suite.kem_id,
                     "version": sealer.writes.number, "encoding": read_header(sealed[0]).content_encoding,
                     "cpu_ms": min(cpu[sealer.kem]) * 1000, "fixed_ms": min(fixed[sealer.kem]) * 1000,
                     "bytes": sum(map(len, sealed)) / len(sealed)})
    raw = sum(len(json.dumps(r, separators=(",", ":"))) + 1 for r in records)
    return {"records": len(records), "batches": len(batches), "raw_bytes": raw, "rows": rows}


KEM_SECTION = "## Sealing by KEM"


def render_kems(kems: dict, how: str) -> list[str]:
    """The "Sealing by KEM" section; ``how``: the command and machine it was measured with."""
    rows, (x25519, hybrid) = [], kems["rows"]
    for row in kems["rows"]:
        rows.append([f"{row['name']} (`{row['kem']}`, HPKE KEM 0x{row['kem_id']:04x})", str(row["version"]),
                     f"{row['cpu_ms']:.2f}", f"{row['fixed_ms']:.3f}", f"{row['bytes']:,.0f}"])
    extra_ms, extra_bytes = hybrid["cpu_ms"] - x25519["cpu_ms"], hybrid["bytes"] - x25519["bytes"]
    extra_fixed = hybrid["fixed_ms"] - x25519["fixed_ms"]
    noise = " (run-to-run noise, larger than the KEM's cost)" if extra_ms < 0 or extra_ms > 3 * max(extra_fixed, 0.001) else ""
    return [KEM_SECTION, "",
            (f"{kems['records']:,} records read from the simulator as in section 4, cut into {kems['batches']} batches as "
            f"`BatchWriter` cuts them ({kems['raw_bytes'] / 1e6:.1f} MB of NDJSON, {x25519['encoding']} as the satellite writes "
            "it), each sealed by the product's `Sealer` to an X25519 key and to a hybrid MLKEM768-X25519 key (issue 21; the "
            "newest recipient key decides, docs/deploy.md). CPU time (`process_time`, one core), the lower of three alternating "
            "rounds of at least 3 s each; *fixed per batch*: a batch of 0 records (the KEM's encapsulation, the HPKE key "
            "schedule, the Ed25519 signature), what a batch costs whatever its size. Bytes: the sealed batch (header, KEM "
            f"encapsulation, payload, signature). {how}"), "",
            table(["KEM", "format version", "CPU ms per batch", "of it fixed, ms", "bytes per batch"], rows), "",
            (f"The hybrid KEM's own cost is in the fixed part: {extra_fixed:+.3f} CPU ms per batch "
            f"({extra_fixed / x25519['cpu_ms']:+.1%} of an X25519 batch's sealing); whole batches measured {extra_ms:+.2f} ms "
            f"apart{noise}. It adds {extra_bytes:+,.0f} bytes per batch ({extra_bytes / x25519['bytes']:+.2%}): 1,088 bytes of "
            "ML-KEM-768 ciphertext, the longer suite and key id in the header. Compression dominates either way."), ""]


def write_kem_section(out: Path, section: list[str]) -> None:
    """Replace the "Sealing by KEM" section of ``out`` in place (up to the next ``## `` heading), or append it."""
    lines = out.read_text().splitlines() if out.exists() else []
    if KEM_SECTION in lines:
        start = lines.index(KEM_SECTION)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = section
    else:
        lines += ([""] if lines and lines[-1] else []) + section
    out.write_text("\n".join(lines).rstrip("\n") + "\n")


def sealing_kems_only(out: Path | None, scale: str) -> int:
    """The "Sealing by KEM" section alone, on records of a ``scale`` simulator without latency; printed,
    and rewritten in place in ``out``."""
    with workspace() as (_work, _keys, _receiver, services):
        simulator = start_simulator(scale, 0)
        services.append(simulator)
        records = sample_records(simulator.url, 5000)
    section = render_kems(kem_sealing(records), f"Measured by `python benchmarks/satellite_bench.py --sealing-kems` "
                          f"({scale} world) on: {machine()}.")
    print("\n".join(section))
    if out is not None:
        write_kem_section(out, section)
        print(f"written to {out} (section {KEM_SECTION!r})")
    return 0


SEALING_SECTION = "## 4. Sealing"


def render_sealing(sealed: dict, how: str = "") -> list[str]:
    """Section 4: the sealing steps, format v2 against v1, and the compression table that chose v2's."""
    parts = sealed["parts"]
    mb = sealed["raw_bytes"] / 1e6
    per_k = {name: spent / sealed["records"] * 1e6 for name, spent in parts.items()}
    now, before = per_k[SEAL_NOW], per_k[SEAL_BEFORE]
    aes = per_k["AES-256-GCM (raw NDJSON, same bytes)"]
    lines = [SEALING_SECTION, "",
             f"{sealed['records']:,} records read from the simulator ("
             + ", ".join(f"{n:,} `{t}`" for t, n in sorted(sealed["kinds"].items()))
             + f"), cut into {sealed['batches']} batches as `BatchWriter` cuts them with the default limits: "
             f"{mb:.1f} MB of NDJSON, {sealed['compressed_bytes'] / 1e6:.2f} MB after {sealed['encoding']}. CPU time "
             "(`process_time`, one core), averaged over passes repeated for at least 3 s per step; MB/s of NDJSON (the "
             f"bytes before compression).{(' ' + how) if how else ''}", ""]
    rows = [[name, f"{mb / spent:,.1f}", f"{per_k[name]:.2f}"] for name, spent in parts.items()]
    lines.append(table(["step", "MB/s", "CPU ms per 1,000 records"], rows))
    lines.append("")
    shares = ", ".join(f"{name.split(' (')[0]} {per_k[name] / now:.0%}" for name in parts
                       if not name.startswith(("seal_records", "AES", "gzip")))
    lines.append(f"Sealing (format v2) costs {now:.1f} CPU ms per 1,000 records ({1e6 / now:,.0f} records/s on one core), "
                 f"against {before:.1f} for format v1 (gzip level 6): {before / now:.1f}x less; {now / aes:.0f}x raw "
                 f"AES-256-GCM on the same bytes; of it: {shares}.")
    lines.append("")
    rows_c = sealed["compression"]
    gzip6 = next(r for r in rows_c if r["name"] == "gzip 6")
    lines += ["Compression of the same batches (issue 18: the candidates for the payload, chosen by these numbers): CPU "
              "ms per batch to compress (the satellite) and to decompress (the receiver), and the compressed size against "
              "gzip level 6 (format v1).", ""]
    lines.append(table(["compression", "CPU ms per batch", "MB/s", "decompress CPU ms per batch", "bytes per batch",
                        "ratio", "size vs gzip 6"],
                       [[f"**{r['name']}**" if r["name"] == "zstd 3" else r["name"], f"{r['cpu_ms']:.1f}",
                         f"{sealed['raw_bytes'] / sealed['batches'] / 1e3 / r['cpu_ms']:,.0f}", f"{r['unpack_ms']:.1f}",
                         f"{r['bytes'] / sealed['batches']:,.0f}", f"{sealed['raw_bytes'] / r['bytes']:.1f}",
                         f"{r['bytes'] / gzip6['bytes']:.0%}"] for r in rows_c]))
    lines.append("")
    zstd3 = next(r for r in rows_c if r["name"] == "zstd 3")
    lines.append(f"Chosen: zstd level 3 (format version 2, docs/batch_format.md): {gzip6['cpu_ms'] / zstd3['cpu_ms']:.1f}x less "
                 f"CPU than gzip 6 for {1 - zstd3['bytes'] / gzip6['bytes']:.0%} fewer bytes, and "
                 f"{gzip6['unpack_ms'] / zstd3['unpack_ms']:.1f}x less to decompress. Every gzip level is both slower and "
                 "larger than zstd 1-4; zstd levels 1-4 cost about the same, 5 and above cost 3x or more for 20-30% smaller "
                 "payloads (the batch is sealed once, on the satellite's one core under the GIL, while the upload is rarely "
                 "the bottleneck).")
    lines.append("")
    return lines


def write_section(out: Path, heading: str, section: list[str]) -> None:
    """Replace the section ``heading`` of ``out`` in place (up to the next ``## `` heading), or append it."""
    lines = out.read_text().splitlines() if out.exists() else []
    if heading in lines:
        start = lines.index(heading)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = section
    else:
        lines += ([""] if lines and lines[-1] else []) + section
    out.write_text("\n".join(lines).rstrip("\n") + "\n")


def sealing_only(out: Path | None, scale: str) -> int:
    """Section 4 alone (sealing and the compression table), on records of a ``scale`` simulator without
    latency: CPU time, unaffected by other load; printed, and rewritten in place in ``out``."""
    with workspace() as (_work, keys, _receiver, services):
        simulator = start_simulator(scale, 0)
        services.append(simulator)
        records = sample_records(simulator.url, 5000)
        sealed = sealing(records, keys)
    section = render_sealing(sealed, f"Measured by `python benchmarks/satellite_bench.py --sealing` ({scale} world) on: "
                                     f"{machine()}.")
    print("\n".join(section))
    if out is not None:
        write_section(out, SEALING_SECTION, section)
        print(f"written to {out} (section {SEALING_SECTION!r})")
    return 0


def backfill_only(out: Path | None, scale: str, concurrencies: list[int]) -> int:
    """Section 1 alone, at ``concurrencies``: wall time against the bound (needs a quiet machine);
    printed, and rewritten in place in ``out``."""
    print(f"minimum requests of the {scale} world (child process) ...", flush=True)
    minimum = compute_minimum(scale)
    runs: list[Backfill] = []
    with workspace() as (work, keys, receiver, services):
        simulator = start_simulator(scale, LATENCY_MS)
        services.append(simulator)
        for concurrency in concurrencies:
            print(f"backfill {scale}, latency {LATENCY_MS:g} ms, concurrency {concurrency} ...", flush=True)
            run, _ = backfill(work, simulator, receiver, keys, concurrency)
            runs.append(run)
            print(f"  {run.wall:.1f} s, {run.requests} requests, {run.records} records, CPU s satellite / simulator / "
                  f"receiver {run.cpu_satellite:.0f} / {run.cpu_simulator:.0f} / {run.cpu_receiver:.0f}, ok={run.ok}", flush=True)
    section = render_backfill(scale, LATENCY_MS / 1000, minimum, runs,
                              f"Partial run: `python benchmarks/satellite_bench.py --backfill {' '.join(map(str, concurrencies))}` "
                              f"(this section only; the bars table above is of the last full run) on: {machine()}.")
    print("\n".join(section))
    if out is not None:
        write_section(out, section[0], section)
        print(f"written to {out} (section {section[0]!r})")
    return 0


REQUESTS_SECTION = "## Requests by stream, no latency"


def requests_only(out: Path | None, scale: str, label: str | None = None) -> int:
    """A backfill of ``scale`` without injected latency: requests per stream against the minimum (a count,
    unaffected by other load, unlike the wall times of section 1); printed, and rewritten in place in ``out``."""
    print(f"minimum requests of the {scale} world (child process) ...", flush=True)
    minimum = compute_minimum(scale)
    with workspace() as (work, keys, receiver, services):
        simulator = start_simulator(scale, 0)
        services.append(simulator)
        print(f"backfill {scale}, no latency, concurrency 8 ...", flush=True)
        run, _ = backfill(work, simulator, receiver, keys, 8)
    per = analyse_timeline(run)["streams"]
    rows = [[f"`{name}`", f"{entry['requests']:,}", f"{minimum['per_stream'].get(name, 0):,}",
             f"{entry['requests'] / minimum['per_stream'][name]:.2f}x" if minimum["per_stream"].get(name) else "-"]
            for name, entry in sorted(per.items(), key=lambda kv: -kv[1]["requests"])]
    total = sum(e["requests"] for e in per.values())
    label = label or code_version()
    summary = [f"`{label}`", f"{total:,}", f"{per.get('wit.comments', {}).get('requests', 0):,}", f"{run.records:,}",
               f"{run.streams.get('wit.revisions', {}).get('records', 0):,}", f"{run.cpu_satellite:.0f}",
               f"{run.cpu_simulator:.0f}", f"{run.cpu_receiver:.0f}"]
    kept = [row for row in _section_rows(out, REQUESTS_SECTION) if len(row) == len(summary) and row[0] != summary[0]] \
        if out is not None else []
    section = [REQUESTS_SECTION, "",
               "By code version (a run replaces the row of its own version and keeps the others: issue 18's before and "
               "after), the same backfill:", "",
               table(["code version", "requests", "of them wit.comments", "records", "of them wit.revisions'",
                      "CPU s satellite", "CPU s simulator", "CPU s receiver"], kept + [summary]), "",
               "The last run, per stream:", "",
               f"A backfill of the `{scale}` world at concurrency 8 without injected latency, requests counted per stream "
               f"by the satellite's timed transport ({total:,} in all, {run.requests:,} in the simulator's log; minimum "
               f"{minimum['total']:,}, assumptions in section 1); {run.records:,} records; CPU s (user + system) satellite / "
               f"simulator / receiver {run.cpu_satellite:.0f} / {run.cpu_simulator:.0f} / {run.cpu_receiver:.0f} (satellite: "
               f"{run.cpu_satellite / max(run.records, 1) * 1e6:.0f} µs a record, {run.cpu_satellite / max(total, 1) * 1e3:.2f} ms a "
               f"request); all delivered: {'yes' if run.ok else 'NO'}. Code version `{code_version()}`. Measured by "
               f"`python benchmarks/satellite_bench.py --requests` on: {machine()}.", "",
               table(["stream", "requests", "minimum", "requests / minimum"], rows), ""]
    print("\n".join(section))
    if out is not None:
        write_section(out, REQUESTS_SECTION, section)
        print(f"written to {out} (section {REQUESTS_SECTION!r})")
    return 0


# -- report ---------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), cpu) if Path("/proc/cpuinfo").exists() else cpu
    memory = ""
    if Path("/proc/meminfo").exists():
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    return (f"{os.cpu_count()} cores ({model}){memory}, {platform.python_implementation()} {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def ratio_text(ratio: float, bar: float) -> str:
    """``1.23x``; with three decimals where two would hide the verdict (1.201 against 1.2 is not 1.20)."""
    shown = f"{ratio:.2f}x"
    return shown if (float(shown[:-1]) <= bar) == (ratio <= bar) else f"{ratio:.3f}x"


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small scale, concurrency 8, no file unless --out")
    parser.add_argument("--large", action="store_true", help="also the peak memory of a sync of the large world")
    parser.add_argument("--out", type=Path, default=None, help="Markdown report (default docs/benchmarks.md; none with --quick)")
    parser.add_argument("--sealing-kems", action="store_true",
                        help="only the sealing by KEM (X25519 beside hybrid MLKEM768-X25519); rewrites that section of --out")
    parser.add_argument("--sealing", action="store_true",
                        help="only section 4 (sealing, format v2 against v1, the compression table); rewrites it in --out")
    parser.add_argument("--backfill", type=int, nargs="+", metavar="CONCURRENCY", default=None,
                        help="only section 1 at these concurrencies (wall time: a quiet machine); rewrites it in --out")
    parser.add_argument("--requests", action="store_true",
                        help="only the requests per stream of a backfill without latency, against the minimum; rewrites that section of --out")
    parser.add_argument("--events", action="store_true",
                        help="only the events section: freshness with events against polling, requests per hour (events_bench.py)")
    parser.add_argument("--politeness", action="store_true",
                        help="only the politeness section: fixed and adaptive concurrency against the load model, freshness (politeness_bench.py)")
    parser.add_argument("--memory-only", action="store_true",
                        help="only the peak memory of sync --once (small, medium, large with --large); prints, and with "
                             "--out writes this code version's rows of the 'Peak memory by code version' section")
    parser.add_argument("--label", default=None,
                        help="with --memory-only or --requests and --out: the row label (default: the git commit)")
    args = parser.parse_args(argv)
    scales = ["small"] if args.quick else ["small", "medium"] + (["large"] if args.large else [])  # of peak memory
    if args.memory_only:
        return memory_only(scales, args.out, args.label)
    out = args.out if args.out is not None else (None if args.quick else ROOT / "docs" / "benchmarks.md")
    if args.sealing_kems:
        return sealing_kems_only(out, "small" if args.quick else "medium")
    if args.sealing:
        return sealing_only(out, "small" if args.quick else "medium")
    if args.requests:
        return requests_only(out, "small" if args.quick else "medium", args.label)
    if args.events:
        from events_bench import events_only

        return events_only(out, "tiny" if args.quick else "small")
    if args.politeness:
        from politeness_bench import main as politeness_main

        return politeness_main((["--quick"] if args.quick else []) + (["--out", str(out)] if out is not None else []))
    if args.backfill:
        return backfill_only(out, "small" if args.quick else "medium", args.backfill)
    scale = "small" if args.quick else "medium"
    concurrencies = (8,) if args.quick else CONCURRENCIES
    latency = LATENCY_MS / 1000
    started_all = time.perf_counter()
    with workspace() as (work, keys, receiver, services):
        print(f"minimum requests of the {scale} world (child process) ...", flush=True)
        minimum = compute_minimum(scale)
        print(f"  minimum {minimum['total']} requests, longest chain {minimum['chain']} ({minimum['chain_what']})", flush=True)
        simulator = start_simulator(scale, LATENCY_MS)
        services.append(simulator)
        runs: list[Backfill] = []
        configs: dict[int, Path] = {}
        for concurrency in concurrencies:
            print(f"backfill {scale}, latency {LATENCY_MS:g} ms, concurrency {concurrency} ...", flush=True)
            run, configs[concurrency] = backfill(work, simulator, receiver, keys, concurrency)
            runs.append(run)
            print(f"  {run.wall:.1f} s, {run.requests} requests ({run.requests_client} by the client), {run.records} records,"
                  f" {run.rate:,.0f} records/s, ok={run.ok}", flush=True)
            for error in run.errors[:5]:
                print(f"  error: {error}", flush=True)
        last = concurrencies[-1]
        print(f"second sync with nothing new (concurrency {last}) ...", flush=True)
        quiet = no_change_run(simulator, configs[last])
        print(f"  {quiet['requests']} requests, {quiet['records']} records, {quiet['wall']:.1f} s", flush=True)
        # no latency from here on
        httpx.delete(f"{server_root(simulator.url)}/_sim/faults", timeout=30).raise_for_status()
        print("sealing ...", flush=True)
        sampled = sample_records(simulator.url, 2000 if args.quick else 5000)
        sealed = sealing(sampled, keys)
        print("sealing by KEM ...", flush=True)
        kems = kem_sealing(sampled)
        memory: list[dict] = []
        quiet_small = None
        for memory_scale in scales:
            print(f"peak memory of sync --once, {memory_scale} ...", flush=True)
            if memory_scale == scale:
                sim = simulator
            else:
                sim = start_simulator(memory_scale, 0)
                services.append(sim)
            memory.append(peak_memory(work, sim, receiver, keys, memory_scale))
            print(f"  {memory[-1]['peak_mib']:.0f} MiB, {memory[-1]['records']} records, {memory[-1]['wall']:.0f} s,"
                  f" exit {memory[-1]['exit']}", flush=True)
            if memory_scale != scale and memory_scale == "small":
                print("second sync with nothing new, small (against the medium one: O(1) per repository/project) ...", flush=True)
                quiet_small = no_change_run(sim, memory[-1]["config"])
                print(f"  {quiet_small['requests']} requests, {quiet_small['records']} records", flush=True)
            if sim is not simulator:
                sim.stop()
                services.remove(sim)
        if scale == "small":
            quiet_small = quiet
        report = render(scale, latency, minimum, runs, quiet, quiet_small, memory, sealed, time.perf_counter() - started_all)
        report += render_kems(kems, "Measured in the same run.")
    text = "\n".join(report) + "\n"
    print()
    print(text)
    if out is None:
        return 0
    kept = {heading: _section_text(out, heading) for heading in KEPT_SECTIONS}  # by code version: other runs' rows
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    for heading, section in kept.items():
        if section:
            write_section(out, heading, section)
    print(f"written to {out}")
    if args.quick:
        return 0
    # the same run goes on with the politeness and events sections (each rewrites its own section of ``out``)
    from events_bench import events_only
    from politeness_bench import main as politeness_main

    status = politeness_main(["--out", str(out)])
    return events_only(out, "small") or status


@contextlib.contextmanager
def workspace() -> Iterator[tuple[Path, Any, Service, list[Service]]]:
    """A temporary directory with fresh keys and a running receiver: (directory, keys, receiver,
    services). Every service in ``services`` is stopped at the end and the directory removed."""
    from satellite.sealing.keys import generate_key_files

    print(f"machine: {machine()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="satellite-bench-"))
    services: list[Service] = []
    try:
        keys = generate_key_files(work / "keys")
        receiver = start_receiver(work, keys)
        services.append(receiver)
        yield work, keys, receiver, services
    finally:
        for service in reversed(services):
            service.stop()
        shutil.rmtree(work, ignore_errors=True)


MEMORY_SECTION = "## Peak memory by code version"
KEPT_SECTIONS = (MEMORY_SECTION, REQUESTS_SECTION)  # rows by code version: a full run keeps them as they are


def _section_text(out: Path, heading: str) -> list[str]:
    """The lines of section ``heading`` of ``out`` (empty when it has none)."""
    lines = out.read_text().splitlines() if out.exists() else []
    if heading not in lines:
        return []
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


def code_version() -> str:
    """The commit the benchmark measures (short hash, ``+`` when the tree has changes), or ``?``."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "satellite"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return commit + ("+" if dirty else "")


def memory_only(scales: list[str], out: Path | None = None, label: str | None = None) -> int:
    """Section 3 alone, printed: the peak RSS of ``sync --once`` at each scale and the growth ratios.
    With ``out``: one row per scale of this code version (``label``, default the commit) in the
    "Peak memory by code version" section, rows of other versions kept (so one run before a change and
    one after it make the before/after table)."""
    label = label or code_version()
    rows: list[list[str]] = []
    with workspace() as (work, keys, receiver, services):
        previous = None
        for scale in scales:
            simulator = start_simulator(scale, 0)
            services.append(simulator)
            m = peak_memory(work, simulator, receiver, keys, scale)
            simulator.stop()
            services.remove(simulator)
            ratio = f", {ratio_text(m['peak_mib'] / previous['peak_mib'], 1.2)} the RSS of {previous['scale']} for " \
                    f"{m['records'] / max(previous['records'], 1):.0f}x the records" if previous else ""
            print(f"{scale}: peak RSS {m['peak_mib']:.0f} MiB, {m['records']:,} records, {m['wall']:.0f} s, exit {m['exit']}{ratio}",
                  flush=True)
            rows.append([f"`{label}`", scale, f"{m['records']:,}", f"{m['peak_mib']:.0f}",
                         f"{ratio_text(m['peak_mib'] / previous['peak_mib'], 1.2)} for {m['records'] / max(previous['records'], 1):.0f}x "
                         f"the records" if previous else "-", str(m["exit"])])
            previous = m
    if out is not None:
        kept = [row for row in _section_rows(out, MEMORY_SECTION) if row[0] != f"`{label}`"]
        header = ["code version", "scale", "records", "peak RSS MiB", "against the scale before", "exit"]
        section = [MEMORY_SECTION, "",
                   "`python benchmarks/satellite_bench.py --memory-only [--large] --out docs/benchmarks.md`: peak RSS of "
                   "`sync --once` as in section 3 (default limits, no latency, a fresh data dir), one row per scale and "
                   "code version; a run replaces the rows of its own version and keeps the others (issue 18: before and "
                   f"after the memory changes). Bar: within 1.2x for 10x the records. Last run on: {machine()}.", "",
                   table(header, kept + rows), ""]
        write_section(out, MEMORY_SECTION, section)
        print(f"written to {out} (section {MEMORY_SECTION!r})")
    return 0


def _section_rows(out: Path, heading: str) -> list[list[str]]:
    """The table rows (cells) of section ``heading`` in ``out``, without the header and rule."""
    lines = out.read_text().splitlines() if out.exists() else []
    if heading not in lines:
        return []
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rows = [line for line in lines[start:end] if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def spread(values: list[int]) -> str:
    return (f"{min(values)}" if min(values) == max(values) else f"{min(values)}..{max(values)}") if values else "-"


def render_backfill(scale: str, latency: float, minimum: dict, runs: list[Backfill], how: str = "") -> list[str]:
    """Section 1: the backfill at each concurrency, with latency (``how``: a note on a partial run)."""
    cores = os.cpu_count() or 1
    analyses = {run.concurrency: analyse_timeline(run) for run in runs}
    chain_bound = minimum["chain"] * latency
    ratios = {run.concurrency: run.wall / max(run.bound(latency), chain_bound) for run in runs}
    lines = [f"## 1. Backfill of the `{scale}` world, {latency * 1000:g} ms per request", "",
              f"The simulator (`satellite simulator --scale {scale} --latency-ms {latency * 1000:g}`, no jitter) and the "
              "receiver run in their own processes, the satellite (`sync_once`, default page sizes, services "
              f"{SERVICES}, a fresh data dir, `limits.concurrency` N with `limits.adaptive: false`: N requests in flight, as the "
              "bound assumes) in a child process whose HTTP transport times every request. Requests are "
              "counted in the simulator's request log. Lower bounds: *volume* = requests x latency / concurrency; "
              f"*chain* = {minimum['chain']:,} dependent requests x latency ({minimum['chain_what']}); the bound is "
              f"the larger. Minimum requests at the largest page sizes the server allows: {minimum['total']:,} "
              "(assumptions at the end of this section). CPU is user + system seconds of each process during the run; "
              f"CPU busy = their sum / (wall x {cores} cores).", ""]
    rows = []
    for run in runs:
        cpu = run.cpu_satellite + run.cpu_simulator + run.cpu_receiver
        rows.append([str(run.concurrency), f"{run.wall:.1f}", f"{run.requests:,}", f"{run.records:,}", f"{run.rate:,.0f}",
                     f"{run.bound(latency):.1f}", f"{chain_bound:.1f}", f"**{ratios[run.concurrency]:.2f}x**",
                     f"**{run.requests / minimum['total']:.2f}x**",
                     f"{run.cpu_satellite:.0f} / {run.cpu_simulator:.0f} / {run.cpu_receiver:.0f}",
                     f"{cpu / (run.wall * cores):.0%}", "yes" if run.ok else "NO"])
    lines.append(table(["concurrency", "wall s", "requests", "records", "records/s", "volume bound s", "chain bound s",
                        "wall / bound", "requests / minimum", "CPU s satellite / simulator / receiver", "CPU busy",
                        "all delivered"], rows))
    lines.append("")
    for run in runs:
        a = analyses[run.concurrency]
        longest = max(a["streams"].items(), key=lambda kv: kv[1]["last"] - kv[1]["first"])
        name, entry = longest
        span = entry["last"] - entry["first"]
        lines.append(f"- concurrency {run.concurrency}: mean request {a['mean_latency'] * 1000:.1f} ms (p95 "
                     f"{a['p95_latency'] * 1000:.1f} ms) for {latency * 1000:g} ms injected; {a['in_flight']:.1f} requests in "
                     f"flight on average; last request ends at {a['last_request']:.1f} s of {run.wall:.1f} s. Longest "
                     f"stream: `{name}`, {entry['requests']:,} requests over {span:.1f} s ({entry['busy'] / span if span else 0:.1f}"
                     f" in flight, {span / entry['requests'] * 1000 if entry['requests'] else 0:.0f} ms per request).")
        # where the time goes: wall = requests x mean request / in flight; a request takes longer than the
        # latency injected when the processes want more CPU than the cores have (the satellite: one core
        # at most, its Python threads share the GIL)
        stretched = run.requests * a["mean_latency"] / max(a["in_flight"], 1e-9)
        lines.append(f"  Where the time goes: {run.requests:,} requests x {a['mean_latency'] * 1000:.1f} ms / "
                     f"{a['in_flight']:.1f} in flight = {stretched:.0f} s; at the {latency * 1000:g} ms injected it would be "
                     f"{run.requests * latency / max(a['in_flight'], 1e-9):.0f} s. The satellite used {run.cpu_satellite:.0f} CPU s "
                     f"in {run.wall:.0f} s, {run.cpu_satellite / run.wall:.0%} of the one core its threads can share (the GIL); "
                     f"all three processes {(run.cpu_satellite + run.cpu_simulator + run.cpu_receiver) / (run.wall * cores):.0%} "
                     f"of {cores} cores.")
    lines.append("")
    lines += ["Per stream (requests at the highest concurrency against the minimum; when each stream ran, in seconds from "
              "the start, at each concurrency):", ""]
    top = runs[-1]
    streams = sorted(analyses[top.concurrency]["streams"], key=lambda n: analyses[top.concurrency]["streams"][n]["first"])
    rows = []
    for name in streams:
        entry = analyses[top.concurrency]["streams"][name]
        row = [f"`{name}`", f"{entry['requests']:,}", f"{minimum['per_stream'].get(name, 0):,}"]
        for run in runs:
            e = analyses[run.concurrency]["streams"].get(name)
            row.append(f"{e['first']:.0f}-{e['last']:.0f} ({e['busy'] / max(e['last'] - e['first'], 1e-9):.1f})" if e else "-")
        rows.append(row)
    lines.append(table(["stream", "requests", "minimum"] + [f"c{run.concurrency}: start-end (in flight)" for run in runs], rows))
    lines.append("")
    lines += ["Minimum requests, assumptions:", ""] + [f"- {a}" for a in MINIMUM_ASSUMPTIONS] + [""]
    return lines + ([how, ""] if how else [])


def render(scale: str, latency: float, minimum: dict, runs: list[Backfill], quiet: dict, quiet_small: dict | None,
           memory: list[dict], sealed: dict, seconds: float) -> list[str]:
    cores = os.cpu_count() or 1
    analyses = {run.concurrency: analyse_timeline(run) for run in runs}
    chain_bound = minimum["chain"] * latency
    ratios = {run.concurrency: run.wall / max(run.bound(latency), chain_bound) for run in runs}
    page_ratio = max(run.requests for run in runs) / minimum["total"]
    seal_ms = sealed["parts"][SEAL_NOW] / sealed["records"] * 1000 * 1000
    aes_ms = sealed["parts"]["AES-256-GCM (raw NDJSON, same bytes)"] / sealed["records"] * 1000 * 1000
    by_scale = {m["scale"]: m for m in memory}
    # 10x the records is medium -> large (issue 18); small -> medium is 31x, the figure of a run without --large
    pair = ("medium", "large") if {"medium", "large"} <= set(by_scale) else ("small", "medium")
    growth = by_scale[pair[1]]["peak_mib"] / by_scale[pair[0]]["peak_mib"] if set(pair) <= set(by_scale) else None
    per = quiet["per"]
    # O(1): the most any repository or project costs does not grow with the data (small -> medium),
    # and no reads per pipeline remain; the threads of each open pull request are the one per-item read
    small_per = quiet_small["per"] if quiet_small else None
    fixed = bool(small_per and per["repository"] and per["project"] and not per["pipeline"]
                 and max(per["repository"]) <= max(small_per["repository"]) and max(per["project"]) <= max(small_per["project"]))

    lines = ["# Benchmarks", "",
             "Written by `python benchmarks/satellite_bench.py` (do not edit by hand; run it again): a full run writes "
             "every section but the two kept by code version (peak memory, requests by stream), the politeness and "
             "events sections included; `--large` adds the large world's peak memory (about 30 min more).", "",
             f"Machine: {machine()}. Whole run: {seconds / 60:.1f} min.", "",
             "## Bars (product design, section 6)", ""]
    lines.append(table(["bar", "measured", "verdict"], [
        ["backfill wall time within 1.25x of the lower bound",
         ", ".join(f"{c}: {ratio_text(r, 1.25)}" for c, r in ratios.items()) + " (by concurrency)",
         ", ".join(f"{c}: {verdict(r <= 1.25)}" for c, r in ratios.items())],
        ["issue 18: concurrency 16 within 1.3x of the lower bound",
         f"16: {ratio_text(ratios[16], 1.3)}" if 16 in ratios else "-", verdict(ratios[16] <= 1.3) if 16 in ratios else "-"],
        ["requests within 1.1x of the minimum number of pages",
         f"{max(run.requests for run in runs):,} / {minimum['total']:,} = {page_ratio:.2f}x", verdict(page_ratio <= 1.1)],
        ["no-change sync: O(1) requests per repository or project",
         f"{scale}: per repository {spread(per['repository'])}, per project {spread(per['project'])}"
         + (f" (small: {spread(small_per['repository'])}, {spread(small_per['project'])})" if small_per else "")
         + f"; per YAML pipeline {sum(per['pipeline'])}; plus 1 per open pull request ({len(per['pull request'])})"
         + f" and 1 per YAML environment with a deployment still running ({len(per['environment'])})",
         verdict(fixed) + " for repositories and projects; **not met** for open pull requests, whose threads have no"
         " change signal, and environments with running deployments, whose records change while their run runs (section 2)"],
        ["peak memory flat within 1.2x for 10x data",
         f"{pair[1]}/{pair[0]} {ratio_text(growth, 1.2)}" if growth else "-", verdict(growth is not None and growth <= 1.2) if growth else "-"],
        ["sealing not the bottleneck; CPU per record; beside raw AES-256-GCM",
         f"{seal_ms:.1f} CPU ms per 1,000 records (AES-256-GCM alone: {aes_ms:.2f})",
         "reported (section 4)"],
    ]))
    lines.append("")
    # 1
    lines += render_backfill(scale, latency, minimum, runs)
    top = runs[-1]
    # 2
    owners = quiet["owners"]
    lines += ["## 2. Second sync with nothing new", "",
              f"Over the data dir of the concurrency-{runs[-1].concurrency} backfill, same simulator: {quiet['requests']:,} "
              f"requests, {quiet['records']} records, {quiet['wall']:.1f} s, all delivered: {'yes' if quiet['ok'] else 'NO'}.", ""]
    small_routes = quiet_small["routes"] if quiet_small else None
    rows = [["collection", "1", str(sum(quiet["routes"]["collection"].values())), "-",
             str(sum(small_routes["collection"].values())) if small_routes else "-"]]
    for scope, plural in (("project", "projects"), ("repository", "repositories"), ("team", "teams"),
                          ("pull request", "open pull requests"), ("pipeline", "YAML pipelines"),
                          ("environment", "environments with running deployments")):
        values = per[scope]
        count = owners.get(scope, len(values))
        small = ""
        if quiet_small:
            small_values = quiet_small["per"][scope]
            small = f"{quiet_small['owners'].get(scope, len(small_values))} {plural}: {spread(small_values)}"
        rows.append([f"per {scope}", f"{count} {plural}", str(sum(values)), spread(values), small or "-"])
    lines.append(table(["scope", "items (medium)", "requests", "per item", "small: items, per item"], rows))
    lines.append("")
    lines += ["What each project costs is one call per list it owns (two for pull requests, newest and active; four "
              "for builds: completed since, still open, and for the runs of YAML pipelines builds queued and "
              "finished since), the same at both scales. The threads of an open pull request are read on every "
              "sync: a new comment changes nothing else the API shows (the pull request list has no update time, "
              "there is no cross-PR thread query), so one call per open pull request is the price of seeing comments "
              "while a review is going on; closed pull requests cost nothing. Likewise a YAML environment with a "
              "deployment record still open (its job queued or running) is read each sync until the record finishes: "
              "it changes while its run runs, and the run's build shows no change per job.", ""]
    rows = [[scope, f"`{route}`", str(n)] for scope in QUIET_SCOPES for route, n in quiet["routes"][scope].items()]
    lines.append(table(["scope", "route", "requests"], rows))
    lines.append("")
    # 3
    lines += ["## 3. Peak memory of `satellite sync --once`", "",
              "A subprocess with the default limits (concurrency 4, batches of 5,000 records / 4 MiB), a fresh data dir, "
              "no injected latency; peak RSS = the `VmHWM` of that process, polled every 50 ms (see `peak_memory` for why "
              "not `wait4`).", ""]
    rows = [[m["scale"], f"{m['records']:,}", f"{m['peak_mib']:.0f}", f"{m['wall']:.0f}", str(m["exit"])] for m in memory]
    lines.append(table(["scale", "records", "peak RSS MiB", "wall s", "exit"], rows))
    lines.append("")
    for small, big in (("small", "medium"), ("medium", "large")):
        if small in by_scale and big in by_scale:
            a, b = by_scale[small], by_scale[big]
            ratio = b["peak_mib"] / a["peak_mib"]
            lines.append(f"- {big}/{small}: {b['records'] / max(a['records'], 1):.0f}x the records, peak RSS {ratio_text(ratio, 1.2)} "
                         f"(bar: within 1.2x): {verdict(ratio <= 1.2)}")
    lines.append("")
    # 4
    top_cpu_share = seal_ms / 1000 / 1000 * top.records / top.cpu_satellite if top.cpu_satellite else 0
    lines += render_sealing(sealed)
    lines.append(f"At that rate the {top.records:,} records of the concurrency-{top.concurrency} backfill need about "
                 f"{seal_ms * top.records / 1e6:.0f} CPU s, {top_cpu_share:.0%} of the satellite's {top.cpu_satellite:.0f} "
                 "CPU s in that run.")
    lines.append("")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
