"""Property-based fuzzing of config loading: any input ends with a Config or a located ConfigError.

Inputs: random bytes, random YAML documents, and mutations of a valid config (the example
config's shape with real keys): deleted keys, wrong types, bad ``${...}`` references, duplicate
keys, deep nesting, huge numbers, non-UTF-8 bytes. In-process, ``load_config`` must return a
``Config`` or raise ``ConfigError`` whose every problem names the file and a key path (or is a
problem of the whole file, with its line when there is one); never another exception, and never
a secret of the file in the message. Through the CLI (``python -m satellite config validate``),
a handful of generated files: exit 0 or 2, never a traceback.

``SATELLITE_FUZZ_EXAMPLES`` raises the example counts (default 200 per property in-process and
10 through the CLI).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from satellite.config import Config, load_config
from satellite.errors import ConfigError
from satellite.sealing.keys import generate_key_files

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(300)]

EXAMPLES = int(os.environ.get("SATELLITE_FUZZ_EXAMPLES") or 200)
CLI_EXAMPLES = max(10, EXAMPLES // 20)
REPO = Path(__file__).resolve().parents[2]
PAT = "CANARY-PAT-fuzz-6a1f0e9d8c7b"
API_KEY = "CANARY-APIKEY-fuzz-2b4d6f8a0c"
ENV = {"FUZZ_API_KEY": API_KEY, "FUZZ_EMPTY": ""}
FILE_LEVEL = ("YAML syntax error", "cannot read the file", "the file is empty", "the top level must be a mapping")
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


# --- a valid base config ----------------------------------------------------------------------


_WORK = Path(tempfile.mkdtemp(prefix="satellite-fuzz-"))  # module level: the @example decorators need the keys
atexit.register(shutil.rmtree, _WORK, ignore_errors=True)  # also when only collected
_KEYS = generate_key_files(_WORK / "keys")
(_WORK / "secrets").mkdir()
(_WORK / "secrets" / "pat").write_text(PAT + "\n")
(_WORK / "empty.pem").write_text("")


@pytest.fixture(scope="module", autouse=True)
def _remove_the_work_directory():
    """Remove the module's directory once its tests ran (the session's leak check runs before atexit)."""
    yield
    shutil.rmtree(_WORK, ignore_errors=True)


def base_document() -> dict:
    """Every section of config/satellite.example.yml, with values that load."""
    return {
        "satellite": {
            "id": "corp-dc1",
            "tenant": "acme",
            "endpoint": "https://ingest.sei.example.com",
            "api_key": "${env:FUZZ_API_KEY}",
            "encryption": {
                "recipients": [{"key_id": _KEYS.recipient_key_id, "public_key": f"${{file:{_KEYS.recipient_public}}}",
                                "created": "2025-01-15"}],
                "signing_private_key": f"${{file:{_KEYS.signing_private}}}",
            },
            "data_dir": "./data",
            "proxy": "${env:FUZZ_EMPTY:-}",
            "tls": {"verify": True},
            "shard": {"count": 1, "index": 0},
            "http": {"listen": "127.0.0.1:8080"},
            "shutdown_grace": "30s",
        },
        "integrations": [
            {
                "id": "tfs-main",
                "url": "https://tfs.corp.example.com/tfs/DefaultCollection",
                "pat": "${file:secrets/pat}",
                "projects": {"include": ["*"], "exclude": ["Sandbox*"]},
                "services": ["repos", "tfvc", "pipelines", "boards"],
                "tls": {"verify": True},
                "schedule": {"interval": "5m", "jitter": "30s", "reconcile_every": "7d"},
                "backfill": {"start": "2023-01-01"},
            },
            {"id": "tfs-legacy", "url": "https://legacy.corp.example.com/tfs", "collections": ["*"], "pat": PAT,
             "services": ["repos"], "proxy": None},
        ],
        "limits": {
            "concurrency": 4,
            "page_sizes": {"projects": 100, "commits": 1000, "default": 200},
            "batch": {"max_records": 5000, "max_bytes": "4MiB"},
            "outbox_max_bytes": "1GiB",
            "request_timeout": "30s",
        },
        "delivery": {"concurrency": 2, "initial_backoff": "1s", "max_backoff": "5m", "auth_retry_interval": "5m",
                     "heartbeat_interval": "60s", "request_timeout": "60s"},
    }


def dump(document) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def test_the_base_config_is_valid():
    path = _WORK / "base.yml"
    path.write_text(dump(base_document()))
    config = load_config(path, env=ENV)
    assert len(config.integrations) == 2


# --- the property -------------------------------------------------------------------------------


def check(content: bytes | str) -> Config | ConfigError:
    """Load ``content`` from a file: a Config, or a ConfigError whose every problem is located."""
    path = Path(tempfile.mkstemp(dir=_WORK, suffix=".yml")[1])
    try:
        path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
        try:
            return load_config(path, env=ENV)
        except ConfigError as exc:
            assert exc.problems, "a ConfigError without problems"
            for problem in exc.problems:
                assert problem.file == str(path), problem
                assert problem.message, problem
                if not problem.path:  # a problem of the whole file (or of its top-level mapping)
                    assert problem.line is not None or problem.message.startswith(FILE_LEVEL), problem
                assert str(problem).startswith(str(path)), problem
            text = str(exc)
            assert PAT not in text and API_KEY not in text, "a secret in the error message"
            return exc
    finally:
        path.unlink(missing_ok=True)


# --- strategies -----------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**18, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["${env:FUZZ_API_KEY}", "${env:NOPE}", "${env:}", "${env:1BAD}", "${file:}", "${file:missing.pem}",
                     "${file:/}", "${file:~nosuchuser/key}", "${file:a\x00b}", "${unknown:x}", "${", "$${literal", "${env:NOPE:-}",
                     "${file:empty.pem}", "${file:secrets}", "${env:FUZZ_EMPTY:-${env:X}}", "1e400", "9" * 400 + "d",
                     "99999999999999999999d", "9" * 400 + "KiB", "-5s", "0", "2023-02-30", "\x00", "\ufeff", "ms"]),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=25,
)


def _paths(node, prefix=()):
    """Every path (tuple of keys/indexes) inside a document."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, prefix + (index,))


def _parent(document, path):
    node = document
    for part in path[:-1]:
        node = node[part]
    return node


@st.composite
def mutated_documents(draw) -> str:
    """The base config with one to four structural mutations, dumped as YAML."""
    document = base_document()
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(document) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(document, path)
        action = draw(st.sampled_from(["delete", "replace", "nest", "wrap", "rename"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":  # a wrong type or a bad value
            parent[path[-1]] = draw(documents)
        elif action == "nest":  # deep nesting
            value = parent[path[-1]]
            for _ in range(draw(st.integers(1, 150))):
                value = [value] if draw(st.booleans()) else {"k": value}
            parent[path[-1]] = value
        elif action == "wrap":
            parent[path[-1]] = [parent[path[-1]]]
        elif isinstance(parent, dict):  # rename: an unknown key
            parent[draw(st.text(min_size=1, max_size=10))] = parent.pop(path[-1])
    return dump(document)


@st.composite
def mutated_texts(draw) -> bytes:
    """The base config's YAML text with text-level mutations: duplicate keys, references, bytes."""
    lines = dump(base_document()).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["duplicate", "drop", "reference", "number", "bytes", "indent", "alias", "nest"]))
        line = lines[index]
        if action == "duplicate":  # the same key twice in a mapping
            lines.insert(index, line)
        elif action == "drop":
            del lines[index]
        elif action == "reference" and ":" in line:
            key = line.split(":", 1)[0]
            reference = draw(st.sampled_from(["${env:NOPE}", "${file:nope.pem}", "${", "${env:}", "${bad}", "${file:~nosuchuser/k}",
                                              "${env:FUZZ_API_KEY}${", "x${env:FUZZ_API_KEY}y", '"${file:a\\0b}"', '"\\0"']))
            lines[index] = f"{key}: {reference}\n"
        elif action == "number" and ":" in line:
            key = line.split(":", 1)[0]
            lines[index] = f"{key}: {draw(st.sampled_from(['9' * 400, '-' + '9' * 30, '1e400', '.inf', '-.nan', '0x7fffffffffffffffff', '99999999999999999999s']))}\n"
        elif action == "bytes":
            lines[index] = line[: len(line) // 2] + draw(st.sampled_from(["\udcff", "\udc80\udcfe", "\t", "\x07", "\x00"])) + line[len(line) // 2 :]
        elif action == "indent":
            lines[index] = " " * draw(st.integers(1, 5)) + line
        elif action == "alias":
            lines.append(draw(st.sampled_from(["x: &a [*a]\n", "extra: &b {k: v}\nother: *b\n", "<<: {k: v}\n", "? [a, b]\n: c\n",
                                               "z: !!python/object:os.system x\n", "w: !!binary aGVsbG8=\n", "d: 2023-01-01\n"])))
        else:  # deep nesting in flow style
            depth = draw(st.integers(20, 1200))
            lines.append("deep: " + "[" * depth + "]" * depth + "\n")
    return "".join(lines).encode("utf-8", "surrogateescape")


# --- in-process properties ------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(content):
    check(content)


@FUZZ
@given(documents)
@example({"": "${file:\x00}"})  # found by this test: ValueError (embedded null byte) escaped
@example({"": "${file:~0}"})  # found by this test: RuntimeError (unknown home directory) escaped
def test_random_yaml_documents(document):
    check(dump(document))


@FUZZ
@given(mutated_documents())
def test_mutations_of_a_valid_config(text):
    check(text)


@FUZZ
@given(mutated_texts())
@example(dump(base_document()).replace("request_timeout: 30s", "request_timeout: 99999999999999999999d").encode())  # OverflowError
@example(dump(base_document()).replace("request_timeout: 30s", "request_timeout: 100000000000000000000").encode())  # OverflowError
@example(dump(base_document()).replace("max_bytes: 4MiB", "max_bytes: " + "9" * 400 + "KiB").encode())  # OverflowError
@example(dump(base_document()).replace("data_dir: ./data", 'data_dir: "./da\\0ta"').encode())  # a NUL in a path
@example(dump(base_document()).replace("data_dir: ./data", "data_dir: ~nosuchuser/data").encode())  # RuntimeError
@example(dump(base_document()).replace("verify: true", 'ca_bundle: "ca\\0.pem"', 1).encode())  # ValueError
def test_text_mutations_of_a_valid_config(content):
    check(content)


def test_the_example_config_is_valid_or_located(tmp_path):
    """The shipped example, with its files missing: every problem located (no crash)."""
    example = (REPO / "config" / "satellite.example.yml").read_text()
    path = tmp_path / "satellite.yml"
    path.write_text(example)
    assert isinstance(check(example), ConfigError)  # its key files and secrets are not there
    with pytest.raises(ConfigError) as raised:
        load_config(path, env={"SEI_API_KEY": API_KEY, "ADO_PAT_MAIN": PAT})
    assert all(p.path for p in raised.value.problems), raised.value


# --- through the CLI ------------------------------------------------------------------------------


@settings(max_examples=CLI_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(mutated_texts(), mutated_documents().map(str.encode), documents.map(lambda d: dump(d).encode()), st.binary(max_size=300)))
def test_config_validate_exits_0_or_2_without_a_traceback(content):
    path = Path(tempfile.mkstemp(dir=_WORK, suffix=".yml")[1])
    try:
        path.write_bytes(content)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("FUZZ_")}, **ENV}
        done = subprocess.run([sys.executable, "-m", "satellite", "config", "validate", str(path)], capture_output=True,
                              text=True, errors="replace", timeout=60, cwd=_WORK, env=env)
    finally:
        path.unlink(missing_ok=True)
    assert done.returncode in (0, 2), (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, done.stderr[-2000:]
    assert PAT not in done.stderr + done.stdout and API_KEY not in done.stderr + done.stdout
    if done.returncode == 2:
        lines = done.stderr.strip().splitlines()
        assert lines[-1].endswith("problem(s) found"), done.stderr
        assert lines[0].startswith(str(path)), done.stderr  # file:line key.path: message
    else:
        assert "valid" in done.stdout
