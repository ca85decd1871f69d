"""Authentic acks: the sync module signs every ack, the till checks the signature.

Without a proof, anyone who can publish on a register's ``…/acks`` topic (any client of a
broker with no ACL, or with a wrong one) could mark a receipt delivered that no ERP ever
got. So the sync module has an Ed25519 key of its own (:data:`KEY_FILE`, beside its
inbox, mode 0600, made when missing; ``tillgw sync --export-key`` prints its public half)
and every ack carries ``proof``: the base64 of its signature over :func:`canonical`, the
ack's meaning in one fixed byte string::

    ["tillgw.bus-ack/1", msg_id, status, reason or null, entry_hash]

as compact JSON (``separators=(",", ":")``, UTF-8, no ASCII escaping). ``entry_hash`` is
the hash of the journal entry the message came from, which the ack itself does not
carry: the till takes it from its own outbox row. An ack therefore proves it is for this
very message — the same ``msg_id`` from another incarnation of the till (a database
restored from a backup, a till set up again) has another entry hash, and the proof fails.

The till, given the public key (``[mqtt] sync_public_key``), honours an ack only when the
proof verifies against its own row's entry hash (:class:`AckVerifier`).
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path

from gateway.common.signing import (
    Signer,
    SigningKeyError,
    Verifier,
    load_or_create_key,
    load_public_key,
    public_pem,
)
from gateway.messages.envelope import ACK_SCHEMA, Ack

__all__ = [
    "KEY_FILE",
    "AckSigner",
    "AckVerifier",
    "SigningKeyError",
    "canonical",
    "load_ack_verifier",
    "sync_key_path",
]

KEY_FILE = "ack-signing-key.pem"
"""The sync module's key, in the folder of its inbox."""


def sync_key_path(inbox: Path) -> Path:
    """Where the sync module whose inbox is ``inbox`` keeps its key (workers sharing the inbox share it)."""
    return inbox.parent / KEY_FILE


def canonical(msg_id: str, status: str, reason: str | None, entry_hash: str) -> bytes:
    """The bytes an ack's proof signs (see the module's text)."""
    return json.dumps(
        [ACK_SCHEMA, msg_id, status, reason, entry_hash], ensure_ascii=False, separators=(",", ":")
    ).encode()


class AckSigner:
    """The sync module's side: signed acks."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer
        self.key_id = signer.key_id

    @classmethod
    def of_inbox(cls, inbox: Path) -> AckSigner:
        """The key beside ``inbox``, made when there is none (:class:`SigningKeyError` if unusable)."""
        return cls(Signer(load_or_create_key(sync_key_path(inbox))))

    @property
    def public_pem(self) -> bytes:
        return public_pem(self._signer.public)

    def verifier(self) -> AckVerifier:
        """The till's side of this key (the demo wires its till with it)."""
        return AckVerifier(Verifier(self._signer.public))

    def ack(self, msg_id: str, status: str, reason: str | None, entry_hash: str) -> Ack:
        proof = self._signer.sign(canonical(msg_id, status, reason, entry_hash))
        return Ack(msg_id, status, reason, base64.b64encode(proof).decode())


class AckVerifier:
    """The till's side: does an ack prove it comes from the sync module, for this message?"""

    def __init__(self, verifier: Verifier) -> None:
        self._verifier = verifier
        self.key_id = verifier.key_id

    def valid(self, ack: Ack, entry_hash: str) -> bool:
        if ack.proof is None:
            return False
        try:
            signature = base64.b64decode(ack.proof, validate=True)
        except (binascii.Error, ValueError):
            return False
        return self._verifier.valid(signature, canonical(ack.msg_id, ack.status, ack.reason, entry_hash))


def load_ack_verifier(path: Path) -> AckVerifier:
    """The sync module's public key in ``path`` (PEM); :class:`SigningKeyError` says what is wrong."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"{path}: {exc.strerror or exc}") from None
    try:
        return AckVerifier(Verifier(load_public_key(data)))
    except SigningKeyError as exc:
        raise SigningKeyError(f"{path}: {exc}") from None
