"""A hand-written CCSP frame codec: the reference the construct codec is measured against.

It does the same work as ``protocols.ccsp`` for the same frames — check start, length,
separators, terminator and LRC; split the fields; build the typed message with the same
SKVFS 2009:2 parsing — but with plain byte operations instead of construct. It exists
only for the benchmark and is not used by the gateway.
"""

from __future__ import annotations

import re

from protocols import ccsp
from protocols.skv import ControlData


def lrc(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def build_frame(message: bytes) -> bytes:
    head = b"#!#%03X#%s#" % (len(message) + 11, message)
    return head + b"%02X\r" % lrc(head)


def parse_frame(data: bytes) -> bytes:
    if data[:3] not in (b"#!#", b"#%#") or data[6:7] != b"#" or data[-1:] != b"\r" or data[-4:-3] != b"#":
        raise ValueError("malformed frame")
    if int(data[3:6], 16) != len(data):
        raise ValueError("bad length")
    if int(data[-3:-1], 16) != lrc(data[:-3]):
        raise ValueError("bad LRC")
    return data[7:-4]


_SPLIT = re.compile(r"##|#")


def split(text: str) -> list[str]:
    """Fields split on '#', '##' a literal '#' (the same tolerance as the codec)."""
    if "##" not in text:
        return text.split("#")
    fields, current, last = [], "", 0
    for match in _SPLIT.finditer(text):
        current += text[last : match.start()]
        if match.group() == "##":
            current += "#"
        else:
            fields.append(current)
            current = ""
        last = match.end()
    fields.append(current + text[last:])
    return fields


def build_rr(seq: int, d: ControlData) -> bytes:
    vat = d.vat_texts(" ")
    fields = [
        "RR",
        str(seq),
        d.date_text,
        d.receipt_no_text,
        d.pos_id,
        d.orgnr,
        d.total_text,
        d.return_total_text,
        d.receipt_type.value,
        *vat,
    ]
    return build_frame("#".join(fields).encode("ascii"))


def parse_rr(data: bytes) -> ccsp.RegisterReceipt:
    parts = split(parse_frame(data).decode("ascii"))
    if len(parts) != 13 or parts[0] != "RR":
        raise ValueError("not an RR message")
    data_ = ControlData.from_texts(
        date=parts[2],
        receipt_no=parts[3],
        pos_id=parts[4],
        orgnr=parts[5],
        total=parts[6],
        return_total=parts[7],
        receipt_type=parts[8],
        vat=tuple(parts[9:13]),
    )
    return ccsp.RegisterReceipt(int(parts[1]), data_)


def build_rrr(reply: ccsp.RegisterReply) -> bytes:
    assert reply.main is not None and reply.storage is not None
    fields = ["RRR", reply.code, reply.unit_id, str(int(reply.main)), str(int(reply.storage))]
    return build_frame("#".join(fields).encode("ascii"))


def parse_rrr(data: bytes) -> ccsp.Reply:
    """RR's reply as tolerantly as the codec reads it: NAK with any code, RRR checked by
    its tag, its two statuses optional, fields a newer unit adds ignored."""
    parts = split(parse_frame(data).decode("ascii"))
    if parts[0] == "NAK":
        return ccsp.Nak(int(parts[1]))
    if parts[0] != "RRR" or len(parts) < 3:
        raise ValueError("not an RR reply")
    main = ccsp.MainStatus(int(parts[3])) if len(parts) > 3 else None
    storage = ccsp.StorageStatus(int(parts[4])) if len(parts) > 4 else None
    return ccsp.RegisterReply(parts[1].strip(), parts[2], main, storage)
