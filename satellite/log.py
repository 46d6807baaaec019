"""Logging: structlog, JSON lines off a terminal, readable console output on one, secrets redacted.

Call ``configure_logging()`` once at start-up; get loggers with ``structlog.get_logger()``.
``log_to_file(config.log)`` adds a local file (JSON lines, rotated by size by the standard
library's ``RotatingFileHandler``) with the same events, redacted the same way.
The redaction processor runs last before rendering, so nothing reaches stdout unscrubbed:
values under sensitive keys are masked, and every known secret value (see
``satellite.secret``) is replaced wherever it appears in any string, exception text included.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import threading
from typing import Any

import structlog

from satellite.secret import MASK, Secret, known_secret_values

__all__ = ["SENSITIVE_KEYS", "close_log_file", "configure_logging", "log_to_file", "redact", "redact_text"]

SENSITIVE_KEYS = frozenset(
    {"pat", "token", "authorization", "password", "secret", "api_key", "apikey", "private_key", "cookie"}
)
_BASIC_AUTH = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
_URL_USERINFO = re.compile(r"(?i)(https?://)[^/@\s:]+:[^/@\s]+@")


def redact_text(text: str) -> str:
    """Remove every known secret value and credential-shaped fragment from ``text``."""
    for value in sorted(known_secret_values(), key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    text = _BASIC_AUTH.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _URL_USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)


def _redact_value(key: str | None, value: Any) -> Any:
    if key is not None and key.lower() in SENSITIVE_KEYS:
        return MASK
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(None, v) for v in value]
    return value


def redact(logger: Any, method_name: str, event_dict: dict) -> dict:
    """structlog processor: mask sensitive keys and scrub secret values everywhere."""
    return {k: _redact_value(k, v) for k, v in event_dict.items()}


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """The standard library's rotation; each new file made 0600 (logs name projects and repositories)."""

    def _open(self):
        return open(self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors,
                    opener=lambda path, flags: os.open(path, flags, 0o600))


class _FileSink:
    """The log file: every event as one JSON line, rotated at ``max_bytes`` keeping ``backups`` files."""

    def __init__(self, path, max_bytes: int, backups: int) -> None:
        self.handler = _PrivateRotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self.handler.setFormatter(_FileFormatter())
        self._render = structlog.processors.JSONRenderer()

    def write(self, event_dict: dict) -> None:
        line = self._render(None, "", dict(event_dict))
        self.handler.handle(logging.makeLogRecord({"msg": line, _RENDERED: True}))

    def close(self) -> None:
        self.handler.close()


_RENDERED = "satellite_rendered"  # a LogRecord attribute: the message is a structlog event rendered already


class _FileFormatter(logging.Formatter):
    """structlog's events as rendered; stdlib records (third-party libraries) rendered as JSON, redacted."""

    def __init__(self) -> None:
        super().__init__()
        self._foreign = structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact,
                        structlog.processors.JSONRenderer()],
            foreign_pre_chain=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True)],
        )

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage() if getattr(record, _RENDERED, False) else self._foreign.format(record)


_sink: _FileSink | None = None
_sink_lock = threading.Lock()


def _to_file(logger: Any, method_name: str, event_dict: dict) -> dict:
    """structlog processor (after redaction): a copy of the event to the log file, if there is one."""
    sink = _sink
    if sink is not None:
        sink.write(event_dict)
    return event_dict


def log_to_file(settings: Any) -> bool:
    """Also write every event to ``settings.file`` (the config's ``log:`` section) as JSON lines, rotated
    at ``settings.max_bytes`` keeping ``settings.backups`` files; nothing when ``file`` is not set.
    A file that cannot be opened is logged (to the stream) and skipped: False."""
    global _sink
    if settings is None or settings.file is None:
        return False
    try:
        settings.file.parent.mkdir(parents=True, exist_ok=True)
        sink = _FileSink(settings.file, settings.max_bytes, settings.backups)
    except OSError as exc:
        structlog.get_logger(__name__).warning("log_file_unusable", file=str(settings.file),
                                               error=exc.strerror or type(exc).__name__)
        return False
    with _sink_lock:
        previous, _sink = _sink, sink
        root = logging.getLogger()
        if previous is not None:
            root.removeHandler(previous.handler)
        root.addHandler(sink.handler)
    if previous is not None:
        previous.close()
    return True


def close_log_file() -> None:
    """Stop writing the log file (tests; the process's end closes it anyway)."""
    global _sink
    with _sink_lock:
        sink, _sink = _sink, None
        if sink is not None:
            logging.getLogger().removeHandler(sink.handler)
    if sink is not None:
        sink.close()


def configure_logging(level: str = "info", *, json_output: bool | None = None, stream=None) -> None:
    """Set up structlog (and route stdlib logging through the same redaction).

    Args:
        level: minimum level name.
        json_output: force JSON (True) or console (False); default: JSON unless stdout is a TTY.
        stream: where to write; default stdout.
    """
    target = stream  # None: whatever sys.stdout is when a line is written (it may be replaced later)
    stream = stream or sys.stdout
    if json_output is None:
        json_output = not stream.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_output
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # Tracebacks become data before redaction sees them; locals are never rendered.
        structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False))
        if json_output
        else structlog.processors.format_exc_info,
    ]
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    structlog.configure(
        processors=[*shared, redact, _to_file, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=target),
        cache_logger_on_first_use=False,
    )
    # Third-party libraries log through stdlib logging: same redaction, same output.
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact, renderer],
            foreign_pre_chain=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True)],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler] + ([_sink.handler] if _sink is not None else [])
    root.setLevel(max(numeric, logging.WARNING))
