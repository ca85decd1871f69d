"""Bad text and odd digits over the API's JSON: a 4xx naming the field, never a 5xx, nothing written.

A hypothesis test against a real till: the simulated control unit over TCP, the till's
SQLite journal, the API served by aiohttp — all on an event loop in a thread of their
own, so that hypothesis drives plain HTTP requests from the test's thread. Every text
field of every body gets a lone surrogate or a control character somewhere in it; every
amount and quantity gets digits that are not ASCII, a trailing newline, a space.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_sim.control_unit import ControlUnit, UnitConfig
from firmware_sim.control_unit.ccsp_server import serve_tcp
from gateway.api.app import make_app
from gateway.fiscal.journal import open_readonly
from gateway.till import Till
from tests.api.conftest import sale, till_config


@dataclass
class Served:
    host: str
    port: int
    token: str
    database: Path

    def post(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        """``(status, JSON)``; ``json.dumps`` writes a lone surrogate as the escape ``\\udxxx``."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            data = json.dumps(body).encode("ascii")
            conn.request("POST", path, data, {"Authorization": f"Bearer {self.token}"})
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()

    def journal_size(self) -> int:
        with open_readonly(self.database) as conn:
            row = conn.execute("SELECT COUNT(*) FROM journal").fetchone()
        return int(row[0])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A till and its API on an event loop in its own thread, for the whole module."""
    base = tmp_path_factory.mktemp("bad-input")
    loop = asyncio.new_event_loop()
    ready: list[Served] = []
    started, stop = threading.Event(), asyncio.Event()

    async def main() -> None:
        unit = ControlUnit(UnitConfig(data_dir=base / "unit"))
        try:
            async with contextlib.AsyncExitStack() as stack:
                url = await stack.enter_async_context(serve_tcp(unit))
                till = await Till.open(till_config(base / "till", url))
                stack.push_async_callback(till.close)
                runner = web.AppRunner(make_app(till))
                await runner.setup()
                stack.push_async_callback(runner.cleanup)
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                host, port = runner.addresses[0][:2]
                ready.append(Served(host, port, till.token, till.files.database))
                started.set()
                await stop.wait()
        finally:
            unit.close()
            started.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait()
    assert ready, "the till did not start"
    yield ready[0]
    loop.call_soon_threadsafe(stop.set)
    thread.join()
    loop.close()


# -- what goes wrong ---------------------------------------------------------------------

_SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
_CONTROLS = st.sampled_from([*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]).map(chr)
_PLAIN = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), max_size=8)


@st.composite
def bad_text(draw: st.DrawFn) -> str:
    """Plain text with one lone surrogate or control character somewhere in it."""
    bad = draw(st.one_of(_SURROGATES, _CONTROLS))
    return draw(_PLAIN) + bad + draw(_PLAIN)


# Digits that are digits to Python's \d and int(), but not ASCII.
_ODD_DIGITS = st.sampled_from(
    [chr(c) for c in (*range(0x0660, 0x066A), *range(0x06F0, 0x06FA), *range(0xFF10, 0xFF1A), 0x0966, 0x00B2)]
)


@st.composite
def odd_amount(draw: st.DrawFn) -> str:
    """An amount as a person might read it, that the API must not take."""
    digits = [str(draw(st.integers(0, 9))) for _ in range(draw(st.integers(1, 4)))]
    cents = [str(draw(st.integers(0, 9))) for _ in range(2)]
    how = draw(st.sampled_from(["odd digit", "newline", "space", "tab", "nbsp", "comma"]))
    if how == "odd digit":
        where = draw(st.integers(0, len(digits) - 1))
        digits[where] = draw(_ODD_DIGITS)
        return "".join(digits) + "." + "".join(cents)
    text = "".join(digits) + "." + "".join(cents)
    return {
        "newline": text + "\n",
        "space": " " + text,
        "tab": text + "\t",
        "nbsp": text + "\u00a0",
        "comma": text.replace(".", ","),
    }[how]


# -- where it goes: (path, body maker, the field the answer must name) ----------------------

Place = tuple[str, Callable[[str], dict[str, Any]], str]


def _receipt_with(path: tuple[str | int, ...]) -> Callable[[str], dict[str, Any]]:
    def make(value: str) -> dict[str, Any]:
        body = sale("bad-1", **{"cashier": "Anna"})
        body["lines"][0].update(article="1001", discount="0.00")
        body["payments"][0]["reference"] = "A1"
        target: Any = body
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return body

    return make


def _field_name(path: tuple[str | int, ...]) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out


def _receipt_places(paths: list[tuple[str | int, ...]]) -> list[Place]:
    return [("/v1/receipts", _receipt_with(p), _field_name(p)) for p in paths]


def _event(kind: str, key: str, **rest: Any) -> Place:
    return ("/v1/events", lambda v: {"type": kind, **rest, key: v}, key)


TEXT_PLACES: list[Place] = [
    *_receipt_places(
        [
            ("id",),
            ("type",),
            ("cashier",),
            ("customer",),
            ("order",),
            ("lines", 0, "text"),
            ("lines", 0, "article"),
            ("lines", 0, "group"),
            ("lines", 0, "kind"),
            ("payments", 0, "method"),
            ("payments", 0, "reference"),
        ]
    ),
    _event("cashier.login", "cashier"),
    _event("price.change", "article", new_price="10.00"),
    _event("price.change", "text", article="1001", new_price="10.00"),
    _event("float.change", "note", amount="100.00"),
    _event("float.change", "cashier", amount="100.00"),
    ("/v1/drawer/open", lambda v: {"cashier": v}, "cashier"),
    ("/v1/customers", lambda v: {"name": v}, "name"),
    ("/v1/customers", lambda v: {"name": "Bertil", "email": v}, "email"),
    ("/v1/customers", lambda v: {"name": "Bertil", "address": ["Box 1", v]}, "address[1]"),
    (
        "/v1/orders",
        lambda v: {"customer": v, "lines": [{"article": "1", "quantity": "1"}], "delivery": "now"},
        "customer",
    ),
    (
        "/v1/orders",
        lambda v: {
            "customer": "1",
            "lines": [{"article": "1", "quantity": "1", "text": v}],
            "delivery": "now",
        },
        "lines[0].text",
    ),
    (
        "/v1/orders",
        lambda v: {
            "customer": "1",
            "lines": [{"article": "1", "quantity": "1"}],
            "delivery": "now",
            "note": v,
        },
        "note",
    ),
]

AMOUNT_PLACES: list[Place] = [
    *_receipt_places(
        [
            ("lines", 0, "unit_price"),
            ("lines", 0, "quantity"),
            ("lines", 0, "vat_rate"),
            ("lines", 0, "discount"),
            ("discount",),
            ("payments", 0, "amount"),
        ]
    ),
    _event("price.change", "new_price", article="1001"),
    _event("price.change", "old_price", article="1001", new_price="10.00"),
    _event("float.change", "amount"),
    (
        "/v1/orders",
        lambda v: {"customer": "1", "lines": [{"article": "1", "quantity": v}], "delivery": "now"},
        "lines[0].quantity",
    ),
]

_EXAMPLES = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _refused(served: Served, path: str, body: dict[str, Any], field: str) -> None:
    before = served.journal_size()
    status, answer = served.post(path, body)
    assert 400 <= status < 500, f"{path} {body!r}: {status} {answer}"
    error = answer["error"]
    assert set(error) == {"code", "message", "field"}, answer
    assert error["field"] == field, answer
    assert error["message"].strip()
    assert served.journal_size() == before, "a refused request wrote to the journal"


@_EXAMPLES
@given(place=st.sampled_from(TEXT_PLACES), value=bad_text())
def test_a_lone_surrogate_or_control_character_in_any_text_is_422_naming_the_field(
    served: Served, place: Place, value: str
) -> None:
    path, make, field = place
    _refused(served, path, make(value), field)


@_EXAMPLES
@given(place=st.sampled_from(AMOUNT_PLACES), value=odd_amount())
def test_an_amount_with_other_than_ascii_digits_is_4xx_naming_the_field(
    served: Served, place: Place, value: str
) -> None:
    path, make, field = place
    _refused(served, path, make(value), field)


@pytest.mark.parametrize("text", ["٢٥.٠٠", "۲۵.۰۰", "２５.００", "25.00\n", "25.00 ", "²5.00", "25.0０"])
def test_the_amounts_of_the_issue_are_refused(served: Served, text: str) -> None:
    body = sale("odd-1", price="25.00")
    body["payments"][0]["amount"] = text
    _refused(served, "/v1/receipts", body, "payments[0].amount")


def test_plain_text_with_swedish_letters_is_taken(served: Served) -> None:
    status, answer = served.post("/v1/receipts", sale("plain-1", cashier="Åsa Öberg"))
    assert status == 201, answer
