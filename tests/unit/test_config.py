"""Configuration: YAML -> typed frozen Config, every problem located, never a secret echoed."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pydantic import BaseModel, ValidationError

from satellite.config import (
    SERVICES,
    Backfill,
    BatchLimits,
    Config,
    ConfigProblem,
    EncryptionSettings,
    Integration,
    Limits,
    PageSizes,
    ProjectFilter,
    SatelliteSettings,
    Schedule,
    TlsSettings,
    config_json_schema,
    load_config,
)
from satellite.config.units import DURATION_PATTERN, format_duration, parse_duration, parse_size
from satellite.errors import ConfigError
from satellite.secret import Secret
from tests.support import ca_pem

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "config"
CANARY = "CANARY-PAT-1234567890"
MiB = 1024**2


# --- helpers -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pems() -> dict[str, str]:
    """Fresh keys as PEM text: SEI's X25519 public key and our Ed25519 private key."""
    public = X25519PrivateKey.generate().public_key()
    private = Ed25519PrivateKey.generate()
    return {
        "public": public.public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo).decode(),
        "private": private.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()).decode(),
        "ed_public": private.public_key()
        .public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
        "encrypted": private.private_bytes(
            ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.BestAvailableEncryption(b"pw")
        ).decode(),
    }


@pytest.fixture
def env(pems) -> dict[str, str]:
    return {"API_KEY": "api-key-123456", "PAT": CANARY, "PUBLIC_PEM": pems["public"], "PRIVATE_PEM": pems["private"]}


def write(directory: Path, text: str, name: str = "satellite.yml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def problems_of(path: Path, env: dict[str, str]) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env)
    return info.value.problems


class StartsWith(str):
    """Equal to any string that starts with it."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith(self)

    __hash__ = str.__hash__


def where(problems: list[ConfigProblem]) -> list[tuple[int | None, str]]:
    return [(p.line, p.path) for p in problems]


SATELLITE = """
satellite:
  id: sat-1
  tenant: acme
  endpoint: https://sei.example.com
  api_key: ${env:API_KEY}
  encryption:
    recipient_key_id: k1
    recipient_public_key: ${env:PUBLIC_PEM}
    signing_private_key: ${env:PRIVATE_PEM}
  data_dir: data
"""

INTEGRATION = """
integrations:
  - id: main
    url: https://tfs.example.com/tfs/DefaultCollection
    pat: ${env:PAT}
"""


def minimal(extra: str = "") -> str:
    return textwrap.dedent(SATELLITE) + textwrap.dedent(INTEGRATION) + textwrap.dedent(extra)


# --- valid files -------------------------------------------------------------------------


def test_full_file_loads_into_typed_values(tmp_path, env, pems):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "sei.pub").write_text(pems["public"])
    (tmp_path / "keys" / "signing.key").write_text(pems["private"] + "\n")
    (tmp_path / "ca.pem").write_bytes(ca_pem())
    path = write(
        tmp_path,
        """
        satellite:
          id: sat-1
          tenant: acme
          endpoint: https://sei.example.com/ingest/
          api_key: ${env:API_KEY}
          encryption:
            recipient_key_id: k1
            recipient_public_key: ${file:keys/sei.pub}
            signing_private_key: ${file:keys/signing.key}
          data_dir: state
          proxy: http://user:proxy-password-1@proxy.corp:3128
          tls: {verify: false, ca_bundle: ca.pem}
        integrations:
          - id: main
            url: https://tfs.example.com/tfs/DefaultCollection/
            pat: ${env:PAT}
            projects: {include: ["Team*", "Ops"], exclude: ["*-old"]}
            services: [repos, boards]
            schedule: {interval: 1h, jitter: 90}
            backfill: {start: 2024-02-29}
          - id: legacy
            url: https://tfs.example.com/tfs
            collections: ["*"]
            pat: legacy-pat-value
            proxy: null
            tls: {ca_bundle: ca.pem}
        limits:
          concurrency: "8"
          page_sizes: {projects: 50, commits: 2000}
          batch: {max_records: 100, max_bytes: 512KiB}
          outbox_max_bytes: 2GiB
          request_timeout: 1m
        """,
    )
    cfg = load_config(path, env)

    assert isinstance(cfg, Config) and cfg.source == path
    sat = cfg.satellite
    assert isinstance(sat, SatelliteSettings)
    assert (sat.id, sat.tenant, sat.endpoint) == ("sat-1", "acme", "https://sei.example.com/ingest")
    assert isinstance(sat.api_key, Secret) and sat.api_key.reveal() == "api-key-123456"
    assert isinstance(sat.encryption, EncryptionSettings)
    assert sat.encryption.recipient_public_key == pems["public"].rstrip("\n")
    assert sat.encryption.signing_private_key.reveal() == pems["private"]  # one newline stripped
    assert sat.data_dir == tmp_path / "state"
    assert sat.tls == TlsSettings(verify=False, ca_bundle=tmp_path / "ca.pem")
    assert sat.proxy == "http://user:proxy-password-1@proxy.corp:3128"

    main, legacy = cfg.integrations
    assert isinstance(main, Integration)
    assert main.url == "https://tfs.example.com/tfs/DefaultCollection" and main.collections == ()
    assert main.pat.reveal() == CANARY
    assert main.services == ("repos", "boards")
    assert main.schedule == Schedule(interval=dt.timedelta(hours=1), jitter=dt.timedelta(seconds=90))
    assert main.backfill == Backfill(start=dt.date(2024, 2, 29))
    assert main.proxy == sat.proxy  # inherited
    assert main.tls == TlsSettings()
    assert main.projects.matches("teamCity") and main.projects.matches("OPS")
    assert not main.projects.matches("Team-old") and not main.projects.matches("Other")
    assert legacy.collections == ("*",) and legacy.proxy is None  # explicit null: direct
    assert legacy.services == SERVICES and legacy.schedule == Schedule()
    assert legacy.schedule.interval == dt.timedelta(minutes=5)
    assert legacy.tls.ca_bundle == tmp_path / "ca.pem"

    assert cfg.limits == Limits(
        concurrency=8,
        page_sizes=PageSizes(projects=50, commits=2000),
        batch=BatchLimits(max_records=100, max_bytes=512 * 1024),
        outbox_max_bytes=2 * 1024**3,
        request_timeout=dt.timedelta(minutes=1),
    )
    assert cfg.limits.page_sizes.refs == 1000

    # secrets stay masked, proxy password too
    for text in (repr(cfg), str(cfg), json.dumps(cfg.model_dump(mode="json"))):
        assert CANARY not in text and "api-key-123456" not in text and "legacy-pat-value" not in text
        assert "PRIVATE KEY" not in text
    assert "proxy-password-1" not in repr(cfg)


def test_defaults_and_frozen(tmp_path, env):
    cfg = load_config(write(tmp_path, minimal()), env)
    assert cfg.limits == Limits()
    assert cfg.limits.outbox_max_bytes == 1024**3 and cfg.limits.batch.max_bytes == 4 * MiB
    assert cfg.limits.concurrency == 4 and cfg.limits.request_timeout == dt.timedelta(seconds=30)
    assert cfg.limits.page_sizes == PageSizes(projects=100, refs=1000, commits=1000, pushes=100, default=200)
    assert cfg.limits.batch.max_records == 5000
    assert cfg.satellite.proxy is None and cfg.satellite.tls == TlsSettings(verify=True, ca_bundle=None)
    integration = cfg.integrations[0]
    assert integration.projects == ProjectFilter(include=("*",), exclude=())
    assert integration.schedule.jitter == dt.timedelta(seconds=30)
    assert integration.backfill.start is None and integration.proxy is None
    with pytest.raises(ValidationError):
        cfg.limits.concurrency = 5  # type: ignore[misc]
    with pytest.raises(ValidationError):
        integration.id = "x"  # type: ignore[misc]
    assert isinstance(cfg.integrations, tuple)
    hash(cfg)


def test_example_file_validates(tmp_path, pems):
    shutil.copy(REPO / "config" / "satellite.example.yml", tmp_path / "satellite.yml")
    for name, text in {
        "keys/sei-recipient.pub": pems["public"],
        "keys/satellite-signing.key": pems["private"],
        "keys/sei-command.pub": pems["ed_public"],
        "secrets/legacy-tfs.pat": "legacy-pat\n",
    }.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "corp-root-ca.pem").write_bytes(ca_pem())

    cfg = load_config(tmp_path / "satellite.yml", {"SEI_API_KEY": "sei-key", "ADO_PAT_MAIN": "main-pat"})

    assert cfg.satellite.id == "corp-dc1" and cfg.satellite.proxy is None
    assert cfg.satellite.tls.ca_bundle == tmp_path / "certs" / "corp-root-ca.pem"
    assert [i.id for i in cfg.integrations] == ["tfs-main", "tfs-legacy"]
    assert cfg.integrations[1].pat.reveal() == "legacy-pat"
    assert cfg.integrations[0].backfill.start == dt.date(2023, 1, 1)
    assert cfg.limits == Limits()  # the example spells out the defaults

    with_proxy = load_config(
        tmp_path / "satellite.yml",
        {"SEI_API_KEY": "k", "ADO_PAT_MAIN": "p", "HTTPS_PROXY": "http://proxy.corp:3128"},
    )
    assert with_proxy.integrations[0].proxy == "http://proxy.corp:3128"
    assert with_proxy.integrations[1].proxy is None


def _key_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths = set()
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        paths.add(prefix + name)
        inner = field.annotation
        args = getattr(inner, "__args__", ())
        for candidate in (inner, *args):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                paths |= _key_paths(candidate, f"{prefix}{name}.")
    return paths


def _data_paths(data, prefix: str = "") -> set[str]:
    if isinstance(data, dict):
        out = set()
        for key, value in data.items():
            out |= {prefix + key} | _data_paths(value, f"{prefix}{key}.")
        return out
    if isinstance(data, list):
        return set().union(*(_data_paths(item, prefix) for item in data)) if data else set()
    return set()


def test_example_file_shows_every_key():
    data = yaml.safe_load((REPO / "config" / "satellite.example.yml").read_text())
    # The single-key form is the alternative to `recipients`: shown in a comment, not as data.
    single_key_form = {"satellite.encryption.recipient_key_id", "satellite.encryption.recipient_public_key"}
    # privacy.fields maps record types to rules: the example shows keep, drop and hash under some type
    rules = {f"privacy.fields.{a}" for a in ("keep", "drop", "hash")}
    shown = {p.split(".", 3)[-1] for p in _data_paths(data) if p.startswith("privacy.fields.") and p.count(".") >= 3}
    assert {r.rsplit(".", 1)[1] for r in rules} <= {s.rsplit(".", 1)[-1] for s in shown}
    assert _key_paths(Config) - _data_paths(data) - single_key_form - rules == set()


def test_demo_file_loads(tmp_path, pems):
    env = {
        "DEMO_ADO_URL": "http://127.0.0.1:8081/DefaultCollection",
        "DEMO_PAT": "demo-pat",
        "DEMO_ENDPOINT": "http://127.0.0.1:8082",
        "DEMO_API_KEY": "demo-api-key",
        "DEMO_KEY_DIR": str(tmp_path),
        "DEMO_DATA_DIR": str(tmp_path / "data"),
        "DEMO_RECIPIENT_KEY_ID": "demo-key",
        "DEMO_RECIPIENT_PUBLIC_KEY": pems["public"],
        "DEMO_SIGNING_PRIVATE_KEY": pems["private"],
    }
    cfg = load_config(REPO / "standins" / "demo.yml", env)
    assert (cfg.satellite.id, cfg.satellite.tenant) == ("demo-satellite", "demo")
    assert cfg.satellite.encryption.recipient_key_id == "demo-key"
    assert cfg.satellite.data_dir == tmp_path / "data"
    (integration,) = cfg.integrations
    assert (integration.id, integration.services) == ("demo-ado", ("repos", "tfvc", "pipelines", "boards"))
    assert integration.url == env["DEMO_ADO_URL"]
    assert cfg.limits.concurrency == 4 and cfg.limits.batch.max_records == 500


# --- every problem at once, located ------------------------------------------------------


def test_four_mistakes_give_four_located_problems(env):
    path = FIXTURES / "four_mistakes.yml"
    problems = problems_of(path, env)
    assert where(problems) == [
        (13, "satellite.tls.verify"),
        (18, "integrations[0].servcies"),
        (19, "integrations[1].pat"),
        (21, "integrations[1].services[1]"),
    ]
    messages = [p.message for p in problems]
    assert messages[0] == "expected true or false"
    assert messages[1].startswith("unknown key (allowed: id, url, collections, pat, projects, services,")
    assert messages[2] == "required key is missing"
    assert messages[3] == "must be one of repos, tfvc, pipelines, boards"
    assert str(problems[0]) == f"{path}:13 satellite.tls.verify: expected true or false"


def test_validation_interpolation_and_semantic_problems_together(tmp_path, env, pems):
    env = {**env, "ED_PUBLIC": pems["ed_public"]}
    path = write(
        tmp_path,
        """
        satellite:
          id: "-not valid"
          tenant: ""
          endpoint: ftp://sei.example.com
          api_key: ${env:MISSING_KEY}
          encryption:
            recipient_key_id: k1
            recipient_public_key: ${env:ED_PUBLIC}
            signing_private_key: ${env:PUBLIC_PEM}
          data_dir: data
          tls: {ca_bundle: missing-ca.pem}
        integrations:
          - id: main
            url: https://tfs.example.com/tfs/DefaultCollection
            pat: ${env:PAT}
            schedule: {interval: 5s}
          - id: main
            url: https://tfs.example.com/tfs/Other
            pat: ${env:PAT}
            collections: ["*", "Other"]
            services: []
        limits:
          concurrency: 0
          batch: {max_bytes: 1GiB}
          outbox_max_bytes: lots
        """,
    )
    problems = problems_of(path, env)
    assert [(p.line, p.path, p.message) for p in problems] == [
        (2, "satellite.id", "must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"),
        (3, "satellite.tenant", "must not be empty"),
        (4, "satellite.endpoint", "must be an http or https URL"),
        (5, "satellite.api_key", "environment variable MISSING_KEY is not set"),
        (8, "satellite.encryption.recipient_public_key", "not an X25519 public key in PEM form"),
        (9, "satellite.encryption.signing_private_key", "not an Ed25519 private key in PEM form (unencrypted PKCS8)"),
        (11, "satellite.tls.ca_bundle", "cannot read the CA bundle: No such file or directory"),
        (16, "integrations[0].schedule.interval", "must be at least 10s"),
        (17, "integrations[1].id", "duplicate integration id (also used by integrations[0])"),
        (20, "integrations[1].collections", "'*' must be the only entry"),
        (21, "integrations[1].services", "must have at least 1 entry"),
        (23, "limits.concurrency", "must be at least 1"),
        (24, "limits.batch.max_bytes", "must be at most 64MiB"),
        (25, "limits.outbox_max_bytes", "expected a size such as 4MiB, 1GiB or a number of bytes"),
    ]


def test_missing_required_keys_point_at_the_parent(tmp_path, env):
    path = write(
        tmp_path,
        """
        satellite:
          id: sat-1
          tenant: acme
          endpoint: https://sei.example.com
          api_key: k-123
          data_dir: data
        integrations: []
        """,
    )
    problems = problems_of(path, env)
    assert [(p.line, p.path, p.message) for p in problems] == [
        (1, "satellite.encryption", "required key is missing"),
        (7, "integrations", "must have at least 1 entry"),
    ]


def test_semantic_key_checks(tmp_path, env, pems):
    path = write(tmp_path, minimal())
    problems = problems_of(path, {**env, "PRIVATE_PEM": pems["encrypted"], "PUBLIC_PEM": "garbage"})
    assert [(p.path, p.message) for p in problems] == [
        ("satellite.encryption.recipient_public_key", "not an X25519 public key in PEM form"),
        (
            "satellite.encryption.signing_private_key",
            "the private key is encrypted; an unencrypted PKCS8 Ed25519 key is required",
        ),
    ]


def test_ca_bundle_must_hold_certificates(tmp_path, env):
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    (tmp_path / "data").write_text("a file, not a directory")
    path = write(tmp_path, minimal().replace("  data_dir: data\n", "  data_dir: data\n  tls: {ca_bundle: ca.pem}\n"))
    problems = problems_of(path, env)
    assert [(p.line, p.path) for p in problems] == [(10, "satellite.data_dir"), (11, "satellite.tls.ca_bundle")]
    assert [p.message for p in problems] == [
        "exists and is not a directory",
        "the CA bundle holds no PEM certificates",
    ]


def test_unknown_keys(tmp_path, env):
    path = write(tmp_path, minimal("limits:\n  concurency: 4\nsource: /etc/x.yml\n"))
    problems = problems_of(path, env)
    assert [(p.line, p.path, p.message) for p in problems] == [
        (
            17,
            "limits.concurency",
            "unknown key (allowed: concurrency, min_concurrency, adaptive, max_requests_per_second, page_sizes, batch,"
            " outbox_max_bytes, request_timeout, cursor_overlap)",
        ),
        (18, "source", "unknown key (allowed: satellite, integrations, limits, delivery, privacy, log)"),
    ]


def test_duplicate_keys_are_located(env):
    problems = problems_of(FIXTURES / "duplicate_keys.yml", env)
    assert [(p.line, p.path, p.message) for p in problems] == [
        (11, "satellite.tenant", "duplicate key (first defined on line 3)"),
        (16, "integrations[0].pat", "duplicate key (first defined on line 15)"),
    ]


def test_yaml_syntax_error_line(env):
    path = FIXTURES / "syntax_error.yml"
    (problem,) = problems_of(path, env)
    assert problem.line == 5 and problem.path == ""
    assert problem.message.startswith("YAML syntax error: mapping values are not allowed here")
    assert str(problem).startswith(f"{path}:5: YAML syntax error")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", None, "the file is empty"),
        ("# only a comment\n", None, "the file is empty"),
        ("- a\n- b\n", 1, "the top level must be a mapping"),
        ("a: 1\n---\nb: 2\n", 2, "YAML syntax error: expected a single document"),
        ("a: [1, 2\n", 2, "YAML syntax error"),
    ],
)
def test_unusable_files_give_one_problem(tmp_path, text, line, message):
    (problem,) = problems_of(write(tmp_path, text), {})
    assert problem.line == line and problem.message.startswith(message)


def test_missing_file(tmp_path):
    (problem,) = problems_of(tmp_path / "nope.yml", {})
    assert str(problem) == f"{tmp_path / 'nope.yml'}: cannot read the file: No such file or directory"


def test_tags_are_not_executed(tmp_path, env):
    path = write(tmp_path, minimal("limits:\n  concurrency: !!python/object/apply:os.system [echo hi]\n"))
    (problem,) = problems_of(path, env)
    assert (problem.line, problem.path) == (17, "limits.concurrency")
    assert problem.message == "unsupported YAML tag !!python/object/apply:os.system"


def test_problem_str_without_line():
    assert str(ConfigProblem("a.yml", 3, "x.y", "bad")) == "a.yml:3 x.y: bad"
    assert str(ConfigProblem("a.yml", None, "x", "bad")) == "a.yml x: bad"
    assert str(ConfigProblem("a.yml", None, "", "bad")) == "a.yml: bad"


# --- interpolation -----------------------------------------------------------------------


def test_interpolation_env_default_file_and_escapes(tmp_path, env):
    (tmp_path / "tenant.txt").write_text("from-file\n\n")
    (tmp_path / "host.txt").write_text("tfs.example.com\r\n")
    path = write(
        tmp_path,
        minimal()
        .replace("tenant: acme", "tenant: ${file:tenant.txt}")
        .replace("https://tfs.example.com/tfs/DefaultCollection", "https://${file:host.txt}/${env:COLL:-Default}")
        .replace("id: main", 'id: "${env:UNSET:-}main${env:EMPTY:-}"')
        .replace("recipient_key_id: k1", "recipient_key_id: '$${env:NOT_A_REF}-${env:KEY_ID}-$5'"),
    )
    cfg = load_config(path, {**env, "EMPTY": "", "KEY_ID": "kid"})
    assert cfg.satellite.tenant == "from-file\n"  # exactly one trailing newline removed
    assert cfg.integrations[0].url == "https://tfs.example.com/Default"
    assert cfg.integrations[0].id == "main"
    assert cfg.satellite.encryption.recipient_key_id == "${env:NOT_A_REF}-kid-$5"


def test_interpolated_strings_are_coerced(tmp_path, env):
    path = write(tmp_path, minimal("limits:\n  concurrency: ${env:N}\n  outbox_max_bytes: ${env:SIZE}\n"))
    cfg = load_config(path, {**env, "N": "16", "SIZE": "2MiB"})
    assert cfg.limits.concurrency == 16 and cfg.limits.outbox_max_bytes == 2 * MiB


def test_pem_from_file_keeps_inner_newlines(tmp_path, env, pems):
    (tmp_path / "sei.pub").write_text(pems["public"])
    path = write(tmp_path, minimal().replace("${env:PUBLIC_PEM}", "${file:" + str(tmp_path / "sei.pub") + "}"))
    cfg = load_config(path, env)
    assert cfg.satellite.encryption.recipient_public_key == pems["public"].removesuffix("\n")
    assert cfg.satellite.encryption.recipient_public_key.count("\n") == pems["public"].count("\n") - 1


def test_interpolation_problems_are_located(tmp_path, env):
    text = (
        minimal()
        .replace("tenant: acme", "tenant: ${env:SEI_TENANT}")
        .replace("data_dir: data", "data_dir: ${file:/nonexistent/dir/x}")
        .replace("recipient_key_id: k1", 'recipient_key_id: "${env:bad-name} ${vault:x} ${env:X"')
    )
    problems = problems_of(write(tmp_path, text), env)
    assert [(p.line, p.path, p.message) for p in problems] == [
        (3, "satellite.tenant", "environment variable SEI_TENANT is not set"),
        (7, "satellite.encryption.recipient_key_id", "invalid environment variable name in ${env:...} reference"),
        (7, "satellite.encryption.recipient_key_id", StartsWith("malformed ${...} reference")),
        (7, "satellite.encryption.recipient_key_id", StartsWith("malformed ${...} reference")),
        (10, "satellite.data_dir", "cannot read file /nonexistent/dir/x: No such file or directory"),
    ]


# --- secrets never echoed ----------------------------------------------------------------


def test_canary_secret_never_appears(tmp_path, env):
    # The canary is the PAT (a Secret), and also lands in many wrongly typed fields.
    text = f"""
        satellite:
          id: {CANARY}!
          tenant: [{CANARY}]
          endpoint: https://{CANARY}:x@sei.example.com
          api_key: {{value: {CANARY}}}
          encryption:
            recipient_key_id: {{a: "${{env:PAT}}"}}
            recipient_public_key: ${{env:PAT}}
            signing_private_key: ${{env:PAT}}
          data_dir: [{CANARY}]
          tls: {{verify: {CANARY}, ca_bundle: {CANARY}}}
        integrations:
          - id: main
            url: https://tfs.example.com/tfs/DefaultCollection
            pat: ${{env:PAT}}
          - id: {CANARY}
            url: ${{env:PAT}}
            pat: [{CANARY}]
            services: [{CANARY}]
            backfill: {{start: {CANARY}}}
            schedule: {{interval: {CANARY}, jitter: "${{env:PAT}}"}}
            projects: {{include: {CANARY}}}
        limits:
          concurrency: {CANARY}
          outbox_max_bytes: ${{env:PAT}}
          request_timeout: "${{env:PAT}}"
          page_sizes: {{projects: [{CANARY}]}}
          batch: {{max_records: {CANARY}, max_bytes: {CANARY}}}
        """
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env)
    error = info.value
    assert len(error.problems) >= 15
    for rendered in (str(error), repr(error), repr(error.problems), *(p.message for p in error.problems)):
        assert CANARY not in rendered

    # a YAML syntax error on the secret's line does not quote the line either
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f"satellite:\n  api_key: {CANARY}: x\n"), env)
    assert CANARY not in str(info.value)

    # a valid config holding the canary does not show it
    cfg = load_config(write(tmp_path, minimal()), env)
    assert cfg.integrations[0].pat.reveal() == CANARY
    for rendered in (repr(cfg), str(cfg), repr(cfg.integrations), str(cfg.model_dump()), cfg.model_dump_json()):
        assert CANARY not in rendered


# --- JSON Schema -------------------------------------------------------------------------


def test_json_schema_structure():
    schema = config_json_schema()
    json.dumps(schema)  # plain JSON
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "SEI Satellite configuration"
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"satellite", "integrations", "limits", "delivery", "privacy", "log"}  # no "source"
    assert schema["required"] == ["satellite", "integrations"]
    defs = schema["$defs"]
    for name in ("api_key",):
        assert defs["SatelliteSettings"]["properties"][name]["type"] == "string"
        assert defs["SatelliteSettings"]["properties"][name]["writeOnly"] is True
    assert defs["Integration"]["properties"]["pat"]["writeOnly"] is True
    assert defs["EncryptionSettings"]["properties"]["signing_private_key"]["writeOnly"] is True
    assert defs["Integration"]["properties"]["services"]["items"]["enum"] == list(SERVICES)
    assert defs["Schedule"]["properties"]["interval"]["default"] == "5m"
    for model in defs.values():
        assert model["additionalProperties"] is False


def test_json_schema_accepts_and_rejects():
    jsonschema = pytest.importorskip("jsonschema")
    schema = config_json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    jsonschema.Draft202012Validator.check_schema(schema)
    good = {
        "satellite": {
            "id": "sat-1",
            "tenant": "acme",
            "endpoint": "https://sei.example.com",
            "api_key": "${env:SEI_API_KEY}",
            "encryption": {
                "recipient_key_id": "k1",
                "recipient_public_key": "${file:keys/sei.pub}",
                "signing_private_key": "${file:keys/sat.key}",
            },
            "data_dir": "/var/lib/sei-satellite",
        },
        "integrations": [
            {
                "id": "main",
                "url": "https://tfs/tfs",
                "collections": ["*"],
                "pat": "x",
                "services": ["repos"],
                "schedule": {"interval": "5m", "jitter": 30},
            }
        ],
        "limits": {"outbox_max_bytes": "512MiB", "batch": {"max_bytes": 4096}},
    }
    assert list(validator.iter_errors(good)) == []
    bad_service = json.loads(json.dumps(good))
    bad_service["integrations"][0]["services"] = ["wiki"]
    bad_key = json.loads(json.dumps(good))
    bad_key["limits"]["concurency"] = 4
    no_integrations = {**good, "integrations": []}
    bad_id = json.loads(json.dumps(good))
    bad_id["satellite"]["id"] = "-x"
    bad_duration = json.loads(json.dumps(good))
    bad_duration["integrations"][0]["schedule"]["interval"] = "soon"
    for instance in (bad_service, bad_key, no_integrations, bad_id, bad_duration):
        assert not validator.is_valid(instance)


# --- units and small pieces --------------------------------------------------------------


def test_units():
    assert parse_duration("30s") == dt.timedelta(seconds=30)
    assert parse_duration("5m") == dt.timedelta(minutes=5)
    assert parse_duration("1h30m") == dt.timedelta(minutes=90)
    assert parse_duration("1d") == dt.timedelta(days=1)
    assert parse_duration(45) == parse_duration("45") == dt.timedelta(seconds=45)
    assert format_duration(dt.timedelta(minutes=90)) == "1h30m"
    for bad in ("5 minutes", "", "-5s", True, 1.5, None):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_size("4MiB") == 4 * MiB and parse_size("1GiB") == 1024**3
    assert parse_size("512 KiB") == 512 * 1024 and parse_size("1MB") == 10**6
    assert parse_size(1000) == parse_size("1000") == 1000
    for bad in ("4 megs", "", "-1", False, None):
        with pytest.raises(ValueError):
            parse_size(bad)


# Duration syntax: the loader and the JSON Schema (and so the Helm values schema) share
# DURATION_PATTERN. (text, what parse_duration makes of it; None = refused)
DURATION_CASES = [
    ("0", dt.timedelta(0)),
    ("45", dt.timedelta(seconds=45)),
    (" 30 ", dt.timedelta(seconds=30)),
    ("30\n", dt.timedelta(seconds=30)),
    ("500ms", dt.timedelta(milliseconds=500)),
    ("10ms", dt.timedelta(milliseconds=10)),
    ("30s", dt.timedelta(seconds=30)),
    ("5m", dt.timedelta(minutes=5)),
    ("1h", dt.timedelta(hours=1)),
    ("1d", dt.timedelta(days=1)),
    ("2h30m", dt.timedelta(hours=2, minutes=30)),
    ("1d2h3m4s5ms", dt.timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=5)),
    ("1h 30m", dt.timedelta(minutes=90)),
    ("5 m", dt.timedelta(minutes=5)),
    ("1h\t30m", dt.timedelta(minutes=90)),
    ("5M", dt.timedelta(minutes=5)),
    ("5MS", dt.timedelta(milliseconds=5)),
    ("30m1h", dt.timedelta(minutes=90)),  # any order
    ("1s1s", dt.timedelta(seconds=2)),
    ("", None),
    ("  ", None),
    ("1.5s", None),
    ("1.5", None),
    ("P1D", None),
    ("PT5M", None),
    ("-5s", None),
    ("+5", None),
    ("1e3", None),
    ("5sec", None),
    ("5 minutes", None),
    ("5x", None),
    ("ms", None),
    ("5mss", None),
    ("5m s", None),  # was read as 5ms when spaces were dropped anywhere
    ("1 0s", None),
    ("\u0661\u0662s", None),  # non-ASCII digits: regex dialects disagree on what \d matches
    ("5s\u00a0", None),
]


@pytest.mark.parametrize(("text", "expected"), DURATION_CASES, ids=repr)
def test_duration_loader_and_schema_pattern_agree(text, expected):
    jsonschema = pytest.importorskip("jsonschema")
    matches = jsonschema.Draft202012Validator({"type": "string", "pattern": DURATION_PATTERN}).is_valid(text)
    if expected is None:
        with pytest.raises(ValueError):
            parse_duration(text)
        assert not matches
    else:
        assert parse_duration(text) == expected
        assert matches


def test_duration_out_of_range_is_refused_by_the_loader_only():
    # The schema states syntax; range (beyond timedelta, a field's minimum) is the loader's.
    assert parse_duration("999999999d") == dt.timedelta(days=999999999)
    for text in ("1000000000d", "9" * 5000):
        assert re.search(DURATION_PATTERN, text)
        with pytest.raises(ValueError):
            parse_duration(text)


def test_every_duration_field_publishes_the_loader_pattern():
    defs = config_json_schema()["$defs"]
    found = []

    def walk(model: type[BaseModel]) -> None:
        for name, field in model.model_fields.items():
            if field.annotation is dt.timedelta:
                alternatives = defs[model.__name__]["properties"][name]["anyOf"]
                assert [a.get("pattern") for a in alternatives if a["type"] == "string"] == [DURATION_PATTERN]
                found.append(f"{model.__name__}.{name}")
            for arg in (field.annotation, *getattr(field.annotation, "__args__", ())):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    walk(arg)

    walk(Config)
    assert "Delivery.initial_backoff" in found and "Schedule.interval" in found


def test_project_filter():
    default = ProjectFilter()
    assert default.matches("Anything")
    picky = ProjectFilter(include=("web-*", "API"), exclude=("*-Legacy",))
    assert picky.matches("Web-Shop") and picky.matches("api")
    assert not picky.matches("web-legacy") and not picky.matches("Mobile")


def test_models_validate_without_the_loader(pems):
    integration = Integration(id="a", url="https://x/tfs/c/", pat="p-123")
    assert isinstance(integration.pat, Secret) and integration.url == "https://x/tfs/c"
    with pytest.raises(ValidationError):
        Integration(id="a", url="https://x/tfs/c", pat="p", services=["repos", "repos"])
    with pytest.raises(ValidationError):
        Schedule(interval="9s")
    assert Schedule(interval="10s").interval == dt.timedelta(seconds=10)
    with pytest.raises(ValidationError):
        Limits(concurrency=True)  # YAML "yes" is not 1
    assert Limits(concurrency="8", outbox_max_bytes="2MiB").outbox_max_bytes == 2 * MiB


def test_cursor_overlap_defaults_to_five_minutes_takes_a_duration_and_refuses_a_negative_one(tmp_path, env):
    assert load_config(write(tmp_path, minimal()), env).limits.cursor_overlap == dt.timedelta(minutes=5)
    cfg = load_config(write(tmp_path, minimal("limits:\n  cursor_overlap: 15m\n")), env)
    assert cfg.limits.cursor_overlap == dt.timedelta(minutes=15)
    assert load_config(write(tmp_path, minimal("limits:\n  cursor_overlap: 0\n")), env).limits.cursor_overlap == dt.timedelta(0)
    for bad in ("soon", "-5m"):
        (problem,) = problems_of(write(tmp_path, minimal(f"limits:\n  cursor_overlap: {bad}\n")), env)
        assert problem.path == "limits.cursor_overlap"
    schema = config_json_schema()["$defs"]["Limits"]["properties"]["cursor_overlap"]
    assert schema["default"] == "5m"


@pytest.mark.parametrize("value, what", [("clé-123456", "character 3 of 10 is not ASCII"), ("key with-space", "character 4 of 14 is a space"),
                                         ("tab\there", "character 4 of 8 is a control character")])
def test_a_secret_sent_in_a_header_must_be_visible_ascii(tmp_path, env, value, what):
    """API key and PAT: a character no HTTP header carries is a located problem at load, never a
    traceback at the first request; the value is never shown."""
    problems = problems_of(write(tmp_path, minimal()), {**env, "API_KEY": value, "PAT": value})
    assert [(p.line, p.path) for p in problems] == [(5, "satellite.api_key"), (15, "integrations[0].pat")]
    for problem in problems:
        assert "visible ASCII" in problem.message and what in problem.message and value not in str(problem)
