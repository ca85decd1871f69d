"""The till's database (``till.db``): every table in it, and its schema versions.

One file holds the journal and what is derived from it (:mod:`gateway.fiscal.store`), the
parked sales (:mod:`gateway.fiscal.parking`), the Z reports' series
(:mod:`gateway.fiscal.reports.report`) and the outbox (:mod:`gateway.bus.outbox`: it lives
in the journal's file so that an entry and its bus message are one transaction). Their
tables are declared here, once, so that the file's versions are told in one place:
:data:`TILL_DATABASE_STEPS`, run by :class:`gateway.fiscal.store.Store` when it opens the
file (see :mod:`gateway.common.migrations` and docs/operations.md).
"""

from __future__ import annotations

import sqlite3

from gateway.common.migrations import Step, split_script
from gateway.fiscal.journal import JOURNAL_SCHEMA

__all__ = [
    "OUTBOX_SCHEMA",
    "PARKING_SCHEMA",
    "REPORTS_SCHEMA",
    "SCHEMA",
    "TILL_DATABASE_STEPS",
]

SCHEMA = (
    JOURNAL_SCHEMA
    + """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS receipts (
    entry_seq INTEGER PRIMARY KEY REFERENCES journal (seq),
    receipt_no INTEGER NOT NULL,
    kind TEXT NOT NULL,              -- normal | ovning | profo | kopia
    at TEXT NOT NULL,
    request_id TEXT,
    is_return INTEGER NOT NULL,
    total INTEGER NOT NULL,          -- öre, signed
    rounding INTEGER NOT NULL,
    to_pay INTEGER NOT NULL,
    discount INTEGER NOT NULL,
    return_total INTEGER NOT NULL,
    items INTEGER NOT NULL,
    services INTEGER NOT NULL,
    cash INTEGER NOT NULL,
    card INTEGER NOT NULL,
    gift_card INTEGER NOT NULL,
    swish INTEGER NOT NULL,
    other INTEGER NOT NULL,
    gross_25 INTEGER NOT NULL, vat_25 INTEGER NOT NULL,
    gross_12 INTEGER NOT NULL, vat_12 INTEGER NOT NULL,
    gross_6 INTEGER NOT NULL, vat_6 INTEGER NOT NULL,
    gross_0 INTEGER NOT NULL,
    control_code TEXT NOT NULL,
    unit_id TEXT NOT NULL
);
-- One number per receipt (normal, training and pro forma share the series), one copy at most.
CREATE UNIQUE INDEX IF NOT EXISTS receipts_number ON receipts (receipt_no) WHERE kind != 'kopia';
CREATE UNIQUE INDEX IF NOT EXISTS receipts_one_copy ON receipts (receipt_no) WHERE kind = 'kopia';

CREATE TABLE IF NOT EXISTS receipt_groups (
    entry_seq INTEGER NOT NULL REFERENCES receipts (entry_seq),
    grp TEXT NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (entry_seq, grp)
);

CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY,
    pending_seq INTEGER NOT NULL,
    state TEXT NOT NULL,             -- pending | done | refused
    result TEXT                      -- the JSON the POS got
);

CREATE TABLE IF NOT EXISTS in_doubt (
    pending_seq INTEGER PRIMARY KEY REFERENCES journal (seq)
);

CREATE TABLE IF NOT EXISTS unprinted (
    entry_seq INTEGER PRIMARY KEY REFERENCES journal (seq)
);
"""
)


PARKING_SCHEMA = """
CREATE TABLE IF NOT EXISTS parked_sales (
    sale_id TEXT PRIMARY KEY,                                   -- the POS's id
    parked_seq INTEGER NOT NULL UNIQUE REFERENCES journal (seq), -- its sale.parked entry
    total INTEGER NOT NULL,                                     -- öre, signed
    state TEXT NOT NULL,                                        -- parked | resumed | abandoned | completed
    ended_seq INTEGER REFERENCES journal (seq),                 -- the entry that took it off the parking
    receipt_no INTEGER,                                         -- completed: by this receipt …
    request_id TEXT                                             -- … posted with this id
);
CREATE INDEX IF NOT EXISTS parked_sales_state ON parked_sales (state);
"""

REPORTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS z_reports (
    z_no INTEGER PRIMARY KEY,                                  -- the unbroken series
    entry_seq INTEGER NOT NULL UNIQUE REFERENCES journal (seq) -- its report.z entry
);
"""

OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    sequence INTEGER PRIMARY KEY,    -- the register's message number: 1, 2, 3 ... no gaps
    msg_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    message BLOB NOT NULL,           -- the JSON sent, exactly
    journal_entry INTEGER NOT NULL REFERENCES journal (seq),
    created_at TEXT NOT NULL,
    sends INTEGER NOT NULL DEFAULT 0,
    last_sent_at TEXT,
    acked_at TEXT,                   -- NULL until the sync module's first ack (stored or held) arrives
    ack_status TEXT,                 -- stored | held
    ack_reason TEXT,                 -- held: why, in the sync module's words
    entry_hash TEXT                  -- the journal entry's hash, which a signed ack must name
);
CREATE INDEX IF NOT EXISTS outbox_unacked ON outbox (sequence) WHERE acked_at IS NULL;
"""

# An outbox made before held acks and ack proofs: its rows' entry hash is in their message.
_MIGRATE_ENTRY_HASH = """
ALTER TABLE outbox ADD COLUMN entry_hash TEXT;
UPDATE outbox SET entry_hash = json_extract(CAST(message AS TEXT), '$.entry_hash');
"""
_MIGRATE_REJECTED = "UPDATE outbox SET ack_status = 'held' WHERE ack_status = 'rejected'"
_HELD_INDEX = "CREATE INDEX IF NOT EXISTS outbox_held ON outbox (sequence) WHERE ack_status = 'held'"


def _version_1(conn: sqlite3.Connection) -> None:
    """The schema of every release before the file carried a version, brought up whole.

    Safe on a file of any earlier release: tables and indexes only where missing, and the
    outbox of a release before held acks and ack proofs given their column and status.
    """
    for statement in split_script(SCHEMA + PARKING_SCHEMA + REPORTS_SCHEMA + OUTBOX_SCHEMA):
        conn.execute(statement)
    columns = {str(row[1]) for row in conn.execute("PRAGMA table_info(outbox)")}
    if "entry_hash" not in columns:
        for statement in split_script(_MIGRATE_ENTRY_HASH):
            conn.execute(statement)
    conn.execute(_MIGRATE_REJECTED)
    conn.execute(_HELD_INDEX)


TILL_DATABASE_STEPS = (
    Step(1, "the journal, receipts, requests, parked sales, Z reports and outbox (2084e15 on)", _version_1),
)
"""The versions of ``till.db``, in order (docs/operations.md lists them)."""
