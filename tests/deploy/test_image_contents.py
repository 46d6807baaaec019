"""What is inside the image: exactly the locked packages, no build tools, the SBOM, the labels, the health check.

The first tests read the repository only (the locks, the Dockerfile, README); the ones marked
``deploy`` look inside the image built with podman (tests/deploy/conftest.py).
"""

from __future__ import annotations

import json
import re
import runpy
import subprocess
import tomllib
from dataclasses import dataclass

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support import API_KEY

from .conftest import source_revision
from .helpers import CONFIG_PATH, DATA_DIR, ROOT, UID

REQUIREMENTS = ROOT / "requirements"
LOCKS = ("dev", "runtime", "standins", "build")
SBOM_PATH = "/usr/share/satellite/sbom.cdx.json"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
APP = canonicalize_name(PYPROJECT["project"]["name"])
BUILD_TOOLS = {"pip", "setuptools", "wheel", "hatchling", "cyclonedx-bom", "uv"}


@dataclass(frozen=True)
class Locked:
    """One package of a lock file: its pin, the marker saying where it applies, its file hashes."""

    name: str
    version: str
    marker: Marker | None
    hashes: tuple[str, ...]

    def applies(self, environment: dict[str, str]) -> bool:
        return self.marker is None or self.marker.evaluate(environment)


def read_lock(name: str) -> dict[str, Locked]:
    """requirements/<name>.lock as {canonical name: Locked}; fails on an entry without == or hashes."""
    text = (REQUIREMENTS / f"{name}.lock").read_text().replace("\\\n", " ")
    locked: dict[str, Locked] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip() if line.lstrip().startswith("#") else line.strip()
        if not line:
            continue
        spec, *hashes = re.split(r"\s+--hash=", line)
        requirement = Requirement(spec)
        pins = [s for s in requirement.specifier if s.operator == "=="]
        assert len(pins) == 1 and len(requirement.specifier) == 1, f"{name}.lock: not pinned with ==: {line[:120]}"
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), f"{name}.lock: no sha256 hashes: {spec}"
        locked[canonicalize_name(requirement.name)] = Locked(canonicalize_name(requirement.name), pins[0].version,
                                                              requirement.marker, tuple(hashes))
    return locked


# --- the locks (no podman) -------------------------------------------------------------------

@pytest.mark.parametrize("name", LOCKS)
def test_every_lock_pins_each_package_with_hashes_and_names_no_index(name):
    text = (REQUIREMENTS / f"{name}.lock").read_text()
    assert read_lock(name)
    assert not re.search(r"^\s*(-i|--index-url|--extra-index-url|-f|--find-links|--trusted-host)\b", text, re.MULTILINE)
    assert "://" not in text  # no index, mirror or file URL of the machine that made it
    assert "python3 scripts/lock-dependencies.py" in text.splitlines()[1]  # how to refresh it


def _direct(name: str) -> set[str]:
    """The packages a lock says pyproject asks for itself (``# via sei-satellite (pyproject.toml)``)."""
    blocks = re.split(r"\n(?=[A-Za-z0-9])", (REQUIREMENTS / f"{name}.lock").read_text())
    return {canonicalize_name(Requirement(b.split()[0]).name) for b in blocks if "sei-satellite (pyproject.toml)" in b}


def test_no_lock_is_stale():
    """A dependency added to or dropped from pyproject without running scripts/lock-dependencies.py fails here."""
    project = PYPROJECT["project"]
    extras = project["optional-dependencies"]
    names = {key: {canonicalize_name(Requirement(r).name) for r in reqs if not r.startswith("sei-satellite")}
             for key, reqs in {"runtime": project["dependencies"], "standins": project["dependencies"] + extras["standins"],
                               "dev": project["dependencies"] + extras["standins"] + extras["dev"]}.items()}
    for name, wanted in names.items():
        assert _direct(name) == wanted, f"requirements/{name}.lock is stale: run python3 scripts/lock-dependencies.py"


def test_the_locks_satisfy_pyproject_and_agree_with_each_other():
    dev, runtime, standins, build = (read_lock(n) for n in LOCKS)
    project = PYPROJECT["project"]
    wanted = {"runtime": project["dependencies"], "standins": project["dependencies"] + project["optional-dependencies"]["standins"],
              "dev": project["dependencies"] + [r for r in project["optional-dependencies"]["dev"] if not r.startswith("sei-satellite")]}
    build_in = [line.strip() for line in (REQUIREMENTS / "build.in").read_text().splitlines() if line.strip() and not line.startswith("#")]
    wanted["build"] = build_in
    for name, lock in {"runtime": runtime, "standins": standins, "dev": dev, "build": build}.items():
        for text in wanted[name]:
            requirement = Requirement(text)
            pinned = lock.get(canonicalize_name(requirement.name))
            assert pinned and requirement.specifier.contains(pinned.version, prereleases=True), f"{name}.lock: {text} -> {pinned}"
    for name, lock in {"runtime": runtime, "standins": standins, "build": build}.items():
        differ = {p: (v.version, dev[p].version) for p, v in lock.items() if p in dev and dev[p].version != v.version}
        assert differ == {}, f"{name}.lock and dev.lock pin different versions: {differ}"
    assert set(runtime) <= set(standins) <= set(dev)
    assert not BUILD_TOOLS & set(runtime)
    # the build stage's backend is the one pyproject declares
    assert [r for r in build_in if r.startswith("hatchling")] == PYPROJECT["build-system"]["requires"]


def test_ci_readme_and_dockerfile_install_with_hash_checking():
    readme = (ROOT / "README.md").read_text()
    test_command = next(line.strip() for line in readme.splitlines() if line.strip().endswith(".venv/bin/python -m pytest"))
    assert test_command == ("python3 -m venv .venv && .venv/bin/pip install -q --require-hashes -r requirements/dev.lock"
                            " && .venv/bin/pip install -q --no-deps --no-build-isolation -e . && .venv/bin/python -m pytest")
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()  # CI runs README's command unchanged
    demo = next(line.strip() for line in readme.splitlines() if line.strip().endswith("satellite demo"))
    assert "--require-hashes -r requirements/standins.lock" in demo and "--no-deps -e ." in demo
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = re.findall(r"pip (?:--python \S+ )?install [^\n]*", dockerfile)
    from_locks = [i for i in installs if "-r requirements/" in i]
    assert len(from_locks) == 2 and all("--require-hashes" in i for i in from_locks)
    assert all("--no-deps" in i for i in installs if i not in from_locks)  # the app's own wheel: nothing more
    assert re.search(r"^ARG VERSION=(\S+)$", dockerfile, re.MULTILINE).group(1) == VERSION


def test_the_lock_script_strips_index_and_find_links_lines(tmp_path):
    script = runpy.run_path(str(ROOT / "scripts" / "lock-dependencies.py"))
    lock = tmp_path / "x.lock"
    lock.write_text("--index-url https://mirror.example/simple\n--extra-index-url file:///opt/x\n--find-links /opt/wheels\n"
                    "pyyaml==6.0.4 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    script["_strip_sources"](lock)
    assert lock.read_text() == "pyyaml==6.0.4 \\\n    --hash=sha256:" + "0" * 64 + "\n"
    assert {lock.path.name for lock in script["LOCKS"]} == {f"{name}.lock" for name in LOCKS}
    assert {p.name for p in REQUIREMENTS.glob("*.lock")} == {f"{name}.lock" for name in LOCKS}


def test_podman_keeps_the_health_check_where_users_build_with_it():
    """podman's default (OCI) format drops HEALTHCHECK: every podman build line says --format docker."""
    env_script = (ROOT / "scripts" / "container-env.sh").read_text()
    assert "export BUILDAH_FORMAT=docker" in env_script
    for path in ("README.md", "docs/deploy.md", "scripts/container-env.sh", "Dockerfile"):
        lines = [line for line in (ROOT / path).read_text().splitlines() if re.search(r"(podman|\$PODMAN) build (-|\.\.\.)", line)]
        assert lines, f"{path}: no podman build line"
        assert all("--format docker" in line for line in lines), (path, lines)


# --- inside the image (podman) ---------------------------------------------------------------

# The environment markers of the image's Python (what packaging.markers.default_environment gives),
# its installed distributions, and traces of the build stage.
_PROBE = r"""
import importlib.metadata, importlib.util, json, os, platform, subprocess, sys
def fmt(v):
    return f"{v.major}.{v.minor}.{v.micro}" + ("" if v.releaselevel == "final" else v.releaselevel[0] + str(v.serial))
print(json.dumps({
    "environment": {"implementation_name": sys.implementation.name, "implementation_version": fmt(sys.implementation.version),
        "os_name": os.name, "platform_machine": platform.machine(), "platform_release": platform.release(),
        "platform_system": platform.system(), "platform_version": platform.version(),
        "python_full_version": platform.python_version(), "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]), "sys_platform": sys.platform},
    "distributions": {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()},
    "modules": {m: importlib.util.find_spec(m) is not None for m in ("pip", "setuptools", "wheel", "hatchling", "cyclonedx")},
    "paths": {p: os.path.exists(p) for p in ("/opt/build", "/src", "/out", "/tmp/wheels", "/opt/satellite/bin/pip")},
    "prefix": sys.prefix,
    "base_python_modules": subprocess.run([os.path.realpath(sys.executable), "-c",
        "import importlib.util as u; print([m for m in ('pip', 'setuptools', 'wheel') if u.find_spec(m)])"],
        capture_output=True, text=True, check=True).stdout.strip(),
}))
"""


def _inside(podman, image) -> dict:
    out = podman("run", "--rm", "--read-only", "--no-healthcheck", "--network", "none", "--entrypoint", "python", image, "-c", _PROBE)
    return json.loads(out.stdout)


@pytest.mark.deploy
def test_the_image_holds_exactly_the_runtime_lock_and_no_build_tools(podman, image):
    inside = _inside(podman, image)
    installed = {canonicalize_name(n): v for n, v in inside["distributions"].items()}
    expected = {p.name: p.version for p in read_lock("runtime").values() if p.applies(inside["environment"])}
    assert installed.pop(APP) == VERSION
    assert installed == expected  # same names, same versions: nothing missing, nothing extra
    assert inside["prefix"] == "/opt/satellite"
    assert not any(inside["modules"].values()), inside["modules"]  # no pip, setuptools, wheel, hatchling, cyclonedx
    assert inside["base_python_modules"] == "[]"  # nor in the base image's own Python
    assert not any(inside["paths"].values()), inside["paths"]  # nothing left of the build stage


@pytest.mark.deploy
def test_the_image_ships_a_cyclonedx_sbom_of_what_it_holds(podman, image, capsys):
    inside = _inside(podman, image)
    out = podman("run", "--rm", "--read-only", "--no-healthcheck", "--network", "none", "--entrypoint", "python", image,
                 "-c", f"print(open({SBOM_PATH!r}).read())")
    sbom = json.loads(out.stdout)
    assert sbom["bomFormat"] == "CycloneDX" and tuple(map(int, sbom["specVersion"].split("."))) >= (1, 5)
    root = sbom["metadata"]["component"]
    assert (root["name"], root["version"], root["type"]) == (PYPROJECT["project"]["name"], VERSION, "application")
    components = {canonicalize_name(c["name"]): c["version"] for c in sbom["components"]}
    installed = {canonicalize_name(n): v for n, v in inside["distributions"].items() if canonicalize_name(n) != APP}
    assert components == installed
    assert all(c.get("purl", "").startswith("pkg:pypi/") for c in sbom["components"])
    assert SBOM_PATH in (ROOT / "docs" / "deploy.md").read_text()
    with capsys.disabled():
        print(f"\nSBOM {SBOM_PATH}: {len(components) + 1} packages ({len(components)} components and the root, sei-satellite)")


@pytest.mark.deploy
def test_the_image_carries_version_revision_labels_and_the_health_check(podman, image):
    (info,) = json.loads(podman("image", "inspect", image).stdout)
    labels = info["Config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == VERSION
    revision = labels["org.opencontainers.image.revision"]
    if source_revision() == "unknown":  # not a git checkout: conftest had no commit to pass
        assert revision == "unknown"
    else:  # the commit built (conftest passes `git rev-parse HEAD`; other commits may have landed since)
        assert re.fullmatch(r"[0-9a-f]{40}", revision), revision
        assert subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{revision}^{{commit}}"], check=False).returncode == 0
    health = json.loads(podman("image", "inspect", "--format", "{{json .Config.Healthcheck}}", image).stdout)
    assert health and "/healthz" in " ".join(health["Test"]) and health["Interval"] > 0, health


@pytest.mark.deploy
def test_a_root_owned_data_dir_fails_with_the_uid_and_the_chown_to_run(podman, image, key_files, tmp_path):
    """A host directory created by root, bind-mounted as the data dir: the satellite (uid 10001)
    cannot write it, and says who needs write access and what to run, not just SQLite's words."""
    config_dir, data_dir = tmp_path / "config", tmp_path / "data"
    config_dir.mkdir(mode=0o755)
    data_dir.mkdir(mode=0o755)  # owned by root (the tests run as root), as `mkdir` on the host makes it
    files = {"api-key": API_KEY.encode(), "recipient-public-key": key_files.recipient_public.read_bytes(),
             "signing-private-key": key_files.signing_private.read_bytes()}
    for name, data in files.items():
        (config_dir / name).write_bytes(data)
        (config_dir / name).chmod(0o444)
    (config_dir / "satellite.yml").write_text(f"""\
satellite:
  id: root-owned
  tenant: acme
  endpoint: http://127.0.0.1:9
  api_key: ${{file:/etc/sei-satellite/api-key}}
  encryption:
    recipient_key_id: {key_files.recipient_key_id}
    recipient_public_key: ${{file:/etc/sei-satellite/recipient-public-key}}
    signing_private_key: ${{file:/etc/sei-satellite/signing-private-key}}
  data_dir: {DATA_DIR}
integrations:
  - id: tfs-main
    url: http://127.0.0.1:9/tfs
    pat: not-used
""")
    (config_dir / "satellite.yml").chmod(0o644)
    mounts = ["-v", f"{config_dir}:/etc/sei-satellite:ro", "-v", f"{data_dir}:{DATA_DIR}"]
    for command in (["sync", "--once", "-c", CONFIG_PATH], ["status", "-c", CONFIG_PATH]):
        result = podman("run", "--rm", "--read-only", "--no-healthcheck", "--network", "none", *mounts, image, *command, check=False)
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert f"not writable by uid {UID}" in output and f"`chown -R {UID}:{UID} {DATA_DIR}`" in output, output
        assert "Traceback" not in output
    assert list(data_dir.iterdir()) == []
