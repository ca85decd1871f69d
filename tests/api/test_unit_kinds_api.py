"""What the POS and the page are told about a control unit of another kind, or one that says no.

A real till and its API; the simulated XCCSP server demanding Digest credentials, and the
simulated CleanCash refusing with a NAK number no driver knows.
"""

from __future__ import annotations

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.xccsp_server import serve_http
from gateway.config import ControlUnitConfig
from tests.api.conftest import ApiFactory, sale

PASSWORD = "hemligt-9"


async def test_a_refusal_names_the_units_nak_number(make_api: ApiFactory, unit: ControlUnit) -> None:
    api = await make_api()
    unit.faults.set("nak", "12")
    status, answer = await api.call("POST", "/v1/receipts", sale("pos-1"))
    assert status == 503 and answer["error"]["code"] == "control_unit_refused"
    assert answer["error"]["message"].startswith("the control unit refused it: NAK 012")


async def test_xccsp_credentials_work_and_are_never_shown(make_api: ApiFactory, unit: ControlUnit) -> None:
    async with serve_http(unit, credentials=("kassa", PASSWORD), auth="digest") as url:
        with_password = url.replace("http://", f"http://kassa:{PASSWORD}@")
        api = await make_api(control_unit=ControlUnitConfig(with_password, request_timeout=0.5, retries=1))
        status, done = await api.call("POST", "/v1/receipts", sale("pos-1"))
        assert status == 201 and len(done["control_code"]) == 59
        status, shown = await api.call("GET", "/v1/status")
        assert status == 200 and PASSWORD not in str(shown) and url in str(shown)
        async with api.session.get(api.url + "/", headers=api.auth) as page:
            assert PASSWORD not in await page.text()


async def test_wrong_credentials_answer_the_sale_with_what_is_wrong(
    make_api: ApiFactory, unit: ControlUnit
) -> None:
    async with serve_http(unit, credentials=("kassa", PASSWORD), auth="basic") as url:
        wrong = url.replace("http://", "http://kassa:fel-losen@")
        api = await make_api(control_unit=ControlUnitConfig(wrong, request_timeout=0.5, retries=1))
        status, answer = await api.call("POST", "/v1/receipts", sale("pos-1"))
        assert status == 503
        assert "refused the user name or password" in answer["error"]["message"]
        status, shown = await api.call("GET", "/v1/status")
    assert "fel-losen" not in str(shown) and "fel-losen" not in str(answer)
    assert unit.memory.records() == []
