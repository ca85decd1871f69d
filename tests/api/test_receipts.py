"""Receipts over HTTP: registration, idempotency, validation, copies, a unit that says no or nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from firmware_sim.control_unit import ControlUnit, Fault
from tests.api.conftest import MAX_BODY_KIB, Api, sale


def registrations(unit: ControlUnit) -> list[tuple[str, str]]:
    """(receipt number, type) of every registration in the unit's journal memory."""
    return [(r.data.split("|")[3], r.data.split("|")[4]) for r in unit.memory.records()]


async def test_a_receipt_is_registered_once_and_its_repeat_gets_the_first_result(
    api: Api, unit: ControlUnit
) -> None:
    status, first = await api.call("POST", "/v1/receipts", sale("pos-1"))
    assert status == 201
    assert first["receipt_no"] == 1 and first["id"] == "pos-1" and first["type"] == "normal"
    assert first["unit_id"] == unit.unit_id and first["control_code"]
    assert first["printed"] is False  # this till has no printer
    assert first["totals"]["to_pay"] == "125.00"
    assert first["totals"]["vat"] == [{"rate": "25", "gross": "125.00", "vat": "25.00", "net": "100.00"}]
    assert "Kvitto nr" in first["text"] and first["control_code"].split(";")[0] in first["text"]

    status, again = await api.call("POST", "/v1/receipts", sale("pos-1"))
    assert (status, again) == (200, first)
    assert len(unit.memory.records()) == 1

    status, second = await api.call("POST", "/v1/receipts", sale("pos-2", "10.00"))
    assert (status, second["receipt_no"]) == (201, 2)
    assert len(unit.memory.records()) == 2


async def test_a_repeated_id_with_another_receipt_is_refused_and_nothing_is_registered(
    api: Api, unit: ControlUnit
) -> None:
    await api.call("POST", "/v1/receipts", sale("pos-1"))
    status, body = await api.call("POST", "/v1/receipts", sale("pos-1", "99.00"))
    assert status == 409
    assert body["error"]["code"] == "id_reused" and body["error"]["field"] == "id"
    assert "receipt 1" in body["error"]["message"]
    assert len(unit.memory.records()) == 1


def _with(receipt: dict[str, Any], **changes: Any) -> dict[str, Any]:
    line = {**receipt["lines"][0], **changes.pop("line", {})}
    return {**receipt, "lines": [line], **changes}


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (_with(sale(), line={"vat_rate": 7}), "lines[0].vat_rate", "not a Swedish rate"),
        (_with(sale(), line={"unit_price": "12,50"}), "lines[0].unit_price", "not an amount"),
        (_with(sale(), line={"colour": "red"}), "lines[0].colour", "not a field of a line"),
        (_with(sale(), payments=[{"method": "card", "amount": "100.00"}]), "payments", ""),
        (_with(sale(), payments=[{"method": "bitcoin", "amount": "125.00"}]), "payments[0].method", ""),
        (_with(sale(), lines=[]), "lines", "at least one line"),
        ({k: v for k, v in sale().items() if k != "id"}, "id", "is missing"),
        (sale("has space"), "id", "1-64 characters"),
        (sale("x" * 65), "id", "1-64 characters"),
        (sale(42), "id", "1-64 characters"),  # type: ignore[arg-type]
        (sale(till="KASSA9"), "till", "not a field of a receipt"),
    ],
)
async def test_a_receipt_that_fails_validation_is_422_naming_the_field(
    api: Api, unit: ControlUnit, body: dict[str, Any], field: str, words: str
) -> None:
    status, answer = await api.call("POST", "/v1/receipts", body)
    assert status == 422, answer
    assert answer["error"]["code"] == "invalid"
    assert answer["error"]["field"] == field
    assert words in answer["error"]["message"]
    assert unit.memory.records() == [] and api.journal() == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"{not json", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"[" * 1500 + b"]" * 1500, "not JSON"),  # nested too deep to decode
        (b"[1, 2]", "not an array"),
        (b'"a receipt"', "not a string"),
        (b"null", "not null"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_400(api: Api, data: bytes, words: str) -> None:
    status, answer = await api.call(
        "POST", "/v1/receipts", data=data, headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert answer["error"]["code"] == "bad_json"
    assert words in answer["error"]["message"]


async def test_a_body_over_the_limit_is_413(api: Api) -> None:
    body = sale(lines=[sale()["lines"][0]] * 200)  # well over MAX_BODY_KIB
    status, answer = await api.call("POST", "/v1/receipts", body)
    assert status == 413
    assert answer["error"] == {
        "code": "too_large",
        "message": f"the request body is larger than the limit of {MAX_BODY_KIB} KiB",
    }


async def test_a_receipt_is_read_back_with_its_text_and_an_unknown_number_is_404(api: Api) -> None:
    _, posted = await api.call("POST", "/v1/receipts", sale("pos-1"))
    status, found = await api.call("GET", "/v1/receipts/1")
    assert (status, found) == (200, posted)
    for path in ("/v1/receipts/2", "/v1/receipts/0", "/v1/receipts/1?copy=true"):
        status, answer = await api.call("GET", path)
        assert status == 404 and answer["error"]["code"] == "not_found", path
    status, answer = await api.call("GET", "/v1/receipts/1?copy=perhaps")
    assert (status, answer["error"]["field"]) == (400, "copy")
    # Not a number at all, or one no till reaches: no such path.
    for path in ("/v1/receipts/abc", "/v1/receipts/-1", "/v1/receipts/" + "9" * 40):
        status, answer = await api.call("GET", path)
        assert status == 404 and answer["error"]["code"] == "not_found", path


async def test_a_receipt_gets_one_copy_registered_with_the_unit(api: Api, unit: ControlUnit) -> None:
    await api.call("POST", "/v1/receipts", sale("pos-1"))
    status, copy = await api.call("POST", "/v1/receipts/1/copy")
    assert status == 201
    assert (copy["receipt_no"], copy["type"]) == (1, "kopia")
    assert "KOPIA" in copy["text"]
    assert registrations(unit) == [("1", "normal"), ("1", "kopia")]

    status, again = await api.call("POST", "/v1/receipts/1/copy")
    assert status == 409
    assert again["error"]["code"] == "copy_exists" and "only one copy" in again["error"]["message"]
    status, found = await api.call("GET", "/v1/receipts/1?copy=true")
    assert (status, found) == (200, copy)

    status, missing = await api.call("POST", "/v1/receipts/7/copy")
    assert (status, missing["error"]["code"]) == (404, "not_found")
    assert len(unit.memory.records()) == 2


async def test_a_refusing_unit_is_503_with_its_words_and_the_number_is_not_burnt(
    api: Api, unit: ControlUnit
) -> None:
    unit.faults.set(Fault.STORAGE_FULL)
    status, answer = await api.call("POST", "/v1/receipts", sale("pos-1"))
    assert status == 503
    assert answer["error"]["code"] == "control_unit_refused"
    assert "memory full" in answer["error"]["message"]
    # The same id keeps its refusal; a new id takes number 1 once the unit works.
    status, again = await api.call("POST", "/v1/receipts", sale("pos-1"))
    assert (status, again) == (503, answer)
    unit.faults.clear()
    status, done = await api.call("POST", "/v1/receipts", sale("pos-2"))
    assert (status, done["receipt_no"]) == (201, 1)


async def test_a_silent_unit_is_503_and_the_repeated_id_gets_its_receipt_when_it_answers(
    api: Api, unit: ControlUnit
) -> None:
    unit.faults.set(Fault.NO_REPLY)
    status, answer = await api.call("POST", "/v1/receipts", sale("pos-1"))
    assert status == 503
    assert answer["error"]["code"] == "control_unit_unavailable"
    assert "no answer from the control unit" in answer["error"]["message"]
    assert "receipt 1 waits for the control unit" in answer["error"]["message"]
    _, state = await api.call("GET", "/v1/status")
    assert state["receipts"]["waiting_for_control_unit"] == [1]
    assert state["devices"]["control_unit"]["state"] == "failed"

    unit.faults.clear()
    status, first = await api.call("POST", "/v1/receipts", sale("pos-1"))
    assert (status, first["receipt_no"], first["id"]) == (201, 1, "pos-1")  # completed by this request
    status, again = await api.call("POST", "/v1/receipts", sale("pos-1"))
    assert (status, again) == (200, first)
    assert registrations(unit) == [("1", "normal")]


async def test_fifty_concurrent_receipts_get_fifty_unbroken_numbers(api: Api, unit: ControlUnit) -> None:
    results = await asyncio.gather(
        *(api.call("POST", "/v1/receipts", sale(f"pos-{i}", f"{10 + i}.00")) for i in range(50))
    )
    assert [status for status, _ in results] == [201] * 50
    numbers = {body["id"]: body["receipt_no"] for _, body in results}
    assert sorted(numbers.values()) == list(range(1, 51))
    assert sorted(int(no) for no, _ in registrations(unit)) == list(range(1, 51))
    # Each receipt is the one its POS asked for.
    for i, (_, body) in enumerate(results):
        assert body["id"] == f"pos-{i}" and body["totals"]["to_pay"] == f"{10 + i}.00"


async def test_the_same_id_posted_twice_at_once_registers_once(api: Api, unit: ControlUnit) -> None:
    (s1, b1), (s2, b2) = await asyncio.gather(
        api.call("POST", "/v1/receipts", sale("pos-1")), api.call("POST", "/v1/receipts", sale("pos-1"))
    )
    assert sorted((s1, s2)) == [200, 201] and b1 == b2
    assert len(unit.memory.records()) == 1
