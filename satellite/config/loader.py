"""Load a configuration file: YAML with line tracking -> ``${...}`` interpolation -> ``Config``.

Every problem found (YAML, interpolation, validation, key/file checks) is collected and
raised at once as a ``ConfigError`` of ``ConfigProblem``s, ordered by line. Messages are
built from error kinds, never from the values, so no secret is ever echoed.
"""

from __future__ import annotations

import os
import re
import ssl
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from satellite.config.model import ERROR_PREFIX, ID_PATTERN, Config
from satellite.errors import ConfigError
from satellite.sealing.keys import load_hybrid_public

__all__ = ["ConfigProblem", "load_config", "reload_config", "format_path"]

Loc = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("null", "bool", "int", "float", "timestamp")}
_MAX_NODES = 100_000
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_MALFORMED = (
    "malformed ${...} reference (expected ${env:NAME}, ${env:NAME:-default} or ${file:PATH}; "
    "write $${ for a literal ${)"
)


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a configuration file; str() is ``file:line key.path: message``."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


def format_path(loc: Loc) -> str:
    """``("integrations", 0, "tls")`` -> ``integrations[0].tls``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


class _TooLarge(Exception):
    pass


class _Document:
    """Problems and key lines of one file being loaded."""

    def __init__(self, file: str, base_dir: Path, env: Mapping[str, str]) -> None:
        self.file = file
        self.base_dir = base_dir
        self.env = env
        self.problems: list[ConfigProblem] = []
        self.lines: dict[Loc, int] = {}
        self.flagged: set[Loc] = set()  # paths already reported; later stages skip them
        self._constructor = yaml.constructor.SafeConstructor()
        self._active: set[int] = set()
        self._nodes = 0

    # --- reporting ---

    def line_of(self, loc: Loc) -> int | None:
        """Line of ``loc``, or of its nearest ancestor present in the file."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None

    def report(self, loc: Loc, message: str, line: int | None = None, *, flag: bool = True) -> None:
        """Record a problem; ``flag`` marks the value at ``loc`` as unusable for later stages."""
        if flag:
            self.flagged.add(loc)
        line = self.line_of(loc) if line is None else line
        self.problems.append(ConfigProblem(self.file, line, format_path(loc), message))

    def is_flagged(self, loc: Loc) -> bool:
        return any(loc[: len(f)] == f for f in self.flagged)

    def is_flagged_within(self, loc: Loc) -> bool:
        """Something at or below ``loc`` was reported already (its value is then missing)."""
        return any(f[: len(loc)] == loc for f in self.flagged)

    # --- YAML nodes -> plain data, with lines ---

    def convert(self, node: Node, loc: Loc = ()) -> Any:
        self._nodes += 1
        if self._nodes > _MAX_NODES:
            raise _TooLarge
        if id(node) in self._active:
            self.report(loc, "recursive YAML alias")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, ScalarNode):
                return self._scalar(node, loc)
            if isinstance(node, SequenceNode) and node.tag == _TAG + "seq":
                return self._sequence(node, loc)
            if isinstance(node, MappingNode) and node.tag == _TAG + "map":
                return self._mapping(node, loc)
            self.report(loc, f"unsupported YAML tag {_short_tag(node.tag)}")
            return None
        finally:
            self._active.discard(id(node))

    def _sequence(self, node: SequenceNode, loc: Loc) -> list[Any]:
        items = []
        for index, item in enumerate(node.value):
            self.lines[loc + (index,)] = item.start_mark.line + 1
            items.append(self.convert(item, loc + (index,)))
        return items

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _TAG + "merge":
                self.report(loc, "YAML merge keys (<<) are not supported", line, flag=False)
                continue
            if not isinstance(key_node, ScalarNode):
                self.report(loc, "mapping keys must be plain names", line, flag=False)
                continue
            key = key_node.value
            if key in result:
                first = self.lines[loc + (key,)]
                self.report(loc + (key,), f"duplicate key (first defined on line {first})", line, flag=False)
                continue
            self.lines[loc + (key,)] = line
            result[key] = self.convert(value_node, loc + (key,))
        return result

    def _scalar(self, node: ScalarNode, loc: Loc) -> Any:
        if node.tag == _TAG + "str":
            return self._interpolate(node.value, loc)
        if node.tag in _SCALAR_TAGS:
            try:
                return self._constructor.construct_object(node)
            except (ValueError, yaml.YAMLError):
                self.report(loc, f"not a valid value for YAML tag {_short_tag(node.tag)}")
                return None
        self.report(loc, f"unsupported YAML tag {_short_tag(node.tag)}")
        return None

    # --- ${...} interpolation ---

    def _interpolate(self, text: str, loc: Loc) -> str | None:
        if "${" not in text:
            return text
        failed = False

        def replace(match: re.Match[str]) -> str:
            nonlocal failed
            if match.group(0) == "$${":
                return "${"
            value = self._resolve(match.group(1), loc)
            if value is None:
                failed = True
                return ""
            return value

        result = _REFERENCE.sub(replace, text)
        return None if failed else result  # the failure is reported and the path flagged

    def _resolve(self, reference: str | None, loc: Loc) -> str | None:
        """The value of one reference, or None after reporting why there is none."""
        kind, _, rest = (reference or "").partition(":")
        if kind == "env" and rest:
            name, has_default, default = rest.partition(":-")
            if not _ENV_NAME.fullmatch(name):
                self.report(loc, "invalid environment variable name in ${env:...} reference")
                return None
            value = self.env.get(name)
            if has_default and not value:
                return default
            if value is None:
                self.report(loc, f"environment variable {name} is not set")
            return value
        if kind == "file" and rest:
            try:
                path = Path(rest).expanduser()
            except RuntimeError:  # ~name of a user this machine does not know
                self.report(loc, "cannot read the file of a ${file:...} reference: its ~ home directory is unknown here")
                return None
            path = path if path.is_absolute() else self.base_dir / path
            try:
                content = path.read_text(encoding="utf-8")
            except OSError as exc:
                self.report(loc, f"cannot read file {path}: {exc.strerror or type(exc).__name__}")
                return None
            except UnicodeDecodeError:
                self.report(loc, f"cannot read file {path}: not UTF-8 text")
                return None
            except ValueError:  # a NUL character in the path
                self.report(loc, "cannot read the file of a ${file:...} reference: the path is not a valid file name")
                return None
            return content.removesuffix("\n").removesuffix("\r") if content.endswith("\n") else content
        self.report(loc, _MALFORMED)
        return None


# --- stages --------------------------------------------------------------------------


def _parse(text: str, doc: _Document) -> dict[str, Any] | None:
    """The top-level mapping as plain data, or None when the file cannot be used at all."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = ", ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        if mark is not None:
            detail = f"{detail} (column {mark.column + 1})"
        doc.report((), f"YAML syntax error: {detail}", mark.line + 1 if mark else None)
        return None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        doc.report((), "YAML syntax error: the file contains a character YAML does not allow", line)
        return None
    except (yaml.YAMLError, RecursionError):
        doc.report((), "YAML syntax error: the document cannot be read (too deeply nested?)")
        return None
    if root is None:
        doc.report((), "the file is empty (expected a mapping with satellite: and integrations:)")
        return None
    doc.lines[()] = root.start_mark.line + 1
    if not isinstance(root, MappingNode):
        doc.report((), "the top level must be a mapping (satellite:, integrations:, limits:)")
        return None
    try:
        return doc.convert(root)
    except (_TooLarge, RecursionError):
        doc.report((), "the document is too large or too deeply nested (too many aliases?)")
        return None


def _unwrap(tp: Any) -> Any:
    """The model or container type under Annotated[...] and Optional[...]."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        else:
            return tp


def _model_at(loc: Loc) -> type[BaseModel] | None:
    tp: Any = Config
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, int):
            args = typing.get_args(tp)
            if typing.get_origin(tp) is not tuple or not args:
                return None
            tp = args[0]
        elif isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            tp = tp.model_fields[part].annotation
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _allowed_keys(loc: Loc) -> list[str]:
    model = _model_at(loc)
    return [name for name, field in model.model_fields.items() if not field.exclude] if model else []


_SIMPLE_MESSAGES = {
    "missing": "required key is missing",
    "string_type": "expected a string",
    "string_unicode": "expected a string",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "iterable_type": "expected a list",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "dict_type": "expected a mapping",
    "path_type": "expected a path",
    "date_type": "expected a date (YYYY-MM-DD)",
    "date_parsing": "expected a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "expected a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "expected a date (YYYY-MM-DD), not a time",
    "date_future": "must be a date in the future",
    "date_past": "must be a date in the past",
}


def _message(error: Mapping[str, Any]) -> str:
    """A short message built from a pydantic error's type and context, never its input."""
    kind: str = error["type"]
    ctx = error.get("ctx") or {}
    if kind.startswith(ERROR_PREFIX):
        return error["msg"]  # our own messages, which never contain the input
    if kind in _SIMPLE_MESSAGES:
        return _SIMPLE_MESSAGES[kind]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(tuple(error["loc"][:-1]))
        return f"unknown key (allowed: {', '.join(allowed)})" if allowed else "unknown key"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"must be one of {', '.join(choices)}"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == ID_PATTERN:
            return "must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"
        return f"must match the pattern {ctx.get('pattern')}"
    if kind in ("string_too_short", "too_short"):
        size = ctx.get("min_length", 1)
        if kind == "string_too_short":
            return "must not be empty" if size == 1 else f"must be at least {size} characters long"
        return f"must have at least {size} {'entry' if size == 1 else 'entries'}"
    if kind in ("string_too_long", "too_long"):
        unit = "characters" if kind == "string_too_long" else "entries"
        return f"must have at most {ctx.get('max_length')} {unit}"
    for bound, text in (("ge", "at least"), ("gt", "greater than"), ("le", "at most"), ("lt", "less than")):
        if bound in ctx:
            return f"must be {text} {ctx[bound]}"
    return f"invalid value ({kind})"


def _validate(data: dict[str, Any], doc: _Document) -> Config | None:
    if "source" in data:  # a real field, but set by the loader, never by the file
        doc.report(("source",), flag=False, message=f"unknown key (allowed: {', '.join(_allowed_keys(()))})")
        data = {k: v for k, v in data.items() if k != "source"}
    try:
        return Config.model_validate(data, context={"base_dir": doc.base_dir})
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
    item_errors = {tuple(e["loc"][:i]) for e in errors for i, p in enumerate(e["loc"]) if isinstance(p, int)}
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "too_short" and loc in item_errors:
            continue  # "too few entries" only because the entries themselves are invalid
        cross_field = error["type"].startswith(ERROR_PREFIX) and error["type"].endswith("_form")
        if doc.is_flagged(loc) or (cross_field and doc.is_flagged_within(loc)):  # e.g. a failed ${...}: reported
            continue
        doc.report(loc, _message(error))
    return None


def _get(data: Any, loc: Loc) -> Any:
    for part in loc:
        if isinstance(part, int):
            data = data[part] if isinstance(data, list) and part < len(data) else None
        else:
            data = data.get(part) if isinstance(data, dict) else None
    return data


def _check_pems(data: dict[str, Any], doc: _Document) -> None:
    recipients = _get(data, ("satellite", "encryption", "recipients"))
    public_locs: list[tuple[Loc, Any]] = [(("satellite", "encryption", "recipient_public_key"), "x25519")]
    if isinstance(recipients, list):
        entries: Loc = ("satellite", "encryption", "recipients")
        public_locs += [((*entries, i, "public_key"), _get(data, (*entries, i, "kem")) or "x25519") for i in range(len(recipients))]
    for loc, kem in public_locs:
        value = _get(data, loc)
        if isinstance(value, str) and value.strip() and not doc.is_flagged(loc):
            problem = _recipient_key_problem(value, kem)
            if problem:
                doc.report(loc, problem)

    loc: Loc = ("satellite", "encryption", "signing_private_key")
    value = _get(data, loc)
    if isinstance(value, str) and value.strip() and not doc.is_flagged(loc):
        try:
            private = load_pem_private_key(value.encode(), password=None)
        except TypeError:
            doc.report(loc, "the private key is encrypted; an unencrypted PKCS8 Ed25519 key is required")
            return
        except Exception:  # noqa: BLE001
            private = None
        if not isinstance(private, Ed25519PrivateKey):
            doc.report(loc, "not an Ed25519 private key in PEM form (unencrypted PKCS8)")


def _recipient_key_problem(value: str, kem: Any) -> str | None:
    """Why ``value`` is not a recipient public key of kind ``kem`` (None: it is; an unknown ``kem``
    is the model's to report)."""
    if kem == "x25519":
        try:
            key = load_pem_public_key(value.encode())
        except Exception:  # noqa: BLE001 - any parse failure means "not such a key"
            key = None
        if isinstance(key, X25519PublicKey):
            return None
        if "MLKEM768-X25519 PUBLIC KEY" in value:
            return "not an X25519 public key in PEM form (it is an MLKEM768-X25519 key: set kem: mlkem768-x25519)"
        return "not an X25519 public key in PEM form"
    if kem == "mlkem768-x25519":
        try:
            load_hybrid_public(value)
        except Exception:  # noqa: BLE001
            return "not an MLKEM768-X25519 public key in PEM form ('-----BEGIN MLKEM768-X25519 PUBLIC KEY-----')"
    return None


def _local_path(value: str, doc: _Document) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else doc.base_dir / path


def _check_files(data: dict[str, Any], doc: _Document) -> None:
    bundles: list[Loc] = [("satellite", "tls", "ca_bundle")]
    integrations = data.get("integrations")
    if isinstance(integrations, list):
        bundles += [("integrations", i, "tls", "ca_bundle") for i in range(len(integrations))]
    for loc in bundles:
        value = _get(data, loc)
        if not isinstance(value, str) or not value.strip() or doc.is_flagged(loc):
            continue
        path = _local_path(value, doc)
        try:
            path.open("rb").close()
        except OSError as exc:
            doc.report(loc, f"cannot read the CA bundle: {exc.strerror or type(exc).__name__}")
            continue
        try:
            ssl.create_default_context(cafile=str(path))
        except (ssl.SSLError, ValueError):
            doc.report(loc, "the CA bundle holds no PEM certificates")

    loc = ("satellite", "data_dir")
    value = _get(data, loc)
    if isinstance(value, str) and value.strip() and not doc.is_flagged(loc):
        path = _local_path(value, doc)
        if path.exists() and not path.is_dir():
            doc.report(loc, "exists and is not a directory")

    cert_loc, key_loc = ("satellite", "http", "tls_cert"), ("satellite", "http", "tls_key")  # HTTPS listener
    cert, key = _get(data, cert_loc), _get(data, key_loc)
    if (isinstance(cert, str) and cert.strip() and isinstance(key, str) and key.strip()
            and not doc.is_flagged(cert_loc) and not doc.is_flagged(key_loc)):
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(str(_local_path(cert, doc)), str(_local_path(key, doc)))
        except (ssl.SSLError, ValueError):  # SSLError first: it is an OSError too
            doc.report(cert_loc, "the certificate and key are not a PEM certificate (chain) and its private key")
        except OSError as exc:
            doc.report(cert_loc, f"cannot load the certificate and key: {exc.strerror or type(exc).__name__}")


def _check_unique_ids(data: dict[str, Any], doc: _Document) -> None:
    integrations = data.get("integrations")
    if not isinstance(integrations, list):
        return
    first: dict[str, int] = {}
    for index, item in enumerate(integrations):
        loc: Loc = ("integrations", index, "id")
        ident = _get(item, ("id",))
        if not isinstance(ident, str) or doc.is_flagged(loc):
            continue
        if ident in first:
            doc.report(loc, f"duplicate integration id (also used by integrations[{first[ident]}])")
        else:
            first[ident] = index


def _check_privacy(data: dict[str, Any], doc: _Document) -> None:
    """``privacy.fields``: every record type is one the field catalog knows (or "*"), every path
    reaches into a path of the catalog for that type (for "*": of some type)."""
    from satellite.privacy.catalog import FIELDS
    from satellite.privacy.paths import overlaps, parse_path

    rules = _get(data, ("privacy", "fields"))
    if not isinstance(rules, dict):
        return
    known = {t: [parse_path(p) for p in f.paths()] for t, f in FIELDS.items()}
    everything = [p for paths in known.values() for p in paths]
    for record_type, actions in rules.items():
        loc: Loc = ("privacy", "fields", record_type)
        if doc.is_flagged(loc):
            continue
        if record_type != "*" and record_type not in known:
            doc.report(loc, "unknown record type (docs/privacy.md lists them; \"*\" is every type)", flag=False)
            continue
        catalog = everything if record_type == "*" else known[record_type]
        for action in ("keep", "drop", "hash"):
            paths = actions.get(action) if isinstance(actions, dict) else None
            for index, path in enumerate(paths if isinstance(paths, list) else ()):
                at = loc + (action, index)
                if not isinstance(path, str) or doc.is_flagged(at):
                    continue
                try:
                    pattern = parse_path(path)
                except ValueError:
                    continue  # reported by validation
                if not any(overlaps(pattern, c) for c in catalog):
                    where = "any record type" if record_type == "*" else "this record type"
                    doc.report(at, f"no field of {where} in the privacy catalog is at this path (docs/privacy.md)", flag=False)


def _finish(config: Config, source: Path, env: Mapping[str, str] | None) -> Config:
    """Fill loader-owned values: the source path, the environment given, inherited proxies."""
    proxy = config.satellite.proxy
    integrations = tuple(
        item if proxy is None or "proxy" in item.model_fields_set else item.model_copy(update={"proxy": proxy})
        for item in config.integrations
    )
    finished = config.model_copy(update={"integrations": integrations, "source": source})
    finished._env = env
    return finished


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Load and validate a configuration file; raise ``ConfigError`` listing every problem."""
    file = str(path)
    source = Path(path).absolute()
    doc = _Document(file, source.parent, os.environ if env is None else env)
    try:
        text = source.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError([ConfigProblem(file, None, "", f"cannot read the file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigProblem(file, None, "", "cannot read the file: not UTF-8 text")]) from None

    data = _parse(text, doc)
    config = None
    if data is not None:
        config = _validate(data, doc)
        _check_pems(data, doc)
        _check_files(data, doc)
        _check_unique_ids(data, doc)
        _check_privacy(data, doc)
    if doc.problems or config is None:
        raise ConfigError(sorted(doc.problems, key=lambda p: p.line or 0))
    return _finish(config, source, env)


def reload_config(config: Config) -> Config:
    """The file ``config`` was loaded from, read again with the same environment (a rotated key file
    or variable is seen; a test's own ``env`` mapping is kept)."""
    return load_config(config.source, env=config._env)
