"""Fixtures every test folder may use; the helpers behind them are in ``tests/support.py``.

- ``key_files``: a fresh set of the satellite's and SEI's key files (``tmp_path/keys``).
- ``env``: the environment a test config reads its API key from.
- ``receiver``: the reference SEI receiver on loopback, holding ``key_files``; closed afterwards.
- every test meets the servers it talks to with fresh politeness gates (``satellite/politeness``),
  and leaves the logging configuration as it found it (a test that pointed structlog at a stream
  pytest closes afterwards must not break a later test's log line).
- ``httpx_mock`` (pytest-httpx) also answers the requests of the satellite's libcurl lanes
  (``satellite.http_curl``): pytest-httpx replaces httpx's own transport only.
- the session fails if it leaves a ``satellite-*`` entry in the system's temporary directory that
  was not there when it started (tests clean up every file they make; ``tmp_path`` is pytest's).

Imports are inside the fixtures so that a folder which uses none of them (the unit tests) does
not load the stand-ins.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

_TEMP_PREFIX = "satellite-"
_TEMP_KEY = pytest.StashKey[set]()
_BENCHMARK_PREFIXES = ("satellite-bench", "satellite-events-")  # benchmarks/ may run beside the tests


def _our_temp_entries() -> set[str]:
    return {path.name for path in Path(tempfile.gettempdir()).glob(_TEMP_PREFIX + "*")
            if not path.name.startswith(_BENCHMARK_PREFIXES)}


def pytest_sessionstart(session):
    session.config.stash[_TEMP_KEY] = _our_temp_entries()


def pytest_sessionfinish(session, exitstatus):
    before = session.config.stash.get(_TEMP_KEY, None)
    if before is None:
        return
    leaked = sorted(_our_temp_entries() - before)
    if leaked:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"the tests left {len(leaked)} temporary entries behind: {', '.join(leaked)}"
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _fresh_politeness_gates():
    """A simulator on a port an earlier test's used must not inherit its learnt limit or pause."""
    from satellite.politeness.gate import forget_gates

    forget_gates()


@pytest.fixture(autouse=True)
def _logging_restored():
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def httpx_mock(httpx_mock, monkeypatch):
    """pytest-httpx's mock, answering for ``CurlTransport`` as for ``httpx.HTTPTransport`` (which it has patched)."""
    import httpx

    from satellite.http_curl import CurlTransport

    monkeypatch.setattr(CurlTransport, "handle_request", httpx.HTTPTransport.handle_request)
    return httpx_mock


@pytest.fixture
def key_files(tmp_path):
    from satellite.sealing.keys import generate_key_files

    return generate_key_files(tmp_path / "keys")


@pytest.fixture
def env() -> dict[str, str]:
    from tests.support import API_KEY, API_KEY_ENV

    return {API_KEY_ENV: API_KEY}


@pytest.fixture
def receiver(tmp_path, key_files):
    from tests.support import MiB, start_receiver

    started = start_receiver(tmp_path / "receiver", key_files, max_batch_bytes=2 * MiB)
    yield started
    started.close()
