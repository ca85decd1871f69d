"""``tillgw journal rotate-key``: replace a lost or changed signing key on purpose, in the journal.

A till whose key is lost cannot sign on where its journal stopped, and a new key made in
silence would look like a rewritten journal. Rotating writes a ``key.replaced`` entry,
signed by the new key, naming the old key's fingerprint and holding the new public key;
``tillgw journal verify`` then says "key replaced at entry N on DATE". A key file that is
still there (a changed key) is kept beside it as ``signing-key.pem.replaced-<time>``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.common.clock import Clock
from gateway.common.i18n import tr
from gateway.common.signing import Signer, SigningKeyError, Verifier, load_or_create_key, public_pem
from gateway.fiscal.journal import KEY_REPLACED, KeyReplacement, append, canonical_bytes, journal_head

__all__ = ["RotationRefused", "rotate_key", "signs_head"]


class RotationRefused(Exception):
    """Nothing was replaced; ``str()`` says why."""


def rotate_key(database: Path, key_path: Path, reason: str, clock: Clock | None = None) -> KeyReplacement:
    """Make a new key, journal the replacement with it, and put it in place.

    Run with the till stopped (the caller holds the data directory's lock). ``clock``
    (default: Swedish local time) stamps the entry in the shop's zone.
    """
    now = (clock or Clock()).now()
    if not database.exists():
        raise RotationRefused(
            tr("no till database at {database}: there is no journal to sign on").format(database=database)
        )
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        head = conn.execute(
            "SELECT seq, kind, at, body, prev_hash, signature FROM journal ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if head is None:
            raise RotationRefused(tr("the journal is empty: the till makes its key on its first start"))
        if key_path.exists() and signs_head(key_path, head):
            raise RotationRefused(
                tr(
                    "the signing key {key_path} signed the journal's last entry: it needs no replacing"
                ).format(key_path=key_path)
            )
        row = conn.execute("SELECT value FROM meta WHERE key = 'key_id'").fetchone()
        old_key_id = "unknown" if row is None else str(row[0])
        key = Ed25519PrivateKey.generate()
        signer = Signer(key)
        fresh = key_path.with_name(key_path.name + ".new")
        _write_private(fresh, key)
        conn.execute("BEGIN IMMEDIATE")
        try:
            entry = append(
                conn,
                signer,
                KEY_REPLACED,
                {
                    "old_key_id": old_key_id,
                    "new_key_id": signer.key_id,
                    "public_key": public_pem(signer.public).decode(),
                    "reason": reason,
                },
                now,
                head=journal_head(conn),
            )
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('key_id', ?)", (signer.key_id,))
        except BaseException:
            conn.execute("ROLLBACK")
            fresh.unlink()
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()
    if key_path.exists():
        key_path.rename(key_path.with_name(f"{key_path.name}.replaced-{now:%Y%m%d-%H%M%S}"))
    os.replace(fresh, key_path)
    return KeyReplacement(entry.seq, entry.at, old_key_id, signer.key_id, public_pem(signer.public))


def signs_head(key_path: Path, head: tuple[Any, ...]) -> bool:
    """Whether the key at ``key_path`` signed ``head`` (seq, kind, at, body, prev, signature)."""
    try:
        verifier = Verifier(load_or_create_key(key_path).public_key())
    except SigningKeyError:
        return False
    seq, kind, at, body, prev, signature = head
    return verifier.valid(
        bytes(signature), canonical_bytes(int(seq), str(kind), str(at), bytes(prev), str(body))
    )


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
