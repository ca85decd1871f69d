"""The messages' wire formats, byte for byte, and how every decoder of gateway.bus says what is wrong."""

from __future__ import annotations

import json
from decimal import Decimal

import msgspec
import pytest

from gateway.messages.bodies import DrawerOpenBody
from gateway.messages.catalog import (
    Article,
    CatalogRequest,
    CatalogSection,
    CatalogTopics,
    CatalogUpdate,
    decode_update,
)
from gateway.messages.envelope import (
    Ack,
    AckStatus,
    BusMessage,
    MessageError,
    Topics,
    decode_ack,
    decode_message,
)
from gateway.messages.fields import FieldError
from gateway.messages.orders import (
    Order,
    OrderAnswer,
    OrderFieldError,
    OrderLine,
    OrderRequest,
    OrderTopics,
    decode_answer,
    decode_request,
)
from gateway.messages.receipt_payload import ReceiptPayload
from gateway.messages.sync_status import SyncState, SyncStatus, decode_status, status_topic

MESSAGE = BusMessage(
    "1/m/K1/1", "receipt", "1", "m", "K1", 1, 5, "ab", "2026-01-01T10:00:00+01:00", {"x": "å"}
)
KAFFE = Article("1001", "Kaffe å", 2500, 1200, ("7310",), group="g")
UPDATE = CatalogUpdate("1", "m", 2, 1, False, 1, 1, CatalogSection.ARTICLES, (KAFFE,), ("9",), "2026")
ORDER = Order(
    "S1", "20000", (OrderLine("1001", "Kaffe", Decimal("2.5"), 3300, 1200, Decimal(0)),), "Kund", "ref"
)


def test_the_wire_formats_are_as_the_tills_and_the_sync_module_already_speak_them() -> None:
    assert (
        MESSAGE.to_bytes()
        == (
            '{"schema":"tillgw.bus/2","msg_id":"1/m/K1/1","kind":"receipt","orgnr":"1","store":"m",'
            '"register":"K1","sequence":1,"journal_entry":5,"entry_hash":"ab","at":"2026-01-01T10:00:00+01:00",'
            '"payload":{"x":"å"}}'
        ).encode()
    )
    assert (
        Ack("1/m/K1/1", "rejected", "nej å").to_bytes()
        == (
            '{"schema": "tillgw.bus-ack/1", "msg_id": "1/m/K1/1", "status": "rejected", "reason": "nej å"}'
        ).encode()
    )
    assert (
        UPDATE.to_bytes()
        == (
            '{"schema":"tillgw.catalog/1","msg_id":"1/m/catalog/2/1","orgnr":"1","store":"m","revision":2,'
            '"base":1,"full":false,"part":1,"parts":1,"section":"articles","items":[{"number":"1001",'
            '"name":"Kaffe å","price":2500,"vat_rate":1200,"barcodes":["7310"],"unit":"st","group":"g",'
            '"service":false,"stock_goods":false}],"removed":["9"],"at":"2026"}'
        ).encode()
    )
    assert CatalogRequest("K1", 3, "start").to_bytes() == (
        b'{"schema": "tillgw.catalog-request/1", "register": "K1", "holds": 3, "reason": "start"}'
    )
    assert OrderRequest("r1", "20000").to_bytes() == (
        b'{"schema": "tillgw.order-request/1", "request_id": "r1", "customer": "20000"}'
    )
    assert OrderAnswer("r1", (ORDER,)).to_bytes() == (
        b'{"schema":"tillgw.order-answer/1","request_id":"r1","orders":[{"number":"S1","customer":"20000",'
        b'"customer_name":"Kund","reference":"ref","lines":[{"article":"1001","text":"Kaffe","quantity":"2.5",'
        b'"unit_price":3300,"vat_rate":1200,"delivered":"0","invoiced":null}]}]}'
    )
    status = SyncStatus("1", "m", "w", "2026-01-01T10:00:00+01:00", SyncState.OK, "s", ("e",), "id")
    assert status.to_bytes() == (
        b'{"schema":"tillgw.sync-status/1","msg_id":"id","orgnr":"1","store":"m","worker":"w",'
        b'"at":"2026-01-01T10:00:00+01:00","state":"ok","summary":"s","errors":["e"]}'
    )
    assert decode_message(MESSAGE.to_bytes()) == MESSAGE
    drawer = msgspec.structs.replace(MESSAGE, kind="drawer.open", schema="")
    assert json.loads(drawer.to_bytes())["schema"] == "tillgw.bus/1"  # only a receipt's payload changed
    assert decode_update(UPDATE.to_bytes()) == UPDATE
    assert decode_answer(OrderAnswer("r1", (ORDER,)).to_bytes()).orders == (ORDER,)
    assert decode_status(status.to_bytes()) == status


def test_the_topics_of_a_store_and_of_its_registers() -> None:
    assert [Topics("1", "m", "K1").for_kind("receipt"), Topics("1", "m", "K1").acks] == [
        "tillgw/1/m/K1/receipts",
        "tillgw/1/m/K1/acks",
    ]
    catalog, orders = CatalogTopics("1", "m"), OrderTopics("1", "m")
    assert [catalog.updates, catalog.request("K1"), catalog.requests] == [
        "tillgw/1/m/catalog/updates",
        "tillgw/1/m/K1/catalog-request",
        "tillgw/1/m/+/catalog-request",
    ]
    assert [orders.request("K1"), orders.answer("K1"), status_topic("1", "m")] == [
        "tillgw/1/m/K1/order-request",
        "tillgw/1/m/K1/order-answer",
        "tillgw/1/m/sync/status",
    ]
    for make, words in (
        (lambda: CatalogTopics("1/2", "m"), "orgnr '1/2' must be"),
        (lambda: OrderTopics("1", "m").answer("K+"), "register 'K\\+' must be"),
        (lambda: Topics("1", "m", "#"), "register '#' must be"),
        (lambda: status_topic("1", "m m"), "store 'm m' must be"),
    ):
        with pytest.raises(MessageError, match=words):
            make()


def _with(data: bytes, **changes: object) -> bytes:
    return json.dumps({**json.loads(data), **changes}).encode()


def test_every_decoder_names_the_field_that_is_wrong() -> None:
    item = json.loads(UPDATE.to_bytes())["items"][0]
    for data, decode, field in (
        (_with(MESSAGE.to_bytes(), sequence="1"), decode_message, "sequence"),
        (_with(MESSAGE.to_bytes(), payload=[]), decode_message, "payload"),
        (_with(UPDATE.to_bytes(), items=[{**item, "vat_rate": 700}]), decode_update, "items[0].vat_rate"),
        (_with(UPDATE.to_bytes(), items=[{**item, "price": -1}]), decode_update, "items[0].price"),
        (_with(UPDATE.to_bytes(), full=1), decode_update, "update.full"),
        (b'{"schema": "tillgw.order-request/1"}', decode_request, "request_id"),
        (b'{"schema": "tillgw.order-answer/1", "request_id": "a", "error": 1}', decode_answer, "error"),
    ):
        with pytest.raises(FieldError) as caught:
            decode(data)
        assert caught.value.field == field and str(caught.value).startswith(f"{field}: ")
    answer = json.loads(OrderAnswer("r1", (ORDER,)).to_bytes())
    answer["orders"][0]["lines"][0]["unit_price"] = -5
    with pytest.raises(OrderFieldError, match=r"orders\[0\].lines\[0\].unit_price: -5 is negative"):
        decode_answer(json.dumps(answer).encode())


def test_a_payload_is_read_as_its_kinds_struct_and_a_bad_field_is_named_by_its_path() -> None:
    drawer = msgspec.structs.replace(
        MESSAGE, kind="drawer.open", payload={"cashier": None, "reason": "no sale", "pos_id": "K1"}
    )
    assert drawer.body() == DrawerOpenBody(cashier=None, reason="no sale", pos_id="K1")
    assert drawer.payload_as(DrawerOpenBody).reason == "no sale"
    for message, field, words in (
        (MESSAGE, "payload.receipt_no", "missing"),
        (
            msgspec.structs.replace(drawer, payload={**drawer.payload, "reason": 5}),
            "payload.reason",
            "expected str, got int",
        ),
        (msgspec.structs.replace(drawer, kind="report.z"), "payload.report", "missing"),
    ):
        with pytest.raises(FieldError) as caught:
            message.body()
        assert (caught.value.field, caught.value.message) == (field, words)
    totals = {"total": 1, "rounding": 0, "to_pay": "1", "discount": 0, "return_total": 0, "vat": []}
    receipt = msgspec.structs.replace(MESSAGE, payload={"receipt_no": 1, "type": "normal", "totals": totals})
    with pytest.raises(FieldError, match=r"^payload.totals.to_pay: expected int, got str$"):
        receipt.payload_as(ReceiptPayload)


def test_an_acks_status_is_stored_or_held_and_an_older_rejected_is_held() -> None:
    def ack(status: str) -> bytes:
        return json.dumps({"schema": "tillgw.bus-ack/1", "msg_id": "1/m/K1/1", "status": status}).encode()

    assert [decode_ack(ack(s)).status for s in ("stored", "held", "rejected")] == [
        AckStatus.STORED,
        AckStatus.HELD,
        AckStatus.HELD,
    ]
    with pytest.raises(MessageError, match="ack status 'maybe' is not stored or held"):
        decode_ack(ack("maybe"))
    with pytest.raises(FieldError, match=r"^msg_id: missing$"):
        decode_ack(b'{"schema": "tillgw.bus-ack/1", "status": "held"}')


@pytest.mark.parametrize(
    "data", [b"{x", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000, b"[]", b'{"schema": "tillgw.other/1"}']
)
def test_what_is_no_message_of_ours_is_a_message_error_for_every_decoder(data: bytes) -> None:
    for decode in (decode_message, decode_ack, decode_update, decode_request, decode_answer, decode_status):
        with pytest.raises(MessageError):
            decode(data)
