"""The docs' YAML config snippets are real configs, and README's `docker run` mounts what its config reads.

Every ```yaml block of README.md, docs/*.md and the chart's README is one of: a whole config file
(top-level `satellite`), Helm values (top-level `config`: the chart adds the secrets and data_dir
as it renders), or a fragment (e.g. `privacy:` alone), laid over a minimal config. Each is run
through `satellite config validate` with what it references stubbed: every ${file:...} is created
(under a temporary root: /var/run/secrets/x becomes <tmp>/root/var/run/secrets/x) with content of
the right kind (a PEM key where a key goes), every ${env:...} is set.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "helm" / "sei-satellite" / "README.md"]
DOCKER_DOCS = [ROOT / "README.md", ROOT / "docs" / "deploy.md"]
UID = 10001
# Chart: the config keys it fills in from the Secret mounted here (helm/sei-satellite/templates/_helpers.tpl).
CHART_SECRETS = "/var/run/secrets/sei-satellite"
CHART_DATA_DIR = "/var/lib/sei-satellite"
BASE = {
    "satellite": {"id": "docs", "tenant": "acme", "endpoint": "https://ingest.sei.example.com", "api_key": "${env:STUB_API_KEY}",
                  "encryption": {"recipient_key_id": "sei-1", "recipient_public_key": "${env:STUB_RECIPIENT_PUBLIC_KEY}",
                                 "signing_private_key": "${env:STUB_SIGNING_PRIVATE_KEY}"},
                  "data_dir": "/var/lib/sei-satellite"},
    "integrations": [{"id": "tfs-main", "url": "https://tfs.corp.example.com/tfs/DefaultCollection", "pat": "${env:STUB_PAT}"}],
}
_REFERENCE = re.compile(r"\$\{(env|file):([^}]+)\}")


@dataclass(frozen=True)
class Snippet:
    doc: Path
    line: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"

    def data(self) -> dict[str, Any]:
        return yaml.safe_load(self.text)


def yaml_snippets(doc: Path) -> list[Snippet]:
    text = doc.read_text()
    return [Snippet(doc, text[: m.start()].count("\n") + 2, m.group(1)) for m in re.finditer(r"^```ya?ml\n(.*?)^```", text, re.MULTILINE | re.DOTALL)]


SNIPPETS = [s for doc in DOCS for s in yaml_snippets(doc)]


def _pem_private(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def _pem_public(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def stub_value(key: str, target: str = "") -> str:
    """What a secret referenced from config key ``key`` (file or variable ``target``) holds: a key of
    the right kind, or text."""
    if key == "signing_private_key":
        return _pem_private(Ed25519PrivateKey.generate())
    if key == "public_key" and "command" in target.lower():  # satellite.command_keys: SEI's Ed25519 keys
        return _pem_public(Ed25519PrivateKey.generate())
    if key == "public_key" and "mlkem768" in target.lower():  # a hybrid recipient key (kem: mlkem768-x25519)
        from satellite.sealing.keys import HybridPrivateKey

        return HybridPrivateKey.generate().public_key().public_bytes_pem().decode()
    if key in ("recipient_public_key", "public_key"):
        return _pem_public(X25519PrivateKey.generate())
    if key == "secret":
        return "0123456789abcdef" * 4
    return "stub-secret-value"


def as_config(snippet: Snippet) -> dict[str, Any]:
    """The whole config file a snippet stands for."""
    data = snippet.data()
    if "config" in data:  # Helm values: what the chart adds as it renders (the Secret's files, the volume)
        config = copy.deepcopy(data["config"])
        satellite = config.setdefault("satellite", {})
        satellite.setdefault("id", "sei-satellite")  # the chart: the release's full name
        satellite["api_key"] = f"${{file:{CHART_SECRETS}/api-key}}"
        encryption = satellite.setdefault("encryption", {})
        encryption["signing_private_key"] = f"${{file:{CHART_SECRETS}/signing-private-key}}"
        if "recipients" not in encryption:
            encryption["recipient_public_key"] = f"${{file:{CHART_SECRETS}/recipient-public-key}}"
        satellite["data_dir"] = CHART_DATA_DIR
        for integration in config.get("integrations", []):
            integration["pat"] = f"${{file:{CHART_SECRETS}/pat-{integration['id']}}}"
        return config
    if "satellite" in data:
        return copy.deepcopy(data)
    config = copy.deepcopy(BASE)  # a fragment, over a minimal config
    for key, value in data.items():
        if key == "integrations":
            config["integrations"] = [{**BASE["integrations"][0], **item} for item in value]
        else:
            config[key] = value
    return config


def stub_references(config: Any, root: Path, env: dict[str, str], key: str = "") -> Any:
    """The config with absolute paths moved under ``root``, its ${file:...} created and ${env:...} set."""
    if isinstance(config, dict):
        return {k: stub_references(v, root, env, k) for k, v in config.items()}
    if isinstance(config, list):
        return [stub_references(v, root, env, key) for v in config]
    if not isinstance(config, str):
        return config

    def replace(match: re.Match) -> str:
        kind, target = match.groups()
        if kind == "env":
            name, _, default = target.partition(":-")
            if not default:
                env.setdefault(name, stub_value(key, name))
            return match.group(0)
        path = rooted(target, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(stub_value(key, target))
        return f"${{file:{path}}}"

    text = _REFERENCE.sub(replace, config)
    if key == "data_dir" and text.startswith("/"):
        return str(rooted(text, root))
    return text


def rooted(path: str, root: Path) -> Path:
    return root / "root" / path.lstrip("/")


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.id)
def test_every_yaml_config_snippet_validates(snippet, tmp_path):
    env: dict[str, str] = {}
    config = stub_references(as_config(snippet), tmp_path, env)
    file = tmp_path / "satellite.yml"
    file.write_text(yaml.safe_dump(config, sort_keys=False))
    result = subprocess.run([sys.executable, "-m", "satellite", "config", "validate", str(file)], capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=60, check=False)
    assert result.returncode == 0, f"{snippet.id}: the snippet does not validate:\n{result.stderr}\n--- as validated\n{file.read_text()}"


def test_the_snippets_cover_the_docs():
    """The docs keep their config snippets (a rename or a new fence style would skip them silently)."""
    where = {s.doc.relative_to(ROOT).as_posix() for s in SNIPPETS}
    assert {"README.md", "docs/deploy.md", "docs/privacy.md", "helm/sei-satellite/README.md"} <= where
    kinds = {("config" in s.data(), "satellite" in s.data()) for s in SNIPPETS}
    assert {(False, True), (True, False), (False, False)} <= kinds  # whole files, Helm values and fragments


# --- docker run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DockerRun:
    mounts: dict[str, str]  # container path -> host path (or volume name)
    env: frozenset[str]
    env_file: bool


def docker_run(text: str) -> DockerRun:
    """The `docker run -d` command of a doc (its indented code block, lines joined at backslashes)."""
    match = re.search(r"^ +docker run -d (?:.*\\\n)*.*$", text, re.MULTILINE)
    assert match, "no `docker run -d` command"
    words = shlex.split(match.group(0).replace("\\\n", " "))
    mounts, env, env_file = {}, set(), False
    for flag, value in itertools.pairwise(words):
        if flag in ("-v", "--volume"):
            source, target, *_ = value.split(":")
            mounts[target] = source
        elif flag in ("-e", "--env"):
            env.add(value.split("=", 1)[0])
        elif flag == "--env-file":
            env_file = True
    return DockerRun(mounts, frozenset(env), env_file)


def _mount_of(path: str, mounts: dict[str, str]) -> str | None:
    """The deepest mount target holding ``path`` (as the container sees it)."""
    holding = [t for t in mounts if PurePosixPath(path).is_relative_to(PurePosixPath(t))]
    return max(holding, key=len) if holding else None


def image_config_path() -> str:
    """The config file the image's default command reads (Dockerfile CMD [..., "-c", PATH])."""
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.MULTILINE).group(1))
    return cmd[cmd.index("-c") + 1]


@pytest.mark.parametrize("doc", DOCKER_DOCS, ids=lambda d: d.relative_to(ROOT).as_posix())
def test_docker_run_mounts_what_the_docs_config_reads(doc):
    text = doc.read_text()
    run = docker_run(text)
    (snippet,) = [s for s in yaml_snippets(doc) if "satellite" in s.data() and re.match(r"# /", s.text)]  # the file docker runs
    config = snippet.data()
    problems = []
    # the file itself: written on the host at the path its first line names, read by the image's CMD
    host_file = re.match(r"# (/\S+)", snippet.text).group(1)
    inside = image_config_path()
    target = _mount_of(inside, run.mounts)
    if target is None or str(PurePosixPath(run.mounts[target]) / PurePosixPath(inside).relative_to(target)) != host_file:
        problems.append(f"the config is written to {host_file} but the container reads {inside}, mounted from "
                        f"{run.mounts.get(target) if target else 'nowhere'}")
    secret_dirs = set()
    for _, kind, target_path in [(m.group(0), *m.groups()) for m in _REFERENCE.finditer(snippet.text)]:
        if kind == "env":
            name = target_path.partition(":-")[0]
            if name not in run.env and not run.env_file:
                problems.append(f"${{env:{name}}} but docker run passes no -e {name}")
            continue
        mount = _mount_of(target_path, run.mounts)
        if mount is None:
            problems.append(f"{target_path} is read by the config but no -v mounts it (mounts: {sorted(run.mounts)})")
            continue
        host = PurePosixPath(run.mounts[mount]) / PurePosixPath(target_path).relative_to(mount)
        secret_dirs.add(str(host.parent))
        if host.name not in text.replace(snippet.text, ""):
            problems.append(f"{target_path} is {host} on the host, which the text never tells the user to create")
    data_dir = config["satellite"].get("data_dir")
    if data_dir and _mount_of(data_dir, run.mounts) is None:
        problems.append(f"data_dir {data_dir} is not a mounted volume")
    # the secret files must be readable by the image's user: the chown step names their directory
    chowned = set(re.findall(rf"chown -R {UID}:{UID} (\S+)", text))
    if not secret_dirs <= chowned:
        problems.append(f"no `chown -R {UID}:{UID}` of {sorted(secret_dirs - chowned)} (found: {sorted(chowned)})")
    assert problems == [], f"{doc.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_the_docker_run_check_finds_the_readme_mismatch_it_was_written_for():
    """The README once read /var/run/secrets/satellite/... while docker run mounted /var/run/secrets/sei-satellite."""
    run = docker_run("    docker run -d --name s \\\n      -v /etc/sei-satellite/secrets:/var/run/secrets/sei-satellite:ro \\\n      img\n")
    assert run.mounts == {"/var/run/secrets/sei-satellite": "/etc/sei-satellite/secrets"}
    assert _mount_of("/var/run/secrets/satellite/signing.key", run.mounts) is None
    assert _mount_of("/var/run/secrets/sei-satellite/api-key", run.mounts) == "/var/run/secrets/sei-satellite"
