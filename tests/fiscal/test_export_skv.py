"""The SKV journal export (SKVFS 2021:16) of a real journal: the pipeline, the simulated unit, SQLite.

The expected values are worked out by hand from the receipts of :func:`a_day` (the
working is in the comments there); the structure is checked element by element against
the reference's tree (``skv-journal-export.md`` §4–8).
"""

from __future__ import annotations

import asyncio
import sys
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.control_unit import ControlUnit, Fault
from gateway.common.clock import DEFAULT_ZONE_NAME, zone_named
from gateway.common.signing import Signer
from gateway.devices.control_units.interface import Registration
from gateway.fiscal.errors import FiscalError
from gateway.fiscal.export.period import ExportRefused, Period
from gateway.fiscal.export.skv import Register, export_skv
from gateway.fiscal.export.skv_xml import INSTANS_NS, KOMPONENT_NS, ROOT, decimal_text
from gateway.fiscal.journal import open_readonly
from gateway.fiscal.pipeline import Pipeline
from gateway.fiscal.receipt_entries import control_data, pending_body, receipt_body
from gateway.fiscal.receipt_text import Shop
from gateway.fiscal.store import Store, Writer
from gateway.receipts.model import Line, LineKind, Payment, PaymentMethod, Receipt, ReceiptKind, compute
from gateway.receipts.money import shortest_text
from protocols.skv import ReceiptType

PipelineFactory = Callable[..., Awaitable[Pipeline]]

K = f"{{{KOMPONENT_NS}}}"
CASH, CARD = PaymentMethod.CASH, PaymentMethod.CARD
COFFEE = "7310865004703"
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
UNIT_ID = "TGSIM000000000042"
CODE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567;ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def around_today() -> Period:
    """The pipeline stamps entries with the clock: yesterday to tomorrow holds them all."""
    today = date.today()
    return Period(today - timedelta(days=1), today + timedelta(days=1))


async def a_day(pipeline: Pipeline, unit: ControlUnit) -> dict[str, Any]:
    """Every kind of journal entry, through the real pipeline; returns what the tests need."""
    await pipeline.record("cashier.login", {"cashier": "Anna"})
    await pipeline.record("float.change", {"amount": "1000.00", "cashier": "Anna"})
    # 1. cash: 2 × 54,90 − 9,80 = 100,00 and 0.347 kg × 129,00 = 44,763 -> 44,76 at 12 %,
    #    a service 150,00 at 25 % = 294,76; cash rounds to 295,00 (change 5,00).
    #    VAT 12 %: 144,76 × 12/112 = 15,51; the lines' shares of 15,51 by 100,00 : 44,76:
    #    10,714… and 4,795… -> 10,71 and 4,79 + the öre left (largest remainder) = 4,80.
    #    VAT 25 %: 150,00 × 25/125 = 30,00. Total VAT 45,51.
    first = await pipeline.submit(
        "r1",
        Receipt(
            (
                Line("Bryggkaffe 500 g", Decimal(2), 54_90, 1200, discount=9_80, article=COFFEE),
                Line("Lösvikt godis", Decimal("0.347"), 129_00, 1200),
                Line("Montering", Decimal(1), 150_00, 2500, kind=LineKind.SERVICE),
            ),
            (Payment(CASH, 300_00),),
            cashier="Anna",
        ),
    )
    # 2. card, receipt discount: 3 × 28,40 = 85,20 − 5,20 = 80,00; VAT 80 × 12/112 = 8,57.
    await pipeline.submit(
        "r2",
        Receipt((Line("Kanelbulle", Decimal(3), 28_40, 1200),), (Payment(CARD, 80_00),), discount=5_20),
    )
    # 3. a return of one coffee to the card: −54,90, VAT −5,88.
    await pipeline.submit(
        "r3",
        Receipt(
            (Line("Bryggkaffe 500 g", Decimal(-1), 54_90, 1200, article=COFFEE),), (Payment(CARD, -54_90),)
        ),
    )
    copy = await pipeline.copy(1)
    await pipeline.submit(
        "r4",
        Receipt(
            (Line("Kaffe", Decimal(1), 25_00, 1200),), (Payment(CARD, 25_00),), kind=ReceiptKind.TRAINING
        ),
    )
    await pipeline.submit(
        "r5",
        Receipt(
            (Line("Kaffe", Decimal(1), 25_00, 1200),), (Payment(CARD, 25_00),), kind=ReceiptKind.PRO_FORMA
        ),
    )
    await pipeline.open_drawer("Anna")
    await pipeline.record("price.change", {"article": COFFEE, "new_price": "59.90", "cashier": "Anna"})
    unit.faults.set(Fault.STORAGE_FULL)
    with pytest.raises(FiscalError):
        await pipeline.submit("r6", Receipt((Line("Te", Decimal(1), 20_00, 1200),), (Payment(CARD, 20_00),)))
    unit.faults.clear()
    await pipeline.store.transact(lambda w: w.append("customer.change", {"number": "K-1", "name": "Bo AB"}))
    await pipeline.report("x")
    await pipeline.report("z")
    # After the Z: its receipts belong to Z number 2.
    after = await pipeline.submit(
        "r7", Receipt((Line("Kaffe", Decimal(1), 25_00, 1200),), (Payment(CARD, 25_00),), cashier="Bo")
    )
    await pipeline.record("cashier.logout", {"cashier": "Anna"})
    return {"first": first, "copy": copy, "after": after}


async def exported(tmp_path: Path, register: Register = REGISTER, period: Period | None = None) -> ET.Element:
    path = tmp_path / "export.xml"
    with open_readonly(tmp_path / "till" / "till.db") as conn:
        export_skv(conn, register, period or around_today(), path, user="revisor1")
    return ET.parse(path).getroot()


@dataclass
class DayExported:
    pipeline: Pipeline
    day: dict[str, Any]  # what :func:`a_day` returned
    root: ET.Element  # the export of the day


@pytest.fixture
async def exported_day(
    unit: ControlUnit, unit_tcp: str, make_pipeline: PipelineFactory, tmp_path: Path
) -> DayExported:
    """:func:`a_day` through the real pipeline, then exported (tmp_path/export.xml)."""
    pipeline = await make_pipeline(unit_tcp)
    day = await a_day(pipeline, unit)
    return DayExported(pipeline, day, await exported(tmp_path))


def names(element: ET.Element) -> list[str]:
    """The children's names, checking each is in the komponent namespace."""
    out = []
    for child in element:
        assert child.tag.startswith(K), child.tag
        out.append(child.tag[len(K) :])
    return out


def child(element: ET.Element, name: str) -> ET.Element:
    found = element.find(K + name)
    assert found is not None, f"{name} missing in {element.tag}"
    return found


def text(element: ET.Element, name: str) -> str:
    return child(element, name).text or ""


def leaves(element: ET.Element) -> dict[str, str]:
    return {name: (c.text or "") for name, c in zip(names(element), element, strict=True) if len(c) == 0}


def events(root: ET.Element) -> list[ET.Element]:
    return list(child(root, "RegistreringLISTA"))


def event_of(handelse: ET.Element) -> ET.Element:
    return handelse[-1]


def by_kind(root: ET.Element, kind: str) -> list[ET.Element]:
    return [h for h in events(root) if names(h)[-1] == kind]


def iso(moment: str) -> str:
    """The export's form of a journal time: the shop's local time, to the second, no offset."""
    return (
        datetime.fromisoformat(moment).astimezone(zone_named(DEFAULT_ZONE_NAME)).strftime("%Y-%m-%dT%H:%M:%S")
    )


# -- the document, the header and the company ------------------------------------------------


async def test_document_header_and_company_blocks(exported_day: DayExported, tmp_path: Path) -> None:
    pipeline, root = exported_day.pipeline, exported_day.root
    raw = (tmp_path / "export.xml").read_text(encoding="utf-8")
    assert raw.startswith('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n')
    assert f'<utrein:{ROOT} xmlns:utrein="{INSTANS_NS}" xmlns:utreko="{KOMPONENT_NS}">' in raw
    assert "<utreko:Handelse>" in raw and "xsi:nil" not in raw
    assert root.tag == f"{{{INSTANS_NS}}}{ROOT}" and not root.attrib
    assert names(root) == [
        "InloggadAnvandareVidExportAvDataFranJournalminnet",
        "BeteckningPaDetKassaregisterSomExportAvDataFranJournalminnetSkerIfran",
        "TidpunktForNarExportAvDataFranJournalminnetSker",
        "ValdPeriodForExportAvDataFranJournalminne",
        "BeteckningPaValdaKassaregisterForExportAvDataFranJournalminnenLISTA",
        "InformationOmForetaget",
        "KassaregistersystemLISTA",
        "RegistreringLISTA",
    ]
    assert text(root, "InloggadAnvandareVidExportAvDataFranJournalminnet") == "revisor1"
    assert text(root, "BeteckningPaDetKassaregisterSomExportAvDataFranJournalminnetSkerIfran") == "KASSA1"
    made = text(root, "TidpunktForNarExportAvDataFranJournalminnetSker")
    assert datetime.strptime(made, "%Y-%m-%dT%H:%M:%S")  # no fractions, no offset
    period = around_today()
    assert leaves(child(root, "ValdPeriodForExportAvDataFranJournalminne")) == {
        "ValdStarttidpunktForExportAvDataFranJournalminnet": f"{period.start}T00:00:00",
        "ValdSluttidpunktForExportAvDataFranJournalminnet": f"{period.end}T23:59:59",
    }
    chosen = child(root, "BeteckningPaValdaKassaregisterForExportAvDataFranJournalminnenLISTA")
    assert names(chosen) == ["BeteckningPaValtKassaregisterForExportAvDataFranJournalminnet"]
    assert chosen[0].text == "KASSA1"
    company = child(root, "InformationOmForetaget")
    assert names(company) == [
        "OrganisationsnummerEllerPersonnummer",
        "ForetagetsNamn",
        "DenAdressDarForsaljningSker",
    ]
    assert leaves(company) == {
        "OrganisationsnummerEllerPersonnummer": "5560360793",  # digits only
        "ForetagetsNamn": "Kaffebaren i Växjö AB",
        "DenAdressDarForsaljningSker": "Storgatan 1, 352 30 Växjö",
    }
    systems = child(root, "KassaregistersystemLISTA")
    assert names(systems) == ["Kassaregistersystemet"]
    system = systems[0]
    assert names(system) == [
        "TillverkningsnummerForKassaregistret",
        "ModellbeteckningForKassaregistret",
        "ModellEllerProgramForKassaregistret",
        "VersionsnummerForKassaregistret",
        "Kassabeteckning",
        "TillverkningsnummerForKontrollenheten",
    ]
    first_unit_id = await pipeline.find(1)
    assert first_unit_id is not None
    assert leaves(system) == {
        "TillverkningsnummerForKassaregistret": "TG-2025-000117",
        "ModellbeteckningForKassaregistret": "tillgw",
        "ModellEllerProgramForKassaregistret": "tillgw gateway",
        "VersionsnummerForKassaregistret": "0.1.0",
        "Kassabeteckning": "KASSA1",
        "TillverkningsnummerForKontrollenheten": first_unit_id.unit_id,
    }


async def test_which_entries_become_events_and_their_order(exported_day: DayExported) -> None:
    root = exported_day.root
    kinds = sorted(names(h)[-1] for h in events(root))
    # Not events (noted as comments): the pro forma receipt, the refused one, the drawer
    # opening, the price and float changes. Left out: customer and printing entries.
    assert kinds == sorted(
        ["InloggningIKassaregister", "UtloggningUrKassaregister", "XDagrapport", "ZDagrapport"]
        + ["Kassakvitto"] * 3
        + ["Returkvitto", "KopiaAvKassakvitto", "Ovningskvitto"]
    )
    moments = [text(h, "Registreringstidpunkt") for h in events(root)]
    assert moments == sorted(moments)  # by time; within one second in journal order (test_export_skv_day)
    for h in events(root):
        common = names(h)[:-1]
        assert common in (
            ["InloggadAnvandare", "Kassabeteckning", "Registreringstidpunkt"],
            ["Kassabeteckning", "Registreringstidpunkt"],
        )
        assert text(h, "Kassabeteckning") == "KASSA1"


# -- the receipts ----------------------------------------------------------------------------

RECEIPT_TAIL = [
    "Kassabeteckning",
    "SaldaArtiklarLISTA",
    "TotaltForsaljningsbeloppISvenskaKronor",
    "MervardesskattPaForsaljningsbeloppet",
    "TotalaForsaljningssummorPerBetalningsmedelLISTA",
    "MervardesskattPaOlikaSkattesatserLISTA",
    "LopnummerForZDagrapportPaKvitto",
    "TillverkningsnummerForKontrollenheten",
]
COMPANY = ["ForetagetsNamn", "OrganisationsnummerEllerPersonnummer", "DenAdressDarForsaljningSker"]


def articles(receipt: ET.Element) -> list[dict[str, Any]]:
    out = []
    for article in child(receipt, "SaldaArtiklarLISTA"):
        fields: dict[str, Any] = leaves(article)
        fields["order"] = names(article)
        if article.find(K + "RabatterPaSaldArtikelLISTA") is not None:
            discounts = child(article, "RabatterPaSaldArtikelLISTA")
            assert names(discounts) == ["RabattPaSaldArtikel"]
            assert names(discounts[0]) == ["RabattensBelopp"]
            fields["discount"] = discounts[0][0].text
        out.append(fields)
    return out


def pairs(receipt: ET.Element, listname: str) -> list[tuple[str, str]]:
    return [tuple(c.text or "" for c in item) for item in child(receipt, listname)]  # type: ignore[misc]


async def test_sales_receipt_element_by_element(exported_day: DayExported) -> None:
    day, root = exported_day.day, exported_day.root
    handelse = by_kind(root, "Kassakvitto")[0]
    assert names(handelse) == ["InloggadAnvandare", "Kassabeteckning", "Registreringstidpunkt", "Kassakvitto"]
    first = day["first"]
    assert text(handelse, "InloggadAnvandare") == "Anna"
    assert text(handelse, "Registreringstidpunkt") == iso(first.at)
    receipt = event_of(handelse)
    assert names(receipt) == [
        *COMPANY,
        "DatumOchKlockslagNarKvittoFramstalls",
        "LopnummerForKassakvitto",
        *RECEIPT_TAIL,
        "Kontrollkod",
    ]
    assert leaves(receipt) == {
        "ForetagetsNamn": "Kaffebaren i Växjö AB",
        "OrganisationsnummerEllerPersonnummer": "5560360793",
        "DenAdressDarForsaljningSker": "Storgatan 1, 352 30 Växjö",
        "DatumOchKlockslagNarKvittoFramstalls": iso(first.at),
        "LopnummerForKassakvitto": "1",
        "Kassabeteckning": "KASSA1",
        "TotaltForsaljningsbeloppISvenskaKronor": "295",
        "MervardesskattPaForsaljningsbeloppet": "45.51",
        "LopnummerForZDagrapportPaKvitto": "1",
        "TillverkningsnummerForKontrollenheten": first.unit_id,
        "Kontrollkod": first.control_code,
    }
    article_order = ["TypAvArtikel", "Artikelnummer", "Artikelnamn", "AntalAvSaldArtikel", "PrisPerEnhet"]
    article_order += ["PrisPaSaldArtikel", "RabatterPaSaldArtikelLISTA", "MervardesskattesatsForSaldArtikel"]
    article_order += ["MervardesskattPaSaldArtikel", "ArtikelnsRegistreringstidpunkt"]
    at = iso(first.at)
    assert articles(receipt) == [
        {
            "order": article_order,
            "TypAvArtikel": "VARA",
            "Artikelnummer": COFFEE,
            "Artikelnamn": "Bryggkaffe 500 g",
            "AntalAvSaldArtikel": "2",
            "PrisPerEnhet": "54.9",
            "PrisPaSaldArtikel": "100",
            "discount": "9.8",
            "MervardesskattesatsForSaldArtikel": "12",
            "MervardesskattPaSaldArtikel": "10.71",
            "ArtikelnsRegistreringstidpunkt": at,
        },
        {  # no article number: left out; the weight rounded to 2 decimals
            "order": [n for n in article_order if n not in ("Artikelnummer", "RabatterPaSaldArtikelLISTA")],
            "TypAvArtikel": "VARA",
            "Artikelnamn": "Lösvikt godis",
            "AntalAvSaldArtikel": "0.35",
            "PrisPerEnhet": "129",
            "PrisPaSaldArtikel": "44.76",
            "MervardesskattesatsForSaldArtikel": "12",
            "MervardesskattPaSaldArtikel": "4.8",
            "ArtikelnsRegistreringstidpunkt": at,
        },
        {
            "order": [n for n in article_order if n not in ("Artikelnummer", "RabatterPaSaldArtikelLISTA")],
            "TypAvArtikel": "TJANST",
            "Artikelnamn": "Montering",
            "AntalAvSaldArtikel": "1",
            "PrisPerEnhet": "150",
            "PrisPaSaldArtikel": "150",
            "MervardesskattesatsForSaldArtikel": "25",
            "MervardesskattPaSaldArtikel": "30",
            "ArtikelnsRegistreringstidpunkt": at,
        },
        {  # cash rounded 294,76 -> 295,00: the articles add up to the total to pay
            "order": [n for n in article_order if n not in ("Artikelnummer", "RabatterPaSaldArtikelLISTA")],
            "TypAvArtikel": "TJANST",
            "Artikelnamn": "Öresavrundning",
            "AntalAvSaldArtikel": "1",
            "PrisPerEnhet": "0.24",
            "PrisPaSaldArtikel": "0.24",
            "MervardesskattesatsForSaldArtikel": "0",
            "MervardesskattPaSaldArtikel": "0",
            "ArtikelnsRegistreringstidpunkt": at,
        },
    ]
    payments = child(receipt, "TotalaForsaljningssummorPerBetalningsmedelLISTA")
    assert names(payments) == ["TotalForsaljningssummaPerBetalningsmedel"]
    assert names(payments[0]) == ["Betalningsmedel", "ForsaljningssummaPerBetalningsmedel"]
    assert pairs(receipt, "TotalaForsaljningssummorPerBetalningsmedelLISTA") == [("Kontant", "295")]
    vat = child(receipt, "MervardesskattPaOlikaSkattesatserLISTA")
    assert set(names(vat)) == {"MervardesskattPerSkattesats"}
    assert names(vat[0]) == ["Mervardesskattesats", "TotaltMervardesskattebeloppPerSkattesats"]
    assert pairs(receipt, "MervardesskattPaOlikaSkattesatserLISTA") == [("25", "30"), ("12", "15.51")]
    # The receipt discount is the line's discount; the sale without a cashier has no user.
    second = by_kind(root, "Kassakvitto")[1]
    assert names(second)[0] == "Kassabeteckning"
    assert articles(event_of(second))[0]["discount"] == "5.2"
    assert text(event_of(second), "MervardesskattPaForsaljningsbeloppet") == "8.57"
    assert pairs(event_of(second), "TotalaForsaljningssummorPerBetalningsmedelLISTA") == [("Kort", "80")]
    # A sale after the Z report belongs to the next one.
    third = event_of(by_kind(root, "Kassakvitto")[2])
    assert (text(third, "LopnummerForKassakvitto"), text(third, "LopnummerForZDagrapportPaKvitto")) == (
        "6",
        "2",
    )


async def test_return_copy_and_training_receipts(exported_day: DayExported) -> None:
    day, root = exported_day.day, exported_day.root

    returned = event_of(by_kind(root, "Returkvitto")[0])
    assert names(returned) == [
        *COMPANY,
        "DatumOchKlockslagNarReturkvittoFramstalls",
        "LopnummerForKassakvitto",
        *RECEIPT_TAIL,
        "Kontrollkod",
    ]
    assert text(returned, "LopnummerForKassakvitto") == "3"
    assert text(returned, "TotaltForsaljningsbeloppISvenskaKronor") == "-54.9"
    assert text(returned, "MervardesskattPaForsaljningsbeloppet") == "-5.88"
    line = articles(returned)[0]
    assert (line["AntalAvSaldArtikel"], line["PrisPerEnhet"], line["PrisPaSaldArtikel"]) == (
        "-1",
        "54.9",
        "-54.9",
    )
    assert pairs(returned, "TotalaForsaljningssummorPerBetalningsmedelLISTA") == [("Kort", "-54.9")]

    first, copy = day["first"], day["copy"]
    copied = by_kind(root, "KopiaAvKassakvitto")[0]
    assert text(copied, "Registreringstidpunkt") == iso(copy.at)  # when the copy was made
    copied = event_of(copied)
    assert names(copied) == [
        *COMPANY,
        "DatumOchKlockslagNarKvittoFramstalls",
        "DatumOchKlockslagNarOriginalkvittoFramstalldes",
        "LopnummerForKvittokopia",
        "LopnummerPaOriginalkvitto",
        "Kassabeteckning",
        "SaldaArtiklarLISTA",
        "TotaltForsaljningsbeloppISvenskaKronor",
        "MervardesskattPaForsaljningsbeloppet",
        "TotalaForsaljningssummorPerBetalningsmedelLISTA",
        "MervardesskattPaOlikaSkattesatserLISTA",
        "KontrollkodPaKopiaAvKassakvitto",
        "LopnummerForZDagrapportPaKvitto",
        "TillverkningsnummerForKontrollenheten",
        "KontrollkodForKvittotSomKopianAvser",
    ]
    assert text(copied, "DatumOchKlockslagNarKvittoFramstalls") == iso(copy.at)
    assert text(copied, "DatumOchKlockslagNarOriginalkvittoFramstalldes") == iso(first.at)
    assert (text(copied, "LopnummerForKvittokopia"), text(copied, "LopnummerPaOriginalkvitto")) == ("1", "1")
    assert text(copied, "KontrollkodPaKopiaAvKassakvitto") == copy.control_code
    assert text(copied, "KontrollkodForKvittotSomKopianAvser") == first.control_code != copy.control_code
    assert copied.find(K + "Kontrollkod") is None and copied.find(K + "Avstamningskod") is None
    assert text(copied, "TotaltForsaljningsbeloppISvenskaKronor") == "295"
    assert len(articles(copied)) == 4  # with the öresavrundning

    training = event_of(by_kind(root, "Ovningskvitto")[0])
    assert names(training) == [
        *COMPANY,
        "DatumOchKlockslagNarKvittoFramstalls",
        "LopnummerForOvningskvitto",
        *RECEIPT_TAIL,
    ]
    assert text(training, "LopnummerForOvningskvitto") == "4"
    for receipt in [returned, training, *map(event_of, by_kind(root, "Kassakvitto"))]:
        assert receipt.find(K + "Avstamningskod") is None  # a control unit: never the system's code
        assert receipt.find(K + "TillverkningsnummerForKontrollsystemet") is None


# -- reports and logins ----------------------------------------------------------------------

REPORT_TAIL = [
    "TotalForsaljningssumma",
    "MervardesskattPaOlikaSkattesatserLISTA",
    "VaxelkassansBeloppISvenskaKronor",
    "AntalKassakvitton",
    "AntalKassaladoppningar",
    "AntalKvittokopior",
    "TotaltBeloppPaKvittokopior",
    "AntalKvittonSomTagitsFramIOvningslage",
    "TotalaForsaljningssummorPerBetalningsmedelLISTA",
    "AntalReturer",
    "ReturernasBelopp",
    "RabatternasBelopp",
    "AntalOvrigaRegistreringarSomMinskatDagensForsaljningsbelopp",
    "TotaltBeloppAvOvrigaRegistreringarSomMinskatDagensForsaljningsbelopp",
    "AntalOavslutadeForsaljningar",
    "TotaltBeloppAvOavslutadeForsaljningar",
    "GrandTotalForsaljning",
    "GrandTotalRetur",
    "GrandTotalNetto",
]


async def test_x_and_z_reports_logins_and_logouts(exported_day: DayExported) -> None:
    root = exported_day.root
    x = event_of(by_kind(root, "XDagrapport")[0])
    assert names(x) == [
        "ForetagetsNamn",
        "OrganisationsnummerEllerPersonnummer",
        "DatumOchKlockslagNarRapportFramstalls",
        "Kassabeteckning",
        *REPORT_TAIL,
    ]
    z_handelse = by_kind(root, "ZDagrapport")[0]
    assert names(z_handelse)[:-1] == ["Kassabeteckning", "Registreringstidpunkt"]  # no cashier on a report
    z = event_of(z_handelse)
    assert names(z) == [
        "ForetagetsNamn",
        "OrganisationsnummerEllerPersonnummer",
        "DatumOchKlockslagNarRapportFramstalls",
        "LopnummerForZDagrapport",
        "Kassabeteckning",
        "TillverkningsnummerForKassaregistret",
        "ModellbeteckningForKassaregistret",
        "ModellEllerProgramForKassaregistret",
        "VersionsnummerForKassaregistret",
        *REPORT_TAIL,
    ]
    assert text(z, "DatumOchKlockslagNarRapportFramstalls") == text(z_handelse, "Registreringstidpunkt")
    # Sales 294,76 + 80,00, returns 54,90. VAT 45,51 + 8,57 − 5,88: 25 % 30,00, 12 % 18,20.
    assert leaves(z) == {
        "ForetagetsNamn": "Kaffebaren i Växjö AB",
        "OrganisationsnummerEllerPersonnummer": "5560360793",
        "DatumOchKlockslagNarRapportFramstalls": text(z_handelse, "Registreringstidpunkt"),
        "LopnummerForZDagrapport": "1",
        "Kassabeteckning": "KASSA1",
        "TillverkningsnummerForKassaregistret": "TG-2025-000117",
        "ModellbeteckningForKassaregistret": "tillgw",
        "ModellEllerProgramForKassaregistret": "tillgw gateway",
        "VersionsnummerForKassaregistret": "0.1.0",
        "TotalForsaljningssumma": "319.86",  # 294,76 + 80,00 − 54,90 (before öresavrundning)
        "VaxelkassansBeloppISvenskaKronor": "1000",
        "AntalKassakvitton": "3",
        "AntalKassaladoppningar": "1",
        "AntalKvittokopior": "1",
        "TotaltBeloppPaKvittokopior": "294.76",
        "AntalKvittonSomTagitsFramIOvningslage": "1",
        "AntalReturer": "1",
        "ReturernasBelopp": "54.9",
        "RabatternasBelopp": "15",
        "AntalOvrigaRegistreringarSomMinskatDagensForsaljningsbelopp": "0",
        "TotaltBeloppAvOvrigaRegistreringarSomMinskatDagensForsaljningsbelopp": "0",
        "AntalOavslutadeForsaljningar": "1",
        "TotaltBeloppAvOavslutadeForsaljningar": "20",
        "GrandTotalForsaljning": "374.76",
        "GrandTotalRetur": "54.9",
        "GrandTotalNetto": "319.86",
    }
    assert pairs(z, "MervardesskattPaOlikaSkattesatserLISTA") == [
        ("25", "30"),
        ("12", "18.2"),
        ("6", "0"),
        ("0", "0"),
    ]
    assert pairs(z, "TotalaForsaljningssummorPerBetalningsmedelLISTA") == [
        ("Kontant", "295"),
        ("Kort", "25.1"),
        ("Presentkort", "0"),
        ("Swish", "0"),
        ("Annat betalningsmedel", "0"),
        ("Öresavrundning", "-0.24"),  # taken back out: the list adds up to TotalForsaljningssumma
    ]
    for kind, element in (("InloggningIKassaregister", "login"), ("UtloggningUrKassaregister", "logout")):
        handelse = by_kind(root, kind)[0]
        assert names(handelse) == ["InloggadAnvandare", "Kassabeteckning", "Registreringstidpunkt", kind], (
            element
        )
        assert text(handelse, "InloggadAnvandare") == "Anna"
        assert event_of(handelse).text == "JA" and len(event_of(handelse)) == 0


# -- value formats ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1234.50"), "1234.5"),
        (Decimal("25.00"), "25"),
        (Decimal("59.80"), "59.8"),
        (Decimal("-299"), "-299"),
        (Decimal("0.347"), "0.35"),
        (Decimal("0.345"), "0.35"),  # halves away from zero
        (Decimal("-0.345"), "-0.35"),
        (Decimal("-0.001"), "0"),
        (Decimal("1000000"), "1000000"),
    ],
)
def test_decimals_are_rounded_to_two_with_trailing_zeros_dropped(value: Decimal, expected: str) -> None:
    assert decimal_text(value) == expected


def test_amounts_in_ore() -> None:
    assert [shortest_text(v) for v in (12350, 100, 5, -5490, 0)] == ["123.5", "1", "0.05", "-54.9", "0"]


# -- writing entries quickly (Store.transact), at chosen times ----------------------------------


def write_sale(
    w: Writer, number: int, moment: datetime, *, cashier: str | None = None, text: str = "Kaffe"
) -> None:
    """A receipt's pending and receipt entries as the pipeline writes them, stamped ``moment``."""
    receipt = Receipt((Line(text, Decimal(1), 25_00, 1200),), (Payment(CARD, 25_00),), cashier=cashier)
    totals = compute(receipt)
    shop = Shop(REGISTER.company, "5560360793", ("Storgatan 1",))
    data = control_data(shop, "KASSA1", number, moment, ReceiptType.NORMAL, totals)
    w.at = moment
    body = pending_body(data, moment, number, receipt)
    pending = w.append("receipt.pending", body)
    registration = Registration(number, CODE, UNIT_ID, None, None, (), 1)
    w.append("receipt", receipt_body(body, pending.seq, registration, totals))


def write_event(w: Writer, kind: str, moment: datetime, body: dict[str, Any]) -> None:
    w.at = moment
    w.append(kind, {**body, "pos_id": "KASSA1"})


def day_at(hour: int, minute: int = 0, second: int = 0, day: int = 1) -> datetime:
    return datetime(2025, 3, day, hour, minute, second, tzinfo=zone_named(DEFAULT_ZONE_NAME))


async def journal(tmp_path: Path, signer: Signer, write: Callable[[Writer], None]) -> Path:
    path = tmp_path / "till" / "till.db"
    store = await Store.open(path, signer)
    try:
        await store.transact(write)
    finally:
        await store.close()
    return path


def export_to(path: Path, period: Period, register: Register = REGISTER) -> ET.Element:
    out = path.parent / "export.xml"
    with open_readonly(path) as conn:
        export_skv(conn, register, period, out)
    return ET.parse(out).getroot()


MARCH_1 = Period(date(2025, 3, 1), date(2025, 3, 1))


async def test_events_are_sorted_by_time_whatever_order_they_were_appended(
    tmp_path: Path, signer: Signer
) -> None:
    def write(w: Writer) -> None:
        write_event(w, "cashier.login", day_at(9, 0, 10), {"cashier": "Bo"})
        # A second process (`tillgw report` from a shell) that waited for the write lock:
        # its entry is stamped a little before the one appended first.
        write_event(w, "cashier.login", day_at(9, 0, 5), {"cashier": "Anna"})
        write_event(w, "cashier.logout", day_at(9, 30), {"cashier": "Bo"})
        write_sale(w, 1, day_at(9, 30), cashier="Anna")  # the same second: after the logout, as journaled
        write_event(w, "cashier.login", day_at(23, 59, 59), {"cashier": "Cid"})  # the last second: in
        write_event(w, "cashier.login", day_at(0, 0, 0, day=2), {"cashier": "Dan"})  # the next day: out

    root = export_to(await journal(tmp_path, signer, write), MARCH_1)
    got = [
        (text(h, "Registreringstidpunkt"), names(h)[-1], text(h, "InloggadAnvandare")) for h in events(root)
    ]
    assert got == [
        ("2025-03-01T09:00:05", "InloggningIKassaregister", "Anna"),
        ("2025-03-01T09:00:10", "InloggningIKassaregister", "Bo"),
        ("2025-03-01T09:30:00", "UtloggningUrKassaregister", "Bo"),
        ("2025-03-01T09:30:00", "Kassakvitto", "Anna"),
        ("2025-03-01T23:59:59", "InloggningIKassaregister", "Cid"),
    ]


async def test_a_receipt_resolved_from_doubt_keeps_the_time_of_its_sale(
    unit: ControlUnit, unit_tcp: str, make_pipeline: PipelineFactory, tmp_path: Path
) -> None:
    pipeline = await make_pipeline(unit_tcp)
    unit.faults.set(Fault.NO_REPLY)
    sale = Receipt((Line("Kaffe", Decimal(1), 25_00, 1200),), (Payment(CARD, 25_00),))
    with pytest.raises(FiscalError):
        await pipeline.submit("r1", sale)
    await pipeline.record("cashier.login", {"cashier": "Anna"})  # while the receipt is in doubt
    unit.faults.clear()
    done = await pipeline.submit("r1", sale)
    root = await exported(tmp_path)
    receipts = by_kind(root, "Kassakvitto")
    assert len(receipts) == 1
    assert text(receipts[0], "Registreringstidpunkt") == iso(done.at)  # the sale's time, as printed
    assert text(event_of(receipts[0]), "Kontrollkod") == done.control_code
    assert [names(h)[-1] for h in events(root)] == ["Kassakvitto", "InloggningIKassaregister"]


async def test_text_is_cut_to_72_characters_and_escaped(tmp_path: Path, signer: Signer) -> None:
    long_name = "Kaffebaren & Konditoriet <Växjö> " + "x" * 60
    register = _replace(REGISTER, company=long_name)
    path = await journal(tmp_path, signer, lambda w: write_sale(w, 1, day_at(10), text="Bulle & <mer>"))
    root = export_to(path, MARCH_1, register)
    assert text(child(root, "InformationOmForetaget"), "ForetagetsNamn") == long_name[:72]
    receipt = event_of(by_kind(root, "Kassakvitto")[0])
    assert text(receipt, "ForetagetsNamn") == long_name[:72]
    assert articles(receipt)[0]["Artikelnamn"] == "Bulle & <mer>"


def _replace(register: Register, **changes: Any) -> Register:
    from dataclasses import replace

    return replace(register, **changes)


# -- refusals ---------------------------------------------------------------------------------


async def test_refusals_name_what_is_missing_and_leave_no_file(tmp_path: Path, signer: Signer) -> None:
    path = await journal(
        tmp_path, signer, lambda w: write_event(w, "cashier.login", day_at(9), {"cashier": "A"})
    )
    out = tmp_path / "export.xml"

    def refused(register: Register, period: Period) -> str:
        with open_readonly(path) as conn, pytest.raises(ExportRefused) as info:
            export_skv(conn, register, period, out)
        assert not out.exists() and not list(tmp_path.glob(".export.xml*"))
        return str(info.value)

    # A journal without any receipt: the control unit's manufacturing number is unknown.
    assert "control unit" in refused(REGISTER, MARCH_1)
    await_sale = await journal(tmp_path, signer, lambda w: write_sale(w, 1, day_at(10)))
    assert await_sale == path
    assert "holds no events" in refused(REGISTER, Period(date(2025, 3, 2), date(2025, 3, 2)))
    for field, words in (
        ("orgnr", "organisation number"),
        ("manufacturing_number", "manufacturing number"),
        ("company", "company name"),
        ("address", "address"),
    ):
        assert words in refused(_replace(REGISTER, **{field: ""}), MARCH_1)
    with pytest.raises(ExportRefused, match="ends"):
        Period(date(2025, 3, 2), date(2025, 3, 1))
    # The receipt before the period still names the unit: an export of the next day's login works.
    await journal(
        tmp_path, signer, lambda w: write_event(w, "cashier.login", day_at(9, day=3), {"cashier": "B"})
    )
    root = export_to(path, Period(date(2025, 3, 3), date(2025, 3, 3)))
    system = child(child(root, "KassaregistersystemLISTA"), "Kassaregistersystemet")
    assert text(system, "TillverkningsnummerForKontrollenheten") == UNIT_ID


# -- streaming ---------------------------------------------------------------------------------

RECEIPTS = 6_000  # about 17 MB of XML; tracemalloc slows the export several times over


async def test_a_large_journal_exports_in_bounded_memory(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "till" / "till.db"
    store = await Store.open(path, signer)
    try:
        start = day_at(8)
        for batch in range(0, RECEIPTS, 2000):  # 2,000 receipts per transaction

            def write(w: Writer, batch: int = batch) -> None:
                for n in range(batch, batch + 2000):
                    write_sale(w, n + 1, start + timedelta(seconds=10 * n))

            await store.transact(write)
    finally:
        await store.close()
    out = tmp_path / "export.xml"
    period = Period(date(2025, 3, 1), date(2025, 3, 3))
    with open_readonly(path) as conn:
        tracemalloc.start()
        try:
            counts = export_skv(conn, REGISTER, period, out)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert counts == {"Kassakvitto": RECEIPTS}
    size = out.stat().st_size
    assert size > 15_000_000
    assert peak < 5_000_000, f"peak {peak:,} bytes for a file of {size:,}"
    # The file is whole and in order: the last receipt closes it.
    with out.open("rb") as f:
        f.seek(-200, 2)
        assert f.read().endswith(f"</utrein:{ROOT}>\n".encode())


# -- the command line ------------------------------------------------------------------------------

TILLGW = str(Path(sys.executable).parent / "tillgw")


def config_file(tmp_path: Path, manufacturing_number: str | None = "TG-2025-000117") -> Path:
    number = "" if manufacturing_number is None else f'manufacturing_number = "{manufacturing_number}"\n'
    path = tmp_path / "till.toml"
    path.write_text(
        "[shop]\n"
        'name = "Kaffebaren i Växjö AB"\norgnr = "556036-0793"\naddress = ["Storgatan 1", "352 30 Växjö"]\n'
        f'[register]\npos_id = "KASSA1"\ndata_dir = "till"\n{number}'
        '[control_unit]\nurl = "socket://127.0.0.1:1"\n',
        encoding="utf-8",
    )
    return path


async def tillgw(cwd: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        TILLGW, *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_command_line(tmp_path: Path, signer: Signer) -> None:
    await journal(tmp_path, signer, lambda w: write_sale(w, 1, day_at(10), cashier="Anna"))
    config = str(config_file(tmp_path))
    export = ("journal", "export", "--config", config, "--format", "skv-xml")
    code, out, err = await tillgw(
        tmp_path, *export, "--from", "2025-03-01", "--to", "2025-03-01", "--user", "rev"
    )
    assert code == 0, err
    made = tmp_path / f"{ROOT}_2025-03-01-2025-03-01.xml"
    assert made.name in out and "1 events" in out
    root = ET.parse(made).getroot()
    assert text(root, "InloggadAnvandareVidExportAvDataFranJournalminnet") == "rev"
    assert len(by_kind(root, "Kassakvitto")) == 1

    code, out, err = await tillgw(
        tmp_path, *export, "--from", "2025-03-01", "--to", "2025-03-01", "--output", "-"
    )
    assert code == 0, err
    assert out.startswith('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>')
    assert ET.fromstring(out.encode()).tag == f"{{{INSTANS_NS}}}{ROOT}"

    code, out, err = await tillgw(
        tmp_path, *export, "--from", "2025-03-02", "--to", "2025-03-02", "--output", "-"
    )
    assert (code, out) == (1, "") and "refused" in err and "no events" in err
    assert not (tmp_path / f"{ROOT}_2025-03-02-2025-03-02.xml").exists()
    code, _, err = await tillgw(tmp_path, *export, "--from", "2025-03-02", "--to", "2025-03-01")
    assert code == 1 and "before it starts" in err
    code, _, err = await tillgw(tmp_path, *export, "--from", "1 March", "--to", "2025-03-01")
    assert code == 2 and "is not a date" in err
    code, _, err = await tillgw(tmp_path, "journal", "export", "--from", "2025-03-01", "--to", "2025-03-01")
    assert code == 2 and "--format" in err
    bare = str(config_file(tmp_path / "till", None))
    code, _, err = await tillgw(
        tmp_path, "journal", "export", "--config", bare, "--data-dir", str(tmp_path / "till"),
        "--format", "skv-xml", "--from", "2025-03-01", "--to", "2025-03-01",
    )  # fmt: skip
    assert code == 1 and "manufacturing_number" in err

    code, out, err = await tillgw(
        tmp_path,
        "journal",
        "export",
        "--config",
        config,
        "--format",
        "jsonl",
        "--from",
        "2025-03-01",
        "--to",
        "2025-03-01",
    )
    assert code == 0, err
    assert (tmp_path / "tillgw-journal_2025-03-01-2025-03-01.jsonl").exists() and "2 journal entries" in out


# -- the register's identity in the configuration ----------------------------------------------


@pytest.mark.parametrize(
    ("number", "good"),
    [
        ("TG-2025-000117", True),
        ("AB 12 CD", True),
        ("A" * 17, True),
        ("A" * 18, False),  # at most 17 characters
        (" AB12", False),  # no space at either end
        ("AB12 ", False),
        ("AB  12", False),  # never two spaces in a row
        ("AB_12", False),  # a-z, A-Z, 0-9, space and hyphen only
        ("ÅB12", False),
        ("", False),
    ],
)
def test_the_manufacturing_number_follows_skvfs_2014_9(tmp_path: Path, number: str, good: bool) -> None:
    from gateway.config import ConfigError, load_config

    path = config_file(tmp_path, number)
    if good:
        config = load_config(path)
        assert (config.manufacturing_number, config.model, config.program) == (number, "tillgw SE", "tillgw")
    else:
        with pytest.raises(ConfigError, match=r"\[register\]\.manufacturing_number: .*2 kap\. 23 §"):
            load_config(path)
