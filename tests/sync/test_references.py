"""References unique in a chain: receipt 1 of two stores with the same register name are two
documents in every ERP; a document the older module made under ``{register}-{n}`` is found
and not made again; every reference fits its field (the fakes refuse one that does not).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from gateway.messages.envelope import BusMessage
from gateway.sync.adapters.fortnox.adapter import FortnoxAdapter
from gateway.sync.references import (
    BC_EXTERNAL_DOCUMENT_NUMBER,
    FORTNOX_EXTERNAL_INVOICE_REFERENCE,
    NAV_DOCUMENT_NO,
    NAV_EXTERNAL_DOCUMENT_NO,
    DocumentReference,
    ReferenceField,
    order_number,
    voucher_tag,
)
from gateway.sync.settings import AccountsConfig
from gateway.sync.sql import SqlConnection
from tests.sync.conftest import ORGNR, POS_ID, STORE, TillFactory, process_one, two_receipts
from tests.sync.fakes.business_central import BusinessCentralFake
from tests.sync.test_business_central import bc  # noqa: F401 - the fixture
from tests.sync.test_fortnox import fortnox
from tests.sync.test_nav import Nav, nav  # noqa: F401 - the fixture
from tests.sync.test_visma import Visma, day_messages, visma  # noqa: F401 - the fixture

OTHER_STORE = "lund"
LONG = "R" * 64  # the longest register (or store) a topic level allows


def in_store(message: BusMessage, store: str) -> BusMessage:
    """The same message as the same register of another store of the chain would send it."""
    return msgspec.structs.replace(
        message, store=store, msg_id=f"{message.orgnr}/{store}/{message.register}/{message.sequence}"
    )


def day_before(message: BusMessage) -> BusMessage:
    """The message as made before the upgraded module first started (the older module's days)."""
    payload = {**message.payload, "at": "2020-01-02" + str(message.payload["at"])[10:]}
    return msgspec.structs.replace(message, at="2020-01-02" + message.at[10:], payload=payload)


async def ready(db: SqlConnection, adapter: Any) -> Any:
    """``adapter`` set up, as the processor sets up every adapter of a (re)started module."""
    await adapter.setup(db)
    return adapter


# -- the forms ----------------------------------------------------------------------------------

FIELDS = (
    FORTNOX_EXTERNAL_INVOICE_REFERENCE,
    BC_EXTERNAL_DOCUMENT_NUMBER,
    NAV_EXTERNAL_DOCUMENT_NO,
    NAV_DOCUMENT_NO,
)


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.name)
@pytest.mark.parametrize("store", ["vaxjo", "VAXJO", LONG])
@pytest.mark.parametrize("register", ["KASSA1", "kassa-1", LONG])
@pytest.mark.parametrize("number", [1, 9_999_999_999])
def test_every_reference_fits_its_field_and_names_one_document(
    field: ReferenceField, store: str, register: str, number: int
) -> None:
    ref = DocumentReference(ORGNR, store, register, "receipt", number).in_field(field)
    assert len(ref) <= field.length
    assert ref.endswith(f"R{number}")  # the number is never cut
    if field.capitals:
        assert ref == ref.upper()
    others = {
        DocumentReference(ORGNR, s, r, k, number).in_field(field)
        for s, r, k in [
            (OTHER_STORE, register, "receipt"),
            (store.swapcase(), register, "receipt"),  # a Code field's capitals lose nothing
            (store, register + "2", "receipt"),
            (store, register, "copy"),
            (store, register, "order"),
        ]
    }
    assert ref not in others and len(others) == 5
    assert DocumentReference("5569999999", store, register, "receipt", number).in_field(field) != ref


def test_the_forms() -> None:
    ours = DocumentReference(ORGNR, STORE, POS_ID, "receipt", 17)
    assert ours.in_field(FORTNOX_EXTERNAL_INVOICE_REFERENCE) == f"{ORGNR}/{STORE}/{POS_ID}/R17"
    compact = ours.in_field(BC_EXTERNAL_DOCUMENT_NUMBER)  # "vaxjo" would lose its case: compact
    head, register, tail = compact.split("-")
    assert (len(head), register, tail) == (8, POS_ID, "R17")
    assert compact == ours.in_field(BC_EXTERNAL_DOCUMENT_NUMBER)  # deterministic
    upper = DocumentReference(ORGNR, "VAXJO", POS_ID, "receipt", 17)
    assert upper.in_field(BC_EXTERNAL_DOCUMENT_NUMBER) == f"{ORGNR}/VAXJO/{POS_ID}/R17"
    assert ours.in_field(NAV_DOCUMENT_NO).startswith(head) and len(ours.in_field(NAV_DOCUMENT_NO)) <= 20
    assert (ours.legacy, DocumentReference(ORGNR, STORE, POS_ID, "order", 3).legacy) == (
        "KASSA1-17",
        "O-KASSA1-3",
    )
    assert DocumentReference(ORGNR, STORE, POS_ID, "report.z", 3).legacy is None
    m = BusMessage("m", "order.new", ORGNR, STORE, POS_ID, 1, 1, "h", "2026-01-01T10:00:00+01:00", {})
    assert order_number(m, "O-KASSA1-12") == 12
    with pytest.raises(ValueError, match="is not O-KASSA1-<n>"):
        order_number(m, "O-KASSA2-12")
    assert voucher_tag(m, 12) == f"tillgw {ORGNR}/{STORE}/{POS_ID} Z12"  # as it always was
    with pytest.raises(ValueError, match="does not fit"):
        ours.compact(5)


# -- Fortnox ------------------------------------------------------------------------------------


def with_customer(message: BusMessage, customer: str) -> BusMessage:
    payload = json.loads(json.dumps(message.payload))
    payload["sale"]["customer"] = customer
    return msgspec.structs.replace(message, payload=payload)


async def test_fortnox_two_stores_receipt_1_are_two_invoices_and_an_old_one_is_found(
    make_till: TillFactory, tmp_path: Path, db: SqlConnection
) -> None:
    first, _ = await two_receipts(make_till)
    ours = with_customer(first, "1001")
    theirs = in_store(ours, OTHER_STORE)
    async with fortnox(tmp_path, mode="full", invoices="account_customers") as (fake, config, client):
        fake.add_customer("1001", "Bygg AB")
        fake.add_article("1001", "Kaffe", "29.02", 12)
        fake.add_article("1002", "Mugg", "48.00", 25)
        adapter = FortnoxAdapter(config, AccountsConfig(), client)
        await adapter.setup(db)
        await process_one(db, adapter, ours)
        await process_one(db, adapter, theirs)
        refs = [i["ExternalInvoiceReference1"] for i in fake.invoices.values()]
        assert refs == [f"{ORGNR}/{STORE}/{POS_ID}/R1", f"{ORGNR}/{OTHER_STORE}/{POS_ID}/R1"]

        # A receipt the older module booked as "KASSA1-2" (and crashed before its record): found.
        older = with_customer(day_before(in_store(first, "malmo")), "1001")
        older = msgspec.structs.replace(older, payload={**older.payload, "receipt_no": 2})
        day = older.payload["at"][:10]
        fake.invoices[99] = {
            "DocumentNumber": "99", "CustomerNumber": "1001", "InvoiceDate": day, "Total": 65.0,
            "ExternalInvoiceReference1": f"{POS_ID}-2", "Booked": True, "Balance": 0.0, "Cancelled": False,
        }  # fmt: skip
        # Another store's "KASSA1-2" of another day is not taken for it.
        fake.invoices[98] = {**fake.invoices[99], "DocumentNumber": "98", "InvoiceDate": "2019-05-05"}
        done = await process_one(db, adapter, older)
        assert done is not None and "invoice 99 (found already made)" in done
        assert len(fake.invoices) == 4
        # A receipt made after the upgrade day is never taken for an old one, whatever it shows.
        at = "2099-01-02T10:00:00+01:00"  # a day after the upgraded module's first start
        later = msgspec.structs.replace(
            older, msg_id="x", store="umea", at=at, payload={**older.payload, "at": at}
        )
        done = await process_one(db, adapter, later)
        assert done is not None and "found" not in done and len(fake.invoices) == 5


# -- Business Central ---------------------------------------------------------------------------


async def test_business_central_two_stores_receipt_1_are_two_invoices_and_an_old_one_is_found(
    make_till: TillFactory,
    bc: tuple[BusinessCentralFake, Any],  # noqa: F811
    db: SqlConnection,
) -> None:
    fake, (make_adapter, _, _) = bc
    first, second = await two_receipts(make_till)
    adapter = make_adapter()
    await adapter.setup(db)
    await process_one(db, adapter, first)
    await process_one(db, adapter, in_store(first, OTHER_STORE))
    refs = [i["externalDocumentNumber"] for i in fake.invoices]
    assert len(set(refs)) == 2 and all(len(r) <= 35 for r in refs)
    assert refs[0] == DocumentReference(ORGNR, STORE, POS_ID, "receipt", 1).in_field(
        BC_EXTERNAL_DOCUMENT_NUMBER
    )
    assert len(fake.invoices) == 2

    # The older module's invoice of receipt 2 of this store, posted under "KASSA1-2" before the
    # upgrade, and the same form of another store of another day: ours is found, finished.
    older = day_before(second)
    done = await process_one(
        db, await ready(db, make_adapter()), msgspec.structs.replace(older, msg_id="old")
    )
    assert done is not None
    made = fake.invoices[-1]
    made["externalDocumentNumber"] = f"{POS_ID}-2"  # as the older module named it
    await db.execute("DELETE FROM bc_invoices WHERE receipt_no = 2")  # it crashed before its record
    done = await process_one(db, await ready(db, make_adapter()), older)
    assert done is not None and made["number"] in done and len(fake.invoices) == 3


# -- Dynamics NAV -------------------------------------------------------------------------------


async def test_nav_two_stores_receipt_1_are_two_invoices_and_an_old_one_is_found(
    make_till: TillFactory,
    nav: Nav,  # noqa: F811
    db: SqlConnection,
) -> None:
    first, second = await two_receipts(make_till)
    adapter = nav.adapter()
    await adapter.setup(db)
    await process_one(db, adapter, first)
    await process_one(db, adapter, in_store(first, OTHER_STORE))
    refs = [p["External_Document_No"] for p in nav.fake.posted]
    assert len(set(refs)) == 2 and all(len(r) <= 35 for r in refs)
    assert all(len(str(x["Document_No"])) <= 20 for x in nav.fake.payment_journal)

    older = day_before(second)
    await process_one(db, await ready(db, nav.adapter()), msgspec.structs.replace(older, msg_id="old"))
    made = nav.fake.posted[-1]
    made["External_Document_No"] = f"{POS_ID}-2"  # as the older module named it
    for line in nav.fake.payment_journal[-1:]:
        line["External_Document_No"], line["Description"] = f"{POS_ID}-2", f"{POS_ID}-2 card"
    await db.execute("DELETE FROM nav_documents WHERE receipt_no = 2")
    journal = len(nav.fake.payment_journal)
    done = await process_one(db, await ready(db, nav.adapter()), older)
    assert done is not None and f"invoice {made['No']} (posted)" in done
    assert len(nav.fake.posted) == 3 and len(nav.fake.payment_journal) == journal


# -- Visma eEkonomi -----------------------------------------------------------------------------


async def test_visma_two_stores_z_1_are_two_vouchers(
    make_till: TillFactory,
    visma: Visma,  # noqa: F811
    db: SqlConnection,
) -> None:
    z = next(m for m in await day_messages(make_till) if m.kind == "report.z")
    adapter = visma.adapter()
    await adapter.setup(db)
    await process_one(db, adapter, z)
    await process_one(db, adapter, in_store(z, OTHER_STORE))
    texts = [v["VoucherText"] for v in visma.fake.vouchers]
    assert [t.split(" tillgw ")[1] for t in texts] == [
        f"{ORGNR}/{s}/{POS_ID} Z1" for s in (STORE, OTHER_STORE)
    ]
