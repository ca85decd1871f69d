"""XCCSP against what real clients sent and real servers answered (tests/protocols/recordings/).

Our codec, driver and simulator agreeing with each other proves nothing about the
hosted CleanCash service; these documents come from public code written against it.
Each recording's header names where it was found and when.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from protocols import xccsp
from protocols.ccsp import MainStatus, StorageStatus
from protocols.skv import ControlData, ReceiptType, VatSlot

RECORDINGS = Path(__file__).parent / "recordings"
NS = {"cc": xccsp.NAMESPACE}
CLEANCASH_CODE = re.compile(r"[A-Z2-7]{32};[A-Z2-7]{26}")


def sections(name: str) -> dict[str, str]:
    """A recording's parts by their ``--- name`` line; ``#`` header lines dropped."""
    parts: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (RECORDINGS / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("#") and current is None:
            continue
        if line.startswith("--- "):
            current = parts.setdefault(line[4:].strip(), [])
            continue
        if current is not None:
            current.append(line)
    return {key: "\n".join(lines) for key, lines in parts.items()}


def document(name: str, part: str) -> bytes:
    """A recorded document as bytes; the Objective-C comment's one-space indent removed
    (an XML declaration must open the document)."""
    text = sections(name)[part]
    lines = [line.removeprefix(" ") for line in text.splitlines()]
    return "\n".join(lines).encode(xccsp.ENCODING)


def element_paths(body: bytes) -> list[str]:
    """Every element's path below the root, namespace stripped, sorted (order is free)."""
    root = ET.fromstring(body)
    paths: list[str] = []

    def walk(elem: ET.Element, prefix: str) -> None:
        for child in elem:
            name = child.tag.rpartition("}")[2]
            path = f"{prefix}/{name}" if prefix else name
            paths.append(path)
            walk(child, path)

    walk(root, "")
    return sorted(paths)


def namespaces_of(body: bytes) -> set[str]:
    return {elem.tag[1:].partition("}")[0] for elem in ET.fromstring(body).iter()}


# -- the recorded reply ----------------------------------------------------------------


def test_the_recorded_register_reply_decodes() -> None:
    reply = xccsp.decode_reply(document("objc_pos_register_receipt.txt", "response"), xccsp.RegisterReceipt)
    assert reply == xccsp.RegisterReceiptResponse(
        code="WKZQUH56H7X3DVQEJPHOYNWDV7HS223N;BA7WNV7ODW6RCY4ZLNLF4J66IM",
        unit_id="RIHTT131550010466",
        main=MainStatus.OK,
        storage=StorageStatus.OK,
    )
    assert CLEANCASH_CODE.fullmatch(reply.code)


def test_the_recorded_reply_answers_only_a_registration() -> None:
    body = document("objc_pos_register_receipt.txt", "response")
    with pytest.raises(xccsp.EnvelopeError, match="does not answer RequestStatus"):
        xccsp.decode_reply(body, xccsp.RequestStatus)


# -- the recorded requests -------------------------------------------------------------

RECORDED_RECEIPT = ControlData(
    moment=datetime(2016, 7, 11, 10, 29),
    orgnr="5555551111",
    pos_id="15555551111",
    receipt_no=3,
    receipt_type=ReceiptType.NORMAL,
    total=1000,
    return_total=0,
    vat=(VatSlot(2500, 200),),
)


def test_the_recorded_registration_decodes_as_the_server_reads_it() -> None:
    request = xccsp.decode_request(document("objc_pos_register_receipt.txt", "request"))
    assert request == xccsp.RegisterReceipt(500, True, RECORDED_RECEIPT)


def test_our_registration_has_the_recorded_elements_in_the_namespace() -> None:
    recorded = document("objc_pos_register_receipt.txt", "request")
    ours = xccsp.encode_request(xccsp.RegisterReceipt(500, True, RECORDED_RECEIPT))
    assert element_paths(ours) == element_paths(recorded)
    assert namespaces_of(ours) == namespaces_of(recorded) == {xccsp.NAMESPACE}
    assert b"<IsNewSession>1</IsNewSession>" in ours
    assert b"<NegativeTotal>0,00</NegativeTotal>" in ours


def test_the_recorded_status_request_decodes_and_ours_has_its_elements() -> None:
    recorded = document("java_pos_status_request.txt", "request")
    request = xccsp.decode_request(recorded)
    assert request == xccsp.RequestStatus("123", "5566778899")
    assert element_paths(xccsp.encode_request(request)) == element_paths(recorded)


def test_the_recorded_digest_header_is_md5_qop_auth_in_the_cleancash_realm() -> None:
    header = sections("java_pos_status_request.txt")["authorization"].strip()
    scheme, _, params = header.partition(" ")
    fields = dict(re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', params))
    assert scheme == "Digest"
    assert fields["realm"] == '"CleanCash Server"'
    assert (fields["algorithm"], fields["qop"], fields["uri"]) == ("MD5", "auth", '"/xccsp"')


# -- NaviPartner's client: what it writes and what it reads ---------------------------


def np_lines(kind: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (RECORDINGS / "npcore_xccsp_elements.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{kind} "):
            type_name, _, path = line[len(kind) + 1 :].partition(": ")
            found.setdefault(type_name, []).append(path)
    return found


def leaves_in_order(body: bytes) -> list[str]:
    """The paths of the elements that hold values, in document order, namespace stripped."""
    leaves: list[str] = []

    def walk(elem: ET.Element, prefix: str) -> None:
        for child in elem:
            name = child.tag.rpartition("}")[2]
            path = f"{prefix}/{name}" if prefix else name
            if len(child):
                walk(child, path)
            else:
                leaves.append(path)

    walk(ET.fromstring(body), "")
    return leaves


def test_we_write_each_request_with_np_s_elements_in_np_s_order() -> None:
    ours = {
        "RegisterReceipt": xccsp.encode_request(xccsp.RegisterReceipt(1, False, RECORDED_RECEIPT)),
        "RequestStatus": xccsp.encode_request(xccsp.RequestStatus("KASSA-1", "5561234567")),
        "RequestIdentity": xccsp.encode_request(xccsp.RequestIdentity("KASSA-1", "5561234567")),
    }
    for type_name, expected in np_lines("write").items():
        assert leaves_in_order(ours[type_name]) == expected, type_name
        assert namespaces_of(ours[type_name]) == {xccsp.NAMESPACE}


SERVER_REPLIES: dict[str, xccsp.Reply | xccsp.Fault] = {
    "RegisterReceiptResponse": xccsp.RegisterReceiptResponse(
        "WKZQUH56H7X3DVQEJPHOYNWDV7HS223N;BA7WNV7ODW6RCY4ZLNLF4J66IM",
        "RIHTT131550010466",
        MainStatus.OK,
        StorageStatus.OK,
    ),
    "StatusResponse": xccsp.StatusResponse(
        "RIHTT131550010466", "2.1.3", 4, MainStatus.NO_UNIT, StorageStatus.OK, "CC-HTTP"
    ),
    "IdentityResponse": xccsp.IdentityResponse("RIHTT131550010466", "2.1.3", "CC-HTTP"),
    "Fault": xccsp.Fault.of(xccsp.FaultCode.INVALID_POS_ID, "PosId 'X' is not licensed"),
}


@pytest.mark.parametrize("type_name", sorted(SERVER_REPLIES))
def test_np_s_xpaths_find_every_field_in_the_replies_we_write(type_name: str) -> None:
    root = ET.fromstring(xccsp.encode_reply(SERVER_REPLIES[type_name]))
    type_elem = root.find("cc:type", NS)
    assert type_elem is not None and type_elem.text == type_name
    for xpath in np_lines("read")[type_name]:
        assert root.find(xpath, NS) is not None, xpath


def test_main_status_99_reads_as_no_unit() -> None:
    body = xccsp.encode_reply(SERVER_REPLIES["StatusResponse"])
    assert b"<MainStatus>99</MainStatus>" in body
    reply = xccsp.decode_reply(body, xccsp.RequestStatus)
    assert not isinstance(reply, xccsp.Fault)
    assert reply.main is MainStatus.NO_UNIT
