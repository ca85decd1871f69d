"""A day with every kind of event, through the real pipeline and the simulated unit, exported to SKV XML.

What the file must hold whatever the day (docs/journal-export.md): every number of the
register's receipt series either in an event or in a note saying where it went; every
copy pointing at a receipt in the file; the events in the order they happened; the
öresavrundning visible, so that the articles, the means of payment and the totals of each
receipt and report add up; and each element's children in the reference's order.
"""

from __future__ import annotations

import re
import sqlite3
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from firmware_sim.control_unit import ControlUnit, Fault
from gateway.fiscal.errors import FiscalError
from gateway.fiscal.export.period import Period
from gateway.fiscal.export.skv import Register, export_skv
from gateway.fiscal.export.skv_xml import KOMPONENT_NS
from gateway.fiscal.journal import open_readonly
from gateway.fiscal.pipeline import Pipeline
from gateway.receipts.model import Line, LineKind, Payment, PaymentMethod, Receipt, ReceiptKind
from tests.fiscal.test_export_skv import REPORT_TAIL

PipelineFactory = Callable[..., Awaitable[Pipeline]]

K = f"{{{KOMPONENT_NS}}}"
CASH, CARD = PaymentMethod.CASH, PaymentMethod.CARD
REGISTER = Register(
    company="Kaffebaren i Växjö AB",
    orgnr="556036-0793",
    address="Storgatan 1, 352 30 Växjö",
    pos_id="KASSA1",
    manufacturing_number="TG-2025-000117",
    model="tillgw",
    program="tillgw gateway",
    version="0.1.0",
)

# The children of each element in the reference's order (skv-journal-export.md §8); an
# element's children must be these, in this order, optional ones possibly left out.
_COMPANY = ["ForetagetsNamn", "OrganisationsnummerEllerPersonnummer", "DenAdressDarForsaljningSker"]
_AMOUNTS = [
    "SaldaArtiklarLISTA",
    "TotaltForsaljningsbeloppISvenskaKronor",
    "MervardesskattPaForsaljningsbeloppet",
    "TotalaForsaljningssummorPerBetalningsmedelLISTA",
    "MervardesskattPaOlikaSkattesatserLISTA",
]
_IDENTITY = [
    "TillverkningsnummerForKassaregistret",
    "ModellbeteckningForKassaregistret",
    "ModellEllerProgramForKassaregistret",
    "VersionsnummerForKassaregistret",
]
_UNIT = ["LopnummerForZDagrapportPaKvitto", "TillverkningsnummerForKontrollenheten"]
ORDER = {
    "Kassakvitto": [
        *_COMPANY,
        "DatumOchKlockslagNarKvittoFramstalls",
        "LopnummerForKassakvitto",
        "Kassabeteckning",
        *_AMOUNTS,
        *_UNIT,
        "Kontrollkod",
    ],
    "Returkvitto": [
        *_COMPANY,
        "DatumOchKlockslagNarReturkvittoFramstalls",
        "LopnummerForKassakvitto",
        "Kassabeteckning",
        *_AMOUNTS,
        *_UNIT,
        "Kontrollkod",
    ],
    "KopiaAvKassakvitto": [
        *_COMPANY,
        "DatumOchKlockslagNarKvittoFramstalls",
        "DatumOchKlockslagNarOriginalkvittoFramstalldes",
        "LopnummerForKvittokopia",
        "LopnummerPaOriginalkvitto",
        "Kassabeteckning",
        *_AMOUNTS,
        "KontrollkodPaKopiaAvKassakvitto",
        *_UNIT,
        "KontrollkodForKvittotSomKopianAvser",
    ],
    "Ovningskvitto": [
        *_COMPANY,
        "DatumOchKlockslagNarKvittoFramstalls",
        "LopnummerForOvningskvitto",
        "Kassabeteckning",
        *_AMOUNTS,
        *_UNIT,
    ],
    "XDagrapport": [*_COMPANY[:2], "DatumOchKlockslagNarRapportFramstalls", "Kassabeteckning", *REPORT_TAIL],
    "ZDagrapport": [
        *_COMPANY[:2],
        "DatumOchKlockslagNarRapportFramstalls",
        "LopnummerForZDagrapport",
        "Kassabeteckning",
        *_IDENTITY,
        *REPORT_TAIL,
    ],
    "SaldArtikel": [
        "TypAvArtikel",
        "Artikelnummer",
        "Artikelnamn",
        "AntalAvSaldArtikel",
        "EnhetForViktLangdTidEllerVolym",
        "PrisPerEnhet",
        "PrisPaSaldArtikel",
        "RabatterPaSaldArtikelLISTA",
        "MervardesskattesatsForSaldArtikel",
        "MervardesskattPaSaldArtikel",
        "ArtikelnsRegistreringstidpunkt",
    ],
}
OPTIONAL = {"Artikelnummer", "EnhetForViktLangdTidEllerVolym", "RabatterPaSaldArtikelLISTA"}
RECEIPTS = ("Kassakvitto", "Returkvitto", "KopiaAvKassakvitto", "Ovningskvitto")


async def every_event(pipeline: Pipeline, unit: ControlUnit) -> None:
    """One of each: the receipt numbers are 1–4 sales and a return, 5 training, 6 pro forma, 7 after the Z."""
    await pipeline.record("cashier.login", {"cashier": "Anna"})
    await pipeline.record("float.change", {"amount": "1000.00", "cashier": "Anna", "note": "morgon"})
    coffee = Line("Bryggkaffe", Decimal(1), 25_30, 1200)
    # 1. cash 25,30 -> 25,00: rounded down 0,30 (an other registration that reduced sales).
    await pipeline.submit("r1", Receipt((coffee,), (Payment(CASH, 30_00),), cashier="Anna"))
    # 2. cash 2 × 54,90 + a service 150,00 = 259,80 -> 260,00: rounded up 0,20.
    await pipeline.submit(
        "r2",
        Receipt(
            (
                Line("Bryggkaffe 500 g", Decimal(2), 54_90, 1200),
                Line("Montering", Decimal(1), 150_00, 2500, kind=LineKind.SERVICE),
            ),
            (Payment(CASH, 300_00),),
            cashier="Anna",
        ),
    )
    # 3. card 80,00 after a receipt discount.
    await pipeline.submit(
        "r3", Receipt((Line("Kanelbulle", Decimal(3), 28_40, 1200),), (Payment(CARD, 80_00),), discount=5_20)
    )
    # 4. a return refunded in cash: −54,90 -> −55,00.
    await pipeline.submit(
        "r4", Receipt((Line("Bryggkaffe 500 g", Decimal(-1), 54_90, 1200),), (Payment(CASH, -54_90),))
    )
    training = Receipt((coffee,), (Payment(CARD, 25_30),), kind=ReceiptKind.TRAINING, cashier="Anna")
    await pipeline.submit("r5", training)
    pro_forma = Receipt((coffee,), (Payment(CARD, 25_30),), kind=ReceiptKind.PRO_FORMA, cashier="Anna")
    await pipeline.submit("r6", pro_forma)
    for number in (2, 4, 5, 6):  # a copy of a sale, a return, a training and a pro forma receipt
        await pipeline.copy(number)
    await pipeline.open_drawer("Anna")
    await pipeline.record(
        "price.change", {"article": "7310865004703", "new_price": "59.90", "cashier": "Anna"}
    )
    unit.faults.set(Fault.STORAGE_FULL)
    with pytest.raises(FiscalError):
        await pipeline.submit("r7", Receipt((Line("Te", Decimal(1), 20_00, 1200),), (Payment(CARD, 20_00),)))
    unit.faults.clear()
    await pipeline.report("x")
    await pipeline.report("z")
    await pipeline.submit("r8", Receipt((coffee,), (Payment(CARD, 25_30),), cashier="Bo"))
    await pipeline.record("cashier.logout", {"cashier": "Anna"})


@dataclass
class Day:
    database: Path
    counts: Counter[str]
    items: list[ET.Element]  # RegistreringLISTA's children, comments included
    raw: str


@pytest.fixture
async def day(unit: ControlUnit, unit_tcp: str, make_pipeline: PipelineFactory, tmp_path: Path) -> Day:
    pipeline = await make_pipeline(unit_tcp)
    await every_event(pipeline, unit)
    database = tmp_path / "till" / "till.db"
    path = tmp_path / "export.xml"
    today = date.today()
    with open_readonly(database) as conn:
        counts = export_skv(
            conn, REGISTER, Period(today - timedelta(days=1), today + timedelta(days=1)), path
        )
    raw = path.read_text(encoding="utf-8")
    # Well-formed, and read with its comments: they are the notes of what has no element.
    root = ET.fromstring(raw, parser=ET.XMLParser(target=ET.TreeBuilder(insert_comments=True)))
    registrations = root.find(K + "RegistreringLISTA")
    assert registrations is not None
    return Day(database, counts, list(registrations), raw)


def is_note(item: ET.Element) -> bool:
    return item.tag is ET.Comment  # type: ignore[comparison-overlap]


def handelser(day: Day) -> list[ET.Element]:
    return [item for item in day.items if not is_note(item)]


def notes(day: Day) -> list[str]:
    return [str(item.text).strip() for item in day.items if is_note(item)]


def name(element: ET.Element) -> str:
    assert element.tag.startswith(K), element.tag
    return element.tag[len(K) :]


def event(handelse: ET.Element) -> ET.Element:
    return handelse[-1]


def text(element: ET.Element, child: str) -> str:
    found = element.find(K + child)
    assert found is not None, f"{child} missing in {element.tag}"
    return found.text or ""


def children(element: ET.Element, child: str) -> list[ET.Element]:
    found = element.find(K + child)
    assert found is not None, f"{child} missing in {element.tag}"
    return list(found)


def amount(value: str) -> Decimal:
    return Decimal(value)


def of_kind(day: Day, kind: str) -> list[ET.Element]:
    return [event(h) for h in handelser(day) if name(event(h)) == kind]


async def test_what_the_day_exports(day: Day) -> None:
    assert day.counts == Counter(
        {
            "Kassakvitto": 4,  # 1, 2, 3 and 7
            "Returkvitto": 1,
            "KopiaAvKassakvitto": 2,  # of the sale and of the return
            "Ovningskvitto": 2,  # the training receipt and its copy
            "XDagrapport": 1,
            "ZDagrapport": 1,
            "InloggningIKassaregister": 1,
            "UtloggningUrKassaregister": 1,
        }
    )
    said = notes(day)
    assert len(said) == 6
    assert [words.split(" ")[1].rstrip(":") for words in said] == [
        "Växelkassa",
        "Pro",  # the pro forma receipt
        "Kopia",  # of the pro forma receipt
        "Lådöppning",
        "Prisändring",
        "Oavslutad",  # the refused sale
    ]
    assert any("Pro forma-kvitto (ej kvitto) nr 6" in words for words in said)
    assert any("Kopia av pro forma-kvitto (ej kvitto) nr 6" in words for words in said)
    assert any("kvitto nr 7" in words and "nekat av kontrollenheten" in words for words in said)
    assert any("Växelkassa insatt 1000 kr, kassör Anna (morgon)" in words for words in said)


async def test_no_gap_in_the_receipt_series_or_the_z_series(day: Day) -> None:
    numbers: set[int] = set()
    for receipt in of_kind(day, "Kassakvitto") + of_kind(day, "Returkvitto"):
        numbers.add(int(text(receipt, "LopnummerForKassakvitto")))
    for receipt in of_kind(day, "Ovningskvitto"):
        numbers.add(int(text(receipt, "LopnummerForOvningskvitto")))
    in_events = set(numbers)
    for words in notes(day):
        found = re.search(r"^\S+ Pro forma-kvitto \(ej kvitto\) nr (\d+)", words)
        if found:
            numbers.add(int(found[1]))
    assert in_events == {1, 2, 3, 4, 5, 7}
    assert sorted(numbers) == list(range(1, 8))  # every number an event, or noted where it went
    z_numbers = [int(text(z, "LopnummerForZDagrapport")) for z in of_kind(day, "ZDagrapport")]
    assert z_numbers == [1]


async def test_every_copy_points_at_a_receipt_in_the_file(day: Day) -> None:
    originals = {
        int(text(r, "LopnummerForKassakvitto")): r
        for r in of_kind(day, "Kassakvitto") + of_kind(day, "Returkvitto")
    }
    copies = of_kind(day, "KopiaAvKassakvitto")
    assert [int(text(c, "LopnummerPaOriginalkvitto")) for c in copies] == [2, 4]
    for copy in copies:
        original = originals[int(text(copy, "LopnummerPaOriginalkvitto"))]
        assert text(copy, "KontrollkodForKvittotSomKopianAvser") == text(original, "Kontrollkod") != ""
        made = "DatumOchKlockslagNar" + ("Returkvitto" if name(original) == "Returkvitto" else "Kvitto")
        assert text(copy, "DatumOchKlockslagNarOriginalkvittoFramstalldes") == text(
            original, made + "Framstalls"
        )
        assert text(copy, "TotaltForsaljningsbeloppISvenskaKronor") == text(
            original, "TotaltForsaljningsbeloppISvenskaKronor"
        )
    # The copy of the training receipt is a training print: an Ovningskvitto like its original.
    training = of_kind(day, "Ovningskvitto")
    assert [text(t, "LopnummerForOvningskvitto") for t in training] == ["5", "5"]
    for receipt in training:
        assert (
            receipt.find(K + "Kontrollkod") is None
            and receipt.find(K + "KontrollkodForKvittotSomKopianAvser") is None
        )


async def test_events_and_notes_are_in_the_order_they_happened(day: Day) -> None:
    """Each event and note is traced to its journal entry: their numbers only go up."""
    with sqlite3.connect(day.database) as conn:
        pending = {
            (str(kind), int(number)): int(seq)
            for seq, kind, number in conn.execute(
                "SELECT json_extract(r.body, '$.pending'), json_extract(r.body, '$.type'), "
                "json_extract(r.body, '$.receipt_no') FROM journal r WHERE r.kind = 'receipt'"
            )
        }
        of_kind_seqs = {
            kind: [
                int(row[0])
                for row in conn.execute("SELECT seq FROM journal WHERE kind = ? ORDER BY seq", (kind,))
            ]
            for kind in ("report.x", "report.z", "cashier.login", "cashier.logout")
        }
    training_seen = 0
    taken: Counter[str] = Counter()
    seqs = []
    for item in day.items:
        if is_note(item):
            found = re.search(r"Journalpost (\d+)", str(item.text))
            assert found, item.text
            seqs.append(int(found[1]))
            continue
        kind = name(event(item))
        receipt = event(item)
        if kind in ("Kassakvitto", "Returkvitto"):
            seqs.append(pending[("normal", int(text(receipt, "LopnummerForKassakvitto")))])
        elif kind == "KopiaAvKassakvitto":
            seqs.append(pending[("kopia", int(text(receipt, "LopnummerForKvittokopia")))])
        elif kind == "Ovningskvitto":  # the training receipt, then its copy
            training_seen += 1
            seqs.append(pending[("ovning" if training_seen == 1 else "kopia", 5)])
        else:
            journal_kind = {
                "XDagrapport": "report.x",
                "ZDagrapport": "report.z",
                "InloggningIKassaregister": "cashier.login",
                "UtloggningUrKassaregister": "cashier.logout",
            }[kind]
            seqs.append(of_kind_seqs[journal_kind][taken[journal_kind]])
            taken[journal_kind] += 1
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    moments = [text(h, "Registreringstidpunkt") for h in handelser(day)]
    assert moments == sorted(moments)


async def test_the_rounding_is_visible_and_every_sum_adds_up(day: Day) -> None:
    rounded = {}
    for kind in RECEIPTS:
        for receipt in of_kind(day, kind):
            articles = children(receipt, "SaldaArtiklarLISTA")
            total = amount(text(receipt, "TotaltForsaljningsbeloppISvenskaKronor"))
            assert sum(amount(text(a, "PrisPaSaldArtikel")) for a in articles) == total
            paid = children(receipt, "TotalaForsaljningssummorPerBetalningsmedelLISTA")
            assert sum(amount(text(p, "ForsaljningssummaPerBetalningsmedel")) for p in paid) == total
            vat = amount(text(receipt, "MervardesskattPaForsaljningsbeloppet"))
            assert sum(amount(text(a, "MervardesskattPaSaldArtikel")) for a in articles) == vat
            rates = children(receipt, "MervardesskattPaOlikaSkattesatserLISTA")
            assert sum(amount(text(r, "TotaltMervardesskattebeloppPerSkattesats")) for r in rates) == vat
            rounding = [a for a in articles if text(a, "Artikelnamn") == "Öresavrundning"]
            if rounding:
                line = rounding[0]
                assert (text(line, "TypAvArtikel"), text(line, "MervardesskattesatsForSaldArtikel")) == (
                    "TJANST",
                    "0",
                )
                assert text(line, "MervardesskattPaSaldArtikel") == "0"
                assert amount(text(line, "PrisPerEnhet")) * amount(
                    text(line, "AntalAvSaldArtikel")
                ) == amount(text(line, "PrisPaSaldArtikel"))
                if kind in ("Kassakvitto", "Returkvitto"):
                    rounded[text(receipt, "LopnummerForKassakvitto")] = text(line, "PrisPaSaldArtikel")
    assert rounded == {"1": "-0.3", "2": "0.2", "4": "-0.1"}  # the cash receipts, and only they
    for kind in ("XDagrapport", "ZDagrapport"):
        (report,) = of_kind(day, kind)
        means = {
            text(p, "Betalningsmedel"): amount(text(p, "ForsaljningssummaPerBetalningsmedel"))
            for p in children(report, "TotalaForsaljningssummorPerBetalningsmedelLISTA")
        }
        # Cash as paid: 25 + 260 − 55; the rounding (−0,30 + 0,20 − 0,10) taken back out.
        assert means["Kontant"] == Decimal("230") and means["Öresavrundning"] == Decimal("0.2")
        assert sum(means.values()) == amount(text(report, "TotalForsaljningssumma"))
        assert amount(text(report, "TotalForsaljningssumma")) == Decimal("25.3") + Decimal(
            "259.8"
        ) + 80 - Decimal("54.9")
        # Rounded down on receipt 1 (0,30) and on the return (0,10): other registrations.
        assert text(report, "AntalOvrigaRegistreringarSomMinskatDagensForsaljningsbelopp") == "2"
        assert text(report, "TotaltBeloppAvOvrigaRegistreringarSomMinskatDagensForsaljningsbelopp") == "0.4"


async def test_each_element_holds_its_children_in_the_reference_order(day: Day) -> None:
    def check(element: ET.Element) -> None:
        expected = ORDER[name(element)]
        got = [name(c) for c in element]
        assert [n for n in expected if n in got] == got, name(element)  # in order, nothing else
        assert {n for n in expected if n not in got} <= OPTIONAL | {
            "KontrollkodPaKopiaAvKassakvitto",
            "LopnummerForOvningskvitto",
        }, name(element)

    for handelse in handelser(day):
        kind = name(event(handelse))
        assert [name(c) for c in handelse][-2:] == ["Registreringstidpunkt", kind]
        if kind in ORDER:
            check(event(handelse))
        if kind in RECEIPTS:
            for article in children(event(handelse), "SaldaArtiklarLISTA"):
                check(article)
    assert "<!-- " in day.raw and all("--" not in words for words in notes(day))
