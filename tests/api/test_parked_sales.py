"""Parked sales over HTTP on a real till: parked, kept over a restart, resumed and completed by a
receipt, abandoned; counted as unfinished on X and Z; in the SKV export; every refusal in words."""

from __future__ import annotations

import io
import sqlite3
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from typing import Any

from firmware_sim.control_unit import ControlUnit
from gateway.fiscal.export.period import Period
from gateway.fiscal.export.skv import Register, write_skv
from gateway.fiscal.export.skv_xml import KOMPONENT_NS
from gateway.fiscal.journal import open_readonly
from tests.api.conftest import POS_ID, Api, ApiFactory, sale

K = f"{{{KOMPONENT_NS}}}"

# 2 × 32,00 at 12 % less 4,00 on the line, and a service at 25 %: 60,00 + 20,00 − 5,00 off the sale.
LINES: list[dict[str, Any]] = [
    {"text": "Kaffe", "quantity": 2, "unit_price": "32.00", "vat_rate": 12, "discount": "4.00"},
    {"text": "Presentinslagning", "quantity": 1, "unit_price": "20.00", "vat_rate": 25, "kind": "service"},
]
PARKED = {"lines": LINES, "discount": "5.00", "cashier": "Anna"}
PARKED_TOTAL = "75.00"


def completing(request_id: str, parked: str, price: str = PARKED_TOTAL) -> dict[str, Any]:
    """The receipt that completes a parked sale, paid by card."""
    return {**sale(request_id, price), "parked": parked}


async def restarted(api: Api, make_api: ApiFactory) -> Api:
    """The same till stopped and started again on its data directory."""
    await api.till.close()
    return await make_api()


async def test_a_parked_sale_survives_a_restart_and_a_receipt_completes_it(
    api: Api, make_api: ApiFactory, unit: ControlUnit
) -> None:
    status, parked = await api.call("POST", "/v1/sales/bord-7/park", PARKED)
    assert status == 201, parked
    assert (parked["id"], parked["state"], parked["total"], parked["cashier"]) == (
        "bord-7",
        "parked",
        PARKED_TOTAL,
        "Anna",
    )
    assert [line["text"] for line in parked["lines"]] == ["Kaffe", "Presentinslagning"]
    assert unit.memory.records() == []  # parking registers nothing with the control unit

    # The same parking again is a repeat: the first answer, nothing journaled.
    status, again = await api.call("POST", "/v1/sales/bord-7/park", PARKED)
    assert (status, again) == (200, parked)

    api = await restarted(api, make_api)
    status, now = await api.call("GET", "/v1/sales/parked")
    assert status == 200
    assert (now["count"], now["total"], [s["id"] for s in now["parked"]]) == (1, PARKED_TOTAL, ["bord-7"])

    status, resumed = await api.call("POST", "/v1/sales/bord-7/resume", {"cashier": "Bo"})
    assert status == 200 and resumed["state"] == "resumed"
    assert resumed["lines"] == parked["lines"] and resumed["discount"] == "5.00"
    assert (await api.call("GET", "/v1/sales/parked"))[1]["count"] == 0

    # The POS adds a line to the sale it got back and completes it.
    receipt = {
        **completing("pos-1", "bord-7", "85.00"),
        "lines": [*LINES, sale()["lines"][0] | {"unit_price": "10.00"}],
    }
    receipt["discount"] = "5.00"
    status, done = await api.call("POST", "/v1/receipts", receipt)
    assert status == 201, done
    assert done["parked"] == "bord-7" and done["receipt_no"] == 1
    status, again = await api.call("POST", "/v1/receipts", receipt)  # the POS lost the answer
    assert (status, again["receipt_no"]) == (200, 1)
    status, completed = await api.call("GET", "/v1/sales/bord-7")
    assert (completed["state"], completed["receipt_no"]) == ("completed", 1)

    kinds = [kind for kind, _ in api.journal()]
    assert [k for k in kinds if k.startswith("sale.")] == ["sale.parked", "sale.resumed", "sale.completed"]
    completion = next(body for kind, body in api.journal() if kind == "sale.completed")
    assert completion["receipt_no"] == 1 and completion["request_id"] == "pos-1"

    # Done is done: no second receipt completes it, and it cannot be resumed again.
    status, error = await api.call("POST", "/v1/receipts", completing("pos-2", "bord-7"))
    assert status == 409 and error["error"]["code"] == "already_completed"
    assert error["error"]["field"] == "parked" and "receipt 1" in error["error"]["message"]
    assert len(unit.memory.records()) == 1  # the refused receipt was not registered
    status, error = await api.call("POST", "/v1/sales/bord-7/resume")
    assert (status, error["error"]["code"]) == (409, "already_completed")


async def test_a_receipt_may_complete_a_sale_still_parked(api: Api) -> None:
    await api.call("POST", "/v1/sales/t1/park", PARKED)
    status, done = await api.call("POST", "/v1/receipts", completing("pos-1", "t1"))
    assert status == 201, done
    assert (await api.call("GET", "/v1/sales/t1"))[1]["state"] == "completed"
    assert (await api.call("GET", "/v1/sales/parked"))[1] == {"parked": [], "count": 0, "total": "0.00"}


async def test_an_abandoned_sale_is_no_longer_parked_and_cannot_be_resumed_or_completed(api: Api) -> None:
    await api.call("POST", "/v1/sales/t2/park", PARKED)
    status, abandoned = await api.call(
        "POST", "/v1/sales/t2/abandon", {"cashier": "Anna", "reason": "kunden gick"}
    )
    assert status == 200 and abandoned["state"] == "abandoned"
    body = next(body for kind, body in api.journal() if kind == "sale.abandoned")
    assert (body["id"], body["reason"], body["pos_id"]) == ("t2", "kunden gick", POS_ID)

    for action in ("resume", "abandon"):
        status, error = await api.call("POST", f"/v1/sales/t2/{action}")
        assert (status, error["error"]["code"]) == (409, "already_abandoned")
        assert "already abandoned" in error["error"]["message"]
    status, error = await api.call("POST", "/v1/receipts", completing("pos-1", "t2"))
    assert (status, error["error"]["code"], error["error"]["field"]) == (409, "already_abandoned", "parked")
    assert (await api.call("GET", "/v1/sales/parked"))[1]["count"] == 0


async def test_what_is_wrong_is_refused_in_words(api: Api) -> None:
    cases: list[tuple[str, str, Any, int, str, str | None]] = [
        ("POST", "/v1/sales/nobody/resume", None, 404, "not_found", None),
        ("POST", "/v1/sales/nobody/abandon", None, 404, "not_found", None),
        ("GET", "/v1/sales/nobody", None, 404, "not_found", None),
        (
            "POST",
            "/v1/sales/t3/park",
            {"lines": [{**LINES[0], "vat_rate": 7}]},
            422,
            "invalid",
            "lines[0].vat_rate",
        ),
        ("POST", "/v1/sales/t3/park", {"lines": []}, 422, "invalid", "lines"),
        ("POST", "/v1/sales/t3/park", {**PARKED, "payments": []}, 422, "invalid", "payments"),
        ("POST", "/v1/sales/t3/park", {**PARKED, "discount": "500.00"}, 422, "invalid", "discount"),
        ("POST", "/v1/sales/" + "x" * 65 + "/park", PARKED, 422, "invalid", "id"),
        # The list's own name: a sale parked so could never be fetched by its id.
        ("POST", "/v1/sales/parked/park", PARKED, 422, "invalid", "id"),
        ("POST", "/v1/sales/t3/park", None, 400, "bad_json", None),
        ("POST", "/v1/receipts", completing("pos-9", "nobody"), 422, "invalid", "parked"),
        ("POST", "/v1/receipts", completing("pos-9", "a b"), 422, "invalid", "parked"),
    ]
    for method, path, body, status, code, field in cases:
        got, answer = await api.call(method, path, body)
        assert (got, answer["error"]["code"], answer["error"].get("field")) == (status, code, field), (
            path,
            answer,
        )
        assert answer["error"]["message"]
    assert [kind for kind, _ in api.journal() if kind.startswith("sale.")] == []

    await api.call("POST", "/v1/sales/t3/park", PARKED)
    status, error = await api.call("POST", "/v1/sales/t3/park", {**PARKED, "discount": "1.00"})
    assert (status, error["error"]["code"], error["error"]["field"]) == (409, "id_reused", "id")


async def test_x_and_z_count_the_sales_still_parked_as_unfinished_with_their_amount(api: Api) -> None:
    await api.call("POST", "/v1/sales/a/park", PARKED)
    await api.call("POST", "/v1/sales/b/park", {"lines": [LINES[1]]})
    await api.call("POST", "/v1/sales/c/park", {"lines": [LINES[1]]})
    await api.call("POST", "/v1/sales/c/abandon")
    await api.call("POST", "/v1/receipts", sale("pos-1"))

    status, x = await api.call("POST", "/v1/reports/x")
    assert status == 201
    assert x["unfinished"] == {
        "count": 2,
        "amount": "95.00",
        "refused": {"count": 0, "amount": "0.00"},
        "in_doubt": {"count": 0, "amount": "0.00"},
        "parked": {"count": 2, "amount": "95.00"},
    }
    assert "varav parkerade" in x["text"]

    await api.call("POST", "/v1/sales/b/resume")
    status, z = await api.call("POST", "/v1/reports/z")
    assert z["unfinished"]["parked"] == {"count": 1, "amount": PARKED_TOTAL}
    # Still parked after the Z: counted again on the next period's reports, whenever parked.
    _, z2 = await api.call("POST", "/v1/reports/z")
    assert z2["unfinished"]["count"] == 1 and z2["unfinished"]["amount"] == PARKED_TOTAL
    await api.call("POST", "/v1/receipts", completing("pos-2", "a"))
    _, x2 = await api.call("POST", "/v1/reports/x")
    assert x2["unfinished"]["parked"] == {"count": 0, "amount": "0.00"}

    # The journal's report entries keep the figure in öre.
    body = next(body for kind, body in reversed(api.journal()) if kind == "report.z")
    assert body["unfinished"]["parked"] == {"count": 1, "amount": 7500}


async def test_a_report_is_refused_when_the_parked_sales_table_was_changed(api: Api) -> None:
    await api.call("POST", "/v1/sales/a/park", PARKED)
    await api.call("POST", "/v1/sales/a/resume")
    # Someone takes the resumption out of the table, to count a sale that was not parked.
    with sqlite3.connect(api.till.files.database) as conn:
        conn.execute("UPDATE parked_sales SET state = 'parked', ended_seq = NULL")
    conn.close()
    status, error = await api.call("POST", "/v1/reports/z")
    assert (status, error["error"]["code"]) == (409, "journal_index_mismatch")
    assert "parked sale 'a'" in error["error"]["message"]


async def test_the_skv_export_has_a_parked_article_per_line_of_each_parking(api: Api) -> None:
    await api.call("POST", "/v1/sales/bord-7/park", PARKED)
    await api.call("POST", "/v1/sales/bord-7/resume")
    await api.call("POST", "/v1/receipts", completing("pos-1", "bord-7"))
    await api.call("POST", "/v1/sales/bord-8/park", {"lines": [LINES[1]]})
    await api.call("POST", "/v1/reports/z")

    register = Register(
        company="Kaffebaren i Växjö AB",
        orgnr="556123-4567",
        address="Storgatan 1, 352 30 Växjö",
        pos_id=POS_ID,
        manufacturing_number="TG-0001",
        model="tillgw",
        program="tillgw gateway",
        version="0.1.0",
    )
    today = date.today()
    out = io.StringIO()
    with open_readonly(api.till.files.database) as conn:
        counts = write_skv(conn, register, Period(today - timedelta(days=1), today + timedelta(days=1)), out)
    assert counts["ParkeraRegistreradArtikel"] == 3 and counts["Kassakvitto"] == 1
    # What became of a parking has no known element: a note (an XML comment) at its place.
    assert "Parkering bord-7 återupptagen." in out.getvalue()
    assert "Parkering bord-7 avslutad med kassakvitto nr 1." in out.getvalue()
    root = ET.fromstring(out.getvalue())
    events = [h for h in root.iter(f"{K}Handelse") if h.find(f"{K}ParkeraRegistreradArtikel") is not None]
    assert [h.findtext(f"{K}InloggadAnvandare") for h in events] == ["Anna", "Anna", None]
    articles = [a for h in events if (a := h.find(f"{K}ParkeraRegistreradArtikel")) is not None]
    assert [child.tag.removeprefix(K) for child in articles[0]] == [
        "TypAvArtikel",
        "Artikelnamn",
        "AntalAvRegistreradArtikel",
        "PrisPerEnhet",
        "PrisPaRegistreradArtikel",
        "RabatterPaRegistreradArtikelLISTA",
        "MervardesskattesatsForRegistreradArtikel",
        "MervardesskattPaRegistreradArtikel",
        "IdentitetsbeteckningPaParkering",
    ]
    first, second, third = (
        {child.tag.removeprefix(K): child.text for child in a if child.text and child.text.strip()}
        for a in articles
    )
    # Kaffe: 64,00 − 4,00 = 60,00, less its share of the 5,00 off the sale (60/80 of it): 56,25.
    assert (first["TypAvArtikel"], first["Artikelnamn"], first["AntalAvRegistreradArtikel"]) == (
        "VARA",
        "Kaffe",
        "2",
    )
    assert (first["PrisPerEnhet"], first["PrisPaRegistreradArtikel"]) == ("32", "56.25")
    assert first["MervardesskattesatsForRegistreradArtikel"] == "12"
    assert first["MervardesskattPaRegistreradArtikel"] == "6.03"  # 56,25 × 12/112
    assert first["IdentitetsbeteckningPaParkering"] == "bord-7"
    discount = articles[0].find(
        f"{K}RabatterPaRegistreradArtikelLISTA/{K}RabattPaRegistreradArtikel/{K}RabattensBelopp"
    )
    assert discount is not None and discount.text == "7.75"  # 4,00 of its own and 3,75 of the sale's
    assert (second["TypAvArtikel"], second["PrisPaRegistreradArtikel"]) == ("TJANST", "18.75")
    assert (third["IdentitetsbeteckningPaParkering"], third["PrisPaRegistreradArtikel"]) == ("bord-8", "20")
    assert "RabatterPaRegistreradArtikelLISTA" not in third
    # The Z counts the sale still parked: bord-8, 20,00.
    z = next(root.iter(f"{K}ZDagrapport"))
    assert (
        z.findtext(f"{K}AntalOavslutadeForsaljningar"),
        z.findtext(f"{K}TotaltBeloppAvOavslutadeForsaljningar"),
    ) == ("1", "20")
