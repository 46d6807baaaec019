"""What every test folder shares: waiting on a condition, the two stand-ins on loopback (the Azure
DevOps Server simulator and the reference SEI receiver), key files and TLS files, a satellite
config, the satellite as a subprocess's environment, and the comparison of what the receiver
holds against the simulator's ground truth.

Plain functions and classes; the fixtures built on them are in ``tests/conftest.py``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence, TypeVar

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from satellite.sealing.keys import KeyFiles, load_ed25519_public, load_recipient_private
from satellite.secret import Secret
from satellite.streams import RECORD_TYPES

if TYPE_CHECKING:  # the stand-ins are loaded when first used: waiting on a condition needs none of them
    from standins.loopback import RunningServer
    from standins.sei_receiver import ReceiverKeys, ReceiverStorage

__all__ = [
    "PAT", "API_KEY", "API_KEY_ENV", "COLLECTION", "REPO", "MiB",
    "poll", "wait_until", "free_port",
    "Simulator", "start_simulator",
    "Receiver", "receiver_keys", "start_receiver",
    "write_config", "satellite_env", "run_cli",
    "truth", "mirror_differences", "mirrors_truth", "assert_mirrors_truth",
    "ca_pem", "make_ca_and_server_cert",
]

PAT = "CANARY-PAT-tests-7f1e2d3c4b5a"
API_KEY = "CANARY-APIKEY-tests-0a1b2c3d"
API_KEY_ENV = "TEST_SEI_API_KEY"  # the configs read the API key from this variable
COLLECTION = "/tfs/DefaultCollection"
REPO = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024

T = TypeVar("T")


# --- waiting -------------------------------------------------------------------------------------


def poll(condition: Callable[[], T], timeout: float, *, interval: float = 0.05,
         ignore: tuple[type[BaseException], ...] = ()) -> T | None:
    """Call ``condition()`` until it returns something truthy or ``timeout`` seconds pass; its last value.

    Exceptions of the ``ignore`` types count as "not yet" (a server still starting).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except ignore:
            value = None
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_until(condition: Callable[[], T], timeout: float, what: str, *, interval: float = 0.05,
               ignore: tuple[type[BaseException], ...] = (), context: Callable[[], str] | None = None) -> T:
    """``poll``, failing the test after ``timeout`` s: "timed out after 30s waiting for <what>".

    ``context`` adds to that message what helps to see why (a process's stderr, say).
    """
    value = poll(condition, timeout, interval=interval, ignore=ignore)
    if not value:
        detail = f"\n{context()}" if context is not None else ""
        raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
    return value


class FakeClock:
    """A clock for code that takes one (``clock=``): it stands still until the test moves it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the simulator -------------------------------------------------------------------------------


@dataclass
class Simulator:
    """The Azure DevOps Server simulator serving ``world`` on loopback; a context manager that stops it."""

    world: Any
    app: Any  # the simulator (faults, its request log)
    served: Any  # what listens: the app, or the test's wrapper around it
    server: RunningServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def collection_url(self) -> str:
        return f"{self.server.url}{COLLECTION}"

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> "Simulator":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_simulator(world, profile: str = "2022", pats: Mapping[str, frozenset[str]] | None = None, *,
                    faults=None, wrap: Callable[[Any], Any] | None = None) -> Simulator:
    """The simulator as server release ``profile``; ``PAT`` has full access unless ``pats`` says otherwise.

    ``wrap(app)`` returns what to serve instead of the app (an ASGI wrapper of the test's).
    """
    from standins.ado_simulator.app import create_app
    from standins.loopback import serve_in_thread

    pats = {PAT: frozenset({"full"})} if pats is None else pats
    app = create_app(world, profile=profile, pats=dict(pats), faults=faults)
    served = wrap(app) if wrap is not None else app
    return Simulator(world, app, served, serve_in_thread(served))


# --- the receiver --------------------------------------------------------------------------------


@dataclass
class Receiver:
    """The reference SEI receiver on loopback (``server`` is None while it is not listening)."""

    storage: ReceiverStorage
    server: RunningServer | None = None
    served: Any = None  # what listens: the receiver app, or the test's wrapper around it
    api_key: str = API_KEY

    @property
    def url(self) -> str:
        assert self.server is not None, "the receiver is not listening"
        return self.server.url

    def get(self, path: str, **params) -> dict:
        """A GET of the receiver's HTTP API with the API key."""
        response = httpx.get(f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {self.api_key}"})
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict:
        return self.get("/v1/satellite/stats")

    def keys_of(self, record_type: str, op: str = "upsert") -> list[str]:
        """Sorted keys of the stored records of a type whose last operation is ``op``."""
        return sorted(r["key"] for r in self.storage.records(record_type) if r["op"] == op)

    def keys(self) -> dict[str, list[str]]:
        """Record type -> sorted live keys, for every type the satellite collects."""
        return {t: self.keys_of(t) for t in sorted(RECORD_TYPES)}

    def records(self, record_type: str) -> dict[str, tuple[str, object]]:
        """key -> (op, data) of every stored record of a type."""
        return {r["key"]: (r["op"], r["data"]) for r in self.storage.records(record_type, include_data=True)}

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.storage.close()


def receiver_keys(key_files: KeyFiles, *, recipients: dict | None = None, api_key: str = API_KEY) -> ReceiverKeys:
    """The receiver's side of ``key_files``: the API key, the recipient's private key, the satellite's public key.

    ``recipients`` (key id -> recipient private key) is used as given, so a test may change it later.
    """
    from standins.sei_receiver import ReceiverKeys

    if recipients is None:
        recipients = {key_files.recipient_key_id: load_recipient_private(key_files.recipient_private.read_bytes())}
    return ReceiverKeys(
        api_keys=(Secret(api_key),),
        recipients=recipients,
        signers={key_files.signer_key_id: load_ed25519_public(key_files.signing_public.read_bytes())},
    )


def start_receiver(directory: Path, key_files: KeyFiles, *, port: int = 0, max_batch_bytes: int = 8 * MiB,
                   wrap: Callable[[Any], Any] | None = None) -> Receiver:
    """The receiver storing in ``directory``, listening; ``wrap(app)`` returns what to serve instead."""
    from standins.loopback import serve_in_thread
    from standins.sei_receiver import ReceiverStorage, create_receiver_app

    storage = ReceiverStorage(directory)
    app = create_receiver_app(storage, receiver_keys(key_files), max_batch_bytes=max_batch_bytes)
    served = wrap(app) if wrap is not None else app
    return Receiver(storage, serve_in_thread(served, port=port), served=served)


# --- the satellite -------------------------------------------------------------------------------


def write_config(
    directory: Path,
    *,
    ado_url: str,
    endpoint: str,
    key_files: KeyFiles,
    pat: str = PAT,
    satellite_id: str = "test-satellite",
    recipients: Sequence[tuple[str, Path, str | None] | tuple[str, Path, str | None, str]] | None = None,
    services: Iterable[str] = ("repos", "tfvc", "pipelines", "boards"),
    page_sizes: Mapping[str, int] | None = None,
    batch_records: int = 40,
    outbox_max_bytes: str | None = None,
    delivery: Mapping[str, object] | None = None,
    data_dir: str = "./data",
    extra_satellite: str = "",
    extra_integration: str = "",
    name: str = "satellite.yml",
) -> Path:
    """A real YAML config as a user would write it: the PAT from a file (``secrets/pat``), the API key
    from ``${env:TEST_SEI_API_KEY}``, the keys from ``key_files``.

    ``recipients``: (key id, public key file, created date or None[, kem]) instead of the one recipient key;
    an MLKEM768-X25519 key of ``key_files`` is written in that form too (the single-key form is X25519).
    ``extra_satellite`` / ``extra_integration``: YAML lines added to that section as given.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "secrets").mkdir(exist_ok=True)
    (directory / "secrets" / "pat").write_text(pat + "\n")
    if recipients is None and b"MLKEM768-X25519" in key_files.recipient_public.read_bytes():
        recipients = [(key_files.recipient_key_id, key_files.recipient_public, None, "mlkem768-x25519")]
    if recipients is None:
        keys = (f"    recipient_key_id: {key_files.recipient_key_id}\n"
                f"    recipient_public_key: ${{file:{key_files.recipient_public}}}\n")
    else:
        keys = "    recipients:\n" + "".join(
            f"      - key_id: {key_id}\n        public_key: ${{file:{path}}}\n" + (f"        created: {created}\n" if created else "")
            + "".join(f"        kem: {k}\n" for k in kem)
            for key_id, path, created, *kem in recipients
        )
    sizes = {"commits": 50, "refs": 100, "projects": 2} if page_sizes is None else page_sizes
    outbox = f"  outbox_max_bytes: {outbox_max_bytes}\n" if outbox_max_bytes else ""
    delivery_lines = "delivery:\n" + "".join(f"  {k}: {v}\n" for k, v in delivery.items()) if delivery else ""
    path = directory / name
    path.write_text(
        f"""\
satellite:
  id: {satellite_id}
  tenant: acme
  endpoint: {endpoint}
  api_key: ${{env:{API_KEY_ENV}}}
  encryption:
{keys}    signing_private_key: ${{file:{key_files.signing_private}}}
  data_dir: {data_dir}
{extra_satellite}integrations:
  - id: tfs-main
    url: {ado_url}
    pat: ${{file:secrets/pat}}
    services: [{", ".join(services)}]
{extra_integration}limits:
  concurrency: 4
  page_sizes: {{{", ".join(f"{k}: {v}" for k, v in sizes.items())}}}
  batch: {{max_records: {batch_records}}}
{outbox}{delivery_lines}"""
    )
    return path


def satellite_env() -> dict[str, str]:
    """The environment of a satellite subprocess: this one's, without proxies, with the API key."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env[API_KEY_ENV] = API_KEY
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``python -m satellite ARGS`` to completion, output captured as text."""
    return subprocess.run([sys.executable, "-m", "satellite", *args], capture_output=True, text=True, errors="replace",
                          timeout=timeout, env=satellite_env(), cwd=REPO)


# --- the ground truth ----------------------------------------------------------------------------


def truth(world, profile: str = "2022") -> dict[str, list[str]]:
    """Record type -> sorted keys the simulator holds as server release ``profile``, for every type
    the satellite collects (empty where that release has none)."""
    from standins.ado_simulator.wire.profiles import PROFILES

    held = world.truth(PROFILES[profile].max_version)
    return {t: sorted(held.get(t, [])) for t in sorted(RECORD_TYPES)}


BUILD_TYPES = frozenset({"build.build", "build.timeline_record", "build.change", "pipelines.run"})  # keys "<collection>:<build id>..."


def mirror_differences(receiver: Receiver, world, profile: str = "2022", *, types: Iterable[str] = RECORD_TYPES,
                       advanced: bool = False) -> list[str]:
    """One line per record type of ``types`` whose live keys at the receiver are not exactly the server's.

    ``advanced``: the world moved after a first sync; a deleted comment leaves no revision for the
    incremental path to see, so comments may keep deleted keys (never miss one); a build deleted
    after it completed leaves no activity either: its build, timeline and run records stay until a
    reconciliation (extra keys of deleted builds only, never a missing one).
    """
    from standins.ado_simulator.world.pipelines.builds import builds_of

    expected = truth(world, profile)
    deleted_builds = {str(b.id) for b in builds_of(world).builds if b.deleted} if advanced else set()
    lines = []
    for record_type in sorted(types):
        want, have = expected.get(record_type, []), receiver.keys_of(record_type)
        missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
        if advanced and record_type == "wit.comment":
            differs, extra = bool(missing), []
        elif advanced and record_type in BUILD_TYPES:  # a completed build deleted since: the reconcile's
            extra = [k for k in extra if k.split(":")[1] not in deleted_builds]
            differs = bool(missing or extra)
        else:
            differs = have != want
        if differs:
            lines.append(f"{record_type}: {len(missing)} missing {missing[:3]}, {len(extra)} the server does not hold {extra[:3]}")
    return lines


def mirrors_truth(receiver: Receiver, world, profile: str = "2022", *, types: Iterable[str] = RECORD_TYPES,
                  advanced: bool = False) -> bool:
    """Whether the receiver holds exactly the server's live keys (see ``mirror_differences``)."""
    return not mirror_differences(receiver, world, profile, types=types, advanced=advanced)


def assert_mirrors_truth(receiver: Receiver, world, profile: str = "2022", *, types: Iterable[str] = RECORD_TYPES,
                         advanced: bool = False) -> None:
    """Every record type of ``types``: the receiver's live keys are exactly the server's."""
    differences = mirror_differences(receiver, world, profile, types=types, advanced=advanced)
    assert not differences, "the receiver does not mirror the server:\n" + "\n".join(differences)


# --- TLS -----------------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _new_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False)
    cert = (
        x509.CertificateBuilder().subject_name(_name("Test Corp Root CA")).issuer_name(_name("Test Corp Root CA"))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def ca_pem() -> bytes:
    """A fresh self-signed CA certificate ("Test Corp Root CA"), PEM."""
    cert, _ = _new_ca(dt.datetime.now(dt.timezone.utc))
    return cert.public_bytes(serialization.Encoding.PEM)


def make_ca_and_server_cert(directory: Path, *, expired: bool = False) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for 127.0.0.1 signed by it: (ca.pem, server.pem, server.key)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_cert, ca_key = _new_ca(now)
    server_key = ec.generate_private_key(ec.SECP256R1())
    valid_to = now - dt.timedelta(hours=1) if expired else now + dt.timedelta(days=30)
    server_cert = (
        x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca_cert.subject)
        .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=2)).not_valid_after(valid_to)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return ca_file, cert_file, key_file
