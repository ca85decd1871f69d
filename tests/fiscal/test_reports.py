"""X and Z reports over a day of real receipts: the pipeline, the simulated unit over TCP, SQLite.

The figures expected are worked out by hand from the receipts of :func:`a_day` (the
working is in the comments there), not by running the code under test.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.control_unit import ControlUnit, Fault
from gateway.common.signing import Signer, Verifier
from gateway.fiscal.errors import FiscalError
from gateway.fiscal.journal import open_readonly, verify
from gateway.fiscal.pipeline import Pipeline
from gateway.fiscal.receipt_text import Shop
from gateway.fiscal.reports.report import Report, make_x, make_z
from gateway.fiscal.reports.text import layout, render, text
from gateway.fiscal.store import Store
from gateway.receipts.model import Line, LineKind, Payment, PaymentMethod, Receipt, ReceiptKind
from gateway.receipts.money import grouped_text

PipelineFactory = Callable[..., Awaitable[Pipeline]]
Sale = Callable[..., Receipt]

SHOP = Shop("Kaffebaren i Växjö AB", "5560360793", ("Storgatan 1", "352 30 Växjö"))

CASH, CARD, GIFT, SWISH = PaymentMethod.CASH, PaymentMethod.CARD, PaymentMethod.GIFT_CARD, PaymentMethod.SWISH


def line(text: str, qty: int, price: int, rate: int, group: str | None = None, **more: Any) -> Line:
    return Line(text, Decimal(qty), price, rate, group=group, **more)


async def a_day(pipeline: Pipeline, unit: ControlUnit) -> None:
    """Every kind of registration a Z report counts, through the real pipeline."""
    await pipeline.record("float.change", {"amount": "2000.00", "cashier": "Anna", "note": "morgon"})
    # 1. cash: 2 × 32,50 + 28,40 = 93,40 at 12 %, VAT 93,40 × 12/112 = 10,007 -> 10,01;
    #    cash rounds to 93,00: öresavrundning -0,40; 3 goods.
    await pipeline.submit(
        "r1",
        Receipt(
            (line("Kaffe", 2, 32_50, 1200, "Dryck"), line("Kanelbulle", 1, 28_40, 1200, "Bröd")),
            (Payment(CASH, 100_00),),
        ),
    )
    # 2. card: T-shirt 199,00 less 20,00 = 179,00 (25 %), newspaper 45,00 (6 %), a service
    #    150,00 (25 %) = 374,00; VAT 25 % on 329,00 = 65,80, 6 % on 45,00 = 2,547 -> 2,55.
    await pipeline.submit(
        "r2",
        Receipt(
            (
                line("T-shirt", 1, 199_00, 2500, "Kläder", discount=20_00),
                line("Tidning", 1, 45_00, 600, "Tidningar"),
                line("Montering", 1, 150_00, 2500, "Tjänster", kind=LineKind.SERVICE),
            ),
            (Payment(CARD, 374_00),),
        ),
    )
    # 3. gift card + Swish, receipt discount 38,00 spread over 178,00 and 60,00 in öre:
    #    28,4201… and 9,5798… -> 28,42 and 9,57 + the öre left (largest remainder) = 9,58
    #    -> 149,58 (12 %, Dryck) + 50,42 (25 %, no group) = 200,00;
    #    VAT 149,58 × 12/112 = 16,026 -> 16,03; 50,42 × 25/125 = 10,084 -> 10,08; 3 goods.
    await pipeline.submit(
        "r3",
        Receipt(
            (line("Kaffebönor", 2, 89_00, 1200, "Dryck"), line("Mugg", 1, 60_00, 2500)),
            (Payment(GIFT, 100_00), Payment(SWISH, 100_00)),
            discount=38_00,
        ),
    )
    await pipeline.open_drawer("Anna")
    # 4. a return of the T-shirt: -179,00 at 25 % (VAT -35,80), refunded to the card.
    await pipeline.submit(
        "r4",
        Receipt((line("T-shirt", -1, 199_00, 2500, "Kläder", discount=20_00),), (Payment(CARD, -179_00),)),
    )
    # 5. training 32,50; 6. pro forma 450,00; a copy of receipt 2 (374,00).
    await pipeline.submit(
        "r5",
        Receipt(
            (line("Kaffe", 1, 32_50, 1200, "Dryck"),), (Payment(CASH, 40_00),), kind=ReceiptKind.TRAINING
        ),
    )
    await pipeline.submit(
        "r6",
        Receipt(
            (line("Tårta", 1, 450_00, 1200, "Bröd"),), (Payment(CARD, 450_00),), kind=ReceiptKind.PRO_FORMA
        ),
    )
    await pipeline.copy(2)
    await pipeline.record("float.change", {"amount": "-500.00", "note": "till banken"})
    # Refused by the unit (journal memory full): 55,00. Then one left in doubt: 77,00.
    unit.faults.set(Fault.STORAGE_FULL)
    with pytest.raises(FiscalError, match="refused"):
        await pipeline.submit("r7", Receipt((line("Te", 1, 55_00, 1200, "Dryck"),), (Payment(CARD, 55_00),)))
    unit.faults.clear()
    unit.faults.set(Fault.NO_REPLY)
    with pytest.raises(FiscalError, match="unavailable"):
        await pipeline.submit("r8", Receipt((line("Kaka", 1, 77_00, 1200, "Bröd"),), (Payment(CARD, 77_00),)))
    unit.faults.clear()


def zeros_except(**figures: Any) -> dict[str, Any]:
    """The figures of a report with nothing in it, with ``figures`` put in."""
    nothing = {"count": 0, "amount": "0.00"}
    out: dict[str, Any] = {
        "sales": {"receipts": 0, "total": "0.00"},
        "returns": nothing,
        "net_sales": "0.00",
        "groups": [],
        "ungrouped": "0.00",
        "vat": [{"rate": r, "gross": "0.00", "vat": "0.00", "net": "0.00"} for r in ("25", "12", "6", "0")],
        "payments": {"cash": "0.00", "card": "0.00", "gift_card": "0.00", "swish": "0.00", "other": "0.00"},
        "rounding": "0.00",
        "float": {"amount": "0.00", "in": "0.00", "out": "0.00", "changes": 0},
        "items": 0,
        "services": 0,
        "receipts": 0,
        "drawer_openings": 0,
        "copies": nothing,
        "training": nothing,
        "pro_forma": nothing,
        "discounts": nothing,
        "other_reductions": {**nothing, "what": "öresavrundning nedåt"},
        "unfinished": {**nothing, "refused": nothing, "in_doubt": nothing, "parked": nothing},
    }
    out.update(figures)
    return out


DAY = zeros_except(
    sales={"receipts": 3, "total": "667.40"},  # 93,40 + 374,00 + 200,00
    returns={"count": 1, "amount": "179.00"},
    net_sales="488.40",
    groups=[  # net: returns deducted; sorted by name
        {"group": "Bröd", "amount": "28.40"},
        {"group": "Dryck", "amount": "214.58"},  # 65,00 + 149,58
        {"group": "Kläder", "amount": "0.00"},  # 179,00 - 179,00
        {"group": "Tidningar", "amount": "45.00"},
        {"group": "Tjänster", "amount": "150.00"},
    ],
    ungrouped="50.42",  # the mug
    vat=[
        # 329,00 + 50,42 - 179,00; VAT 65,80 + 10,08 - 35,80
        {"rate": "25", "gross": "200.42", "vat": "40.08", "net": "160.34"},
        # 93,40 + 149,58; VAT 10,01 + 16,03
        {"rate": "12", "gross": "242.98", "vat": "26.04", "net": "216.94"},
        {"rate": "6", "gross": "45.00", "vat": "2.55", "net": "42.45"},
        {"rate": "0", "gross": "0.00", "vat": "0.00", "net": "0.00"},
    ],
    # cash 93,00 (rounded); card 374 - 179; together 488,00 = net 488,40 + rounding -0,40
    payments={"cash": "93.00", "card": "195.00", "gift_card": "100.00", "swish": "100.00", "other": "0.00"},
    rounding="-0.40",
    float={"amount": "1500.00", "in": "2000.00", "out": "500.00", "changes": 2},
    items=8,  # 3 + 2 + 3
    services=1,
    receipts=4,  # three sales and the return
    drawer_openings=1,
    copies={"count": 1, "amount": "374.00"},
    training={"count": 1, "amount": "32.50"},
    pro_forma={"count": 1, "amount": "450.00"},
    discounts={"count": 2, "amount": "58.00"},  # 20,00 on the T-shirt, 38,00 on receipt 3
    other_reductions={"count": 1, "amount": "0.40", "what": "öresavrundning nedåt"},
    unfinished={
        "count": 2,
        "amount": "132.00",
        "refused": {"count": 1, "amount": "55.00"},
        "in_doubt": {"count": 1, "amount": "77.00"},
        "parked": {"count": 0, "amount": "0.00"},
    },
)


def figures_of(report: Report) -> dict[str, Any]:
    out = report.to_json()
    return {key: out[key] for key in DAY}


def verified(tmp_path: Path, signer: Signer) -> tuple[int, str]:
    with open_readonly(tmp_path / "till" / "till.db") as conn:
        result = verify(conn, Verifier(signer.public), all_signatures=True)
    assert result.ok, result.problem
    return result.head_seq, result.head_hash


def journal_body(tmp_path: Path, seq: int) -> tuple[str, dict[str, Any]]:
    with open_readonly(tmp_path / "till" / "till.db") as conn:
        kind, body = conn.execute("SELECT kind, body FROM journal WHERE seq = ?", (seq,)).fetchone()
    return str(kind), json.loads(body)


async def test_an_x_report_has_every_figure_of_the_day_and_closes_nothing(
    unit: ControlUnit,
    unit_tcp: str,
    make_pipeline: PipelineFactory,
    tmp_path: Path,
    signer: Signer,
    pos_id: str,
) -> None:
    pipeline = await make_pipeline(unit_tcp)
    await a_day(pipeline, unit)
    x = await make_x(pipeline.store, SHOP, pos_id)
    assert figures_of(x) == DAY
    assert x.to_json()["grand_total"] == {"sales": "667.40", "returns": "179.00", "net": "488.40"}
    out = x.to_json()
    assert (out["report"], out["title"], out["z_no"]) == ("x", "X-dagrapport", None)
    assert out["company"] == {"name": SHOP.name, "orgnr": SHOP.orgnr} and out["pos_id"] == pos_id
    assert out["period"] == {"after_entry": 0, "through_entry": x.entry_seq - 1, "since": None}

    again = await make_x(pipeline.store, SHOP, pos_id)  # an X closes nothing
    assert figures_of(again) == DAY
    assert again.after_entry == 0 and again.through_entry == x.entry_seq

    # Journaled with every figure as integers, and the head hash of the time.
    kind, body = journal_body(tmp_path, x.entry_seq)
    assert kind == "report.x"
    assert body == x.body()
    assert body["sales"] == {"receipts": 3, "total": 667_40}
    assert body["payments"]["card"] == 195_00 and body["unfinished"]["in_doubt"]["amount"] == 77_00
    with open_readonly(tmp_path / "till" / "till.db") as conn:
        before = conn.execute("SELECT hash FROM journal WHERE seq = ?", (x.entry_seq - 1,)).fetchone()[0]
    assert body["journal_head"] == {"seq": x.entry_seq - 1, "hash": bytes(before).hex()}
    assert verified(tmp_path, signer) == (again.entry_seq, again.entry_hash)


async def test_z_numbers_are_unbroken_each_z_covers_what_came_after_the_last(
    unit: ControlUnit,
    unit_tcp: str,
    make_pipeline: PipelineFactory,
    sale: Sale,
    tmp_path: Path,
    signer: Signer,
) -> None:
    pipeline = await make_pipeline(unit_tcp)
    await a_day(pipeline, unit)
    z1 = await make_z(pipeline.store, SHOP, "KASSA1")
    assert z1.z_no == 1 and z1.to_json()["title"] == "Z-dagrapport"
    assert figures_of(z1) == DAY
    assert z1.to_json()["grand_total"] == {"sales": "667.40", "returns": "179.00", "net": "488.40"}

    x = await make_x(pipeline.store, SHOP, "KASSA1")  # right after the Z: an empty period
    assert figures_of(x) == zeros_except(
        unfinished=DAY["unfinished"]
        | {"count": 1, "amount": "77.00", "refused": {"count": 0, "amount": "0.00"}}
    )  # the receipt in doubt is still unfinished
    assert x.after_entry == z1.entry_seq and x.since == z1.at
    assert x.to_json()["grand_total"] == z1.to_json()["grand_total"]

    # The next sale first completes the receipt left in doubt (77,00): both are day two's.
    done = await pipeline.submit("d2-1", sale(100_00))
    assert done.receipt_no == 8
    await pipeline.open_drawer()
    z2 = await make_z(pipeline.store, SHOP, "KASSA1")
    assert z2.z_no == 2 and z2.after_entry == z1.entry_seq
    assert figures_of(z2) == zeros_except(
        sales={"receipts": 2, "total": "177.00"},
        net_sales="177.00",
        groups=[{"group": "Bröd", "amount": "77.00"}, {"group": "Dryck", "amount": "100.00"}],
        vat=[
            {"rate": "25", "gross": "100.00", "vat": "20.00", "net": "80.00"},
            {"rate": "12", "gross": "77.00", "vat": "8.25", "net": "68.75"},  # 77 × 12/112 = 8,25
            {"rate": "6", "gross": "0.00", "vat": "0.00", "net": "0.00"},
            {"rate": "0", "gross": "0.00", "vat": "0.00", "net": "0.00"},
        ],
        payments={"cash": "0.00", "card": "177.00", "gift_card": "0.00", "swish": "0.00", "other": "0.00"},
        items=2,
        receipts=2,
        drawer_openings=1,
    )
    assert z2.to_json()["grand_total"] == {"sales": "844.40", "returns": "179.00", "net": "665.40"}

    # A Z with nothing since the last is valid: zeros, and the grand totals carried over.
    z3 = await make_z(pipeline.store, SHOP, "KASSA1")
    assert z3.z_no == 3 and figures_of(z3) == zeros_except()
    assert z3.to_json()["grand_total"] == z2.to_json()["grand_total"]
    assert z3.body()["grand_total"] == {"sales": 844_40, "returns": 179_00, "net": 665_40}

    with open_readonly(tmp_path / "till" / "till.db") as conn:
        zs = conn.execute("SELECT json_extract(body, '$.z_no'), seq FROM journal WHERE kind = 'report.z'")
        assert list(zs) == [(1, z1.entry_seq), (2, z2.entry_seq), (3, z3.entry_seq)]
        assert list(conn.execute("SELECT z_no, entry_seq FROM z_reports ORDER BY z_no")) == [
            (1, z1.entry_seq),
            (2, z2.entry_seq),
            (3, z3.entry_seq),
        ]
    # `journal verify` ends on the last Z: its head is the Z's own entry and hash.
    assert verified(tmp_path, signer) == (z3.entry_seq, z3.entry_hash)


async def test_a_z_on_a_new_till_is_number_one_with_zeros(tmp_path: Path, signer: Signer) -> None:
    store = await Store.open(tmp_path / "till" / "till.db", signer)
    try:
        z = await make_z(store, SHOP, "KASSA1")
    finally:
        await store.close()
    assert z.z_no == 1 and (z.after_entry, z.through_entry, z.entry_seq) == (0, 0, 1)
    assert figures_of(z) == zeros_except()
    assert z.to_json()["grand_total"] == {"sales": "0.00", "returns": "0.00", "net": "0.00"}
    assert z.head_hash == "00" * 32
    printed = text(z, 42)
    assert (
        "Journalposter" in printed
        and "inga" in printed
        and "Z-rapport nr                             1" in printed
    )
    verified(tmp_path, signer)


async def test_two_z_reports_at_once_from_two_connections_get_two_numbers(
    tmp_path: Path, signer: Signer
) -> None:
    """The service and `tillgw report z` in a shell: two connections to one database."""
    path = tmp_path / "till" / "till.db"
    service, shell = await Store.open(path, signer), await Store.open(path, signer)
    try:
        reports = await asyncio.gather(
            *(make_z(store, SHOP, "KASSA1") for store in (service, shell, service, shell))
        )
    finally:
        await service.close()
        await shell.close()
    assert sorted(r.z_no or 0 for r in reports) == [1, 2, 3, 4]
    by_number = sorted(reports, key=lambda r: r.z_no or 0)
    assert [r.entry_seq for r in by_number] == [1, 2, 3, 4]  # each Z's period starts at the one before
    assert [r.after_entry for r in by_number] == [0, 1, 2, 3]
    verified(tmp_path, signer)


async def test_the_float_change_event_is_checked(unit_tcp: str, make_pipeline: PipelineFactory) -> None:
    pipeline = await make_pipeline(unit_tcp)
    for body, field in (
        ({"amount": 2000}, "amount"),  # 2000 what? öre or kronor: only the decimal string is taken
        ({"amount": "0.00"}, "amount"),
        ({"amount": "12,50"}, "amount"),
        ({"amount": "1.00", "till": "x"}, "till"),
        ({"amount": "1.00", "note": "x" * 61}, "note"),
    ):
        with pytest.raises(FiscalError) as info:
            await pipeline.record("float.change", body)
        assert (info.value.code, info.value.status, info.value.field) == ("bad_event", 422, field)
    seq = await pipeline.record("float.change", {"amount": "-12.50"})
    row = await pipeline.store.fetchone("SELECT body FROM journal WHERE seq = ?", (seq,))
    assert row is not None and json.loads(row[0]) == {"amount": -12_50, "pos_id": pipeline.pos_id}


def every_figure(value: Any) -> list[str]:
    """Each amount (as printed) and count of a report's JSON figures."""
    if isinstance(value, dict):  # a VAT rate is printed as a rate ("25"), not as an amount
        return [text for k, v in value.items() if k != "rate" for text in every_figure(v)]
    if isinstance(value, list):
        return [text for v in value for text in every_figure(v)]
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, str) and value.lstrip("-").replace(".", "").isdigit():
        return [grouped_text(int(Decimal(value) * 100))]
    return []


async def test_the_printed_report_holds_every_figure_and_fits_the_paper(
    unit: ControlUnit, unit_tcp: str, make_pipeline: PipelineFactory, pos_id: str
) -> None:
    pipeline = await make_pipeline(unit_tcp)
    await a_day(pipeline, unit)
    reports = (await make_x(pipeline.store, SHOP, pos_id), await make_z(pipeline.store, SHOP, pos_id))
    for report, width in itertools.product(reports, (42, 48)):
        lines = layout(report, width)
        assert all(len(line.text) * line.width <= width for line in lines)
        printed = text(report, width)
        assert all(len(row) <= width for row in printed.splitlines())
        word = f"{report.kind.value.upper()}-DAGRAPPORT"
        marks = [line for line in lines if line.text == word]
        assert len(marks) == 2 and all(m.height == 2 for m in marks)
        out = report.to_json()
        figures = {key: out[key] for key in [*DAY, "grand_total"]}
        for figure in every_figure(figures):
            assert figure in printed, f"{figure} is not on the printed report"
        for words in (SHOP.name, "556036-0793", pos_id, "Grand total netto", "Lådöppningar utan försäljning"):
            assert words in printed
        for name in ("Bröd", "Dryck", "Kläder", "Tidningar", "Tjänster", "Presentkort", "Swish"):
            assert name in printed
        assert report.entry_hash in printed.replace("\n", "")  # to compare with `journal verify`
        if report.z_no is not None:
            assert "Z-rapport nr" in printed
        else:
            assert "rapport nr" not in printed
        assert render(report, width).startswith(b"\x1b@")
