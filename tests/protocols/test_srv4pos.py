"""The srv4pos codec against the bodies of Retail Innovation's and MEWS' clients and
srv4pos's published errors (tests/protocols/contracts/srv4pos/, each with its source)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from protocols import srv4pos
from protocols.skv import ControlData, ReceiptType, VatSlot

CONTRACTS = Path(__file__).parent / "contracts" / "srv4pos"
MOMENT = datetime(2025, 6, 17, 10, 28, 33)  # Swedish summer time: 08:28:33 UTC


def golden(name: str) -> bytes:
    return (CONTRACTS / name).read_bytes().split(b"\n", 1)[1].rstrip(b"\n")


def test_a_sale_encodes_to_the_clients_body() -> None:
    data = ControlData(MOMENT, "5561234567", "KASSA1", 123, ReceiptType.NORMAL, 11626, 0,
                       (VatSlot(2500, 1261), VatSlot(1200, 570)))  # fmt: skip
    kd = srv4pos.kd_request_of(data)
    assert srv4pos.encode_kd(kd) == golden("kd-request.json")
    assert srv4pos.decode_kd(golden("kd-request.json")) == kd
    assert srv4pos.control_data_of(kd, orgnr="5561234567", pos_id="KASSA1") == data


def test_the_numeric_print_type_of_mews_is_read() -> None:
    kd = srv4pos.decode_kd(golden("kd-request-numeric.json"))
    assert (kd.print_type, kd.brutto, dict(kd.vat_rate_to_sum)["6"]) == (srv4pos.PrintType.NORMAL, 10000, 600)


def test_a_return_is_positive_with_refund_and_training_goes_as_proforma() -> None:
    data = ControlData(
        MOMENT, "5561234567", "KASSA1", 5, ReceiptType.TRAINING, -2500, 2500, (VatSlot(2500, -500),)
    )
    kd = srv4pos.kd_request_of(data)
    assert (kd.brutto, kd.refund, kd.print_type, kd.vat_rate_to_sum["25"]) == (
        2500,
        True,
        srv4pos.PrintType.PROFORMA,
        500,
    )


def test_the_reply_and_errors_are_read() -> None:
    reply = srv4pos.decode_kd_reply(golden("kd-reply.json"))
    assert reply == srv4pos.KdReply(
        "WKZQUH56H7X3DVQEJPHOYNWDV7HS223N;BA7WNV7ODW6RCY4ZLNLF4J66IM", "PTEST900000000001"
    )
    assert srv4pos.encode_kd_reply(reply) == golden("kd-reply.json")
    value = srv4pos.decode_error(golden("error-value-not-valid.json"))
    assert (
        value.said
        == "ValueNotValidJsonException: field=corporateId, message=must match the pattern, code=Pattern"
    )
    unit = srv4pos.decode_error(golden("error-control-unit.json"))
    assert unit.said == "ControlUnitReceiptJsonException: command=kd, response=010, name=InternLoggFull24(24)"
    assert srv4pos.encode_error(unit) == golden("error-control-unit.json")
    assert srv4pos.decode_error(golden("error-unauthorized.json")).said == "UnauthorizedJsonException"


def test_the_path_and_the_key() -> None:
    assert srv4pos.kd_path("5561234567", "Kassa 1") == "/5561234567/registration/Kassa%201/kd"
    assert srv4pos.authorization("abc") == "Basic YWJj"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            b'{"brutto":-1,"vatRateToSum":{},"refund":false,"printType":"Normal","receiptNumber":1,"date":1}',
            "brutto",
        ),
        (
            b'{"brutto":1,"vatRateToSum":{"7":1},"refund":false,"printType":"Normal","receiptNumber":1,"date":1}',
            "vatRateToSum.7",
        ),
        (
            b'{"brutto":1,"vatRateToSum":{},"refund":"no","printType":"Normal","receiptNumber":1,"date":1}',
            "refund",
        ),
        (
            b'{"brutto":1,"vatRateToSum":{},"refund":false,"printType":"Training","receiptNumber":1,"date":1}',
            "printType",
        ),
        (b'{"brutto":1,"vatRateToSum":{},"refund":false,"printType":"Normal","date":1}', "receiptNumber"),
        (b"not json", "body"),
    ],
)
def test_errors_name_the_bad_field(body: bytes, field: str) -> None:
    with pytest.raises(srv4pos.Srv4posError) as error:
        srv4pos.decode_kd(body)
    assert error.value.field == field
