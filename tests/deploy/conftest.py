"""Deploy tests: the image built with podman, the chart rendered with real Helm, both run for real.

Podman comes from scripts/container-env.sh (installs podman/runc on a Debian machine and builds a
local Python base image once, so no registry is needed). Where podman genuinely cannot run, the
tests that need it are skipped with the reason in a banner at the end of the run; set
SATELLITE_REQUIRE_PODMAN=1 to make that a failure instead.

Every container, pod, volume and file a test creates has a unique name and is removed after it;
the base image and podman's layer cache are kept (they make the next build take seconds).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from standins.ado_simulator.world.world import generate_world
from tests.support import start_simulator

ROOT = Path(__file__).resolve().parents[2]
_UNAVAILABLE: list[str] = []


@dataclass(frozen=True)
class Podman:
    """Runs podman the way scripts/container-env.sh set it up (runc, relaxed ulimits)."""

    command: tuple[str, ...]
    env: dict[str, str]
    base_image: str

    def __call__(self, *args: str, check: bool = True, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        cmd = [*self.command, *args]
        result = subprocess.run(cmd, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(
                f"$ {shlex.join(cmd)}\nexit {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
            )
        return result


def _unavailable(reason: str):
    message = f"PODMAN UNAVAILABLE, container tests NOT run: {reason}"
    _UNAVAILABLE.append(message)
    if os.environ.get("SATELLITE_REQUIRE_PODMAN"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def podman() -> Podman:
    if shutil.which("bash") is None:
        _unavailable("no bash")
    try:
        setup = subprocess.run(["bash", str(ROOT / "scripts" / "container-env.sh")], capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"scripts/container-env.sh did not finish: {exc}")
    if setup.returncode != 0:
        _unavailable(f"scripts/container-env.sh exited {setup.returncode}: {setup.stderr.strip()[-800:]}")
    values = dict(line.split("=", 1) for line in setup.stdout.splitlines() if "=" in line)
    env = {**os.environ, "CONTAINERS_CONF": values["CONTAINERS_CONF"]}
    engine = Podman(tuple(shlex.split(values["PODMAN"])), env, values["SATELLITE_BASE_IMAGE"])
    probe = engine("run", "--rm", "--network", "host", "--no-healthcheck", engine.base_image, "python3", "-c", "print('ok')", check=False, timeout=120)
    if probe.returncode != 0 or probe.stdout.strip() != "ok":
        _unavailable(f"podman cannot run a container here: {probe.stderr.strip()[-800:]}")
    return engine


@pytest.fixture(scope="session")
def image(podman: Podman):
    """The repository's Dockerfile built on the local base image; removed after the session."""
    tag = f"localhost/sei-satellite:deploy-test-{uuid.uuid4().hex[:8]}"
    podman(*build_args(podman, tag, ROOT), timeout=900)
    yield tag
    podman("rmi", "--force", tag, check=False)


def source_revision() -> str:
    """The commit the image is built from (its org.opencontainers.image.revision label)."""
    try:
        found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return "unknown"
    return found.stdout.strip() if found.returncode == 0 else "unknown"


def build_args(podman: Podman, tag: str, context: Path, *, revision: str | None = None) -> list[str]:
    """`podman build` as docs/deploy.md gives it: docker format (keeps HEALTHCHECK), version and revision labels."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return ["build", "--format", "docker", "--network", "host", "--volume", "/etc/ssl/certs:/etc/ssl/certs:ro",
            "--build-arg", f"BASE_IMAGE={podman.base_image}", "--build-arg", f"VERSION={version}",
            "--build-arg", f"REVISION={revision or source_revision()}", "-t", tag, str(context)]


@dataclass
class Resources:
    """What a test created in podman, removed in reverse order at teardown."""

    podman: Podman
    prefix: str = field(default_factory=lambda: f"seisat-{uuid.uuid4().hex[:6]}")
    _undo: list[tuple[str, ...]] = field(default_factory=list)

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def container(self, name: str) -> str:
        self._undo.append(("rm", "--force", "--volumes", name))
        return name

    def volume(self, name: str) -> str:
        self._undo.append(("volume", "rm", "--force", name))
        return name

    def kube(self, manifest: Path) -> Path:
        self._undo.append(("kube", "down", str(manifest)))
        return manifest

    def close(self) -> None:
        for args in reversed(self._undo):
            self.podman(*args, check=False, timeout=120)
        self._undo.clear()


@pytest.fixture
def resources(podman: Podman):
    created = Resources(podman)
    yield created
    created.close()


@pytest.fixture
def simulator():
    """An Azure DevOps Server simulator (tiny world) on loopback; the PAT is tests.support's PAT."""
    with start_simulator(generate_world(seed=5, scale="tiny")) as started:
        yield started


def pytest_terminal_summary(terminalreporter):
    if _UNAVAILABLE:
        terminalreporter.section("DEPLOY TESTS: PODMAN UNAVAILABLE", sep="!", red=True, bold=True)
        terminalreporter.line(_UNAVAILABLE[0], red=True, bold=True)
        terminalreporter.line("The image and the kube play tests did not run. Fix the machine or see scripts/container-env.sh.", red=True)
