"""A simulated srv4pos service: ``POST {base}/{corporateId}/registration/{cashRegisterName}/kd``
(JSON, :mod:`protocols.srv4pos`) in front of the simulated unit, over HTTPS or plain HTTP.

What it enforces (docs/protocols/srv4pos.md): ``Authorization: Basic base64(apiKey)``
with the key it was started with (else HTTP 401 ``UnauthorizedJsonException``); the
corporate id it serves (another one: 403 ``ForbiddenJsonException``, one seller reaching
another's data); a body that is JSON (else 400 ``MessageNotReadableJsonException``) with
every field valid (else 400 ``ValueNotValidJsonException``, ``details`` naming the
field). A registration is stored under ``<printType>:<receiptNumber>`` for the cash
register, so the same request sent again gets the same answer and stores nothing new.

The unit's refusals are 400 ``ControlUnitReceiptJsonException`` with ``details``
``{command, response, name}`` as the REST reference describes them; the names are
PosPlus's where one fits (journal memory full: ``InternLoggFull24(24)``), else
``CcspNakNNN(N)`` (choice S2 of the doc). ``server-error`` is 500
``InternalServerErrorJsonException``; ``no-reply`` holds the request; a power cut drops it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from firmware_sim.control_unit.http_server import UnitHttpServer, run_app, server_tls_context
from firmware_sim.control_unit.pki import make_pki
from firmware_sim.control_unit.unit import ControlUnit, NoReply, Refused, ServerError
from protocols import srv4pos
from protocols.ccsp import NakCode
from protocols.skv import FieldError

__all__ = ["BASE_PATH", "Srv4posServer", "Srv4posService", "serve_srv4pos"]

log = logging.getLogger("tillgw.sim.control_unit.srv4pos")

BASE_PATH = "/v45"  # the API version in the base URL MEWS used (https://s.srv4pos.com/v45)

_UNIT_ERROR_NAMES = {
    NakCode.STORAGE_FULL: "InternLoggFull24(24)",
    NakCode.LICENSE_EXCEEDED: "AntalAnvandareHarOverskridits14(14)",
    NakCode.INTERNAL_ERROR: "InterntSkrivfel15(15)",
}


@dataclass(frozen=True, slots=True)
class Srv4posService:
    """Where a simulated srv4pos listens: the base URL (``…/v45``) and, over HTTPS, the CA
    file a register must trust."""

    url: str
    ca_cert: Path | None


def _error(status: int, name: str, *details: srv4pos.ErrorDetail) -> web.Response:
    body = srv4pos.encode_error(srv4pos.ErrorReply(name, details))
    log.info("HTTP %d %s", status, body.decode("utf-8"))
    return web.Response(status=status, body=body, content_type=srv4pos.CONTENT_TYPE)


class Srv4posServer(UnitHttpServer):
    _log = log

    def __init__(
        self,
        unit: ControlUnit,
        *,
        api_key: str,
        corporate_id: str,
        orgnr: str,
        hold_seconds: float | None = None,
    ) -> None:
        super().__init__(unit, hold_seconds)
        self._expected = srv4pos.authorization(api_key)
        self.corporate_id = corporate_id
        self.orgnr = orgnr

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(BASE_PATH + "/{corporate_id}/registration/{register}/kd", self.handle)

    def _authorised(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "")
        if not given.startswith("Basic "):
            return False
        try:
            base64.b64decode(given[6:], validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given.encode(), self._expected.encode())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        log.debug("rx %s", body.decode("utf-8", "replace"))
        if not self._authorised(request):
            return _error(
                401, srv4pos.UNAUTHORIZED, srv4pos.ErrorDetail.of(message="Full authentication is required")
            )
        if request.match_info["corporate_id"] != self.corporate_id:
            return _error(
                403,
                srv4pos.FORBIDDEN,
                srv4pos.ErrorDetail.of(message="this API key belongs to another seller"),
            )
        try:
            return await self._register(request.match_info["register"], body)
        except NoReply as exc:
            await self.silence(request, exc)
        except ServerError as exc:
            return _error(500, srv4pos.INTERNAL_SERVER_ERROR, srv4pos.ErrorDetail.of(message=str(exc)))

    async def _register(self, register: str, body: bytes) -> web.Response:
        try:
            kd = srv4pos.decode_kd(body)
        except srv4pos.Srv4posError as exc:
            await self.unit_call(self.unit.status())  # a bad request still meets the faults
            if exc.field in ("body",):
                return _error(400, srv4pos.MESSAGE_NOT_READABLE, srv4pos.ErrorDetail.of(message=exc.reason))
            return _error(
                400,
                srv4pos.VALUE_NOT_VALID,
                srv4pos.ErrorDetail.of(field=exc.field, message=exc.reason, code="NotValid"),
            )
        try:
            data = srv4pos.control_data_of(kd, orgnr=self.orgnr, pos_id=register)
        except FieldError as exc:
            return _error(
                400,
                srv4pos.VALUE_NOT_VALID,
                srv4pos.ErrorDetail.of(
                    field="cashRegisterName" if exc.field == "pos_id" else exc.field,
                    message=exc.reason,
                    code="NotValid",
                ),
            )
        key = f"{kd.print_type.wire.lower()}:{kd.receipt_number}"
        try:
            done = await self.unit_call(self.unit.register(key, data))
        except Refused as exc:
            code = int(exc.code)
            name = _UNIT_ERROR_NAMES.get(code, f"CcspNak{code:03d}({code})")  # type: ignore[call-overload]
            return _error(
                400,
                srv4pos.CONTROL_UNIT_RECEIPT,
                srv4pos.ErrorDetail.of(command="kd", response=f"{code:03d}", name=name),
            )
        reply = srv4pos.encode_kd_reply(srv4pos.KdReply(done.code, done.unit_id))
        log.debug("tx %s", reply.decode("utf-8"))
        return web.Response(body=reply, content_type=srv4pos.CONTENT_TYPE)


@contextlib.asynccontextmanager
async def serve_srv4pos(
    unit: ControlUnit,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    api_key: str,
    corporate_id: str,
    orgnr: str = "5561234567",
    tls_dir: Path | None = None,
    hold_seconds: float | None = None,
) -> AsyncIterator[Srv4posService]:
    """Serve srv4pos on ``host:port`` (0: a free port): HTTPS with a CA made in
    ``tls_dir``, plain HTTP without one. Yields the base URL (``https://127.0.0.1:40123/v45``)
    a register puts before ``/{corporateId}/registration/…`` and the CA file to trust.
    ``orgnr`` is the organisation number the receipts are stored under (srv4pos learns it
    from the activation, not from the registration)."""
    server = Srv4posServer(
        unit, api_key=api_key, corporate_id=corporate_id, orgnr=orgnr, hold_seconds=hold_seconds
    )
    tls = None
    ca_cert = None
    if tls_dir is not None:
        pki = make_pki(tls_dir)
        tls = server_tls_context(pki, client_auth=False)
        ca_cert = pki.ca_cert
    async with run_app(server, host, port, tls, BASE_PATH) as url:
        yield Srv4posService(url, ca_cert)
