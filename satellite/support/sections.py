"""What goes into the support bundle, each gathered from where it lives (the I/O side).

Every function returns the bytes of one member; none reads a record's content, a batch's body or
a key file: the config is shown as loaded (secrets as their references), the outbox and dead
letters by id, size and reason, the store by SQLite's own integrity check (read-only).
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
import sqlite3
import ssl
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from satellite import __version__
from satellite.support.redaction import config_with_sources

__all__ = [
    "DISTRIBUTION",
    "check_json",
    "config_yaml",
    "dependency_versions",
    "integrity_json",
    "log_tail",
    "metrics_text",
    "outbox_json",
    "read_only",
    "status_json",
    "versions",
]

DISTRIBUTION = "sei-satellite"
# the agent's own dependencies, by import name, when the distribution's metadata is not installed
_FALLBACK_REQUIREMENTS = ("pyyaml", "httpx", "tenacity", "apscheduler", "cryptography", "structlog", "pydantic",
                          "prometheus-client", "orjson", "zstandard")
MAX_OUTBOX_ROWS = 1000


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, default=str) + "\n").encode()


class _Dumper(yaml.SafeDumper):
    """Multi-line text (PEM) as a literal block."""


_Dumper.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


def config_yaml(config: Any) -> bytes:
    """The effective configuration (defaults filled in) with every secret shown as the reference
    the file reads it from (``${env:ADO_PAT}``, ``${file:/run/secrets/pat}``), never its value."""
    try:
        raw = yaml.safe_load(Path(config.source).read_text(encoding="utf-8-sig")) if Path(config.source).is_file() else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raw = None  # every secret is then shown as *** only
    shown = config_with_sources(config.model_dump(mode="json"), raw)
    head = (f"# The configuration loaded from {config.source}, defaults filled in. Secrets are shown as where\n"
            "# they come from (${env:NAME}, ${file:PATH}); a value written in the file itself is ***.\n")
    return (head + yaml.dump(shown, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)).encode()


def dependency_versions(distribution: str = DISTRIBUTION) -> dict[str, str | None]:
    """Installed version of each requirement of the agent (and of its stand-ins extra); None: not installed."""
    try:
        requirements = [r for r in importlib.metadata.requires(distribution) or ()
                        if "extra ==" not in r or "standins" in r]
    except importlib.metadata.PackageNotFoundError:
        requirements = list(_FALLBACK_REQUIREMENTS)
    names = sorted({m.group(0).lower() for r in requirements if (m := re.match(r"[A-Za-z0-9._-]+", r))})
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def versions(store: Any, store_version: int | None, settings: Any = None) -> bytes:
    """The satellite, Python, platform, libraries, batch formats, the store's schema, the server
    version each integration detected and what SEI last announced (version skew)."""
    from satellite.store import INTEGRATION_VERSION
    from satellite.version_skew import batch_formats, current_skew

    servers = {key[len(INTEGRATION_VERSION):]: json.loads(value)
               for key, value in sorted(store.get_states(INTEGRATION_VERSION).items())} if store is not None else None
    return _json({
        "satellite": __version__,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "openssl": ssl.OPENSSL_VERSION,
        "dependencies": dependency_versions(),
        "batch_formats": batch_formats(settings),
        "store_schema_version": store_version,
        "servers_detected": servers,
        "sei_announcement": asdict(current_skew(store)) if store is not None else None,
    })


def check_json(config: Any) -> bytes:
    """``satellite check --json``: every connection, credential, scope and key, tried now."""
    from satellite.check import render_json, run_checks

    return (render_json(run_checks(config)) + "\n").encode()


def status_json(store: Any) -> bytes:
    """``satellite status --json``."""
    from satellite.agent.status import read_status

    return (read_status(store).to_json() + "\n").encode()


@contextmanager
def read_only(db_path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the store's database (never creates or changes it)."""
    conn = sqlite3.connect(f"{Path(db_path).absolute().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        yield conn
    finally:
        conn.close()


def outbox_json(store: Any, db_path: Path, limit: int = MAX_OUTBOX_ROWS) -> bytes:
    """The outbox's totals and its oldest ``limit`` batches, every dead letter: ids, streams, counts,
    sizes, times and the refusal's status and reason; never a batch's body."""
    stats = store.outbox_stats()
    with read_only(db_path) as conn:
        rows = conn.execute(
            "SELECT batch_id, integration_id, stream, seq, record_count, size, created_at FROM outbox"
            " ORDER BY created_at, stream, seq LIMIT ?", (limit,)).fetchall()
    columns = ("batch_id", "integration_id", "stream", "seq", "record_count", "size", "created_at")
    return _json({
        "outbox": asdict(stats),
        "batches": [dict(zip(columns, row)) for row in rows],
        "batches_listed": len(rows),
        "dead_letters": [asdict(d) for d in store.dead_letters()],
    })


def integrity_json(db_path: Path, thorough: bool = True) -> tuple[bytes, int | None]:
    """SQLite's ``PRAGMA integrity_check`` (``quick_check`` unless ``thorough``) of the store, read-only,
    with its page figures and file sizes; and the store's schema version."""
    db_path = Path(db_path)
    check = "integrity_check" if thorough else "quick_check"
    with read_only(db_path) as conn:
        result = [row[0] for row in conn.execute(f"PRAGMA {check}(100)")]
        figures = {name: conn.execute(f"PRAGMA {name}").fetchone()[0]
                   for name in ("user_version", "page_size", "page_count", "freelist_count", "journal_mode")}
        foreign = conn.execute("PRAGMA foreign_key_check").fetchall()
    files = {p.name: p.stat().st_size for p in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")) if p.exists()}
    report = {"check": check, "ok": result == ["ok"], "result": result, "foreign_key_problems": len(foreign),
              **figures, "files": files}
    return _json(report), figures["user_version"]


def metrics_text(store: Any) -> bytes:
    """``/metrics`` as this process renders it now, with the store's gauges (outbox, streams, version skew)."""
    from prometheus_client import generate_latest

    from satellite.metrics import REGISTRY, StoreCollector

    collector = StoreCollector(store)
    try:
        REGISTRY.register(collector)
        added = True
    except ValueError:  # the agent's HTTP endpoint has registered the store's gauges already
        added = False
    try:
        return generate_latest(REGISTRY)
    finally:
        if added:
            REGISTRY.unregister(collector)


def _last_lines(path: Path, count: int) -> list[str]:
    with path.open(encoding="utf-8", errors="replace") as lines:
        return list(deque(lines, maxlen=count))


def log_tail(settings: Any, count: int) -> bytes:
    """The last ``count`` lines of the local log file (``log.file``), from its rotated files as well
    when the current one holds fewer; a note when none is configured."""
    if settings is None or settings.file is None:
        return b"no local log file is configured (log.file): the satellite logs to stdout only\n"
    path = Path(settings.file)
    files = [path] + [Path(f"{path}.{i}") for i in range(1, settings.backups + 1)]
    chunks: list[list[str]] = []
    wanted = count
    for file in files:  # newest first
        if wanted <= 0:
            break
        if file.is_file():
            chunk = _last_lines(file, wanted)
            chunks.insert(0, chunk)
            wanted -= len(chunk)
    if not chunks:
        return f"the log file {path} does not exist (yet)\n".encode()
    return "".join(line if line.endswith("\n") else line + "\n" for chunk in chunks for line in chunk).encode()
