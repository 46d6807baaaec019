"""Build the support bundle of a satellite: gather every part (``sections``), then assemble
(``assembly``: scrubbed, with a manifest) into tar.gz bytes.

    data = build_bundle(config)                 # bytes of a .tar.gz
    path = write_bundle(config, Path("b.tar.gz"))

``build_bundle`` is what ``satellite support-bundle`` and SEI's ``upload_support_bundle`` command
both call; inside the agent pass its ``store`` (otherwise the data dir's store is opened and closed).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from satellite import __version__
from satellite.secret import Secret, known_secret_values
from satellite.store.database import DATABASE_NAME
from satellite.support import sections
from satellite.support.assembly import Part, assemble, bundle_root

__all__ = ["DEFAULT_LOG_LINES", "README", "build_bundle", "config_secrets", "default_bundle_name", "write_bundle"]

DEFAULT_LOG_LINES = 1000

README = """\
SEI satellite support bundle
============================
manifest.json    who, when, every member with its size and SHA-256, what could not be gathered
config.yaml      the configuration as loaded, defaults filled in; each secret shown as where it comes
                 from (${env:NAME}, ${file:PATH}), never its value
versions.json    satellite, Python, platform, libraries, batch formats, store schema, the server
                 version each integration detected, what SEI last announced (version skew)
check.json       satellite check --json, run when the bundle was made
status.json      satellite status --json
outbox.json      the outbox and dead letters: ids, streams, counts, sizes, reasons; no content
store-integrity.json  SQLite's integrity check of the store (read-only)
metrics.txt      /metrics as this process renders it (the store's gauges included)
log-tail.txt     the last lines of the local log file (log.file), when one is configured
Every member was scrubbed of every secret value the satellite holds. No record, batch body or key
is included.
"""


def config_secrets(config: Any) -> set[str]:
    """Every secret value held by ``config`` (walking its models), for the final scrub."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, Secret):
            found.add(value.reveal())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(config)
    return found


def _part(name: str, gather: Callable[[], bytes]) -> Part:
    try:
        return Part(name, gather())
    except Exception as exc:  # noqa: BLE001 - one part failing must not lose the others; scrubbed on assembly
        return Part(name, error=f"{type(exc).__name__}: {exc}")


def _gather(config: Any, store: Any, *, include_check: bool, log_lines: int, thorough: bool) -> Iterator[Part]:
    db_path = Path(config.satellite.data_dir) / DATABASE_NAME
    yield Part("README.txt", README.encode())
    yield _part("config.yaml", lambda: sections.config_yaml(config))
    schema: dict[str, int | None] = {"version": None}

    def integrity() -> bytes:
        report, schema["version"] = sections.integrity_json(db_path, thorough)
        return report

    integrity_part = _part("store-integrity.json", integrity)
    yield _part("versions.json", lambda: sections.versions(store, schema["version"], config.satellite))
    yield _part("check.json", lambda: sections.check_json(config)) if include_check else Part(
        "check.json", b'{"skipped": "not run (--no-check)"}\n')
    yield _part("status.json", lambda: sections.status_json(store))
    yield _part("outbox.json", lambda: sections.outbox_json(store, db_path))
    yield integrity_part
    yield _part("metrics.txt", lambda: sections.metrics_text(store))
    yield _part("log-tail.txt", lambda: sections.log_tail(getattr(config, "log", None), log_lines))


def build_bundle(
    config: Any,
    *,
    store: Any = None,
    include_check: bool = True,
    log_lines: int = DEFAULT_LOG_LINES,
    thorough_integrity: bool = True,
    now: float | None = None,
) -> bytes:
    """The support bundle of the satellite ``config`` describes, as tar.gz bytes.

    Args:
        store: the process's open ``Store`` (the agent's); default: the data dir's, opened and closed here.
        include_check: run ``satellite check`` (connects to every server and SEI, a few seconds).
        log_lines: how many of the local log file's last lines to include.
        thorough_integrity: ``PRAGMA integrity_check`` (else ``quick_check``, faster on a large store).
    """
    created_at = time.time() if now is None else now
    owned = None
    if store is None:
        from satellite.store import Store

        try:
            store = owned = Store(config.satellite.data_dir)
        except Exception:  # noqa: BLE001 - the parts that need it say why; the rest is still useful
            store = None
    try:
        parts = list(_gather(config, store, include_check=include_check, log_lines=log_lines, thorough=thorough_integrity))
        if store is None:
            parts = [p if p.name not in ("status.json", "outbox.json", "metrics.txt") else
                     Part(p.name, error="the store could not be opened (see store-integrity.json)") for p in parts]
    finally:
        if owned is not None:
            owned.close()
    identity = {
        "satellite_id": config.satellite.id,
        "tenant": config.satellite.tenant,
        "version": __version__,
        "host": socket.gethostname(),
        "config_file": str(config.source),
        "data_dir": str(config.satellite.data_dir),
    }
    return assemble(parts, secrets=config_secrets(config) | known_secret_values(), identity=identity,
                    created_at=created_at)


def default_bundle_name(config: Any, now: float) -> str:
    return bundle_root(config.satellite.id, now) + ".tar.gz"


def write_bundle(config: Any, out: Path | None = None, **options: Any) -> Path:
    """Build the bundle and write it to ``out`` (default: ``satellite-support-<id>-<time>.tar.gz`` in the
    current directory), mode 0600, whole or not at all."""
    now = options.pop("now", None) or time.time()
    data = build_bundle(config, now=now, **options)
    out = Path(out) if out is not None else Path(default_bundle_name(config, now))
    partial = out.with_name(out.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return out
