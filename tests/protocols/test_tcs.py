"""The TCS codec against the documents written from MewsSystems/fiscalizations' DTOs
(tests/protocols/contracts/tcs/, each with its source): ours encodes exactly those
documents and reads them back."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import pytest

from protocols import tcs
from protocols.skv import ControlData, ReceiptType, VatSlot

CONTRACTS = Path(__file__).parent / "contracts" / "tcs"
REQUEST_ID = uuid.UUID("1c3a1e8e-6a55-4b7e-9d2f-0f1f2e3d4c5b")
MOMENT = datetime(2025, 6, 17, 10, 28, 33)
ADDRESS = "Regeringsgatan 67 111 56 Stockholm"


def golden(name: str) -> bytes:
    """The document, without the first line (the comment naming its source)."""
    text = (CONTRACTS / name).read_bytes()
    return text.split(b"\n", 1)[1].rstrip(b"\n")


def mews_receipt(kind: ReceiptType = ReceiptType.NORMAL, total: int = 11626) -> ControlData:
    sign = -1 if total < 0 else 1
    return ControlData(
        MOMENT, "4444444444", "KASSA1", 123, kind, total, -total if total < 0 else 0,
        (VatSlot(2500, sign * 1261), VatSlot(1200, sign * 570)),
    )  # fmt: skip


def request_for(data: ControlData) -> tcs.TcsRequest:
    control = tcs.control_data_of(data, register_id="REGISTER_ID", register_address=ADDRESS)
    return tcs.TcsRequest("Test client", REQUEST_ID, control)


def test_a_sale_encodes_to_the_mews_document() -> None:
    request = request_for(mews_receipt())
    assert tcs.encode_request(request) == golden("sale-request.xml")
    assert tcs.decode_request(golden("sale-request.xml")) == request


def test_a_copy_of_a_return_encodes_to_the_mews_document() -> None:
    request = request_for(mews_receipt(ReceiptType.COPY, total=-11626))
    assert tcs.encode_request(request) == golden("copy-refund-request.xml")
    assert tcs.decode_request(golden("copy-refund-request.xml")) == request
    assert tcs.skv_data_of(request.control_data, "KASSA1") == mews_receipt(ReceiptType.COPY, total=-11626)


def test_register_status_encodes_to_the_mews_document() -> None:
    request = tcs.RegisterStatusRequest("Test client", REQUEST_ID, "4444444444", "REGISTER_ID")
    assert tcs.encode_request(request) == golden("register-status-request.xml")
    assert tcs.decode_request(golden("register-status-request.xml")) == request


def test_answers_read_and_written() -> None:
    sale = tcs.decode_response(golden("sale-response.xml"))
    assert (sale.ok, sale.sequence_number, sale.control_code.control_server_id) == (
        True,
        "123",
        "TGSIMSE0000000001",
    )
    assert sale.control_code.code == "WKZQUH56H7X3DVQEJPHOYNWDV7HS223N;BA7WNV7ODW6RCY4ZLNLF4J66IM"
    assert tcs.encode_response(sale) == golden("sale-response.xml").replace(
        b"<ResponseReason></ResponseReason>", b"<ResponseReason />"
    )
    copy = tcs.decode_response(golden("copy-response-indented.xml"))  # XmlSerializer's own layout
    assert (copy.ok, copy.control_code.code, copy.response_reason) == (True, "", "")
    status = tcs.decode_status_response(golden("register-status-response.xml"))
    assert (status.ok, status.skv_response_message) == (True, "OK")


def test_a_refusal_says_everything_the_service_said() -> None:
    refusal = tcs.RegisterStatusResponse(12, "Invalid data", "VAT1 is wrong", "", "", "E1", "Fel i moms")
    assert refusal.said == "ResponseCode 12: Invalid data (VAT1 is wrong); SKVResponseCode E1: Fel i moms"


def test_the_request_id_is_the_same_for_the_same_registration() -> None:
    first = tcs.request_id_of("KASSA1", "5561234567", 7)
    assert first == tcs.request_id_of("KASSA1", "5561234567", 7)
    assert (
        first != tcs.request_id_of("KASSA1", "5561234567", 8) != tcs.request_id_of("KASSA2", "5561234567", 7)
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (b"<OrgNr>4444444444</OrgNr><Man", "TcsRequest/ControlData/OrgNr"),
        (b"<SequenceNumber>123</SequenceNumber>", "TcsRequest/ControlData/SequenceNumber"),
        (b'<ReceiptType Type="normal" />', "TcsRequest/ControlData/ReceiptType/@Type"),
        (b"<Percent>12,00</Percent>", "TcsRequest/ControlData/VAT1"),
        (b"<SaleAmount>116,26</SaleAmount>", "TcsRequest/ControlData/SaleAmount"),
        (b"<DateTime>20250617102833</DateTime>", "TcsRequest/ControlData/DateTime"),
    ],
)
def test_errors_name_the_bad_field(change: bytes, field: str) -> None:
    broken = {
        b"<OrgNr>4444444444</OrgNr><Man": b"<OrgNr>44444</OrgNr><Man",
        b"<SequenceNumber>123</SequenceNumber>": b"<SequenceNumber>12x</SequenceNumber>",
        b'<ReceiptType Type="normal" />': b'<ReceiptType Type="sale" />',
        b"<Percent>12,00</Percent>": b"<Percent>25,00</Percent>",
        b"<SaleAmount>116,26</SaleAmount>": b"<SaleAmount>116.26</SaleAmount>",
        b"<DateTime>20250617102833</DateTime>": b"<DateTime>202506171028</DateTime>",
    }[change]
    document = golden("sale-request.xml").replace(change, broken, 1)
    with pytest.raises(tcs.TcsError) as error:
        tcs.decode_request(document)
    assert error.value.field == field


def test_hostile_xml_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><TcsResponse>&a;</TcsResponse>'
    with pytest.raises(tcs.TcsError):
        tcs.decode_response(bomb)
