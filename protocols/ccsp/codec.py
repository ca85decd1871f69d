"""Encoding a typed message into a frame's message (and the frame), and decoding one:
requests strictly by type, replies for the request they answer."""

from __future__ import annotations

from protocols.ccsp.errors import MessageError
from protocols.ccsp.framing import frame
from protocols.ccsp.layouts import build_fields, parse_fields
from protocols.ccsp.messages import REQUESTS, Nak, Reply, Request


def encode_message(msg: Request | Reply) -> bytes:
    """The message bytes (no frame)."""
    return build_fields(msg.TYPE, msg.fields())


def encode(msg: Request | Reply) -> bytes:
    """A whole frame for ``msg``."""
    return frame(encode_message(msg))


def message_type(message: bytes) -> bytes:
    return message.split(b"#", 1)[0]


def decode_request(message: bytes) -> Request:
    """A request by its type tag (what a unit does). Raises :class:`MessageError`."""
    tag = message_type(message)
    cls = REQUESTS.get(tag)
    if cls is None:
        raise MessageError(f"unknown message type {tag!r}")
    return cls.from_fields(parse_fields(cls.TYPE, message))


def decode_reply(message: bytes, answering: type[Request]) -> Reply:
    """The reply to a request of type ``answering``, read by position.

    ``NAK`` is always recognised; otherwise the type tag must be the one reply this
    request has (``SIR`` to ``SIQ``, ``RRR`` to ``RR``, …): any other is a
    :class:`MessageError` that names it, never a success.
    """
    tag = message_type(message)
    if tag == b"NAK":
        return Nak.from_fields(parse_fields("NAK", message))
    reply_cls = answering.REPLY
    if tag != reply_cls.TYPE.encode("ascii"):
        raise MessageError(
            f"the answer to {answering.TYPE} is of type {tag.decode('ascii', 'replace')!r}, "
            f"not {reply_cls.TYPE}: {message!r}"
        )
    return reply_cls.from_fields(parse_fields(reply_cls.TYPE, message))
