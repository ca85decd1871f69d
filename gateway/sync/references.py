"""Our reference on every document the sync module makes in an ERP: unique in a chain.

An ERP takes no idempotency key, so every document we make carries our reference and is
looked for by it before it is made. A reference must therefore name one document of one
chain and nothing else: the organisation number, the store, the register, the kind
(receipt, copy, Z report, order) and the number. ``KASSA1-1`` alone named receipt 1 of
every store with a register called KASSA1.

Forms (docs/adapters/*.md has the field and its published length per ERP):

* **full** — ``{orgnr}/{store}/{register}/{K}{n}``, e.g. ``5560360793/vaxjo/KASSA1/R17``.
  A store or register never holds ``/`` (they are MQTT topic levels), so the form cannot
  be read two ways.
* **compact** — ``{H}-{REGISTER}-{K}{n}``, e.g. ``5EPNEIUO-KASSA1-R17``, for a field too
  short for the full form, or a Code field (Business Central, NAV), which the ERP keeps in
  capitals and would make ``vaxjo`` and ``VAXJO`` one. ``H`` is 8 characters of the
  base32 SHA-256 of ``{orgnr}/{store}/{register}`` exactly as written (40 bits: two
  registers of a chain sharing it is a chance of about one in a million for the thousand
  registers of a large chain, and it would also need the same kind and number); the
  register is there for the eye only, in capitals, cut to what the field leaves. The
  number is never cut.
* **Z voucher tag** — ``tillgw {orgnr}/{store}/{register} Z{n}`` in a voucher's text, as
  it always was: it named the store from the start.
* **legacy** — ``{register}-{n}`` (receipts) and ``O-{register}-{n}`` (orders), what the
  module wrote before. Ambiguous across stores, so :class:`LegacyWindow` says when it may
  still name one of this store's documents, and each adapter accepts an old-form match
  only when the document's own fields (day, customer, total, or the order it was made
  from) are the receipt's.

The form of a field depends only on the reference and the field, never on what the ERP
holds, so the same receipt always gets the same reference.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime

from gateway.messages.envelope import BusMessage
from gateway.sync.sql import SqlConnection

__all__ = [
    "BC_EXTERNAL_DOCUMENT_NUMBER",
    "FORTNOX_EXTERNAL_INVOICE_REFERENCE",
    "KIND_LETTERS",
    "LEGACY_SCHEMA",
    "NAV_DOCUMENT_NO",
    "NAV_EXTERNAL_DOCUMENT_NO",
    "NAV_YOUR_REFERENCE",
    "DocumentReference",
    "LegacyWindow",
    "ReferenceField",
    "order_number",
    "voucher_tag",
]

KIND_LETTERS = {"receipt": "R", "copy": "C", "report.z": "Z", "order": "O"}
"""The letter before the number, per kind of document the reference names."""

HASH_LENGTH = 8


@dataclass(frozen=True, slots=True)
class ReferenceField:
    """An ERP's field that carries our reference: its published length, and whether it is a
    Code field (kept in capitals by the ERP)."""

    name: str
    length: int
    capitals: bool = False


FORTNOX_EXTERNAL_INVOICE_REFERENCE = ReferenceField("Fortnox ExternalInvoiceReference1", 80)
"""Fortnox OpenAPI, ``Invoice.ExternalInvoiceReference1`` maxLength 80. Orders publish no
length for it, but ``createinvoice`` carries an order's to its invoice: 80 for both."""

BC_EXTERNAL_DOCUMENT_NUMBER = ReferenceField("Business Central externalDocumentNumber", 35, capitals=True)
"""API v2.0 pages salesInvoices, salesOrders, customerPayments: ``Rec."External Document No."``,
Code[35] in the Base App tables behind them."""

NAV_EXTERNAL_DOCUMENT_NO = ReferenceField("NAV External_Document_No", 35, capitals=True)
"""Sales Header, Sales Invoice Header, Gen. Journal Line, Cust. Ledger Entry: Code[35]."""

NAV_YOUR_REFERENCE = ReferenceField("NAV Your_Reference", 35, capitals=True)
"""Sales Header ``Your Reference``: Text[35]. Text keeps case, but the same string as
External_Document_No is written to both, so it is made capital-safe too."""

NAV_DOCUMENT_NO = ReferenceField("NAV Document_No", 20, capitals=True)
"""Gen. Journal Line ``Document No.``: Code[20] (the payment lines' document number)."""


def _hash(orgnr: str, store: str, register: str) -> str:
    digest = hashlib.sha256(f"{orgnr}/{store}/{register}".encode()).digest()
    return base64.b32encode(digest).decode("ascii")[:HASH_LENGTH]


@dataclass(frozen=True, slots=True)
class DocumentReference:
    """What one document of ours is: whose (orgnr, store, register), which kind, which number."""

    orgnr: str
    store: str
    register: str
    kind: str  # a key of KIND_LETTERS
    number: int

    def __post_init__(self) -> None:
        if self.kind not in KIND_LETTERS:
            raise ValueError(f"no reference form for documents of kind {self.kind!r}")
        if self.number < 0:
            raise ValueError(f"a document number is never negative: {self.number}")

    @classmethod
    def of(cls, message: BusMessage, kind: str, number: int) -> DocumentReference:
        return cls(message.orgnr, message.store, message.register, kind, number)

    @property
    def _tail(self) -> str:
        return f"{KIND_LETTERS[self.kind]}{self.number}"

    @property
    def full(self) -> str:
        return f"{self.orgnr}/{self.store}/{self.register}/{self._tail}"

    def compact(self, length: int) -> str:
        """The compact form in at most ``length`` characters (the register cut first, never the number)."""
        head = _hash(self.orgnr, self.store, self.register)
        bare = f"{head}-{self._tail}"
        if len(bare) > length:
            raise ValueError(f"{bare!r} does not fit {length} characters")
        room = length - len(bare) - 1  # the register's separator
        hint = self.register.upper()[:room] if room > 0 else ""
        return f"{head}-{hint}-{self._tail}" if hint else bare

    def in_field(self, field: ReferenceField) -> str:
        """The reference as ``field`` carries it: the full form if it fits (in capitals when
        it has none to lose), the compact form otherwise."""
        full = self.full
        if len(full) <= field.length and not (field.capitals and full != full.upper()):
            return full
        return self.compact(field.length)

    @property
    def legacy(self) -> str | None:
        """The form the module wrote before references named the store; None: there was none
        (Z vouchers always carried :func:`voucher_tag`, copies were never booked)."""
        if self.kind == "receipt":
            return f"{self.register}-{self.number}"
        if self.kind == "order":
            return f"O-{self.register}-{self.number}"
        return None


def voucher_tag(message: BusMessage, z_no: int) -> str:
    """Our reference in a Z voucher's text (Fortnox Description, 200; Visma VoucherText, 1000)."""
    return f"tillgw {message.orgnr}/{message.store}/{message.register} Z{z_no}"


def order_number(message: BusMessage, till_reference: str) -> int:
    """The ``n`` of the till's order reference ``O-{register}-{n}`` (gateway/messages/orders.py)."""
    prefix = f"O-{message.register}-"
    tail = till_reference[len(prefix) :] if till_reference.startswith(prefix) else ""
    if not tail.isdigit():
        raise ValueError(
            f"the order reference {till_reference!r} is not {prefix}<n> of register {message.register}"
        )
    return int(tail)


LEGACY_SCHEMA = """
CREATE TABLE IF NOT EXISTS reference_forms (
    erp TEXT PRIMARY KEY,            -- fortnox | business_central | nav
    since TEXT NOT NULL              -- when this module first booked there with store-qualified references
);
"""


class LegacyWindow:
    """Whether a message may have been booked under the legacy form by the module before.

    The first start of a module that writes store-qualified references records the moment
    (per ERP). Only a message made on or before that day can have been booked by the older
    module — a crash between the ERP's answer and the inbox commit, just before the upgrade
    — so only for those is the legacy form looked for; whole days, so that a second worker
    of the same inbox still running the older module that day is covered too. Later
    messages never cost the extra search, and never match another store's old document.
    """

    def __init__(self, erp: str) -> None:
        self.erp = erp
        self.since: str | None = None

    async def setup(self, db: SqlConnection) -> None:
        await db.executescript(LEGACY_SCHEMA)
        await db.execute(
            "INSERT INTO reference_forms (erp, since) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (self.erp, datetime.now().astimezone().isoformat(timespec="seconds")),
        )
        async with db.execute("SELECT since FROM reference_forms WHERE erp = ?", (self.erp,)) as cursor:
            rows = await cursor.fetchall()
        self.since = str(rows[0][0])

    def covers(self, message: BusMessage) -> bool:
        return self.since is not None and message.at[:10] <= self.since[:10]
