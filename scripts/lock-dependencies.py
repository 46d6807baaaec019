#!/usr/bin/env python3
"""Writes requirements/*.lock: every package pinned to one version with the hashes of its files.

    python3 scripts/lock-dependencies.py                          # after editing pyproject.toml or requirements/build.in
    python3 scripts/lock-dependencies.py --upgrade                # the newest versions the ranges allow
    python3 scripts/lock-dependencies.py --upgrade-package cryptography

| lock | from | installed by |
|---|---|---|
| dev.lock | pyproject's `dev` extra (tests, stand-ins, the build backend) | README's test command, CI |
| runtime.lock | pyproject's `dependencies` | the image (`pip install --require-hashes`) |
| standins.lock | pyproject's `standins` extra | README's demo command |
| build.lock | requirements/build.in (hatchling, the SBOM generator) | the image's build stage |

The tool is uv (`uv pip compile --universal --generate-hashes`): one resolution valid on every OS
and every Python from pyproject's `requires-python` up, with environment markers where a package
applies only somewhere (pip-compile resolves for the interpreter that runs it alone), and it
writes no index URL. dev.lock is resolved first; the others are resolved with it as a constraint,
so a package has the same version in the image, the demo and the tests. Without `--upgrade`,
versions already locked are kept. The pinned uv is installed into a cache venv on first use
(`UV=/path/to/uv` uses another). Needs the package index; run from anywhere.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LOCKS", "Lock", "main"]

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
UV_VERSION = "0.13.8"
# Lines that name a package index or a local source: never committed (a lock names packages only).
_SOURCE_LINE = re.compile(r"^\s*(--index-url|--extra-index-url|-i\s|--find-links|-f\s|--trusted-host|--no-index)")


@dataclass(frozen=True)
class Lock:
    """One lock file and what it is resolved from (paths relative to the repository root)."""

    name: str
    sources: tuple[str, ...]
    extras: tuple[str, ...] = ()
    constrained: bool = True  # resolved with dev.lock as a constraint

    @property
    def path(self) -> Path:
        return REQUIREMENTS / f"{self.name}.lock"


LOCKS: tuple[Lock, ...] = (
    Lock("dev", ("pyproject.toml",), ("dev",), constrained=False),
    Lock("runtime", ("pyproject.toml",)),
    Lock("standins", ("pyproject.toml",), ("standins",)),
    Lock("build", ("requirements/build.in",)),
)


def _python_floor() -> str:
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    match = re.fullmatch(r">=\s*(\d+\.\d+)", spec.strip())
    if not match:
        raise SystemExit(f"lock-dependencies: cannot read a lower bound from requires-python {spec!r}")
    return match.group(1)


def _uv() -> str:
    """The uv to run: $UV, or the pinned version in a cache venv (installed on first use)."""
    if os.environ.get("UV"):
        return os.environ["UV"]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sei-satellite" / f"uv-{UV_VERSION}"
    uv = cache / ("Scripts/uv.exe" if os.name == "nt" else "bin/uv")
    if not uv.exists():
        print(f"lock-dependencies: installing uv {UV_VERSION} into {cache}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(cache)], check=True)
        pip = cache / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        subprocess.run([str(pip), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"], check=True)
    return str(uv)


def _strip_sources(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not _SOURCE_LINE.match(line)]
    if kept != lines:
        path.write_text("".join(kept))


def compile_lock(uv: str, lock: Lock, upgrade: list[str]) -> None:
    command = [
        uv, "pip", "compile", *lock.sources, *(f"--extra={e}" for e in lock.extras),
        "--universal", f"--python-version={_python_floor()}", "--generate-hashes",
        "--custom-compile-command=python3 scripts/lock-dependencies.py",
        "--quiet", "-o", str(lock.path.relative_to(ROOT)), *upgrade,
    ]
    if lock.constrained:
        command += ["-c", "requirements/dev.lock"]
    subprocess.run(command, cwd=ROOT, check=True)
    _strip_sources(lock.path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upgrade", action="store_true", help="the newest versions the ranges allow")
    parser.add_argument("--upgrade-package", action="append", default=[], metavar="NAME", help="upgrade this one (repeatable)")
    args = parser.parse_args(argv)
    upgrade = ["--upgrade"] if args.upgrade else [f"--upgrade-package={n}" for n in args.upgrade_package]
    uv = _uv()
    for lock in LOCKS:
        # dev.lock is resolved first; where the others share a package, its pin in dev.lock wins.
        compile_lock(uv, lock, upgrade)
        count = sum(1 for line in lock.path.read_text().splitlines() if re.match(r"^[A-Za-z0-9]", line))
        print(f"lock-dependencies: {lock.path.relative_to(ROOT)}: {count} packages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
