"""``satellite receiver command``: sign a command with SEI's command key and queue it for a satellite
(the receiver hands it out in its next heartbeat answer); ``satellite receiver command list``: the
commands queued and the outcomes reported (JSON).

    satellite receiver command --data-dir receiver-data --key keys/sei-command.key --satellite sat-1 \\
        resync --stream git.commits --since 2026-11-01
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from satellite.remote.commands import COMMANDS, LOG_LEVELS
from satellite.remote.verify import new_payload, sign
from satellite.sealing.keys import load_ed25519_private, public_key_id
from standins.sei_receiver.commands import CommandQueue

__all__ = ["command_args", "issue_main"]


def _parser() -> argparse.ArgumentParser:
    from satellite.cli import (
        _duration,  # the satellite's own duration syntax (30s, 5m, 1h)
    )

    parser = argparse.ArgumentParser(prog="satellite receiver command", description=__doc__.splitlines()[0],
                                     epilog="satellite receiver command list [--data-dir DIR]: the commands queued and the"
                                     " outcomes reported, as JSON (docs/remote-commands.md)")
    parser.add_argument("--data-dir", type=Path, default=Path("receiver-data"), help="the receiver's --data-dir")
    parser.add_argument("--key", type=Path, required=True, metavar="FILE",
                        help="SEI's Ed25519 command private key PEM (satellite keys generate-command writes sei-command.key)")
    parser.add_argument("--key-id", help="the key id the satellite knows it by (default: its fingerprint)")
    parser.add_argument("--satellite", required=True, metavar="ID", help="the satellite id the command is for")
    parser.add_argument("--ttl", type=_duration, default=_duration("1h"), metavar="DURATION",
                        help="how long the command stays valid (default 1h)")
    parser.add_argument("name", choices=COMMANDS)
    parser.add_argument("--integration", help="resync, reconcile_now: only this integration")
    parser.add_argument("--stream", action="append", help="resync: only this stream (repeatable)")
    parser.add_argument("--project", action="append", help="resync: only this project, name or id (repeatable)")
    parser.add_argument("--since", help="resync: the date SEI needs data again from (YYYY-MM-DD)")
    parser.add_argument("--level", choices=LOG_LEVELS, help="set_log_level: the level")
    parser.add_argument("--duration", type=_duration, help="set_log_level, pause: for how long")
    parser.add_argument("--log-lines", type=int, help="upload_support_bundle: last log lines to include")
    return parser


def command_args(args: argparse.Namespace) -> dict[str, Any]:
    """The ``args`` of the command payload from the flags given (the satellite checks them)."""
    found: dict[str, Any] = {
        "integration": args.integration, "streams": args.stream, "projects": args.project, "since": args.since,
        "level": args.level, "log_lines": args.log_lines,
        "duration_s": int(args.duration.total_seconds()) if args.duration else None,
    }
    return {k: v for k, v in found.items() if v is not None}


def issue_main(argv: list[str]) -> int:
    if argv[:1] == ["list"]:
        listing = argparse.ArgumentParser(prog="satellite receiver command list")
        listing.add_argument("--data-dir", type=Path, default=Path("receiver-data"))
        print(json.dumps(CommandQueue(listing.parse_args(argv[1:]).data_dir).stats(), indent=2))
        return 0
    args = _parser().parse_args(argv)
    try:
        key = load_ed25519_private(args.key.read_bytes())
    except (OSError, ValueError) as exc:
        print(f"receiver command: cannot load the command key: {exc}", file=sys.stderr)
        return 2
    key_id = args.key_id or public_key_id(key.public_key())
    payload = new_payload(args.satellite, args.name, command_args(args), issued_at=datetime.now(UTC),
                          ttl=args.ttl)
    command_id = CommandQueue(args.data_dir).enqueue(args.satellite, sign(payload, key, key_id))
    print(command_id)
    print(f"queued {args.name} for {args.satellite} (key {key_id}, expires {payload['expires_at']}): handed out in the"
          " answer to its next heartbeat; outcomes in GET /v1/satellite/stats or satellite receiver command list",
          file=sys.stderr)
    return 0
