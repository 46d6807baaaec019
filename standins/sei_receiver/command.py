"""``satellite receiver``: run the reference SEI receiver; ``satellite receiver report``: its metrics report."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from standins.sei_receiver.app import ReceiverKeys, create_receiver_app
from standins.sei_receiver.storage import ReceiverStorage
from satellite.sealing.keys import load_ed25519_public, load_recipient_private, public_key_id
from satellite.secret import Secret
from standins.loopback import serve_forever

__all__ = ["configure_parser", "run", "main", "load_receiver_keys"]

API_KEY_ENV = "SEI_RECEIVER_API_KEY"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--data-dir", type=Path, default=Path("receiver-data"))
    parser.add_argument("--api-key-file", type=Path, help=f"file holding the accepted API key (default: ${API_KEY_ENV})")
    parser.add_argument("--recipient-key", action="append", default=[], metavar="[ID=]FILE",
                        help="recipient private key PEM, X25519 or MLKEM768-X25519 (told apart by the PEM label); the id"
                             " defaults to its fingerprint (repeatable, for rotation)")
    parser.add_argument("--satellite-key", action="append", default=[], type=Path, metavar="FILE|DIR",
                        help="registered satellite Ed25519 public key PEM, or a directory of *.pub (repeatable)")
    parser.add_argument("--max-batch-bytes", type=int, default=64 * 1024 * 1024, help="largest sealed batch read (413 beyond)")
    parser.add_argument("--max-inflated-bytes", type=int, default=None,
                        help="largest batch payload inflated (422 beyond; default 4 x --max-batch-bytes)")
    parser.add_argument("--min-supported-version", metavar="VERSION",
                        help="announce in every heartbeat answer: the oldest satellite version supported (v1.1)")
    parser.add_argument("--latest-version", metavar="VERSION",
                        help="announce in every heartbeat answer: the newest satellite version available (v1.1)")


def load_receiver_keys(api_keys: list[Secret], recipient_specs: list[str], satellite_keys: list[Path]) -> ReceiverKeys:
    recipients = {}
    for spec in recipient_specs:
        key_id, sep, path = spec.partition("=")
        if not sep:
            key_id, path = "", spec
        private = load_recipient_private(Path(path).read_bytes())
        recipients[key_id or public_key_id(private.public_key())] = private
    signers = {}
    for location in satellite_keys:
        files = sorted(location.glob("*.pub")) if location.is_dir() else [location]
        for file in files:
            public = load_ed25519_public(file.read_bytes())
            signers[public_key_id(public)] = public
    return ReceiverKeys(tuple(api_keys), recipients, signers)


def run(args: argparse.Namespace) -> int:
    if args.api_key_file:
        api_key = args.api_key_file.read_text().strip()
    else:
        api_key = os.environ.get(API_KEY_ENV, "")
    if not api_key:
        print(f"receiver: no API key: set ${API_KEY_ENV} or pass --api-key-file", file=sys.stderr)
        return 2
    if not args.recipient_key or not args.satellite_key:
        print("receiver: pass at least one --recipient-key and one --satellite-key", file=sys.stderr)
        return 2
    try:
        keys = load_receiver_keys([Secret(api_key)], args.recipient_key, args.satellite_key)
    except (OSError, ValueError) as exc:
        print(f"receiver: cannot load keys: {exc}", file=sys.stderr)
        return 2
    storage = ReceiverStorage(args.data_dir)
    announce = {name: value for name, value in (("min_supported_version", args.min_supported_version),
                                                ("latest_version", args.latest_version)) if value}
    app = create_receiver_app(storage, keys, max_batch_bytes=args.max_batch_bytes, max_inflated_bytes=args.max_inflated_bytes,
                              announce=announce)
    try:
        serve_forever(app, args.host, args.port, on_ready=lambda url: print(f"receiver: listening on {url}", flush=True))
    finally:
        storage.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:
        from standins.sei_receiver.report.command import report_main

        return report_main(argv[1:])
    if argv[:1] == ["command"]:
        from standins.sei_receiver.issue import issue_main

        return issue_main(argv[1:])
    parser = argparse.ArgumentParser(prog="satellite receiver", description=__doc__.splitlines()[0],
                                     epilog="satellite receiver report --help: the metrics of what it stored; satellite receiver"
                                     " command --help: queue a signed command for a satellite")
    configure_parser(parser)
    return run(parser.parse_args(argv))
