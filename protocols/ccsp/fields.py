"""A message's text fields, declared with construct: ``#``-separated, ``##`` a literal
``#`` inside a field, printable ASCII, a blank field one space.

:class:`Delimited` is the message (a struct whose fields end at a separator, not at a
size); :class:`Text` and :class:`Number` are its fields. The layout of every message
built from them is in :mod:`protocols.ccsp.layouts`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import construct as cs

from protocols.ccsp.framing import MAX_MESSAGE_LENGTH

BLANK = " "  # an empty field (unused VAT slot, v1's reserved RH fields) is one space


def construct_reason(exc: cs.ConstructError) -> str:
    """``"<field>: <what is wrong>"`` from construct's ``"Error in path ...\n<message>"``."""
    head, _, message = str(exc).partition("\n")
    field = (exc.path or "").replace("(parsing)", "").replace("(building)", "").strip(" ->")
    return f"{field}: {message}" if field else message or head


class Delimited(cs.Construct):  # type: ignore[misc]
    """Fields separated by ``#``; each named subcon parses exactly its field's bytes.

    Like :class:`construct.Struct`, but a field's extent is found by the separator
    rather than by its own size, which is what CCSP's text messages need. ``##`` inside
    a field is a literal ``#``. The last ``optional`` fields may be missing (decoded as
    ``None``), and with ``extra`` a newer unit's additional fields are kept, unread, in
    ``"extra"`` rather than refused.
    """

    def __init__(self, *subcons: cs.Construct, optional: int = 0, extra: bool = False) -> None:
        super().__init__()
        self.subcons = subcons
        self.required = len(subcons) - optional
        self.extra = extra
        # Fast path: our text adapters decode a field's bytes directly, with no stream
        # per field; anything else goes through construct's ordinary parse.
        self._decoders = [_field_decoder(sc) for sc in subcons]
        self._encoders = [_field_encoder(sc) for sc in subcons]

    def _parse(self, stream: Any, context: Any, path: str) -> cs.Container:
        return self.parse_message(cs.stream_read_entire(stream, path), context, path)

    def parse_message(self, data: bytes, context: Any = None, path: str = "(parsing)") -> cs.Container:
        """Parse a whole message's bytes; what ``parse`` does, without a stream per call."""
        if not _TEXT_RE.match(data):
            raise cs.ValidationError(f"{data!r} has a character outside printable ASCII", path=path)
        parts = split_fields(data)
        expected = len(self.subcons)
        if not self.required <= len(parts) <= expected and not (self.extra and len(parts) > expected):
            count = f"{self.required} to {expected}" if self.required < expected else str(expected)
            raise cs.ValidationError(f"{len(parts)} fields where {count} are expected", path=path)
        obj = cs.Container()
        for (name, decode), part in zip(self._decoders, parts, strict=False):
            try:
                value = decode(part, context, path)
            except cs.ConstructError as exc:
                # Say which field: the fast path does not build a path per field.
                message = str(exc).partition("\n")[2] or str(exc)
                raise cs.ValidationError(message, path=f"{path} -> {name or 'type'}") from None
            if name is not None:
                obj[name] = value
        for name, _ in self._decoders[len(parts) :]:
            obj[name] = None
        if self.extra:
            obj["extra"] = tuple(part.decode("ascii") for part in parts[expected:])
        return obj

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        parts = [
            encode(obj.get(name) if name is not None else None, context, path)
            for name, encode in self._encoders
        ]
        while len(parts) > self.required and obj.get(self.subcons[len(parts) - 1].name) is None:
            parts.pop()  # an optional field left out
        cs.stream_write(stream, b"#".join(parts), sum(map(len, parts)) + len(parts) - 1, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise cs.SizeofError("a delimited message has no fixed size", path=path)


_FIELD_OR_SEPARATOR = re.compile(rb"##|#")


def split_fields(message: bytes) -> list[bytes]:
    """A message's fields: split on ``#``, with ``##`` a literal ``#`` (read left to right)."""
    if b"##" not in message:
        return message.split(b"#")  # the common case, at C speed
    fields: list[bytes] = []
    current = bytearray()
    last = 0
    for match in _FIELD_OR_SEPARATOR.finditer(message):
        current += message[last : match.start()]
        if match.end() - match.start() == 2:
            current += b"#"
        else:
            fields.append(bytes(current))
            current.clear()
        last = match.end()
    current += message[last:]
    fields.append(bytes(current))
    return fields


def escape_field(text: bytes) -> bytes:
    """A field's text as sent: every ``#`` doubled."""
    return text.replace(b"#", b"##")


def _field_decoder(sc: cs.Construct) -> tuple[str | None, Callable[[bytes, Any, str], Any]]:
    inner = sc.subcon if isinstance(sc, cs.Renamed) else sc
    if isinstance(inner, Text):
        return sc.name, inner._decode_checked
    if isinstance(inner, Number):
        return sc.name, inner._decode
    if isinstance(inner, cs.Const):
        expected = inner.value

        def check_const(part: bytes, context: Any, path: str) -> Any:
            if part != expected:
                raise cs.ConstError(f"expected {expected!r} but got {part!r}", path=path)
            return part

        return sc.name, check_const

    def parse_any(part: bytes, context: Any, path: str) -> Any:
        return sc._parsereport(io.BytesIO(part), context, f"{path} -> {sc.name}")

    return sc.name, parse_any


def _field_encoder(sc: cs.Construct) -> tuple[str | None, Callable[[Any, Any, str], bytes]]:
    inner = sc.subcon if isinstance(sc, cs.Renamed) else sc
    if isinstance(inner, Text | Number):
        return sc.name, inner._encode
    if isinstance(inner, cs.Const):
        value: bytes = inner.value
        return sc.name, lambda obj, context, path: value

    def build_any(obj: Any, context: Any, path: str) -> bytes:
        buffer = io.BytesIO()
        sc._build(obj, buffer, context, f"{path} -> {sc.name}")
        return buffer.getvalue()

    return sc.name, build_any


_TEXT_RE = re.compile(rb"^[\x20-\x7e]*$")  # printable ASCII ('#' doubled inside a field)


class Text(cs.Adapter):  # type: ignore[misc]
    """A text field: printable ASCII, ``min_len``..``max_len`` characters; a ``#`` in it
    is sent doubled. It may not begin with ``#``: after a separator, ``###`` would read
    as a field ending in ``#`` (units read left to right)."""

    def __init__(self, min_len: int = 0, max_len: int = MAX_MESSAGE_LENGTH) -> None:
        super().__init__(cs.GreedyBytes)
        self.min_len = min_len
        self.max_len = max_len

    def _decode(self, obj: bytes, context: Any, path: str) -> str:
        self._check(obj, path)
        return obj.decode("ascii")

    def _decode_checked(self, obj: bytes, context: Any, path: str) -> str:
        """Decode a field whose characters the enclosing message has already checked."""
        if not self.min_len <= len(obj) <= self.max_len:
            raise cs.ValidationError(f"{obj!r} is not {self.min_len} to {self.max_len} characters", path=path)
        return obj.decode("ascii")

    def _encode(self, obj: str | None, context: Any, path: str) -> bytes:
        if obj is None:
            return b""  # an optional field left out (the message drops it)
        if not isinstance(obj, str):
            raise cs.ValidationError(f"expected text, got {obj!r}", path=path)
        try:
            data = obj.encode("ascii")
        except UnicodeEncodeError:
            raise cs.ValidationError(f"{obj!r} is not ASCII", path=path) from None
        self._check(data, path)
        if data.startswith(b"#"):
            raise cs.ValidationError(f"{obj!r} begins with '#', which a unit would misread", path=path)
        return escape_field(data)

    def _check(self, data: bytes, path: str) -> None:
        if not _TEXT_RE.match(data):
            raise cs.ValidationError(f"{data!r} has a character outside printable ASCII", path=path)
        if not self.min_len <= len(data) <= self.max_len:
            raise cs.ValidationError(
                f"{data!r} is not {self.min_len} to {self.max_len} characters", path=path
            )


class Number(cs.Adapter):  # type: ignore[misc]
    """A non-negative decimal integer of 1..``digits`` digits, zero-padded when ``pad``."""

    def __init__(self, digits: int, minimum: int = 0, pad: bool = False) -> None:
        super().__init__(cs.GreedyBytes)
        self.digits = digits
        self.minimum = minimum
        self.width = digits if pad else 1

    def _decode(self, obj: bytes, context: Any, path: str) -> int:
        if not obj.isdigit() or not 1 <= len(obj) <= self.digits:
            raise cs.ValidationError(f"{obj!r} is not 1 to {self.digits} digits", path=path)
        value = int(obj)
        if value < self.minimum:
            raise cs.ValidationError(f"{value} is below {self.minimum}", path=path)
        return value

    def _encode(self, obj: int | None, context: Any, path: str) -> bytes:
        if obj is None:
            return b""  # an optional field left out (the message drops it)
        if not isinstance(obj, int) or obj < self.minimum or len(str(obj)) > self.digits:
            raise cs.ValidationError(f"{obj!r} is not a {self.digits}-digit number", path=path)
        return b"%0*d" % (self.width, obj)
