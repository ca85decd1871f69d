"""SKVFS 2009:2 field formats: every limit, and an error that names the field."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols import skv
from protocols.skv import ControlData, FieldError, ReceiptType, VatSlot


@pytest.mark.parametrize(
    ("ore", "text"),
    [(0, "0,00"), (5, "0,05"), (12345, "123,45"), (-1250, "-12,50"), (99_999_999_999_99, "99999999999,99")],
)
def test_amount_text(ore: int, text: str) -> None:
    assert skv.format_amount(ore) == text
    assert skv.parse_amount(text) == ore


@given(st.integers(min_value=-(10**12) + 1, max_value=10**13 - 1))
def test_amount_round_trip(ore: int) -> None:
    assert skv.parse_amount(skv.format_amount(ore)) == ore


def test_amount_limit_is_fourteen_characters() -> None:
    assert len(skv.format_amount(10**13 - 1)) == 14
    with pytest.raises(FieldError, match=r"total: .* longer than 14"):
        skv.format_amount(10**13, "total")
    with pytest.raises(FieldError, match=r"total: .* longer than 14"):
        skv.format_amount(-(10**12), "total")


@pytest.mark.parametrize("text", ["12.50", "12,5", "12", ",50", "1 000,00", "-", "12,500", "+1,00"])
def test_amount_with_wrong_shape_is_refused(text: str) -> None:
    with pytest.raises(FieldError, match="decimal comma"):
        skv.parse_amount(text)


def test_amount_must_be_integer_ore() -> None:
    with pytest.raises(FieldError, match="integer number of öre"):
        skv.format_amount(12.5)  # type: ignore[arg-type]
    with pytest.raises(FieldError, match="integer number of öre"):
        skv.format_amount(True)


def test_rate() -> None:
    assert [skv.format_rate(r) for r in (2500, 1200, 600, 0)] == ["25,00", "12,00", "6,00", "0,00"]
    assert skv.parse_rate("6,00") == 600
    with pytest.raises(FieldError, match="longer than 5"):
        skv.format_rate(100_00)
    with pytest.raises(FieldError, match="rate like"):
        skv.parse_rate("-6,00")


def test_datetime_is_twelve_digits_local_minutes() -> None:
    moment = datetime(2026, 11, 21, 9, 5, 59)
    assert skv.format_datetime(moment) == "202611210905"
    assert skv.parse_datetime("202611210905") == datetime(2026, 11, 21, 9, 5)
    with pytest.raises(FieldError, match=r"date: .* 12 digits"):
        skv.parse_datetime("2026112109")
    with pytest.raises(FieldError, match=r"date: .* not a valid date"):
        skv.parse_datetime("202602300905")


def test_orgnr() -> None:
    assert skv.validate_orgnr("556123-4567") == "5561234567"
    assert skv.validate_orgnr("5561234567") == "5561234567"
    with pytest.raises(FieldError, match="orgnr"):
        skv.validate_orgnr("55612345")
    assert skv.luhn_valid("5560360793")
    assert not skv.luhn_valid("5560360794")


@pytest.mark.parametrize("pos_id", ["", "A" * 17, "KASSA#1", "K;1", "KASSÖ", "K\t1"])
def test_pos_id_refused(pos_id: str) -> None:
    with pytest.raises(FieldError, match="pos_id"):
        skv.validate_pos_id(pos_id)


def test_receipt_number_at_most_twelve_digits() -> None:
    assert skv.validate_receipt_no(999_999_999_999) == 999_999_999_999
    with pytest.raises(FieldError, match=r"receipt_no: .* more than 12 digits"):
        skv.validate_receipt_no(10**12)


def make(**changes: object) -> ControlData:
    fields: dict[str, object] = {
        "moment": datetime(2026, 11, 21, 12, 0),
        "orgnr": "5561234567",
        "pos_id": "KASSA1",
        "receipt_no": 1,
        "receipt_type": ReceiptType.NORMAL,
        "total": 10000,
        "return_total": 0,
        "vat": (VatSlot(2500, 2000),),
    }
    fields.update(changes)
    return ControlData(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"orgnr": "556123-4567"}, "orgnr"),
        ({"receipt_no": -1}, "receipt_no"),
        ({"receipt_type": "normal"}, "receipt_type"),
        ({"return_total": -100}, "return_total"),
        ({"vat": tuple(VatSlot(r, 1) for r in (2500, 1200, 600, 0, 100))}, "vat"),
        ({"vat": (VatSlot(2500, 1), VatSlot(2500, 2))}, "vat"),
        ({"vat": (VatSlot(2500, 1), VatSlot(1200, 10**13))}, "vat2 amount"),
        ({"total": 10**13}, "total"),
    ],
)
def test_control_data_names_the_bad_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(FieldError) as info:
        make(**changes)
    assert info.value.field == field


def test_vat_texts_fill_four_slots_with_blanks() -> None:
    data = make(vat=(VatSlot(2500, 2000), VatSlot(600, 57)))
    assert data.vat_texts() == ("25,00;20,00", "6,00;0,57", " ", " ")


def test_from_texts_parses_what_the_unit_receives() -> None:
    data = ControlData.from_texts(
        date="202611211200",
        orgnr="5561234567",
        pos_id="KASSA1",
        receipt_no="1",
        receipt_type="normal",
        total="100,00",
        return_total="0,00",
        vat=("25,00;20,00", " ", " ", " "),
    )
    assert data == make()
    with pytest.raises(FieldError, match="vat"):
        ControlData.from_texts(
            date="202611211200",
            orgnr="5561234567",
            pos_id="KASSA1",
            receipt_no="1",
            receipt_type="normal",
            total="100,00",
            return_total="0,00",
            vat=("25,00;20,00", "25,00;1,00", " ", " "),
        )
