"""The documents: a message in its ``<request>`` or ``<response>`` envelope, ISO-8859-1
with its XML declaration, and the envelope read back from untrusted bytes."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import overload
from xml.etree import ElementTree as ET

import defusedxml
import defusedxml.ElementTree as SafeET

from protocols.xccsp.elements import NAMESPACE, Reader, Writer, local_name
from protocols.xccsp.faults import FAULT_TYPE, EnvelopeError, Fault, UnknownTypeError
from protocols.xccsp.messages import (
    REPLIES,
    REQUESTS,
    IdentityResponse,
    RegisterReceipt,
    RegisterReceiptResponse,
    Reply,
    Request,
    RequestIdentity,
    RequestStatus,
    StatusResponse,
    read_fault,
    write_fault,
)

ENCODING = "ISO-8859-1"
DEFAULT_PORT = 8081
HTTP_PATH = "/xccsp"
CONTENT_TYPE = "text/xml; charset=iso-8859-1"  # as the reference and real clients send it

_DECLARATION = f'<?xml version="1.0" encoding="{ENCODING}"?>\n'
_INDENT = "  "


_DECLARED_ENCODING_RE = re.compile(rb"^<\?xml[^>]*?\sencoding\s*=", re.ASCII)
_BOMS = (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")


def _document(root_name: str, type_name: str, wrapper: str, write: Callable[[Writer], None]) -> bytes:
    root = ET.Element(root_name, {"xmlns": NAMESPACE})
    ET.SubElement(root, "type").text = type_name
    data = ET.SubElement(root, "data")
    write(Writer(ET.SubElement(data, wrapper), type_name))
    ET.indent(root, space=_INDENT)
    text = _DECLARATION + ET.tostring(root, encoding="unicode")
    return text.encode(ENCODING, "xmlcharrefreplace")


def _parse(body: bytes) -> ET.Element:
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(f"an XCCSP document is bytes, not {type(body).__name__}")
    data = bytes(body)
    if not data.strip():
        raise EnvelopeError("document", "empty")
    if not data.startswith(_BOMS) and not _DECLARED_ENCODING_RE.match(data):
        # No declared encoding: XML says UTF-8; a unit that sends bare ISO-8859-1 gets
        # the protocol's charset instead of a parse error (package doc, choice 8).
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            data = data.decode(ENCODING).encode("utf-8")
    try:
        root: ET.Element = SafeET.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise EnvelopeError(
            "document",
            f"refused: {type(exc).__name__} (no DOCTYPE, entity or external reference allowed)",
        ) from None
    except ET.ParseError as exc:
        raise EnvelopeError("document", f"not well-formed XML ({exc})") from None
    except (ValueError, LookupError) as exc:  # an unknown or unsupported declared encoding
        raise EnvelopeError("document", f"cannot be read ({exc})") from None
    return root


def _open_envelope(root: ET.Element, root_name: str) -> tuple[str, ET.Element]:
    """``(type name, data element)`` of a ``<request>`` or ``<response>`` document."""
    local = local_name(root.tag)
    if local is None:
        raise EnvelopeError("document", f"root element {root.tag} is not in namespace {NAMESPACE}")
    if local != root_name:
        raise EnvelopeError("document", f"root element is <{local}>, expected <{root_name}>")
    parts: dict[str, ET.Element] = {}
    for name in ("type", "data"):
        found = [child for child in root if local_name(child.tag) == name]
        if len(found) != 1:
            reason = "missing" if not found else f"appears {len(found)} times; expected once"
            raise EnvelopeError(f"{root_name}/{name}", reason)
        parts[name] = found[0]
    type_elem = parts["type"]
    if len(type_elem):
        raise EnvelopeError(f"{root_name}/type", "has child elements where a name is expected")
    return (type_elem.text or "").strip(), parts["data"]


def encode_request(msg: Request) -> bytes:
    """The document for ``msg``, ISO-8859-1 with its XML declaration."""
    if not isinstance(msg, Request):
        raise TypeError(f"{msg!r} is not an XCCSP request")
    return _document("request", msg.TYPE, msg.WRAPPER, msg._write)


def encode_reply(msg: Reply | Fault) -> bytes:
    """The document for a reply or a fault, ISO-8859-1 with its XML declaration."""
    if not isinstance(msg, Reply | Fault):
        raise TypeError(f"{msg!r} is not an XCCSP reply or fault")
    write = functools.partial(write_fault, msg) if isinstance(msg, Fault) else msg._write
    return _document("response", msg.TYPE, msg.WRAPPER, write)


def decode_request(body: bytes) -> Request:
    """The request in a document (what a unit does). Raises :class:`XccspError`."""
    type_name, data = _open_envelope(_parse(body), "request")
    cls = REQUESTS.get(type_name)
    if cls is None:
        known = ", ".join(REQUESTS)
        raise UnknownTypeError("request/type", f"unknown request type {type_name!r} (known: {known})")
    return cls._read(Reader(data, cls.TYPE).wrapper(cls.WRAPPER, "request"))


def envelope_pos_ids(body: bytes) -> tuple[str, ...]:
    """Every ``PosId`` on a request's envelope (beside ``type`` and ``data``), in order.

    The codec reads a request's POS id from ``data`` only; a register may also put one on
    the envelope, and a unit can check that the two agree. Most documents have none
    (``()``). Values are verbatim, like every text value; an empty element reads
    as ``""``. Raises :class:`EnvelopeError` for a document that is not a request.
    """
    root = _parse(body)
    _open_envelope(root, "request")
    return tuple(child.text or "" for child in root if local_name(child.tag) == "PosId")


@overload
def decode_reply(body: bytes, answering: type[RegisterReceipt]) -> RegisterReceiptResponse | Fault: ...
@overload
def decode_reply(body: bytes, answering: type[RequestStatus]) -> StatusResponse | Fault: ...
@overload
def decode_reply(body: bytes, answering: type[RequestIdentity]) -> IdentityResponse | Fault: ...
@overload
def decode_reply(body: bytes, answering: type[Request]) -> Reply | Fault: ...


def decode_reply(body: bytes, answering: type[Request]) -> Reply | Fault:
    """The reply to a request of type ``answering``, or the :class:`Fault` the unit sent.

    A fault is recognised whatever request it answers; any other reply must be the one
    ``answering`` expects. Raises :class:`XccspError`.
    """
    if not (isinstance(answering, type) and issubclass(answering, Request)):
        raise TypeError(f"{answering!r} is not an XCCSP request type")
    root = _parse(body)
    if local_name(root.tag) == FAULT_TYPE:  # a bare <Fault> from a lenient unit
        return read_fault(Reader(root, FAULT_TYPE).wrapper(Fault.WRAPPER, FAULT_TYPE))
    type_name, data = _open_envelope(root, "response")
    if type_name == FAULT_TYPE:
        return read_fault(Reader(data, FAULT_TYPE).wrapper(Fault.WRAPPER, "response"))
    expected = answering.REPLY
    if type_name != expected.TYPE:
        why = f"{type_name!r} does not answer {answering.TYPE}; expected {expected.TYPE!r} or 'Fault'"
        if type_name in REPLIES:
            raise EnvelopeError("response/type", why)
        raise UnknownTypeError("response/type", f"unknown reply type {type_name!r}; {why}")
    return expected._read(Reader(data, expected.TYPE).wrapper(expected.WRAPPER, "response"))
