"""``satellite simulator``: serve a generated world as an Azure DevOps Server stand-in.

    satellite simulator --profile 2022 --scale small --port 8081 --pat demo-pat --pat code-only:vso.code
    satellite simulator --latency-ms 20 --latency-jitter-ms 5 --fault "429:0.05:/_apis/git/" --fault-seed 3
    satellite simulator --semantics comments-with-changes,late-visible,pipeline-runs-cap=50
    satellite simulator --capacity 8 --service-ms 20 --rate-budget 3000:6000:300:30 --auth windows
    satellite simulator --example-fields --extra-fields 3
    satellite simulator --event-faults drop:0.1,duplicate:0.1,delay:0.2,reorder:0.2 --event-fault-seed 3
"""

from __future__ import annotations

import argparse
import gc
import sys

import httpx

from standins.loopback import serve_forever
from standins.ado_simulator.app import DEFAULT_PATS, create_app
from standins.ado_simulator.events.delivery import DeliveryConfig
from standins.ado_simulator.events.faults import EventFaultPlan
from standins.ado_simulator.semantics import SWITCHES, ServerSemantics
from standins.ado_simulator.wire.faults import KINDS, FaultPlan, FaultRule, parse_fault
from standins.ado_simulator.wire.load import Budget, LoadConfig, parse_budget
from standins.ado_simulator.wire.windows_auth import AUTH_MODES
from standins.ado_simulator.world.generate import SCALES
from standins.ado_simulator.wire.profiles import PROFILES
from standins.ado_simulator.world.world import generate_world

__all__ = ["configure_parser", "run", "main", "parse_pat", "fault_rule", "semantics", "rate_budget"]


def parse_pat(text: str) -> tuple[str, frozenset[str]]:
    """``VALUE`` (full scope) or ``VALUE:scope,scope`` -> (value, scopes)."""
    value, sep, scopes = text.partition(":")
    if not value:
        raise argparse.ArgumentTypeError(f"empty PAT in {text!r}")
    chosen = frozenset(s.strip() for s in scopes.split(",") if s.strip()) if sep else frozenset({"full"})
    return value, chosen or frozenset({"full"})


def fault_rule(text: str) -> FaultRule:
    """``KIND:RATE[:PATH_REGEX]`` -> a fault rule (argparse type)."""
    try:
        return parse_fault(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def rate_budget(text: str) -> Budget | None:
    """``THRESHOLD:LIMIT[:WINDOW_S[:MAX_DELAY_S]]`` or ``off`` -> the load model's budget (argparse type)."""
    try:
        return parse_budget(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def semantics(text: str) -> ServerSemantics:
    """``NAME[,NAME][,NAME=N]`` -> the server semantics (argparse type)."""
    try:
        return ServerSemantics.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=("serve", "advance", "truth"), default="serve",
                        help="serve (default); advance: make a running simulator live STEPS hours; truth: print its ground truth counts")
    control = parser.add_argument_group("advance and truth", "talk to a running simulator")
    control.add_argument("--url", default="http://127.0.0.1:8081", help="the simulator (default http://127.0.0.1:8081)")
    control.add_argument("--steps", type=int, default=1, help="hours of activity to simulate (default 1)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="2022", help="server release to imitate (default 2022)")
    parser.add_argument("--scale", choices=list(SCALES), default="small", help="world size (default small)")
    parser.add_argument("--seed", type=int, default=7, help="world seed (default 7)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port (default 8081)")
    parser.add_argument(
        "--pat", dest="pats", action="append", type=parse_pat, metavar="VALUE[:scope,scope]",
        help="accepted PAT, repeatable; scopes e.g. full, vso.code, vso.project (default: sim-pat with full scope)",
    )
    parser.add_argument(
        "--semantics", type=semantics, default=ServerSemantics(), metavar="NAME[,NAME][,NAME=N]",
        help="server behaviours the satellite must handle (issue 13; all off by default): all, "
        + ", ".join(n.replace("_", "-") + ("=N" if kind == "int" else "") for n, kind in SWITCHES.items())
        + "; see docs/simulator.md, 'Semantics we model'",
    )
    parser.add_argument("--auth", choices=AUTH_MODES, default="basic",
                        help="basic (default); windows: an IIS front with Windows authentication, 401 Negotiate/NTLM"
                        " to missing or wrong credentials (PATs over Basic still work)")
    parser.add_argument("--example-fields", action="store_true",
                        help="bodies carry the fields beyond the spec that Microsoft's example responses show per route")
    parser.add_argument("--extra-fields", type=int, nargs="?", const=0, default=None, metavar="SEED",
                        help="add unknown fields with random names and values at random depths of every JSON body"
                        " (seeded, default 0)")
    parser.add_argument("--messy", action="store_true",
                        help="a messy world: disabled and empty repositories, a project renamed and one deleted and a"
                        " repository moved at the first advance, a build and a PR deleted during the next sync, unicode"
                        " and 250+ character names, identities without e-mail (docs/simulator.md, 'Messy worlds')")
    load = parser.add_argument_group("load model", "queueing latency, a per-identity budget and a probe (GET /_sim/load);"
                                     " see docs/simulator.md, 'Load model'")
    load.add_argument("--capacity", type=int, default=None, metavar="N",
                      help="requests served at full speed at once; beyond N each answer is k/N times slower (default: no load model)")
    load.add_argument("--service-ms", type=float, default=20.0, help="unloaded latency of an answer with --capacity (default 20)")
    load.add_argument("--rate-budget", type=rate_budget, default=Budget(), metavar="THRESHOLD:LIMIT[:WINDOW_S[:MAX_DELAY_S]]",
                      help="per-identity TSTUs per window before X-RateLimit headers and delays, and before 429 with"
                      " Retry-After (default 15000:30000:300:30; off: none)")
    faults = parser.add_argument_group("faults", "injected into every request but the /_sim control routes")
    faults.add_argument("--latency-ms", type=float, default=0.0,
                        help="time from a request's arrival to its answer, the simulator's own work counted inside it"
                        " (default 0)")
    faults.add_argument("--latency-jitter-ms", type=float, default=0.0, help="± random part of the latency (default 0)")
    faults.add_argument(
        "--fault", dest="faults", action="append", type=fault_rule, default=[], metavar="KIND:RATE[:PATH_REGEX]",
        help=f"repeatable; KIND one of {', '.join(k for k in KINDS if k != 'latency')}; RATE a probability,"
        " e.g. 429:0.05:/_apis/git/",
    )
    faults.add_argument("--fault-seed", type=int, default=0, help="seed of the fault draws (default 0)")
    events = parser.add_argument_group("service hook events", "delivery to subscribed URLs; see docs/simulator.md,"
                                       " 'Service hooks and events'")
    events.add_argument("--event-faults", default="", metavar="KIND:RATE[,KIND:RATE]",
                        help="drop, duplicate, delay, reorder, e.g. drop:0.1,duplicate:0.1,delay:0.2,reorder:0.2 (default none)")
    events.add_argument("--event-fault-seed", type=int, default=0, help="seed of the event fault draws (default 0)")
    events.add_argument("--event-delay-s", type=float, default=2.0, help="how much later a delayed event is sent (default 2)")
    events.add_argument("--event-backoff-s", type=float, default=1.0,
                        help="wait before retrying a failed delivery, doubled per attempt, 4 attempts (default 1)")


def control(args: argparse.Namespace) -> int:
    """``advance`` / ``truth`` against a running simulator's control routes."""
    try:
        if args.action == "advance":
            response = httpx.post(f"{args.url.rstrip('/')}/_sim/advance", json={"steps": args.steps}, timeout=120)
        else:
            response = httpx.get(f"{args.url.rstrip('/')}/_sim/truth", timeout=120)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        print(f"simulator: {args.action} failed at {args.url}: {exc}", file=sys.stderr)
        return 1
    body = response.json()
    counts = body if args.action == "advance" else {t: v["count"] for t, v in body["types"].items()}
    for name, count in sorted(counts.items()):
        print(f"{name:32s} {count}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action != "serve":
        return control(args)
    world = generate_world(args.seed, args.scale, semantics=args.semantics, messy=args.messy)
    gc.collect()
    gc.freeze()  # the world lives as long as the process: out of the collector's walks (a full one walked it all)
    pats = dict(args.pats) if args.pats else dict(DEFAULT_PATS)
    plan = FaultPlan(tuple(args.faults), args.latency_ms, args.latency_jitter_ms, args.fault_seed)
    try:
        load = LoadConfig(args.capacity, args.service_ms, args.rate_budget) if args.capacity is not None else None
        event_faults = EventFaultPlan.parse(args.event_faults, args.event_fault_seed, args.event_delay_s)
        delivery = DeliveryConfig(backoff_s=args.event_backoff_s)
    except ValueError as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    app = create_app(world, args.profile, pats, faults=plan, auth=args.auth, load=load,
                     example_fields=args.example_fields, extra_fields=args.extra_fields,
                     event_faults=event_faults, delivery=delivery)

    def ready(url: str) -> None:
        chosen = args.semantics.names()
        extra = f", semantics {','.join(chosen)}" if chosen else ""
        print(f"simulator: profile {args.profile}, scale {args.scale}, collection {url}/tfs/{world.collection.name}{extra}",
              flush=True)

    try:
        serve_forever(app, args.host, args.port, on_ready=ready)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"simulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="satellite simulator", description=__doc__.splitlines()[0])
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
