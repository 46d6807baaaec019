"""``satellite demo``: simulator + satellite + receiver on loopback, one sync, and a table.

Everything runs in this process on free loopback ports with keys in a temporary directory,
so the demo needs no outside server. Exit code 0 only if, for every record type, what the
simulator holds (expected) equals what the satellite collected and what the receiver stored.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
from pathlib import Path

import httpx

from standins.sei_receiver import ReceiverKeys, ReceiverStorage, create_receiver_app
from satellite.sealing.keys import generate_key_files, load_ed25519_public, load_x25519_private
from satellite.secret import Secret
from standins.loopback import serve_in_thread

__all__ = ["run_demo", "demo_config_path", "format_table"]

LIVE_HOURS = 2  # server activity between the second sync and the third (what freshness measures)


def demo_config_path() -> Path:
    """The demo's config (``standins/demo.yml``), beside this module in a checkout and in the wheel."""
    return Path(__file__).resolve().parent / "demo.yml"


def format_table(rows: list[tuple[str, int, int, int]]) -> str:
    header = ("record type", "expected", "collected", "delivered", "")
    lines = [header] + [(t, str(e), str(c), str(d), "ok" if e == c == d else "MISMATCH") for t, e, c, d in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def run_demo(scale: str = "small", seed: int = 7, profile: str = "2022", out=sys.stdout) -> int:
    from satellite.config import load_config
    from standins.ado_simulator.app import create_app
    from standins.ado_simulator.wire.profiles import PROFILES
    from standins.ado_simulator.world.world import generate_world
    from satellite.store import Store
    from satellite.streams import NESTED_TYPES
    from satellite.sync.once import sync_once
    from standins.ado_simulator.truth import world_metrics
    from standins.demo_metrics import gap_table, push_freshness
    from standins.sei_receiver.report import build_report

    with tempfile.TemporaryDirectory(prefix="satellite-demo-") as tmp:
        tmp_path = Path(tmp)
        keys = generate_key_files(tmp_path / "keys")
        pat, api_key = "demo-" + secrets.token_hex(12), "demo-" + secrets.token_hex(16)
        world = generate_world(seed=seed, scale=scale)
        # The receiver runs on the simulator's clock (as a real receiver and server agree by NTP), so
        # freshness compares two server times.
        storage = ReceiverStorage(tmp_path / "receiver", clock=lambda: float(world.clock))
        receiver_keys = ReceiverKeys(
            api_keys=(Secret(api_key),),
            recipients={keys.recipient_key_id: load_x25519_private(keys.recipient_private.read_bytes())},
            signers={keys.signer_key_id: load_ed25519_public(keys.signing_public.read_bytes())},
        )
        print(f"demo: simulator profile {profile}, scale {scale}, seed {seed}", file=out)
        with serve_in_thread(create_app(world, profile=profile, pats={pat: frozenset({"full"})})) as simulator, \
                serve_in_thread(create_receiver_app(storage, receiver_keys)) as receiver:
            env = {
                "DEMO_ADO_URL": f"{simulator.url}/tfs/DefaultCollection",
                "DEMO_PAT": pat,
                "DEMO_ENDPOINT": receiver.url,
                "DEMO_API_KEY": api_key,
                "DEMO_RECIPIENT_KEY_ID": keys.recipient_key_id,
                "DEMO_RECIPIENT_PUBLIC_KEY": keys.recipient_public.read_text(),
                "DEMO_SIGNING_PRIVATE_KEY": keys.signing_private.read_text(),
                "DEMO_DATA_DIR": str(tmp_path / "satellite-data"),
            }
            config = load_config(demo_config_path(), env=env)
            last_op: dict[tuple[str, str], str] = {}
            nested_under: dict[str, list[tuple[str, str]]] = {}  # parent key -> (type, key) of records nested in it
            nested_types = {t for types in NESTED_TYPES.values() for t in types}

            def keep(record) -> None:  # the last op of every key; a delete takes the records nested in it along
                last_op[(record.type, record.key)] = record.op
                if record.type in nested_types:  # keyed "<parent key>:<id>" (ids hold no ":")
                    nested_under.setdefault(record.key.rsplit(":", 1)[0], []).append((record.type, record.key))
                if record.op == "delete":
                    for kind, key in nested_under.pop(record.key, []):
                        if kind in NESTED_TYPES.get(record.type, ()):
                            last_op[(kind, key)] = "delete"
            first_batch_at = float(world.clock)
            result = sync_once(config, on_record=keep)
            again = sync_once(config, on_record=keep)  # nothing changed on the server: shows what incremental costs
            world.advance(LIVE_HOURS)  # the server lives on; the next sync brings what changed
            live = sync_once(config, on_record=keep)
            # What no incremental read can see (a build deleted after it completed): the agent's weekly
            # reconciliation (schedule.reconcile_every) re-reads from no cursor and deletes it.
            store = Store(config.satellite.data_dir)
            for integration in config.integrations:
                store.reset_cursors(integration.id)
            store.close()
            deleted = 0  # records live until the reconciliation deleted them (their nested records go with them)

            def keep_and_count(record) -> None:
                nonlocal deleted
                deleted += record.op == "delete" and last_op.get((record.type, record.key)) == "upsert"
                keep(record)

            reconciled = sync_once(config, on_record=keep_and_count)
            stats = httpx.get(f"{receiver.url}/v1/satellite/stats", headers={"Authorization": f"Bearer {api_key}"},
                              timeout=300).json()  # counting a medium world takes the receiver a while
            report = build_report(storage)
        storage.close()
    from satellite.streams import RECORD_TYPES

    truth = world.truth(PROFILES[profile].max_version)
    expected = {t: len(keys_) for t, keys_ in truth.items() if t in RECORD_TYPES}
    collected: dict[str, int] = {}
    for (record_type, _), op in last_op.items():  # distinct keys whose last collected record is an upsert
        collected[record_type] = collected.get(record_type, 0) + (op == "upsert")
    delivered = {t: v["live"] for t, v in stats["types"].items()}
    types = sorted(set(expected) | set(collected) | set(delivered))
    rows = [(t, expected.get(t, 0), collected.get(t, 0), delivered.get(t, 0)) for t in types]
    print(format_table(rows), file=out)
    print(
        f"requests to the simulator: {result.collection.requests}; batches delivered: "
        f"{result.drain.delivered if result.drain else 0}; errors: {len(result.errors)}",
        file=out,
    )
    for error in result.errors:
        print(f"  error: {error}", file=out)
    again_records = sum(o.records for o in again.collection.outcomes)
    print(
        f"second sync, nothing new: {again_records} records, {again.collection.requests} requests for "
        f"{expected.get('core.project', 0)} projects, {expected.get('git.repository', 0)} repositories and "
        f"{expected.get('core.team', 0)} teams",
        file=out,
    )
    print(f"then {LIVE_HOURS} hours of server activity and one more sync: "
          f"{sum(o.records for o in live.collection.outcomes)} records, {live.collection.requests} requests; a reconciliation"
          f" (the agent's weekly full re-read): {reconciled.collection.requests} requests, {deleted} deletion(s) no"
          " incremental read can see", file=out)
    truth_metrics = {**world_metrics(world, PROFILES[profile].max_version),
                     "freshness_git_push": push_freshness(world, first_batch_at, float(world.clock))}
    table, metrics_match = gap_table(report, truth_metrics)
    print("", file=out)
    print(table, file=out)
    matched = all(e == c == d for _, e, c, d in rows) and result.ok and again.ok and live.ok and reconciled.ok and again_records == 0
    print("", file=out)
    print("demo: every count matches" if matched else "demo: MISMATCH (see above)", file=out)
    print("demo: every metric matches the simulator's ground truth" if metrics_match else "demo: METRIC MISMATCH (see above)",
          file=out)
    return 0 if matched and metrics_match else 1
