"""The tables of the satellite's database (created on open; no plaintext record data anywhere)."""

OUTBOX_PAUSED_SINCE = "outbox_paused_since"
INTEGRATION_VERSION = "integration_version:"  # + integration id: the api-version and server its collector detected
"""``agent_state`` key: since when (time.time()) collection waits for the outbox to drain; absent when it does not."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (
    integration_id TEXT NOT NULL,
    stream         TEXT NOT NULL,
    partition      TEXT NOT NULL,
    value          TEXT NOT NULL,
    updated_at     REAL NOT NULL,
    PRIMARY KEY (integration_id, stream, partition)
);
CREATE TABLE IF NOT EXISTS stream_seq (
    integration_id TEXT NOT NULL,
    stream         TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    PRIMARY KEY (integration_id, stream)
);
-- sealed batches waiting for the SEI endpoint to acknowledge them
CREATE TABLE IF NOT EXISTS outbox (
    batch_id       TEXT PRIMARY KEY,
    integration_id TEXT NOT NULL,
    stream         TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    record_count   INTEGER NOT NULL,
    created_at     REAL NOT NULL,
    size           INTEGER NOT NULL,
    body           BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_order ON outbox (created_at, stream, seq);
-- batches the endpoint refused for good (400/413/422): kept, listed, re-sent on request
CREATE TABLE IF NOT EXISTS dead_letters (
    batch_id       TEXT PRIMARY KEY,
    integration_id TEXT NOT NULL,
    stream         TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    record_count   INTEGER NOT NULL,
    created_at     REAL NOT NULL,
    size           INTEGER NOT NULL,
    body           BLOB NOT NULL,
    rejected_at    REAL NOT NULL,
    status         INTEGER NOT NULL,
    reason         TEXT NOT NULL
);
-- keys of immutable records already stored (16-byte hashes), so they are never sent twice
CREATE TABLE IF NOT EXISTS delivered_keys (
    integration_id TEXT NOT NULL,
    stream         TEXT NOT NULL,
    partition      TEXT NOT NULL,
    key_hash       BLOB NOT NULL,
    PRIMARY KEY (integration_id, stream, partition, key_hash)
) WITHOUT ROWID;
-- keys delivered live of the record types a complete re-read may prove gone (ids only, never names;
-- a stream's ``reconciled``), and per partition the backfill start they were read from
CREATE TABLE IF NOT EXISTS live_keys (
    integration_id TEXT NOT NULL,
    stream         TEXT NOT NULL,
    partition      TEXT NOT NULL,
    record_type    TEXT NOT NULL,
    key            TEXT NOT NULL,
    PRIMARY KEY (integration_id, stream, partition, record_type, key)
) WITHOUT ROWID;
-- how each stream and partition last went
CREATE TABLE IF NOT EXISTS stream_status (
    integration_id    TEXT NOT NULL,
    stream            TEXT NOT NULL,
    partition         TEXT NOT NULL,
    last_success_at   REAL,
    last_error        TEXT,
    last_error_at     REAL,
    records_collected INTEGER NOT NULL DEFAULT 0,
    batches_collected INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (integration_id, stream, partition)
);
CREATE TABLE IF NOT EXISTS delivery_stats (
    integration_id    TEXT NOT NULL,
    stream            TEXT NOT NULL,
    batches_delivered INTEGER NOT NULL DEFAULT 0,
    records_delivered INTEGER NOT NULL DEFAULT 0,
    last_delivered_at REAL,
    PRIMARY KEY (integration_id, stream)
);
-- small facts about the agent (e.g. outbox paused since)
CREATE TABLE IF NOT EXISTS agent_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""

# Store version 4 (``migrations``): the delivery ledger, one row per batch SEI acknowledged (ids,
# counts and digests only: no record content, no names), pruned after ``delivery.ledger_retention``;
# and the SHA-256 of each waiting batch's plaintext (its NDJSON lines before gzip), kept from sealing
# to the acknowledgement (a dead letter keeps it too).
LEDGER_SCHEMA = """
ALTER TABLE outbox ADD COLUMN plaintext_sha256 TEXT;
ALTER TABLE dead_letters ADD COLUMN plaintext_sha256 TEXT;
CREATE TABLE delivery_ledger (
    batch_id         TEXT PRIMARY KEY,
    integration_id   TEXT NOT NULL,
    stream           TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    record_count     INTEGER NOT NULL,
    plaintext_sha256 TEXT,
    sealed_sha256    TEXT NOT NULL,
    policy           TEXT,
    sealed_at        REAL NOT NULL,
    acknowledged_at  REAL NOT NULL,
    answer           TEXT NOT NULL
);
CREATE INDEX delivery_ledger_acknowledged ON delivery_ledger (acknowledged_at);
"""
