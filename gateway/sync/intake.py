"""What a message from the bus is to this sync module: ours, one it cannot take, or not its business.

:func:`classify` reads a topic and its bytes, the envelope and the payload each as its
Struct (those ``docs/bus/till-message.schema.json`` is made from): a message of a store the
module does not serve is ignored (never stored, never acked: its till keeps it for the module that
serves it); one that is not a message of ours, or not of its topic, or of a register the
configuration does not list, is a :class:`Rejection` with the reason and, when its
``msg_id`` could be read, the topic its ``held`` ack goes to. The inbox
(:mod:`gateway.sync.inbox`) stores or sets aside what this decides.

Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gateway.messages.envelope import KIND_TOPICS, BusMessage, MessageError, Topics, decode_message
from gateway.sync.routing import Routing

__all__ = ["Rejection", "classify"]

_LEAVES = frozenset(KIND_TOPICS.values())


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message that cannot be taken: held (with the reason) when a till waits for it."""

    reason: str
    msg_id: str | None  # when one could be read: then the till gets a ``held`` ack
    ack_topic: str | None
    conflict: bool = False  # the msg_id is stored with other content: worth an ERROR
    entry_hash: str = ""  # as the message says, for the ack's proof
    message: BusMessage | None = None  # a readable message of a register not accepted: held in the inbox


def _acks_of(orgnr: Any, store: Any, register: Any) -> str | None:
    try:
        return Topics(str(orgnr), str(store), str(register)).acks
    except MessageError:
        return None


def _identity(payload: bytes) -> tuple[str | None, str]:
    """The ``msg_id`` and ``entry_hash`` of a message that is not all it should be, where they
    can be read: its till then gets a ``held`` ack and stops resending it. Read only for such a
    message: a good one is decoded once, by its Struct."""
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, ""
    if not isinstance(obj, dict) or not isinstance(obj.get("msg_id"), str):
        return None, ""
    return obj["msg_id"], obj["entry_hash"] if isinstance(obj.get("entry_hash"), str) else ""


def classify(topic: str, payload: bytes, routing: Routing, source: str) -> BusMessage | Rejection | None:
    """A message of ours, why it cannot be taken (and where its ``held`` ack goes), or None for
    a message of a store this module does not serve (never stored, never acked)."""
    where = Topics.register_of(topic)
    if where is not None and not routing.serves(where[0], where[1]):
        return None
    topic_acks = None if where is None else _acks_of(*where[:3])
    if where is None or where[3] not in _LEAVES or topic_acks is None:
        return Rejection(f"topic {topic!r} is not a register's receipts, reports or events", None, None)
    try:
        message = decode_message(payload)
        message.body()  # the payload as its kind's Struct in its version: what docs/bus/ describes
    except MessageError as exc:
        msg_id, entry_hash = _identity(payload)
        advice = (
            " — the till sends what this sync module cannot read: update tillgw sync, then run "
            "tillgw sync --reprocess"
        )
        return Rejection(
            f"{exc}{advice if msg_id is not None else ''}",
            msg_id,
            topic_acks if msg_id is not None else None,
            entry_hash=entry_hash,
        )
    key = (message.orgnr, message.store, message.register)
    if key != where[:3] or KIND_TOPICS[message.kind] != where[3]:
        return Rejection(
            f"a {message.kind} of {'/'.join(key)} does not belong on topic {topic!r}",
            message.msg_id,
            topic_acks,
            entry_hash=message.entry_hash,
        )
    if not routing.accepts(*key):
        return Rejection(
            routing.why_not(*key, source),
            message.msg_id,
            topic_acks,
            entry_hash=message.entry_hash,
            message=message,
        )
    return message
