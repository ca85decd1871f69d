"""The printed receipt: every item of SKVFS 2014:9 7 kap. 1 §, markings, widths, ESC/POS."""

from __future__ import annotations

import dataclasses
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.printer.device import PrinterConfig, PrinterDevice
from gateway.fiscal.receipt_text import (
    PAPER_WIDTHS,
    PrintedReceipt,
    _wrap,
    identity_line,
    layout,
    render,
    to_escpos,
    to_text,
)
from gateway.receipts.model import Line, Payment, PaymentMethod, Receipt, ReceiptKind, compute
from gateway.receipts.money import grouped_text
from protocols import escpos
from protocols.escpos import CodeTable
from tools.render_sample_receipt import sample_receipt

DOCS = Path(__file__).resolve().parents[2] / "docs" / "images"


def with_receipt(doc: PrintedReceipt, receipt: Receipt, **changes: object) -> PrintedReceipt:
    return dataclasses.replace(doc, receipt=receipt, totals=compute(receipt), **changes)  # type: ignore[arg-type]


def test_the_sample_in_docs_is_what_the_layout_prints() -> None:
    expected = (DOCS / "sample-receipt.txt").read_text(encoding="utf-8")
    assert to_text(layout(sample_receipt(), 42), 42) == expected


def test_every_item_of_7_kap_1_paragraph_is_on_the_receipt() -> None:
    text = to_text(layout(sample_receipt(copy=False)))
    for item in (
        "Kaffebaren i Växjö AB",  # a. name
        "Org.nr 556036-0793",  # a. organisationsnummer
        "Storgatan 1",  # b. address of the place of sale
        "2026-11-21 14:05",  # c. date and time
        "Kvitto nr                             1042",  # d. receipt number
        "KASSA-1",  # e. register designation
        "Kaffe med grädde",  # f. goods and their number
        "2 x 22,50",
        "Presentinslagning (tjänst)",  # g. services
        "ATT BETALA                          340,00",  # h. total to pay
        "Varav moms                           51,06",  # i. VAT
        "25            31,40     125,60      157,00",  # j. VAT per rate
        "12            19,66     163,79      183,45",
        "Kort                                100,00",  # k. means of payment
        "Kontant                             240,00",
        "Kontrollenhet            TGSIMSE4388189800",  # l. control unit's manufacturing number
        "WBH6VTC5W6SAEL3PUP2N4JELHA4DMC54",  # and the control code
        "BQI644FY3PDURJRKJ3PXXLYQ6N",
        "Öresavrundning                       -0,45",  # rounding kept apart
    ):
        assert item in text, item
    assert "KOPIA" not in text


def test_a_sole_traders_receipt_names_the_owners_personnummer_as_one() -> None:
    doc = sample_receipt(copy=False)
    doc = dataclasses.replace(doc, shop=dataclasses.replace(doc.shop, orgnr="8001011236"))
    text = to_text(layout(doc))
    assert "Pers.nr 800101-1236" in text and "Org.nr" not in text
    assert identity_line("5560360793") == "Org.nr 556036-0793"


@pytest.mark.parametrize(
    ("kind", "copy", "marks"),
    [
        (ReceiptKind.NORMAL, True, ["KOPIA"]),
        (ReceiptKind.TRAINING, False, ["ÖVNING"]),
        (ReceiptKind.PRO_FORMA, False, ["EJ KVITTO"]),
        (ReceiptKind.TRAINING, True, ["KOPIA", "ÖVNING"]),
    ],
)
def test_markings_are_double_height_at_head_and_foot(kind: ReceiptKind, copy: bool, marks: list[str]) -> None:
    doc = sample_receipt(copy=copy)
    doc = with_receipt(doc, dataclasses.replace(doc.receipt, kind=kind), copy=copy)
    lines = layout(doc)
    marked = [line for line in lines if line.text in marks]
    assert [line.text for line in marked] == marks + marks
    assert all(line.height == 2 and line.width == 2 for line in marked)
    assert all(line.height == 1 for line in lines if line not in marked)
    events = escpos.CommandParser().feed(to_escpos(lines))
    sizes = [e for e in events if isinstance(e, escpos.Size)]
    assert escpos.Size(2, 2) in sizes


@pytest.mark.parametrize("width", [42, 48])
def test_no_line_is_wider_than_the_paper(width: int) -> None:
    doc = sample_receipt()
    long_name = Line("Ekologiskt mellanrostat kaffe från Etiopien, 500 g" * 1, Decimal(3), 1_234_50, 1200)
    receipt = Receipt((long_name,), (Payment(PaymentMethod.CARD, 3_703_50),), cashier="Anna-Karin Johansson")
    for line in layout(with_receipt(doc, receipt), width):
        assert len(line.text) * line.width <= width, line


def test_a_return_receipt_says_so_and_shows_the_refund() -> None:
    doc = sample_receipt(copy=False)
    receipt = Receipt((Line("Mugg", Decimal(-1), 142_00, 2500),), (Payment(PaymentMethod.CASH, -142_00),))
    text = to_text(layout(with_receipt(doc, receipt)))
    assert "RETUR" in text
    assert "ATT ÅTERFÅ                         -142,00" in text


def test_amounts_have_thousands_separated() -> None:
    assert [grouped_text(v) for v in (0, 5, -1250, 123456789)] == ["0,00", "0,05", "-12,50", "1 234 567,89"]


def test_text_the_code_page_cannot_carry_is_replaced_not_refused() -> None:
    doc = sample_receipt(copy=False)
    receipt = Receipt((Line("Te 🍵 grönt", Decimal(1), 35_00, 1200),), (Payment(PaymentMethod.CARD, 35_00),))
    data = render(with_receipt(doc, receipt), 42, CodeTable.CP858)
    assert "Te ? grönt".encode("cp858") in data


@pytest.mark.parametrize("width", [42, 48])
def test_the_printer_prints_exactly_the_laid_out_text(tmp_path: Path, width: int) -> None:
    doc = sample_receipt()
    printer = PrinterDevice(
        PrinterConfig(output=tmp_path, columns=width, code_table=CodeTable.CP858, png=False)
    )
    printer.received(render(doc, width, CodeTable.CP858))
    printed = (tmp_path / "receipt-0001.txt").read_text(encoding="utf-8")
    assert printed.split() == to_text(layout(doc, width), width).split()


@settings(max_examples=500)
@given(
    st.text(alphabet=st.sampled_from(list("ab Å\t\n\xa0\r-.")), max_size=60), st.sampled_from(PAPER_WIDTHS)
)
def test_short_lines_are_wrapped_exactly_as_textwrap_would(text: str, width: int) -> None:
    """The layout's shortcut for a line that fits changes nothing that is printed."""
    assert _wrap(text, width) == (textwrap.wrap(text, width) or [""])
