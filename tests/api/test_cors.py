"""CORS over real HTTP: a listed origin's preflight is allowed without the token, every
answer to it carries the header (errors too), any other origin gets nothing, and a till
configured without origins sends no CORS header at all. Then ``[api].cors_origins`` as
the configuration file states it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDictProxy

from gateway.config import ApiConfig, ConfigError, load_config
from tests.api.conftest import MAX_BODY_KIB, Api, ApiFactory, sale
from tests.test_config import example, write

POS_PAGE = "https://pos.example.se"
OTHER_PAGE = "https://evil.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


async def cors_api(make_api: ApiFactory, *origins: str) -> Api:
    return await make_api(settings={"api": ApiConfig("127.0.0.1", 0, MAX_BODY_KIB, origins)})


def cors_headers(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    return {
        name.lower(): value for name, value in headers.items() if name.lower().startswith("access-control-")
    }


async def test_a_listed_origin_s_preflight_is_allowed_without_the_token(make_api: ApiFactory) -> None:
    api = await cors_api(make_api, "http://localhost:3000", POS_PAGE)
    headers = {"Origin": POS_PAGE, **PREFLIGHT}
    async with api.session.options(api.url + "/v1/receipts", headers=headers) as response:
        assert response.status == 204
        assert await response.read() == b""
        allowed = cors_headers(response.headers)
        assert response.headers["Vary"] == "Origin"
    assert allowed["access-control-allow-origin"] == POS_PAGE
    assert {"GET", "POST"} <= {m.strip() for m in allowed["access-control-allow-methods"].split(",")}
    named = {h.strip().lower() for h in allowed["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= named
    assert int(allowed["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in allowed  # the session cookie stays the page's own


async def test_another_origin_s_preflight_is_refused_without_a_cors_header(make_api: ApiFactory) -> None:
    api = await cors_api(make_api, POS_PAGE)
    for origin in (OTHER_PAGE, POS_PAGE + ":8443", POS_PAGE.replace("https", "http")):
        headers = {"Origin": origin, **PREFLIGHT}
        async with api.session.options(api.url + "/v1/receipts", headers=headers) as response:
            assert response.status == 401  # asked like any request, and refused by the token check
            assert cors_headers(response.headers) == {}


async def test_every_answer_to_a_listed_origin_carries_the_header(make_api: ApiFactory) -> None:
    api = await cors_api(make_api, POS_PAGE)
    page = {"Origin": POS_PAGE}
    answers: list[tuple[int, Any, CIMultiDictProxy[str]]] = []
    for method, path, body, auth in [
        ("POST", "/v1/receipts", sale(), True),  # 201
        ("GET", "/v1/status", None, True),  # 200
        ("POST", "/v1/receipts", sale(), False),  # 401: the page can read why
        ("GET", "/v1/receipts/999", None, True),  # 404
        ("POST", "/v1/receipts", {"id": "x", "lines": []}, True),  # 422
        ("DELETE", "/v1/receipts", None, True),  # 405
    ]:
        headers = {**page, **(api.auth if auth else {})}
        async with api.session.request(method, api.url + path, json=body, headers=headers) as response:
            answers.append((response.status, await response.json(), response.headers))
    assert [status for status, _, _ in answers] == [201, 200, 401, 404, 422, 405]
    for status, _, answer_headers in answers:
        assert answer_headers["Access-Control-Allow-Origin"] == POS_PAGE, status
        assert answer_headers["Vary"] == "Origin", status
        assert "Access-Control-Allow-Methods" not in answer_headers  # a preflight's alone
    assert answers[2][1]["error"]["code"] == "unauthorized"
    assert answers[2][2]["WWW-Authenticate"].startswith("Bearer")


async def test_a_request_from_another_origin_or_none_gets_no_cors_header(make_api: ApiFactory) -> None:
    api = await cors_api(make_api, POS_PAGE)
    for headers in ({"Origin": OTHER_PAGE}, {}):
        async with api.session.get(api.url + "/v1/status", headers={**api.auth, **headers}) as response:
            assert response.status == 200
            assert cors_headers(response.headers) == {}
            assert response.headers["Vary"] == "Origin"  # the answer depends on Origin: caches must know


async def test_the_event_stream_still_opens_from_a_listed_origin(make_api: ApiFactory) -> None:
    api = await cors_api(make_api, POS_PAGE)
    url = api.url + "/v1/events"
    async with api.session.ws_connect(url, headers={"Origin": POS_PAGE, **api.auth}) as ws:
        assert not ws.closed


async def test_without_origins_there_are_no_cors_headers_at_all(api: Api) -> None:
    assert api.till.config.api.cors_origins == ()
    headers = {"Origin": POS_PAGE, **PREFLIGHT}
    async with api.session.options(api.url + "/v1/receipts", headers=headers) as response:
        assert response.status == 401
        assert cors_headers(response.headers) == {}
        assert "Vary" not in response.headers
    async with api.session.get(api.url + "/v1/status", headers={**api.auth, "Origin": POS_PAGE}) as response:
        assert response.status == 200
        assert cors_headers(response.headers) == {}
        assert "Vary" not in response.headers


def with_origins(tmp_path: Path, origins: str) -> Path:
    return write(tmp_path, example().replace("[api]\n", f"[api]\ncors_origins = {origins}\n", 1))


def test_origins_are_read_as_a_browser_sends_them(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, example())).api.cors_origins == ()
    listed = '["https://POS.example.se:443", "http://localhost:3000", "http://[::1]:8080", "https://pos.example.se"]'
    config = load_config(with_origins(tmp_path, listed))
    assert config.api.cors_origins == ("https://pos.example.se", "http://localhost:3000", "http://[::1]:8080")


@pytest.mark.parametrize(
    "origins",
    [
        '"https://pos.example.se"',  # not a list
        '["https://pos.example.se/"]',  # a path, even a bare slash
        '["https://pos.example.se/kassa"]',
        '["pos.example.se"]',  # no scheme
        '["ftp://pos.example.se"]',
        '["*"]',
        '["https://pos.example.se:70000"]',
        "[8080]",
    ],
)
def test_a_wrong_origin_names_the_key(tmp_path: Path, origins: str) -> None:
    with pytest.raises(ConfigError, match=r"\[api\]\.cors_origins: "):
        load_config(with_origins(tmp_path, origins))
