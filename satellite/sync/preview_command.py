"""``satellite preview``: what the satellite would seal for a selection, shown or written as NDJSON.

    satellite preview -c FILE [--integration I] [--stream S ...] [--limit N] [--max-requests R] [--out DIR]

Reads a sample (``sync/preview.py``: at most N records per stream, from no cursor, with at most R
requests per stream: a stream that must read more before its first records, such as the work item
comments' walk of every revision, shows what it had and says it stopped), shapes it with
the configured privacy policy exactly as the sealing path does, and prints each record readably,
or with ``--out`` writes ``DIR/<integration>/<stream>.ndjson``: every line the very bytes
(``ndjson_line``) a batch's plaintext holds for that record, which SEI decrypts. Nothing is stored
or sent and the data dir is never written (no store, cursor, outbox or lock): it is safe beside a
running agent. The policy's secret is read from the data dir; if the agent has not made it yet,
the preview says so and stops.

Exit codes: 0 the sample was read, 1 a server error (the stream, collection and route are named;
the other streams are still shown), 2 an unknown integration or stream (the valid ones are listed).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, TextIO

from satellite.ado.client import AdoClient, TlsOptions
from satellite.errors import AdoError
from satellite.retrying import RetryPolicy
from satellite.sealing.batch_format import ndjson_line
from satellite.streams import STREAMS, ProjectsStream
from satellite.streams.git import RepositoriesStream
from satellite.privacy.scope import REPOSITORY_KEYED, ScopeFilter
from satellite.sync.collector import collection_targets
from satellite.sync.preview import (
    DEFAULT_MAX_REQUESTS,
    ListingScope,
    Sampler,
    StreamSample,
    sample_page_sizes,
)
from satellite.sync.preview_policy import PolicyUnavailable, load_policy

__all__ = ["DEFAULT_LIMIT", "Selected", "SelectionError", "preview", "render_sample", "run_preview", "select", "write_samples"]

DEFAULT_LIMIT = 20


class SelectionError(ValueError):
    """An integration or stream the config does not have (str(): what is valid)."""


@dataclass(frozen=True, slots=True)
class Selected:
    """One integration and the streams of it to sample, in run order (``enabled``: all it runs)."""

    integration: object
    streams: tuple
    enabled: tuple


def enabled_streams(integration) -> list:
    """The streams a sync runs for ``integration``, in run order (as ``Collector`` builds them)."""
    return [ProjectsStream(integration.projects.matches) if cls is ProjectsStream else cls()
            for cls in STREAMS if cls.service == "core" or cls.service in integration.services]


def select(config, integration_id: str | None, stream_names: Iterable[str] | None) -> list[Selected]:
    """The selection, or ``SelectionError`` naming the valid integrations or streams."""
    integrations = list(config.integrations)
    if integration_id is not None:
        integrations = [i for i in integrations if i.id == integration_id]
        if not integrations:
            valid = ", ".join(i.id for i in config.integrations)
            raise SelectionError(f"unknown integration {integration_id!r}; the config has: {valid}")
    wanted = list(dict.fromkeys(stream_names or ()))
    selected = []
    for integration in integrations:
        enabled = enabled_streams(integration)
        names = [s.name for s in enabled]
        for name in wanted:
            if name not in names:
                known = next((cls for cls in STREAMS if cls.name == name), None)
                why = (f"stream {name!r} is not collected by integration {integration.id!r} (service {known.service!r} is not"
                       " enabled)" if known else f"unknown stream {name!r}")
                raise SelectionError(f"{why}; integration {integration.id!r} collects: {', '.join(names)}")
        streams = tuple(s for s in enabled if not wanted or s.name in wanted)
        selected.append(Selected(integration, streams, tuple(enabled)))
    return selected


def preview(config, selection: list[Selected], limit: int, policy_of: Callable[[object], object], *,
            max_requests: int = DEFAULT_MAX_REQUESTS, retry: RetryPolicy = RetryPolicy(),
            transport_factory=None) -> list[StreamSample]:
    """A sample of each selected stream, collections one after the other (a stream's ``limit`` counts
    across the collections of its integration). ``policy_of(integration)``: its privacy policy
    (``apply``; ``repository_in_scope`` if it has scope filters), one for all its streams as in a sync."""
    samples: list[StreamSample] = []
    page_sizes = sample_page_sizes(config.limits.page_sizes, limit)
    timeout = config.limits.request_timeout.total_seconds()
    for chosen in selection:
        integration = chosen.integration
        policy = policy_of(integration)
        scope = listing_scope(integration, config.limits, policy)
        tls = TlsOptions(verify=integration.tls.verify, ca_bundle=integration.tls.ca_bundle)
        got: dict[str, int] = {}
        try:
            targets = collection_targets(integration, tls, integration.proxy, timeout, retry)
        except AdoError as exc:
            samples.append(StreamSample(integration.id, "", "core.collections", (), 0, error=str(exc)))
            continue
        for target in targets:
            client = AdoClient(target, integration.pat, tls=tls, proxy=integration.proxy, timeout=timeout, retry=retry,
                               max_connections=1, transport=transport_factory() if transport_factory else None)
            with client:
                sampler = Sampler(integration, client, page_sizes, policy.apply, overlap=config.limits.cursor_overlap,
                                  max_requests=max_requests, scope=scope)
                for stream in chosen.streams:
                    remaining = limit - got.get(stream.name, 0)
                    if remaining <= 0:
                        continue
                    sample = sampler.sample(stream, list(chosen.enabled), remaining)
                    got[stream.name] = got.get(stream.name, 0) + len(sample.records)
                    samples.append(sample)
    return samples


def listing_scope(integration, limits, policy) -> ListingScope:
    """The collector's own scope filters (its listing filter and the repositories it excluded), so a
    preview leaves out exactly what a sync leaves out before the policy sees a record."""
    if getattr(policy, "is_identity", True):
        return ListingScope()
    scope = ScopeFilter(policy)
    return ListingScope(scope.listing, scope.records, {REPOSITORY_KEYED: RepositoriesStream})


def _summary(sample: StreamSample) -> str:
    where = f" ({sample.collection})" if sample.collection else ""
    if sample.skipped:
        return f"{sample.integration_id} {sample.stream}{where}: skipped, {sample.skipped}"
    extra = "".join(f", {n} {what}" for n, what in ((sample.out_of_scope, "out of the policy's scope"),
                                                      (sample.quarantined, "quarantined")) if n)
    if sample.stopped:
        extra += "; stopped at the request budget (--max-requests) before the sample was complete"
    return (f"{sample.integration_id} {sample.stream}{where}: {len(sample.records)} record(s) from {sample.parents} partition(s),"
            f" {sample.requests} request(s){extra}")


def render_sample(sample: StreamSample, out: TextIO) -> None:
    """A readable dump: a line naming the sample, then each record as the JSON SEI receives, indented."""
    print(f"== {_summary(sample)}", file=out)
    for record in sample.records:
        print(json.dumps(record.to_json(), indent=2, ensure_ascii=False, sort_keys=False), file=out)


def write_samples(samples: list[StreamSample], directory: Path) -> dict[tuple[str, str], Path]:
    """``directory/<integration>/<stream>.ndjson`` per stream: the lines a sealed batch holds for these
    records, byte for byte (a stream sampled in several collections: one file, collections in order)."""
    lines: dict[tuple[str, str], list[bytes]] = {}
    for sample in samples:
        if sample.skipped or sample.stream == "core.collections":
            continue
        lines.setdefault((sample.integration_id, sample.stream), []).extend(ndjson_line(r.to_json()) for r in sample.records)
    written = {}
    for (integration_id, stream), body in lines.items():
        path = directory / integration_id / f"{stream}.ndjson"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(body))
        written[(integration_id, stream)] = path
    return written


def _inside(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory.resolve())
        return True
    except ValueError:
        return False


def run_preview(config, *, integration: str | None, streams: list[str] | None, limit: int, out: Path | None,
                max_requests: int = DEFAULT_MAX_REQUESTS, policy=None, stdout: TextIO | None = None,
                stderr: TextIO | None = None, transport_factory=None) -> int:
    """The command: exit 0, 1 (a server error) or 2 (a bad selection, ``--out`` in the data dir, no secret yet)."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    if limit < 1 or max_requests < 1:
        print("preview: --limit and --max-requests must be at least 1", file=stderr)
        return 2
    if out is not None and _inside(out, Path(config.satellite.data_dir)):
        print(f"preview: --out {out} is inside the data dir {config.satellite.data_dir}; the preview never writes there",
              file=stderr)
        return 2
    try:
        selection = select(config, integration, streams)
    except SelectionError as exc:
        print(f"preview: {exc}", file=stderr)
        return 2
    try:
        policies = {chosen.integration.id: policy or load_policy(config, chosen.integration) for chosen in selection}
    except PolicyUnavailable as exc:
        print(f"preview: {exc}", file=stderr)
        return 2
    samples = preview(config, selection, limit, lambda integration: policies[integration.id], max_requests=max_requests,
                      transport_factory=transport_factory)
    fingerprints = "; ".join(f"{i}: {getattr(p, 'fingerprint', '?')}" for i, p in policies.items())
    if out is None:
        print(f"# privacy policy ({fingerprints}); at most {limit} record(s) per stream; nothing stored or sent", file=stdout)
        for sample in samples:
            if not sample.error:
                render_sample(sample, stdout)
    else:
        written = write_samples(samples, out)
        for sample in samples:
            if not sample.error:
                path = written.get((sample.integration_id, sample.stream))
                print(_summary(sample) + (f" -> {path}" if path else ""), file=stdout)
        print(f"privacy policy ({fingerprints})", file=stdout)
    errors = [s for s in samples if s.error]
    for sample in errors:
        where = f" {sample.collection}" if sample.collection else ""
        print(f"  error: {sample.integration_id}{where} {sample.stream}: {sample.error}", file=stderr)
    return 1 if errors else 0
