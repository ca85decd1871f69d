"""The journal: every fiscal event as an append-only, hash-chained, signed entry.

An entry's canonical bytes are four header lines and the body::

    <seq>\\n<kind>\\n<at>\\n<hex of the previous entry's hash>\\n<body as canonical JSON>

``hash`` is the SHA-256 of those bytes and ``signature`` the till key's Ed25519 signature
of them. Because each entry's bytes hold the previous entry's hash, one signature covers
everything before it: the signature of the last entry authenticates the whole journal,
and a change anywhere breaks every hash after it.

A body is written as its kind's Struct (:mod:`gateway.fiscal.bodies`) or a plain JSON
object, and hashed as the plain object. It is stored exactly as it was hashed (sorted
keys, no spaces, UTF-8), so checking the chain needs no JSON parsing — which is what
lets ``verify`` check every entry's hash and link at tens of thousands of entries a
second. See docs/journal.md.

Entries are never changed or deleted: SQLite triggers refuse both, and corrections are
new entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from gateway.common.i18n import tr
from gateway.common.progress import NO_PROGRESS, Progress
from gateway.common.signing import Signer, Verifier
from gateway.fiscal.bodies import KeyReplacedBody

__all__ = [
    "GENESIS",
    "KEY_REPLACED",
    "Entry",
    "JournalBody",
    "KeyReplacement",
    "VerifyReport",
    "append",
    "canonical_body",
    "canonical_bytes",
    "create_journal_schema",
    "journal_head",
    "key_replacements",
    "plain",
    "read_entries",
    "verify",
]

GENESIS = bytes(32)  # the "previous hash" of the first entry

JournalBody = dict[str, Any] | msgspec.Struct
"""What an entry is written from: its kind's Struct, or the plain JSON object."""

B = TypeVar("B")

JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    signature BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_kind ON journal (kind, seq);
CREATE TRIGGER IF NOT EXISTS journal_never_changed BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'journal entries are never changed; add a correcting entry'); END;
CREATE TRIGGER IF NOT EXISTS journal_never_deleted BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'journal entries are never deleted'); END;
"""


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    kind: str
    at: str  # local time with its UTC offset, ISO 8601, to the second
    body: dict[str, Any]  # the plain JSON object, as hashed
    prev_hash: bytes
    hash: bytes
    signature: bytes

    def body_as(self, kind: type[B]) -> B:
        """The body as the Struct ``kind`` (:mod:`gateway.fiscal.bodies`); a body that is not
        one raises :class:`msgspec.ValidationError` naming the field."""
        return msgspec.convert(self.body, kind)


def _no_floats(value: Any, where: str = "body") -> None:
    """Floats have no single canonical text; money is öre and quantities are strings."""
    if isinstance(value, float):
        raise TypeError(f"{where} holds the float {value!r}; use integers (öre) or strings")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where} has a non-string key {k!r}")
            _no_floats(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _no_floats(v, f"{where}[{i}]")


def plain(body: JournalBody) -> dict[str, Any]:
    """The JSON object a body is: a Struct encoded (only the keys its kind has), a dict as it is."""
    if isinstance(body, msgspec.Struct):
        encoded: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(body))
        return encoded
    return body


def canonical_body(body: JournalBody) -> str:
    """The body's canonical JSON: keys sorted, no spaces, UTF-8 as it is — the bytes hashed."""
    data = plain(body)
    _no_floats(data)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_bytes(seq: int, kind: str, at: str, prev_hash: bytes, body_text: str) -> bytes:
    return f"{seq}\n{kind}\n{at}\n{prev_hash.hex()}\n{body_text}".encode()


def create_journal_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(JOURNAL_SCHEMA)


def journal_head(conn: sqlite3.Connection) -> tuple[int, bytes]:
    """The last entry's number and hash; ``(0, GENESIS)`` for an empty journal."""
    row = conn.execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, GENESIS) if row is None else (int(row[0]), bytes(row[1]))


def append(
    conn: sqlite3.Connection,
    signer: Signer,
    kind: str,
    body: JournalBody,
    at: datetime,
    *,
    head: tuple[int, bytes] | None = None,
) -> Entry:
    """Append one entry. Call inside a write transaction (``BEGIN IMMEDIATE``).

    The head is read inside the transaction (``head`` may pass it in when the caller
    already read it there), so two processes appending at once (the service and
    ``tillgw report`` from a shell) are serialised by SQLite's write lock and the chain
    never forks.
    """
    last_seq, prev_hash = head if head is not None else journal_head(conn)
    seq = last_seq + 1
    when = at.isoformat(timespec="seconds")
    obj = plain(body)
    text = canonical_body(obj)
    data = canonical_bytes(seq, kind, when, prev_hash, text)
    digest = hashlib.sha256(data).digest()
    signature = signer.sign(data)
    conn.execute(
        "INSERT INTO journal (seq, kind, at, body, prev_hash, hash, signature) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (seq, kind, when, text, prev_hash, digest, signature),
    )
    return Entry(seq, kind, when, obj, prev_hash, digest, signature)


def entry_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Entry:
    seq, kind, at, body, prev_hash, digest, signature = row
    return Entry(seq, kind, at, json.loads(body), bytes(prev_hash), bytes(digest), bytes(signature))


def read_entries(
    conn: sqlite3.Connection, *, first: int = 1, last: int | None = None, kinds: tuple[str, ...] = ()
) -> Iterator[Entry]:
    """Entries in order, streamed (bounded memory whatever the journal's size)."""
    sql = "SELECT seq, kind, at, body, prev_hash, hash, signature FROM journal WHERE seq >= ?"
    params: list[Any] = [first]
    if last is not None:
        sql += " AND seq <= ?"
        params.append(last)
    if kinds:
        sql += f" AND kind IN ({','.join('?' * len(kinds))})"
        params.extend(kinds)
    cursor = conn.execute(sql + " ORDER BY seq", params)
    while rows := cursor.fetchmany(1000):
        for row in rows:
            yield entry_from_row(row)


KEY_REPLACED = "key.replaced"
"""The entry ``tillgw journal rotate-key`` writes: signed by the new key, naming the old one."""


@dataclass(frozen=True, slots=True)
class KeyReplacement:
    """A ``key.replaced`` entry: from ``seq`` on, entries are signed by ``new_key_id``."""

    seq: int
    at: str
    old_key_id: str
    new_key_id: str
    public_key: bytes  # the new key's public half (PEM), as journaled

    @property
    def words(self) -> str:
        return tr("key replaced at entry {seq} on {day} (key {old_key_id} by {new_key_id})").format(
            seq=self.seq, day=self.at[:10], old_key_id=self.old_key_id, new_key_id=self.new_key_id
        )


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str  # hex; compare with the one printed on the last Z report
    signatures_checked: int
    first_bad: int | None = None  # the first entry that was changed, removed or reordered
    problem: str | None = None  # in words
    key_replacements: tuple[KeyReplacement, ...] = ()


def key_replacements(conn: sqlite3.Connection) -> tuple[KeyReplacement, ...]:
    """Every ``key.replaced`` entry, in order."""
    rows = conn.execute("SELECT seq, at, body FROM journal WHERE kind = ? ORDER BY seq", (KEY_REPLACED,))
    found = []
    for seq, at, text in rows:
        body = msgspec.json.decode(text, type=KeyReplacedBody)
        found.append(
            KeyReplacement(int(seq), str(at), body.old_key_id, body.new_key_id, body.public_key.encode())
        )
    return tuple(found)


def _signing_keys(
    replacements: tuple[KeyReplacement, ...], verifier: Verifier
) -> list[tuple[int, Verifier | None]]:
    """Which key checks the entries from each number on: the given key after the last
    replacement, the public key each earlier replacement journaled after it (the chain
    carries them up to the head, which the given key signs), and before the first
    replacement the given key only if it is the one replaced. ``None``: no key at hand."""
    from gateway.common.signing import load_public_key  # (signing imports nothing of ours)

    if not replacements:
        return [(1, verifier)]
    first = replacements[0]
    spans: list[tuple[int, Verifier | None]] = [
        (1, verifier if verifier.key_id == first.old_key_id else None)
    ]
    for rep in replacements[:-1]:
        spans.append((rep.seq, Verifier(load_public_key(rep.public_key))))
    spans.append((replacements[-1].seq, verifier))
    return spans


def _key_for(spans: list[tuple[int, Verifier | None]], seq: int) -> Verifier | None:
    chosen: Verifier | None = None
    for start, key in spans:
        if start <= seq:
            chosen = key
    return chosen


def verify(
    conn: sqlite3.Connection,
    verifier: Verifier,
    *,
    all_signatures: bool = False,
    progress: Progress = NO_PROGRESS,
) -> VerifyReport:
    """Check the whole chain and name the first entry that was changed, removed or reordered.

    Every entry's sequence number, link to the previous entry and hash are checked; then
    the last entry's signature, which covers all before it. If that signature fails
    while every link holds, someone rewrote the chain with a key that is not the till's:
    a binary search over the signatures finds where the rewriting starts.
    ``all_signatures`` checks every entry's signature as well (slower; see
    docs/PERFORMANCE.md). ``progress`` is told of the entries checked, a batch at a time.
    """
    replacements = key_replacements(conn)
    # The last number, not a count: read from the key's index at once, and equal to the
    # count in a chain that holds.
    (last_seq,) = conn.execute("SELECT MAX(seq) FROM journal").fetchone()
    progress.stage("journal entries checked", total=int(last_seq or 0))
    spans = _signing_keys(replacements, verifier)
    expected_seq, prev = 1, GENESIS
    checked = 0
    last: tuple[int, bytes, bytes] | None = None  # seq, canonical bytes, signature
    cursor = conn.execute("SELECT seq, kind, at, body, prev_hash, hash, signature FROM journal ORDER BY seq")
    while rows := cursor.fetchmany(2000):
        progress.advance(len(rows))
        for seq, kind, at, body, prev_hash, digest, signature in rows:
            if seq != expected_seq:
                if seq > expected_seq:
                    missing = (
                        f"entry {expected_seq}"
                        if seq == expected_seq + 1
                        else f"entries {expected_seq}–{seq - 1}"
                    )
                    return _bad(expected_seq, checked, f"{missing} removed: the journal jumps to entry {seq}")
                return _bad(seq, checked, f"entry {seq} out of order")  # pragma: no cover - PRIMARY KEY
            if bytes(prev_hash) != prev:
                culprit = max(seq - 1, 1)
                return _bad(
                    culprit,
                    checked,
                    f"entry {culprit} was changed, removed or reordered: entry {seq} does not follow it",
                )
            data = canonical_bytes(seq, kind, at, prev, body)
            computed = hashlib.sha256(data).digest()
            if computed != bytes(digest):
                return _bad(seq, checked, f"entry {seq} was changed: its content no longer matches its hash")
            key = _key_for(spans, seq) if all_signatures else None
            if key is not None:
                checked += 1
                if not key.valid(bytes(signature), data):
                    return _bad(seq, checked, f"entry {seq} is not signed by this till's key")
            prev = computed
            last = (seq, data, bytes(signature))
            expected_seq += 1
    if last is None:
        return VerifyReport(True, 0, 0, GENESIS.hex(), checked)
    if not all_signatures:
        checked += 1
        if not verifier.valid(last[2], last[1]):
            since = replacements[-1].seq if replacements else 1
            first = _first_bad_signature(conn, verifier, last[0], since)
            return _bad(
                first,
                checked,
                f"entry {first} and all after it are not signed by this till's key: "
                "the chain was rewritten from there",
            )
    return VerifyReport(True, last[0], last[0], prev.hex(), checked, key_replacements=replacements)


def _bad(seq: int, checked: int, problem: str) -> VerifyReport:
    return VerifyReport(False, 0, 0, "", checked, seq, problem)


def _first_bad_signature(conn: sqlite3.Connection, verifier: Verifier, head: int, since: int = 1) -> int:
    """Binary search for the first entry whose signature fails (the chain's links hold)."""

    def signed(seq: int) -> bool:
        row = conn.execute(
            "SELECT kind, at, body, prev_hash, signature FROM journal WHERE seq = ?", (seq,)
        ).fetchone()
        kind, at, body, prev_hash, signature = row
        return verifier.valid(bytes(signature), canonical_bytes(seq, kind, at, bytes(prev_hash), body))

    lo, hi = since, head  # the head is known bad; the key signs from ``since`` on
    while lo < hi:
        mid = (lo + hi) // 2
        if signed(mid):
            lo = mid + 1
        else:
            hi = mid
    return lo


@contextlib.contextmanager
def open_readonly(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection for ``verify`` and exports, safe while the service writes.

    Closed on leaving the block (``sqlite3.connect`` used as a context manager only commits).
    """
    if not path.exists():
        raise FileNotFoundError(f"no till database at {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        yield conn
    finally:
        conn.close()
