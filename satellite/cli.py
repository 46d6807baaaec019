"""The ``satellite`` command: parses arguments and dispatches; every command returns an exit code.

Exit codes: 0 success, 1 the work failed (reported), 2 bad configuration or usage, or the data dir is
in use by another satellite process (one `sync` or `run` per data dir), 75 `sync` gave up delivering
(SEI unreachable for ``delivery.once_deadline``; the batches stay in the outbox), 130 interrupted
(SIGINT or SIGTERM: stopped at a record boundary).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from satellite import __version__
from satellite.errors import ConfigError, DataDirInUse, SatelliteError
from satellite.log import configure_logging, log_to_file, redact_text
from satellite.process_tuning import tune_process
from satellite.signals import EXIT_INTERRUPTED, stop_on_signals

__all__ = ["main"]

EXIT_TEMPFAIL = 75  # EX_TEMPFAIL (sysexits.h): try again later


def _config_validate(args: argparse.Namespace) -> int:
    from satellite.config import load_config

    config = load_config(args.file)
    print(f"{args.file}: valid ({len(config.integrations)} integration(s), data_dir {config.satellite.data_dir})")
    return 0


def _config_schema(args: argparse.Namespace) -> int:
    from satellite.config import config_json_schema

    print(json.dumps(config_json_schema(), indent=2))
    return 0


def _keys_generate(args: argparse.Namespace) -> int:
    from satellite.sealing.keys import generate_key_files

    try:
        files = generate_key_files(args.out, overwrite=args.force, kem=args.kem)
    except FileExistsError as exc:
        print(f"keys: {exc}", file=sys.stderr)
        return 2
    print(f"SEI recipient key pair:  {files.recipient_private} (private, 0600), {files.recipient_public}")
    print(f"  recipient key id:      {files.recipient_key_id} (kem: {args.kem})")
    print(f"satellite signing pair:  {files.signing_private} (private, 0600), {files.signing_public}")
    print(f"  signer key id:         {files.signer_key_id}")
    print("For tests and the reference receiver (satellite receiver): in production SEI gives you its recipient public key and")
    print("its id, and you make only the signing pair: satellite keys generate-signing --out DIR")
    return 0


def _keys_generate_command(args: argparse.Namespace) -> int:
    from satellite.remote.keys import generate_command_key_files

    try:
        files = generate_command_key_files(args.out, overwrite=args.force)
    except FileExistsError as exc:
        print(f"keys: {exc}", file=sys.stderr)
        return 2
    print(f"SEI command key pair:    {files.private} (private, 0600: satellite receiver command --key), {files.public}")
    print(f"  command key id:        {files.key_id}")
    print("For tests and the reference receiver: in production SEI keeps the private half and gives you the public half and")
    print("its id for satellite.command_keys (docs/remote-commands.md)")
    return 0


def _keys_generate_signing(args: argparse.Namespace) -> int:
    from satellite.sealing.keys import generate_signing_key_files

    try:
        files = generate_signing_key_files(args.out, overwrite=args.force)
    except FileExistsError as exc:
        print(f"keys: {exc}", file=sys.stderr)
        return 2
    print(f"satellite signing key:   {files.private} (private, 0600: the satellite's signing_private_key)")
    print(f"public half:             {files.public}")
    print(f"signer key id:           {files.key_id}")
    print("Register the public half with SEI (it verifies every batch this satellite signs):")
    print(files.public.read_text().rstrip())
    return 0


def _duration(text: str):
    from satellite.config.units import DURATION_HINT, parse_duration

    try:
        return parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(DURATION_HINT) from None


def _sync(args: argparse.Namespace) -> int:
    from satellite.config import load_config
    from satellite.sync.once import sync_once

    from satellite.sync.progress import Progress

    config = load_config(args.config)
    log_to_file(config.log)
    deadline = args.delivery_deadline.total_seconds() if args.delivery_deadline else None
    stop, outcome = threading.Event(), {}

    def work() -> None:
        try:
            outcome["result"] = sync_once(config, on_record=progress.record, stop=stop, delivery_deadline=deadline)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            outcome["error"] = exc

    # The run works in a thread so the main thread, waiting with a timeout, runs signal handlers at once.
    worker = threading.Thread(target=work, name="sync", daemon=True)
    with Progress.for_stdout() as progress, stop_on_signals(stop) as signals:
        worker.start()
        while worker.is_alive() and not stop.is_set():
            worker.join(0.2)
        worker.join(config.satellite.shutdown_grace.total_seconds())  # a stopped run ends at a record boundary
    if signals.caught is not None:
        done = "" if worker.is_alive() else "; what was collected is in the outbox"
        print(f"sync: interrupted by {signals.caught.name}{done}; the next run resumes", file=sys.stderr)
        return EXIT_INTERRUPTED
    if "error" in outcome:
        raise outcome["error"]
    result = outcome["result"]
    collected = sum(o.records for o in result.collection.outcomes)
    delivered = result.drain.delivered if result.drain else 0
    print(f"sync: {collected} record(s) collected, {delivered} batch(es) delivered, "
          f"{result.outbox.batches} batch(es) still in the outbox, {len(result.errors)} error(s)")
    for error in result.errors:
        print(f"  error: {error}", file=sys.stderr)
    if result.stopped == "deadline":
        print(f"sync: gave up delivering after {deadline or config.delivery.once_deadline.total_seconds():g}s without an answer"
              f" from SEI; {result.outbox.batches} batch(es) kept in the outbox", file=sys.stderr)
        return EXIT_TEMPFAIL
    return 0 if result.ok else 1


def _check(args: argparse.Namespace) -> int:
    from satellite.check import render_json, render_table, run_checks
    from satellite.config import load_config

    results = run_checks(load_config(args.config))
    print(render_json(results) if args.json else render_table(results))
    return 0 if results and all(r.ok for r in results) else 1


def _run(args: argparse.Namespace) -> int:
    from satellite.agent.service import Agent
    from satellite.config import load_config

    config = load_config(args.config)
    log_to_file(config.log)
    return Agent(config).run()


def _status(args: argparse.Namespace) -> int:
    from satellite.agent.status import read_status, render_status_table
    from satellite.config import load_config
    from satellite.store import Store

    config = load_config(args.config)
    store = Store(config.satellite.data_dir)
    try:
        report = read_status(store)
    finally:
        store.close()
    print(report.to_json() if args.json else render_status_table(report))
    return 0


def _resync(args: argparse.Namespace) -> int:
    from satellite.config import load_config
    from satellite.sync.resync import resync

    return resync(load_config(args.config), integration=args.integration, streams=args.stream, projects=args.project)


def _ledger(args: argparse.Namespace) -> int:
    from satellite.config import load_config
    from satellite.delivery.ledger_command import show_ledger

    return show_ledger(load_config(args.config), since=args.since, output=args.format)


def _since(text: str) -> float:
    from satellite.delivery.ledger_command import parse_since

    try:
        return parse_since(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _outbox(args: argparse.Namespace) -> int:
    from satellite.config import load_config
    from satellite.delivery.outbox_command import list_outbox, retry_outbox

    config = load_config(args.config)
    if args.outbox_command == "list":
        return list_outbox(config, args.json)
    return retry_outbox(config, args.batch_ids, args.all)


def _events(args: argparse.Namespace) -> int:
    from satellite.config import load_config
    from satellite.events.command import events_command

    return events_command(load_config(args.config), args.events_command, args.integration)


def _preview(args: argparse.Namespace) -> int:
    from satellite.config import load_config
    from satellite.sync.preview_command import run_preview

    return run_preview(load_config(args.config), integration=args.integration, streams=args.stream, limit=args.limit,
                       max_requests=args.max_requests, out=args.out)


def _support_bundle(args: argparse.Namespace) -> int:
    from satellite.config import load_config
    from satellite.support.command import support_bundle

    return support_bundle(load_config(args.config), args.out, include_check=not args.no_check, log_lines=args.log_lines,
                          thorough_integrity=not args.quick)


# The stand-ins (standins/: simulator, receiver, demo) are not part of the agent: their modules and
# server dependencies are imported only when one of these commands runs.
STANDIN_EXTRA_HINT = "install the stand-ins with: pip install 'sei-satellite[standins]'"


def _load_standin(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("standins", "starlette", "uvicorn", "httptools"):
            raise StandinsMissing(f"this command needs the stand-ins, which are not installed ({exc.name}): {STANDIN_EXTRA_HINT}") from None
        raise


class StandinsMissing(Exception):
    """A stand-in command ran where the ``standins`` extra is not installed."""


def _simulator(args: argparse.Namespace) -> int:
    return _load_standin("standins.ado_simulator.command").main(args.standin_args)


def _receiver(args: argparse.Namespace) -> int:
    return _load_standin("standins.sei_receiver.command").main(args.standin_args)


def _demo(args: argparse.Namespace) -> int:
    return _load_standin("standins.demo").run_demo(scale=args.scale, seed=args.seed, profile=args.profile)


KEYS_STORY = """\
Where the keys come from:
  SEI gives you   the API key, SEI's recipient public key (PEM) and its id (recipient_key_id);
                  a hybrid post-quantum key goes in recipients with kem: mlkem768-x25519 (docs/deploy.md).
  You make        the satellite's signing pair: satellite keys generate-signing --out DIR
                  (or: openssl genpkey -algorithm ed25519 -out signing-private-key;
                   openssl pkey -in signing-private-key -pubout -out signing-public-key)
                  and register signing-public-key with SEI; signing-private-key stays with the satellite.
`keys generate` also makes SEI's recipient private key: it is for testing the reference receiver only."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="satellite", description="SEI Ingestion Satellite for Azure DevOps Server")
    parser.add_argument("--version", action="version", version=f"satellite {__version__}")
    parser.add_argument("--log-level", default=None, choices=["debug", "info", "warning", "error"],
                        help="default: info (warning for demo)")
    parser.add_argument("--log-format", default="auto", choices=["auto", "json", "console"])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    config = commands.add_parser("config", help="validate the configuration or print its JSON Schema")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    validate = config_commands.add_parser("validate", help="check a config file; every problem is listed")
    validate.add_argument("file", type=Path)
    validate.set_defaults(handler=_config_validate)
    schema = config_commands.add_parser("schema", help="print the JSON Schema of the config file (for editors)")
    schema.set_defaults(handler=_config_schema)

    keys = commands.add_parser("keys", help="key management", description=KEYS_STORY,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    signing = keys_commands.add_parser("generate-signing", help="make the satellite's Ed25519 signing pair; register its"
                                       " public half with SEI")
    signing.add_argument("--out", type=Path, required=True,
                         help="directory for signing-private-key (0600) and signing-public-key (PEM)")
    signing.add_argument("--force", action="store_true", help="replace existing key files")
    signing.set_defaults(handler=_keys_generate_signing)
    generate = keys_commands.add_parser("generate", help="for testing the reference receiver: both pairs, SEI's recipient"
                                        " private key too (never in production)",
                                        description="Write SEI's recipient key pair and a satellite signing pair (PEM), for"
                                        " testing the reference receiver (satellite receiver) and demos. In production SEI"
                                        " keeps its recipient private key and gives you the public key and its id; make"
                                        " the signing pair with `satellite keys generate-signing`.")
    generate.add_argument("--out", type=Path, required=True, help="directory to write the four PEM files into")
    generate.add_argument("--kem", choices=["x25519", "mlkem768-x25519"], default="x25519",
                          help="the recipient key's KEM: x25519 (default) or mlkem768-x25519 (hybrid post-quantum;"
                          " its PEM is '-----BEGIN MLKEM768-X25519 ...-----', docs/deploy.md)")
    generate.add_argument("--force", action="store_true", help="replace existing key files")
    generate.set_defaults(handler=_keys_generate)

    command_keys = keys_commands.add_parser("generate-command", help="for testing the reference receiver: SEI's Ed25519"
                                            " command key pair, which signs remote commands (never in production)")
    command_keys.add_argument("--out", type=Path, required=True, help="directory for sei-command.key (0600) and sei-command.pub")
    command_keys.add_argument("--force", action="store_true", help="replace existing key files")
    command_keys.set_defaults(handler=_keys_generate_command)

    sync = commands.add_parser("sync", help="collect everything due, upload it, exit")
    sync.add_argument("-c", "--config", type=Path, required=True)
    sync.add_argument("--once", action="store_true", default=True, help="one pass, then exit (the only mode of sync)")
    sync.add_argument("--delivery-deadline", type=_duration, metavar="DURATION",
                      help="give up delivering when SEI accepts nothing this long (default: delivery.once_deadline, 15m); exit 75")
    sync.set_defaults(handler=_sync)

    check = commands.add_parser("check", help="check every connection, credential, scope and key; exit 0 if all pass")
    check.add_argument("-c", "--config", type=Path, required=True)
    check.add_argument("--json", action="store_true", help="print the results as a JSON list")
    check.set_defaults(handler=_check)

    run = commands.add_parser("run", help="the long-running agent: scheduled syncs, delivery, heartbeat, HTTP endpoint")
    run.add_argument("-c", "--config", type=Path, required=True)
    run.set_defaults(handler=_run)

    status = commands.add_parser("status", help="per stream: last success, cursor, lag, counts, last error; the outbox")
    status.add_argument("-c", "--config", type=Path, required=True)
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_status)

    resync = commands.add_parser("resync", help="forget cursors and delivered keys of a selection: the next run re-sends it"
                                 " (after a privacy policy change); safe beside a running agent")
    resync.add_argument("-c", "--config", type=Path, required=True)
    resync.add_argument("--integration", metavar="ID", help="only this integration (default: all)")
    resync.add_argument("--stream", action="append", metavar="NAME", help="only this stream (repeatable; default: all)")
    resync.add_argument("--project", action="append", metavar="NAME_OR_ID",
                        help="only this project's streams (repeatable; resolved through the server with the PAT)")
    resync.set_defaults(handler=_resync)

    ledger = commands.add_parser("ledger", help="the delivery ledger: every batch SEI acknowledged (ids, counts, SHA-256s,"
                                 " policy fingerprint, times)")
    ledger.add_argument("-c", "--config", type=Path, required=True)
    ledger.add_argument("--since", type=_since, metavar="DATE", help="acknowledged since: 2026-11-30, 2026-11-30T12:00Z or 7d")
    ledger.add_argument("--format", default="table", choices=["table", "csv", "json"])
    ledger.set_defaults(handler=_ledger)

    outbox = commands.add_parser("outbox", help="batches waiting for delivery and dead letters")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    outbox_list = outbox_commands.add_parser("list", help="backlog and every batch SEI refused for good")
    outbox_list.add_argument("-c", "--config", type=Path, required=True)
    outbox_list.add_argument("--json", action="store_true")
    outbox_list.set_defaults(handler=_outbox)
    outbox_retry = outbox_commands.add_parser("retry", help="put dead letters back in the outbox")
    outbox_retry.add_argument("-c", "--config", type=Path, required=True)
    outbox_retry.add_argument("batch_ids", nargs="*", metavar="BATCH_ID")
    outbox_retry.add_argument("--all", action="store_true", help="every dead letter")
    outbox_retry.set_defaults(handler=_outbox)

    events = commands.add_parser("events", help="service hook subscriptions for events (docs/events.md)")
    events_commands = events.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    for action, text in (("subscribe", "create or update the Web Hooks subscriptions the enabled services need (or print"
                          " what an administrator must create)"),
                         ("list", "the subscriptions posting to this satellite, and the missing ones"),
                         ("unsubscribe", "delete the subscriptions posting to this satellite")):
        events_action = events_commands.add_parser(action, help=text)
        events_action.add_argument("-c", "--config", type=Path, required=True)
        events_action.add_argument("--integration", metavar="ID", help="only this integration")
        events_action.set_defaults(handler=_events)

    preview = commands.add_parser("preview", help="a sample of the records a sync would seal, after the privacy policy;"
                                  " nothing stored or sent")
    preview.add_argument("-c", "--config", type=Path, required=True)
    preview.add_argument("--integration", metavar="ID", help="only this integration (default: all)")
    preview.add_argument("--stream", action="append", metavar="NAME", help="only this stream (repeatable; default: all enabled)")
    preview.add_argument("--limit", type=int, default=20, metavar="N", help="records per stream (default 20)")
    preview.add_argument("--max-requests", type=int, default=200, metavar="R",
                         help="requests per stream at most (default 200); a stream needing more stops and says so")
    preview.add_argument("--out", type=Path, metavar="DIR", help="write DIR/<integration>/<stream>.ndjson instead of printing")
    preview.set_defaults(handler=_preview)

    bundle = commands.add_parser("support-bundle", help="one tar.gz for SEI support: config (secrets as their references),"
                                 " versions, check, status, outbox, store integrity, metrics, log tail; never a secret")
    bundle.add_argument("-c", "--config", type=Path, required=True)
    bundle.add_argument("--out", type=Path, metavar="FILE.tar.gz",
                        help="where to write it (default: satellite-support-<id>-<time>.tar.gz here)")
    bundle.add_argument("--no-check", action="store_true", help="leave out satellite check (it connects to every server and SEI)")
    bundle.add_argument("--log-lines", type=int, default=1000, metavar="N", help="last lines of log.file to include (default 1000)")
    bundle.add_argument("--quick", action="store_true", help="SQLite quick_check instead of the full integrity_check")
    bundle.set_defaults(handler=_support_bundle)

    # stand-ins: their own parsers read the rest of the command line (``satellite simulator --help``)
    simulator = commands.add_parser("simulator", help="run the Azure DevOps Server simulator (stand-in)", add_help=False)
    simulator.set_defaults(handler=_simulator, takes_rest=True)
    receiver = commands.add_parser("receiver", help="run the reference SEI receiver (stand-in)", add_help=False)
    receiver.set_defaults(handler=_receiver, takes_rest=True)

    demo = commands.add_parser("demo", help="simulator + satellite + receiver on loopback; prints what arrived")
    demo.add_argument("--scale", default="small", choices=["tiny", "small", "medium", "large"])
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--profile", default="2022", choices=["2019", "2020", "2022", "7.1"])
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    tune_process()
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if getattr(args, "takes_rest", False):
        args.standin_args = rest
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    json_output = {"auto": None, "json": True, "console": False}[args.log_format]
    level = args.log_level or ("warning" if args.command in ("demo", "check", "support-bundle") else "info")
    configure_logging(level, json_output=json_output, stream=sys.stderr if args.command in ("demo", "config", "keys", "check", "outbox", "status", "preview", "resync", "ledger", "support-bundle", "events") else None)
    try:
        return args.handler(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found", file=sys.stderr)
        return 2
    except DataDirInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SatelliteError as exc:
        print(f"error: {redact_text(str(exc))}", file=sys.stderr)
        return 1
    except StandinsMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
