"""Fixtures of the browser tests: a real headless Chromium from the Debian packages.

- ``chromium``: the browser's path: ``$SATELLITE_CHROMIUM``, else ``chromium`` on PATH, else
  installed by ``scripts/install-chromium.sh`` (apt-get; never a download from a CDN). Skipped,
  saying why, only when it cannot be installed (not root); a failed apt-get is a failure.
- ``browser``: one Chromium for the session, driven over the DevTools pipe (``tests/browser/cdp.py``).
- ``artifact``: where tests keep what a human should look at (screenshots, pages):
  ``$PYTEST_ARTIFACTS`` or ``tests/browser/artifacts/`` (git-ignored); the paths written are
  listed at the end of the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.browser.cdp import Browser

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "scripts" / "install-chromium.sh"
_WRITTEN: list[Path] = []


@pytest.fixture(scope="session")
def chromium() -> str:
    given = os.environ.get("SATELLITE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if given:
        return given
    done = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True, timeout=540)
    if done.returncode == 2:
        pytest.skip(f"headless Chromium is not installed and cannot be: {done.stderr.strip()}")
    if done.returncode != 0:
        pytest.fail(f"{INSTALLER.name} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def browser(chromium, tmp_path_factory):
    with Browser.launch(chromium, tmp_path_factory.mktemp("chromium-profile")) as started:
        yield started


@pytest.fixture(scope="session")
def artifact():
    """``artifact("name.png")``: the path to write a kept artefact to, listed at the end of the run."""
    folder = Path(os.environ.get("PYTEST_ARTIFACTS") or ROOT / "tests" / "browser" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)

    def path(name: str) -> Path:
        if folder / name not in _WRITTEN:
            _WRITTEN.append(folder / name)
        return folder / name

    return path


def pytest_collection_modifyitems(items) -> None:
    """A browser test's setup may install Chromium (apt-get on a fresh machine): 10 minutes, not 5."""
    for item in items:
        if "chromium" in getattr(item, "fixturenames", ()) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(600))


def pytest_terminal_summary(terminalreporter) -> None:
    if _WRITTEN:
        terminalreporter.section("browser test artefacts")
        for path in _WRITTEN:
            terminalreporter.write_line(str(path))
