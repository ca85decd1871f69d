"""A journal written by an earlier release, read by this one: it verifies, exports and decodes.

``tests/fiscal/recordings/release-2084e15.db`` is a till database written by release
2084e15, the last before the journal's bodies became typed (msgspec Structs), and
``release-2084e15.pub.pem`` the public half of the key that signs its head. It was made
by ``tests/fiscal/recordings/make_release_journal.py`` run in a checkout of that release
(``git worktree add /tmp/oldrel 2084e15``, a virtual environment there with the release
installed): that release's own pipeline, with its outbox installed, selling against the
project's simulated control unit over TCP — sales of every kind (card, cash with
öresavrundning, Swish, gift card, a return, discounts, a service, main groups, a sale on
account, one paying an order), a copy, a training and a pro forma receipt, a refusal, a
receipt left in doubt and resolved, printed receipts, drawer openings, logins and logouts,
price and float changes, a customer and an order made at the till, a registration change,
X and Z reports; then, the till stopped, receipts recorded as lost (``series.gap``) and a
lost key replaced (``key.replaced``); then more sales and a Z signed by the new key. The
script's docstring has the commands.

What this proves: the canonical bytes of every entry the earlier release wrote are the
ones this release reads and hashes (``tillgw journal verify``), its exports are made from
them, every body decodes into its Struct and encodes back to the very bytes that were
signed, and every message that release put in its outbox reads as its kind's Struct: a
receipt, of ``tillgw.bus/1``, upgraded as a sync module reads it, is the ``tillgw.bus/2``
message this release makes from the same entries.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import get_origin

import msgspec
import pytest

from gateway.bus.outbox import receipt_payload
from gateway.cli import main
from gateway.fiscal.bodies import (
    BODY_KINDS,
    OUTAGE_KINDS,
    PARKING_KINDS,
    PendingBody,
    ReceiptBody,
    body_type,
    entry_body,
)
from gateway.fiscal.export.jsonl import Till, export_jsonl
from gateway.fiscal.export.period import Period
from gateway.fiscal.export.skv import Register, export_skv
from gateway.fiscal.export.skv_xml import KOMPONENT_NS
from gateway.fiscal.journal import canonical_body, open_readonly
from gateway.messages.bodies import PriceChangeBody
from gateway.messages.envelope import KIND_TOPICS, SCHEMA, decode_message
from gateway.messages.payloads import payload_type
from gateway.messages.price_change import price_change_payload_of
from gateway.messages.receipt_payload import ReceiptPayloadV1

RECORDINGS = Path(__file__).parent / "recordings"
RELEASE = "release-2084e15"
ENTRIES = 69
REGISTER = Register(
    company="Kaffebaren i Växjö AB",
    orgnr="556036-0793",
    address="Storgatan 1, 352 30 Växjö",
    pos_id="KASSA1",
    manufacturing_number="TG-0001",
    model="tillgw",
    program="tillgw gateway",
    version="0.1.0",
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The recorded database in a data directory of its own (the recording stays untouched)."""
    folder = tmp_path / "var"
    folder.mkdir()
    shutil.copyfile(RECORDINGS / f"{RELEASE}.db", folder / "till.db")
    return folder


def recorded_days(database: Path) -> Period:
    with open_readonly(database) as conn:
        first, last = conn.execute("SELECT MIN(at), MAX(at) FROM journal").fetchone()
    return Period(date.fromisoformat(first[:10]), date.fromisoformat(last[:10]))


def test_journal_verify_holds_for_the_release_journal(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = str(RECORDINGS / f"{RELEASE}.pub.pem")
    for extra in ((), ("--all-signatures",)):
        code = main(
            [
                "--language",
                "en",
                "journal",
                "verify",
                "--data-dir",
                str(data_dir),
                "--public-key",
                key,
                "--json",
                *extra,
            ]
        )
        report = json.loads(capsys.readouterr().out)
        assert code == 0 and report["ok"], report
        assert report["entries"] == ENTRIES and report["problem"] is None
        assert [words.split(" on ")[0] for words in report["key_replaced"]] == ["key replaced at entry 53"]


def test_the_release_journal_exports_as_skv_xml_and_jsonl(data_dir: Path, tmp_path: Path) -> None:
    database = data_dir / "till.db"
    period = recorded_days(database)
    with open_readonly(database) as conn:
        counts = export_skv(conn, REGISTER, period, tmp_path / "export.xml", user="revisor")
        written = export_jsonl(
            conn, Till("KASSA1", REGISTER.company, REGISTER.orgnr), period, tmp_path / "j.jsonl"
        )
    assert counts == Counter(
        {
            "Kassakvitto": 10,
            "Returkvitto": 1,
            "KopiaAvKassakvitto": 2,
            "Ovningskvitto": 1,
            "XDagrapport": 2,
            "ZDagrapport": 3,
            "InloggningIKassaregister": 3,
            "UtloggningUrKassaregister": 2,
        }
    )
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    root = ET.parse(tmp_path / "export.xml", parser=parser).getroot()
    z_numbers = [e.text for e in root.iter(f"{{{KOMPONENT_NS}}}LopnummerForZDagrapport")]
    assert z_numbers == ["1", "2", "3"]
    # Its pro forma receipt took number 8 of the one series (as releases still do), and
    # receipts 11-12 were recorded as lost: the file says so where they happened, so
    # every number of the series is an event or a note.
    numbers = {
        int(e.text or "")
        for tag in ("LopnummerForKassakvitto", "LopnummerForOvningskvitto")
        for e in root.iter(f"{{{KOMPONENT_NS}}}{tag}")
    }
    notes = [str(e.text) for e in root.iter() if e.tag is ET.Comment]  # type: ignore[comparison-overlap]
    assert sorted(numbers) == [1, 2, 3, 4, 5, 6, 7, 9, 10, 13, 14, 15]
    assert any("Pro forma-kvitto (ej kvitto) nr 8" in words for words in notes)
    assert any("Kvitto nr 11–12 förlorade" in words for words in notes)
    lines = (tmp_path / "j.jsonl").read_text(encoding="utf-8").splitlines()
    assert written == ENTRIES and len(lines) == ENTRIES + 1
    # Each exported body is the stored one, byte for byte.
    with sqlite3.connect(database) as conn:
        stored = [row[0] for row in conn.execute("SELECT body FROM journal ORDER BY seq")]
    exported = [json.loads(line)["body"] for line in lines[1:]]
    assert [
        json.dumps(b, sort_keys=True, separators=(",", ":"), ensure_ascii=False) for b in exported
    ] == stored


def test_every_body_reads_into_its_struct_and_encodes_back_to_the_signed_bytes(data_dir: Path) -> None:
    with open_readonly(data_dir / "till.db") as conn:
        rows = conn.execute("SELECT kind, body FROM journal ORDER BY seq").fetchall()
    kinds = Counter(str(kind) for kind, _ in rows)
    # The recording holds every kind the till writes, but those made after that release.
    assert set(kinds) == set(BODY_KINDS) - set(PARKING_KINDS) - set(OUTAGE_KINDS)
    for kind, stored in rows:
        body = entry_body(kind, stored)
        struct = body_type(kind)
        assert isinstance(body, get_origin(struct) or struct)
        assert canonical_body(body.to_json()) == stored, kind
        assert canonical_body(body) == stored, kind


def test_the_release_messages_read_as_their_structs_and_are_what_this_release_would_send(
    data_dir: Path,
) -> None:
    """The outbox rows the earlier release wrote: each payload decodes into its kind's Struct, and
    this release makes the same payload from the same journal entries (a receipt's in the shape of
    ``tillgw.bus/2``: the old one upgraded)."""
    with open_readonly(data_dir / "till.db") as conn:
        rows = conn.execute(
            "SELECT o.message, j.body, p.body FROM outbox o JOIN journal j ON j.seq = o.journal_entry "
            "LEFT JOIN journal p ON p.seq = json_extract(j.body, '$.pending') ORDER BY o.sequence"
        ).fetchall()
    kinds: Counter[str] = Counter()
    for message_bytes, body, pending in rows:
        message = decode_message(bytes(message_bytes))
        kinds[message.kind] += 1
        assert message.schema == SCHEMA
        struct = payload_type(message.kind, message.schema)
        assert isinstance(message.body(), get_origin(struct) or struct)
        if message.kind == "receipt":
            made = receipt_payload(
                msgspec.json.decode(body, type=ReceiptBody), msgspec.json.decode(pending, type=PendingBody)
            )
            old = message.payload_as(ReceiptPayloadV1)
            assert old.to_json() == message.payload
            assert made == old.upgraded()
        elif message.kind == "price.change":  # tillgw.bus/1: the journal body; this release's in öre
            assert message.payload == json.loads(body)
            price = msgspec.json.decode(body, type=PriceChangeBody)
            assert price_change_payload_of(price).new_price == int(Decimal(price.new_price) * 100)
        else:
            assert message.payload == json.loads(body)
    assert set(kinds) == set(KIND_TOPICS)
