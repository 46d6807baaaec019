"""The image's layers: the dependencies in their own, the app in a small last one that alone changes
when a source file does (so an update pulls only it). Prints the layer sizes and the rebuild time."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

import pytest

from .conftest import build_args
from .helpers import ROOT

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(1800)]

MB = 1_000_000
# The build context as .dockerignore lets it through (an allow-list), plus the Dockerfile.
CONTEXT = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "satellite", "requirements/runtime.lock",
           "requirements/build.lock")


def _copy_context(target: Path) -> Path:
    for name in CONTEXT:
        source, dest = ROOT / name, target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, dest)
    return target


def _layers(podman, tag: str) -> list[str]:
    return json.loads(podman("image", "inspect", "--format", "{{json .RootFS.Layers}}", tag).stdout)


def _layer_sizes(podman, tag: str) -> list[tuple[int, str]]:
    """(size, instruction) of each history entry that adds a layer, oldest first."""
    history = json.loads(podman("history", "--no-trunc", "--format", "json", tag).stdout)
    return [(h["size"], h.get("CreatedBy") or h.get("createdBy") or "") for h in reversed(history) if h.get("size")]


def test_a_source_change_rewrites_only_the_last_layer(podman, tmp_path, capsys):
    context = _copy_context(tmp_path / "context")
    before, after = (f"localhost/sei-satellite:layers-{uuid.uuid4().hex[:8]}" for _ in range(2))
    try:
        started = time.monotonic()
        podman(*build_args(podman, before, context, revision="0" * 40), timeout=900)
        first_build = time.monotonic() - started
        source = context / "satellite" / "cli.py"
        source.write_text(source.read_text() + f"\n# one changed line ({uuid.uuid4().hex}: never built before)\n")
        started = time.monotonic()
        podman(*build_args(podman, after, context, revision="1" * 40), timeout=900)
        rebuild = time.monotonic() - started

        old, new = _layers(podman, before), _layers(podman, after)
        assert len(old) == len(new) and old[:-1] == new[:-1], "a source change rewrote more than the last layer"
        assert old[-1] != new[-1]
        sizes = _layer_sizes(podman, after)
        assert len(sizes) == len(new)
        (app, app_step), (deps, deps_step) = sizes[-1], sizes[-2]
        assert "COPY" in app_step and app_step.rstrip().endswith(" in /"), app_step  # COPY --from=app /out/ /
        assert "COPY" in deps_step and "/opt/" in deps_step, deps_step  # COPY --from=deps /opt/satellite
        assert app < 5 * MB and app * 10 < deps, (app, deps)
        total = int(json.loads(podman("image", "inspect", "--format", "{{json .Size}}", after).stdout))
        with capsys.disabled():
            print(f"\nimage layers (oldest first): {', '.join(f'{s / MB:.1f} MB' for s, _ in sizes)};"
                  f" dependencies {deps / MB:.1f} MB, app (the last, the only one a source change rewrites) {app / MB:.2f} MB;"
                  f" image {total / MB:.0f} MB; build {first_build:.0f} s (layer cache as found), rebuild after a one-line change {rebuild:.0f} s")
    finally:
        podman("rmi", "--force", before, after, check=False)
