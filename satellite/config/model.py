"""The typed, frozen configuration models and their JSON Schema.

Validation here is pure: no file or network I/O (the loader does the key and file checks).
Relative paths are resolved against ``context["base_dir"]`` when validation is given one.
Every custom error message is written so that it never contains the input value.
"""

from __future__ import annotations

from datetime import date, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from satellite.config.units import (
    DURATION_HINT,
    DURATION_PATTERN,
    SIZE_HINT,
    GiB,
    KiB,
    MiB,
    format_duration,
    format_size,
    parse_duration,
    parse_size,
)
from satellite.politeness.window import parse_window, parse_zone
from satellite.secret import MASK, Secret

__all__ = [
    "SERVICES",
    "ID_PATTERN",
    "ERROR_PREFIX",
    "Config",
    "SatelliteSettings",
    "Delivery",
    "HttpSettings",
    "Shard",
    "RecipientKey",
    "CommandKey",
    "EncryptionSettings",
    "TlsSettings",
    "Integration",
    "ProjectFilter",
    "NameFilter",
    "PathFilter",
    "FieldRules",
    "PrivacySettings",
    "PRESETS",
    "Schedule",
    "Backfill",
    "EventSettings",
    "Limits",
    "PageSizes",
    "BatchLimits",
    "LogSettings",
    "config_json_schema",
]

SERVICES: tuple[str, ...] = ("repos", "tfvc", "pipelines", "boards")
Service = Literal["repos", "tfvc", "pipelines", "boards"]
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
ERROR_PREFIX = "satellite_"  # custom error types; their messages are safe to show as they are


def _error(kind: str, message: str, **ctx: Any) -> PydanticCustomError:
    return PydanticCustomError(ERROR_PREFIX + kind, message, ctx or None)


# --- field types -------------------------------------------------------------------------


def _to_secret(value: object) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise _error("secret_type", "expected a string")
    if not value.strip():
        raise _error("empty", "must not be empty")
    return Secret(value)


SecretValue = Annotated[
    Secret,
    PlainValidator(_to_secret),
    PlainSerializer(lambda s: MASK, return_type=str),
    WithJsonSchema({"type": "string", "writeOnly": True}),
]


def _to_header_secret(value: object) -> Secret:
    """A secret sent in an HTTP header (API key, PAT): visible ASCII only, or no request can carry
    it; the problem names the character's position, never the value."""
    secret = _to_secret(value)
    text = secret.reveal()
    bad = next((i for i, c in enumerate(text) if not "!" <= c <= "~"), None)
    if bad is not None:
        what = "a space" if text[bad] == " " else "not ASCII" if not text[bad].isascii() else "a control character"
        raise _error("header_unsafe", "must be visible ASCII (it is sent in an HTTP header): character {position} of"
                     " {length} is {what}; check the variable or file it comes from",
                     position=bad + 1, length=len(text), what=what)
    return secret


HeaderSecretValue = Annotated[
    Secret,
    PlainValidator(_to_header_secret),
    PlainSerializer(lambda s: MASK, return_type=str),
    WithJsonSchema({"type": "string", "writeOnly": True, "pattern": "^[!-~]+$"}),
]


def _url(value: str, *, credentials: bool) -> str:
    bad = _error("url", "must be an http or https URL")
    if any(c.isspace() for c in value):
        raise bad
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise bad from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad
    if parts.query or parts.fragment:
        raise _error("url", "must be an http or https URL without a query or fragment")
    if parts.username is not None or parts.password is not None:
        if not credentials:
            raise _error("url", "must not contain credentials")
        if parts.password:
            Secret(parts.password)  # registers the proxy password for log redaction
    return value.rstrip("/")


HttpUrl = Annotated[
    str,
    AfterValidator(lambda v: _url(v, credentials=False)),
    WithJsonSchema({"type": "string", "format": "uri"}),
]
ProxyUrl = Annotated[
    str,
    AfterValidator(lambda v: _url(v, credentials=True)),
    WithJsonSchema({"type": "string", "format": "uri"}),
]
Ident = Annotated[str, Field(pattern=ID_PATTERN)]


def _not_bool(value: object) -> object:
    if isinstance(value, bool):  # YAML "yes"/"on" must not become 1
        raise _error("int_type", "expected an integer")
    return value


Int = Annotated[int, BeforeValidator(_not_bool)]
NonEmpty = Annotated[str, Field(min_length=1)]


def _path_input(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        raise _error("empty", "must not be empty")
    if isinstance(value, str) and "\x00" in value:
        raise _error("path_nul", "must not contain a NUL character")
    return value


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    try:
        value = value.expanduser()
    except RuntimeError:  # ~name of a user this machine does not know
        raise _error("path_home", "starts with ~ but that home directory is unknown here") from None
    base = (info.context or {}).get("base_dir")
    if base is not None and not value.is_absolute():
        return Path(base) / value
    return value


ConfigPath = Annotated[Path, BeforeValidator(_path_input), AfterValidator(_resolve_path)]


def _blank_is_none(value: object) -> object:
    """``""`` (e.g. from ``${env:HTTPS_PROXY:-}``) means "not set" for optional settings."""
    return None if isinstance(value, str) and not value.strip() else value


OptionalProxy = Annotated[ProxyUrl | None, BeforeValidator(_blank_is_none)]
OptionalPath = Annotated[ConfigPath | None, BeforeValidator(_blank_is_none)]


def _duration(minimum: timedelta) -> Any:
    def check(value: object) -> timedelta:
        try:
            result = parse_duration(value)
        except ValueError:
            raise _error("duration", DURATION_HINT) from None
        if result < minimum:
            raise _error("duration_min", "must be at least {min}", min=format_duration(minimum))
        return result

    schema = {
        "anyOf": [
            {"type": "integer", "minimum": int(minimum.total_seconds())},
            {"type": "string", "pattern": DURATION_PATTERN},
        ],
        "description": "seconds, or a duration such as 500ms, 30s, 5m, 1h30m, 1d",
    }
    return Annotated[
        timedelta,
        PlainValidator(check),
        PlainSerializer(format_duration, return_type=str),
        WithJsonSchema(schema),
    ]


def _size(minimum: int, maximum: int | None = None) -> Any:
    def check(value: object) -> int:
        try:
            result = parse_size(value)
        except ValueError:
            raise _error("size", SIZE_HINT) from None
        if result < minimum:
            raise _error("size_min", "must be at least {min}", min=format_size(minimum))
        if maximum is not None and result > maximum:
            raise _error("size_max", "must be at most {max}", max=format_size(maximum))
        return result

    number: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        number["maximum"] = maximum
    schema = {
        "anyOf": [number, {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*([kKmMgGtT][iI]?[bB]|[bB])?\s*$"}],
        "description": "bytes, or a size such as 512KiB, 4MiB, 1GiB",
    }
    return Annotated[int, PlainValidator(check), WithJsonSchema(schema)]


def _window_text(value: str) -> str:
    try:
        start, end = parse_window(value)
    except ValueError as exc:
        raise _error("backfill_window", str(exc)) from None
    return f"{start:%H:%M}-{end:%H:%M}"


def _zone_name(value: str) -> str:
    try:
        parse_zone(value)
    except ValueError as exc:
        raise _error("time_zone", str(exc)) from None
    return value


def _not_bool_number(value: object) -> object:
    if isinstance(value, bool):  # YAML "yes"/"on" must not become 1.0
        raise _error("float_type", "expected a number")
    return value


BackfillWindowText = Annotated[str, AfterValidator(_window_text),
                               WithJsonSchema({"type": "string", "pattern": r"^\s*\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}\s*$"})]
TimeZoneName = Annotated[str, AfterValidator(_zone_name)]
Share = Annotated[float, BeforeValidator(_not_bool_number), Field(gt=0, le=1)]
PositiveRate = Annotated[float, BeforeValidator(_not_bool_number), Field(gt=0, le=10000)]
Interval = _duration(timedelta(seconds=10))
Jitter = _duration(timedelta(0))
Overlap = _duration(timedelta(0))
Timeout = _duration(timedelta(seconds=1))
Backoff = _duration(timedelta(milliseconds=10))
OutboxBytes = _size(MiB)
BatchBytes = _size(KiB, 64 * MiB)
LogBytes = _size(64 * KiB)


def _duration_field(default: timedelta, description: str) -> Any:
    """A Field whose schema default reads like the input ("5m", not "PT5M")."""
    return Field(default, description=description, json_schema_extra={"default": format_duration(default)})


def _size_field(default: int, description: str) -> Any:
    return Field(default, description=description, json_schema_extra={"default": format_size(default)})


def _mask_proxy(args: Any) -> Any:
    """repr args with a proxy password masked."""
    for name, value in args:
        if name == "proxy" and isinstance(value, str):
            parts = urlsplit(value)
            if parts.password:
                host = parts.netloc.rsplit("@", 1)[1]
                value = parts._replace(netloc=f"{parts.username}:{MASK}@{host}").geturl()
        yield name, value


# --- models ------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _empty_section(cls, data: Any) -> Any:
        """An empty YAML section (``limits:`` with nothing under it) means all defaults."""
        return {} if data is None else data


class TlsSettings(_Model):
    """TLS verification for one HTTPS peer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verify: bool = Field(True, description="Verify the server certificate.")
    ca_bundle: OptionalPath = Field(
        None, description="PEM file of CA certificates to trust (relative to the config file)."
    )


class RecipientKey(_Model):
    """One of SEI's recipient public keys (X25519, or hybrid ML-KEM-768 + X25519); SEI rotates by
    publishing a newer one, and the newest decides how new batches are sealed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: NonEmpty = Field(description="Id of this SEI recipient key.")
    public_key: NonEmpty = Field(description="SEI's public key, PEM text (kem x25519: SubjectPublicKeyInfo PEM;"
                                 " mlkem768-x25519: the 1,216-byte key in '-----BEGIN MLKEM768-X25519 PUBLIC KEY-----').")
    kem: Literal["x25519", "mlkem768-x25519"] = Field(
        "x25519", description="The key's KEM: x25519, or mlkem768-x25519 (hybrid post-quantum, HPKE KEM 0x647a).")
    created: date | None = Field(None, description="When SEI issued it; the newest key seals new batches.")


class EncryptionSettings(_Model):
    """Keys for sealing batches: encrypt to SEI's X25519 key, sign with ours (Ed25519).

    Either one key (``recipient_key_id`` + ``recipient_public_key``) or a list (``recipients``)
    during a rotation: the newest (by ``created``, then by position) seals new batches.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    recipient_key_id: NonEmpty | None = Field(None, description="Id of SEI's recipient key (single-key form).")
    recipient_public_key: NonEmpty | None = Field(None, description="SEI's X25519 public key, PEM text (single-key form).")
    recipients: tuple[RecipientKey, ...] = Field((), description="SEI's recipient keys (rotation form).")
    signing_private_key: SecretValue = Field(
        description="The satellite's Ed25519 private key, unencrypted PKCS8 PEM text."
    )

    @model_validator(mode="after")
    def _one_form(self) -> "EncryptionSettings":
        single = self.recipient_key_id is not None or self.recipient_public_key is not None
        if single and self.recipients:
            raise PydanticCustomError(f"{ERROR_PREFIX}key_form", "use either recipients or recipient_key_id + recipient_public_key")
        if not self.recipients and (self.recipient_key_id is None or self.recipient_public_key is None):
            raise PydanticCustomError(f"{ERROR_PREFIX}key_form", "a recipient key is required: recipient_key_id and recipient_public_key, or recipients")
        return self

    def sealing_key(self) -> RecipientKey:
        """The key new batches are sealed to."""
        if not self.recipients:
            return RecipientKey(key_id=self.recipient_key_id, public_key=self.recipient_public_key)
        newest = max(enumerate(self.recipients), key=lambda pair: (pair[1].created or date.min, pair[0]))
        return newest[1]


def _ed25519_public_pem(value: str) -> str:
    from satellite.sealing.keys import load_ed25519_public  # pure: parses the PEM text

    try:
        load_ed25519_public(value)
    except Exception:  # noqa: BLE001 - any parse failure means "not such a key"
        raise _error("command_key", "not an Ed25519 public key in PEM form") from None
    return value


class CommandKey(_Model):
    """One of SEI's Ed25519 keys that sign the commands of the heartbeat answer (docs/remote-commands.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: NonEmpty = Field(description="Id of this command key, as SEI names it in each command.")
    public_key: Annotated[NonEmpty, AfterValidator(_ed25519_public_pem)] = Field(
        description="SEI's Ed25519 public key, PEM text (e.g. ${file:/var/run/secrets/sei-satellite/command-public-key}).")


def _unique_key_ids(value: tuple[CommandKey, ...]) -> tuple[CommandKey, ...]:
    if len({k.key_id for k in value}) != len(value):
        raise _error("duplicate", "must not list a key_id twice")
    return value


class Shard(_Model):
    """Scale-out: this replica collects only its share of the (collection, project) pairs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: Int = Field(1, ge=1, le=1000, description="How many replicas share the work.")
    index: Int | None = Field(
        None, ge=0, le=999,
        description="This replica's index (0..count-1); default: the ordinal at the end of the host name"
        " (a StatefulSet pod such as sei-satellite-2), else 0.",
    )

    @model_validator(mode="after")
    def _index_in_range(self) -> "Shard":
        if self.index is not None and self.index >= self.count:
            raise PydanticCustomError(f"{ERROR_PREFIX}shard_index", "must be smaller than shard.count")
        return self


class HttpSettings(_Model):
    """The agent's own HTTP endpoint: /healthz, /readyz, /metrics and a status page."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    listen: str = Field("0.0.0.0:8080", pattern=r"^$|^[^\s]*:\d{1,5}$",
                        description="host:port to listen on (empty = no endpoint).")
    tls_cert: OptionalPath = Field(None, description="PEM certificate (chain) to serve HTTPS instead of HTTP, e.g. for"
                                   " the events' Basic credentials (relative to the config file); empty = HTTP.")
    tls_key: OptionalPath = Field(None, description="PEM private key of tls_cert (relative to the config file).")

    @model_validator(mode="after")
    def _cert_and_key(self) -> "HttpSettings":
        if (self.tls_cert is None) != (self.tls_key is None):
            raise _error("http_tls", "tls_cert and tls_key go together")
        return self


class SatelliteSettings(_Model):
    """Who this satellite is and where it delivers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Ident = Field(description="This satellite's id.")
    tenant: NonEmpty = Field(description="SEI tenant.")
    endpoint: HttpUrl = Field(description="SEI ingestion endpoint (http/https).")
    api_key: HeaderSecretValue = Field(description="SEI API key.")
    encryption: EncryptionSettings
    data_dir: ConfigPath = Field(description="State and outbox directory (relative to the config file).")
    proxy: OptionalProxy = Field(None, description="HTTP(S) proxy URL; integrations inherit it; empty = none.")
    tls: TlsSettings = Field(TlsSettings(), description="TLS settings for the SEI endpoint.")
    shard: Shard = Field(Shard(), description="Scale-out over several replicas (each with its own data_dir).")
    http: HttpSettings = Field(HttpSettings(), description="Health, readiness, metrics and status page.")
    shutdown_grace: Timeout = _duration_field(timedelta(seconds=30), "On SIGTERM: time to finish the page in hand and commit.")
    remote_commands: bool = Field(
        True, description="Run SEI's signed commands from the heartbeat answer (resync, pause/resume, log level,"
        " support bundle, reconcile); false: every command is refused ('disabled').")
    command_keys: Annotated[tuple[CommandKey, ...], AfterValidator(_unique_key_ids)] = Field(
        (), description="SEI's command public keys (several during a rotation); none: every command is refused.")

    def __repr_args__(self) -> Any:
        return _mask_proxy(super().__repr_args__())


class ProjectFilter(_Model):
    """Which projects to collect: fnmatch patterns, case-insensitive, on project names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    include: tuple[NonEmpty, ...] = Field(("*",), description="Collect projects matching any of these.")
    exclude: tuple[NonEmpty, ...] = Field((), description="Skip projects matching any of these.")

    def matches(self, name: str) -> bool:
        """True when ``name`` matches an include pattern and no exclude pattern."""
        folded = name.casefold()

        def hit(patterns: tuple[str, ...]) -> bool:
            return any(fnmatchcase(folded, p.casefold()) for p in patterns)

        return hit(self.include) and not hit(self.exclude)


class NameFilter(_Model):
    """Which names to collect: fnmatch patterns, case-insensitive."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    include: tuple[NonEmpty, ...] = Field(("*",), description="Collect what matches any of these.")
    exclude: tuple[NonEmpty, ...] = Field((), description="Skip what matches any of these.")

    def matches(self, name: str) -> bool:
        """True when ``name`` matches an include pattern and no exclude pattern."""
        folded = name.casefold()
        return _hit(self.include, folded) and not _hit(self.exclude, folded)

    @property
    def is_default(self) -> bool:
        return self.include == ("*",) and not self.exclude


def _hit(patterns: tuple[str, ...], folded: str) -> bool:
    return any(fnmatchcase(folded, p.casefold()) for p in patterns)


class PathFilter(NameFilter):
    """Which TFVC paths to collect (``$/Project/Secret``): a pattern matches a path or any folder
    above it, so ``$/Project/Secret`` covers everything below it; case-insensitive."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def matches(self, name: str) -> bool:
        folded = name.casefold().rstrip("/")
        parts = folded.split("/")
        ancestors = ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]
        return (any(_hit(self.include, a) for a in ancestors) or _hit(self.include, folded)) and not any(
            _hit(self.exclude, a) for a in ancestors)


PRESETS: tuple[str, ...] = ("strip_text", "pseudonymize_people", "redact_names_and_urls")
Preset = Literal["strip_text", "pseudonymize_people", "redact_names_and_urls"]


def _field_path(value: str) -> str:
    from satellite.privacy.paths import parse_path  # pure; imported late (no cycle at import time)

    try:
        parse_path(value)
    except ValueError as exc:
        raise _error("field_path", str(exc)) from None
    return value


FieldPathText = Annotated[str, Field(min_length=1), AfterValidator(_field_path)]


def _unique(value: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(value)) != len(value):
        raise _error("duplicate", "must not list an entry twice")
    return value


def _regex(value: str) -> str:
    import re

    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise _error("regex", "not a valid regular expression: {problem}", problem=str(exc.msg)) from None
    if compiled.match(""):
        raise _error("regex", "must not match the empty text")
    return value


class FieldRules(_Model):
    """What to do with fields of one record type, after the presets: ``keep`` (the presets leave
    them as they are), ``drop`` (removed), ``hash`` (a keyed hash, ``h_...``). Paths are dotted with
    wildcards (``*`` one key, ``**`` any depth) and quoted segments for keys holding dots
    (``fields."System.Title"``). drop wins over hash, hash over keep."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keep: tuple[FieldPathText, ...] = Field((), description="Paths the presets leave as they are.")
    drop: tuple[FieldPathText, ...] = Field((), description="Paths removed from the record.")
    hash: tuple[FieldPathText, ...] = Field((), description="Paths replaced by a keyed hash (h_...).")


class PrivacySettings(_Model):
    """What leaves the network (docs/privacy.md): presets, field rules and the pseudonym secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    presets: Annotated[tuple[Preset, ...], AfterValidator(_unique)] = Field(
        (), description="Any of strip_text, pseudonymize_people, redact_names_and_urls.")
    work_item_key_patterns: tuple[Annotated[str, Field(min_length=1), AfterValidator(_regex)], ...] = Field(
        (), description="Regular expressions of issue keys strip_text keeps besides #123 and AB#123"
        " (e.g. '[A-Z][A-Z0-9]+-[0-9]+' for JIRA keys).")
    fields: dict[NonEmpty, FieldRules] = Field(
        {}, description='Field rules per record type ("*": every type), applied after the presets.')
    unknown_fields: Literal["keep", "drop"] | None = Field(
        None, description="Strings at paths the API's spec does not declare (a newer server's, an extension's):"
        " keep, or drop (ids, times and pseudonyms stay); default drop when a preset is on, else keep.")
    secret: Annotated[SecretValue | None, BeforeValidator(_blank_is_none)] = Field(
        None, description="HMAC key of the pseudonyms (at least 32 characters), e.g. ${file:/etc/sei/privacy.key}"
        " shared by every shard replica; default: <data_dir>/privacy.key, made on first run.")

    def __hash__(self) -> int:  # ``fields`` is a dict: hash its items
        return hash((self.presets, self.work_item_key_patterns, tuple(sorted(self.fields.items())), self.unknown_fields,
                     self.secret))

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: Secret | None) -> Secret | None:
        if value is not None and len(value.reveal().strip()) < 32:
            raise _error("secret_short", "must be at least 32 characters (e.g. the output of openssl rand -hex 32)")
        return value


class Schedule(_Model):
    """How often an integration is polled."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    interval: Interval = _duration_field(timedelta(minutes=5), "Time between runs (min 10s).")
    jitter: Jitter = _duration_field(timedelta(seconds=30), "Random extra delay per run.")
    reconcile_every: Interval = _duration_field(
        timedelta(days=7), "Full re-read (all cursors reset) that catches what incremental runs cannot see."
    )
    backfill_window: Annotated[BackfillWindowText | None, BeforeValidator(_blank_is_none)] = Field(
        None, description='Hours ("19:00-07:00", may wrap midnight) when first runs and reconciliations may use the'
        " server's full limit; outside them they get backfill_share of it. Empty: always the full limit.")
    time_zone: TimeZoneName = Field("UTC", description="IANA time zone of backfill_window (e.g. Europe/Berlin).")
    backfill_share: Share = Field(
        0.25, description="Share of the server's concurrency limit first runs and reconciliations may hold outside"
        " backfill_window (at least one request); incremental syncs always go first.")
    sweep_interval: Interval = _duration_field(
        timedelta(hours=1), "With events on (integrations[].events): time between full incremental sweeps, the safety"
        " net under the events (instead of interval).")


class EventSettings(_Model):
    """Service hook events from the server (docs/events.md): the change's partition is read within seconds;
    the full sweep runs every schedule.sweep_interval. Off by default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(False, description="Accept events at POST /events/ado/<integration id> on satellite.http.listen.")
    username: NonEmpty = Field("ado", description="HTTP Basic user name the subscriptions send.")
    password: Annotated[HeaderSecretValue | None, BeforeValidator(_blank_is_none)] = Field(
        None, description="HTTP Basic password the subscriptions send (shared secret, at least 16 characters;"
        " e.g. ${env:ADO_EVENTS_SECRET}).")
    public_url: Annotated[HttpUrl | None, BeforeValidator(_blank_is_none)] = Field(
        None, description="The satellite's HTTP endpoint as the server reaches it (e.g. http://satellite.corp:8080);"
        " subscriptions post to <public_url>/events/ado/<integration id>.")
    queue_limit: Int = Field(1000, ge=1, le=1_000_000, description="Events received and not yet collected; beyond"
                             " it the endpoint answers 429 (the server retries later).")
    stale_after: Interval = _duration_field(
        timedelta(hours=6), "No event for this long while the sweep finds changes: the subscription is reported stale.")

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> "EventSettings":
        if self.enabled and self.password is None:
            raise _error("events_password", "events.enabled needs events.password (the subscriptions' shared secret)")
        if self.enabled and self.public_url is None:
            raise _error("events_public_url", "events.enabled needs events.public_url (the satellite's URL as the"
                         " server reaches it)")
        if self.password is not None and len(self.password.reveal()) < 16:
            raise _error("secret_short", "events.password must be at least 16 characters (e.g. openssl rand -hex 24)")
        return self


class Backfill(_Model):
    """How far back the first run reaches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date | None = Field(None, description="ISO date (YYYY-MM-DD); empty = all history.")


def _unique_services(value: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(value)) != len(value):
        raise _error("duplicate", "must not list a service twice")
    return value


class Integration(_Model):
    """One Azure DevOps Server (or one collection of it) to collect from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Ident = Field(description="Unique id of this integration.")
    url: HttpUrl = Field(
        description="Collection URL, or the server root (e.g. https://tfs.corp/tfs) with `collections`."
    )
    collections: tuple[NonEmpty, ...] = Field(
        (), description='Collection names under `url`; ["*"] = all; empty = `url` is a collection.'
    )
    pat: HeaderSecretValue = Field(description="Personal access token (read scopes).")
    projects: ProjectFilter = ProjectFilter()
    services: Annotated[tuple[Service, ...], Field(min_length=1), AfterValidator(_unique_services)] = Field(
        SERVICES, description="What to collect."
    )
    repositories: NameFilter = Field(NameFilter(), description="Which Git repositories to collect, by name.")
    tfvc_paths: PathFilter = Field(PathFilter(), description="Which TFVC paths to collect ($/Project/...).")
    work_item_types: NameFilter = Field(NameFilter(), description="Which work item types to collect, by name.")
    tls: TlsSettings = Field(TlsSettings(), description="TLS settings for this server.")
    proxy: OptionalProxy = Field(
        None, description="Proxy URL; left out = satellite.proxy; null or empty = connect directly."
    )
    schedule: Schedule = Schedule()
    backfill: Backfill = Backfill()
    events: EventSettings = Field(EventSettings(), description="Service hook events (docs/events.md); off by default.")

    @field_validator("collections")
    @classmethod
    def _star_alone(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "*" in value and len(value) > 1:
            raise _error("collections", "'*' must be the only entry")
        if any("/" in name for name in value):
            raise _error("collections", "collection names must not contain '/'")
        return value

    def __repr_args__(self) -> Any:
        return _mask_proxy(super().__repr_args__())


class PageSizes(_Model):
    """Page sizes ($top) for Azure DevOps list calls."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    projects: Int = Field(100, ge=1, le=1000)
    refs: Int = Field(1000, ge=1, le=1000)
    commits: Int = Field(1000, ge=1, le=10000)
    pushes: Int = Field(100, ge=1, le=10000)
    pull_requests: Int = Field(100, ge=1, le=1000)  # a page is held while its PRs' threads are read
    changesets: Int = Field(1000, ge=1, le=10000)
    builds: Int = Field(100, ge=1, le=10000)  # a page is held while its builds' timelines are read
    releases: Int = Field(100, ge=1, le=100)  # the server caps releases and deployments at 100
    work_item_revisions: Int = Field(200, ge=1, le=1000)  # reporting $maxPageSize
    default: Int = Field(200, ge=1, le=10000)


class BatchLimits(_Model):
    """When a batch of records is sealed and queued."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_records: Int = Field(5000, ge=1, le=100000)
    max_bytes: BatchBytes = _size_field(4 * MiB, "1KiB..64MiB")


class Limits(_Model):
    """Resource limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: Int = Field(4, ge=1, le=64, description="Parallel requests to Azure DevOps: the most the adaptive"
                             " limit of each server may reach (or the limit itself when adaptive is off).")
    min_concurrency: Int = Field(1, ge=1, le=64, description="The least parallel requests the adaptive limit shrinks to.")
    adaptive: bool = Field(True, description="Adapt the parallel requests of each server to its latency and throttling"
                           " (429/503, Retry-After, X-RateLimit-*) between min_concurrency and concurrency.")
    max_requests_per_second: PositiveRate | None = Field(
        None, description="Most requests per second to each server (scheme://host:port), shared by every integration,"
        " collection and stream on it; empty: no cap.")
    page_sizes: PageSizes = PageSizes()
    batch: BatchLimits = BatchLimits()
    outbox_max_bytes: OutboxBytes = _size_field(GiB, "Max size of the outbox (min 1MiB).")
    request_timeout: Timeout = _duration_field(timedelta(seconds=30), "HTTP request timeout.")
    cursor_overlap: Overlap = _duration_field(
        timedelta(minutes=5), "Time cursors (builds, releases, deployments, pipeline activity) read again this much"
        " before the last time read, for items that become visible late; what was read unchanged is not resent.")

    @model_validator(mode="after")
    def _floor_below_ceiling(self) -> "Limits":
        if self.min_concurrency > self.concurrency:
            raise PydanticCustomError(f"{ERROR_PREFIX}min_concurrency", "min_concurrency must not exceed concurrency")
        return self


class Delivery(_Model):
    """How sealed batches reach SEI."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: Int = Field(2, ge=1, le=16, description="Parallel uploads (each stream stays in order).")
    initial_backoff: Backoff = _duration_field(timedelta(seconds=1), "First retry wait (full jitter, doubling).")
    max_backoff: Backoff = _duration_field(timedelta(minutes=5), "Longest retry wait; transient failures are retried forever.")
    auth_retry_interval: Backoff = _duration_field(timedelta(minutes=5), "Wait between tries while SEI refuses the credentials.")
    heartbeat_interval: Interval = _duration_field(timedelta(seconds=60), "Time between heartbeats (min 10s).")
    request_timeout: Timeout = _duration_field(timedelta(seconds=60), "Upload request timeout.")
    once_deadline: Timeout = _duration_field(
        timedelta(minutes=15),
        "sync --once: stop when SEI has accepted nothing for this long while batches wait; they stay in the outbox (exit 75).")
    ledger_retention: Interval = _duration_field(
        timedelta(days=90), "How long the delivery ledger (satellite ledger) keeps the row of an acknowledged batch.")


class LogSettings(_Model):
    """A local log file besides stdout (JSON lines, rotated by size): ``satellite support-bundle``
    includes its last lines."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: OptionalPath = Field(None, description="Log file of `run` and `sync` (relative to the config file); empty = none.")
    max_bytes: LogBytes = _size_field(10 * MiB, "Size at which the file is rotated (min 64KiB).")
    backups: Int = Field(5, ge=0, le=100, description="Rotated files kept (file.1 ... file.N).")


class Config(_Model):
    """The whole satellite configuration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    satellite: SatelliteSettings
    integrations: tuple[Integration, ...] = Field(min_length=1)
    limits: Limits = Limits()
    delivery: Delivery = Delivery()
    privacy: PrivacySettings = PrivacySettings()
    log: LogSettings = Field(LogSettings(), description="A local log file, rotated by size.")
    source: SkipJsonSchema[Path] = Field(Path(), exclude=True, description="File it was loaded from.")
    # the variables ``${env:...}`` was resolved from, when the loader was given its own mapping (never
    # shown: not a field); ``reload_config`` reads the file again with them
    _env: Mapping[str, str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _events_need_the_listener(self) -> "Config":
        if any(i.events.enabled for i in self.integrations) and not self.satellite.http.listen:
            raise _error("events_listen", "integrations[].events.enabled needs satellite.http.listen (events arrive there)")
        return self


def config_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the configuration file, for editors."""
    schema = Config.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "SEI Satellite configuration",
    }
