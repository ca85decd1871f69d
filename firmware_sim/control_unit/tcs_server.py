"""A simulated Infrasec TCS service: ``POST /tcsserver`` over HTTPS that demands a client
certificate, in front of the simulated unit (:mod:`firmware_sim.control_unit.unit`).

What it enforces (the contract in docs/protocols/tcs.md): a client certificate from the
simulator's CA (TLS refuses a missing, expired or foreign one); a well-formed
``TcsRequest`` (:mod:`protocols.tcs`); the ``ApplicationID`` and ``OrgNr`` it was
started with, when given; the register (``ManRegisterID``) licensed in the unit. A
receipt is stored under ``seq:<SequenceNumber>`` (``copy:<SequenceNumber>`` for a copy)
for its ``ManRegisterID``, so the same request sent again gets the same code and
stores nothing new.

Answers: every TCS document goes out with HTTP 200 (MEWS' client reads a
``TcsResponse`` only from a success status), ``ResponseCode`` 0 when accepted. TCS
publishes no list of its codes, so a refusal carries the unit's CCSP error number as
``ResponseCode`` and its text as ``ResponseMessage`` (choice S1 of the doc), and a
request the service cannot read gets ``ResponseCode`` 3 with the bad field in
``ResponseReason``. A copy and a pro forma receipt are answered without a ``Code``, as
the real service does (MEWS' test: "Proforma and Copy transactions should have the same
control code as the original transaction so its not returned"); training too.
``server-error`` is HTTP 500; ``no-reply`` holds the request; a power cut drops it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from firmware_sim.control_unit.http_server import UnitHttpServer, run_app, server_tls_context
from firmware_sim.control_unit.pki import Pki, make_pki
from firmware_sim.control_unit.unit import ControlUnit, NoReply, Refused, ServerError
from protocols import tcs
from protocols.ccsp import NakCode, StorageStatus
from protocols.skv import FieldError, ReceiptType

__all__ = ["TcsServer", "TcsService", "serve_tcs"]

log = logging.getLogger("tillgw.sim.control_unit.tcs")

INVALID_DATA = 3
_WITHOUT_CODE = (ReceiptType.COPY, ReceiptType.PRO_FORMA, ReceiptType.TRAINING)


@dataclass(frozen=True, slots=True)
class TcsService:
    """Where a simulated TCS service listens and what a register needs to reach it."""

    url: str
    pki: Pki


def _refusal(
    code: int, message: str, reason: str, request_id: str = "", application_id: str = ""
) -> tcs.TcsResponse:
    return tcs.TcsResponse(
        code,
        message,
        reason,
        application_id,
        request_id,
        sequence_number="",
        control_code=tcs.ControlCode("", ""),
    )


def _refused_words(refused: Refused) -> tuple[str, str]:
    code = refused.code
    if code in NakCode.__members__.values():
        return NakCode(code).text, f"control unit error {code:03d}"
    return "Unknown error", f"control unit error {code:03d}"


class TcsServer(UnitHttpServer):
    _log = log

    def __init__(
        self,
        unit: ControlUnit,
        *,
        application_id: str | None = None,
        orgnr: str | None = None,
        hold_seconds: float | None = None,
    ) -> None:
        super().__init__(unit, hold_seconds)
        self.application_id = application_id
        self.orgnr = orgnr

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(tcs.HTTP_PATH, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        log.debug("rx %s", body.decode("utf-8", "replace"))
        try:
            reply = await self._answer(body)
        except NoReply as exc:
            await self.silence(request, exc)
        except ServerError as exc:
            log.info("server error: %s", exc)
            return web.Response(status=500, text="Internal Server Error")
        data = tcs.encode_response(reply)
        log.debug("tx %s", data.decode("utf-8"))
        return web.Response(body=data, content_type="application/xml", charset="utf-8")

    async def _answer(self, body: bytes) -> tcs.RegisterStatusResponse:
        try:
            message = tcs.decode_request(body)
        except FieldError as exc:
            await self.unit_call(self.unit.status())  # a bad request still meets the faults
            log.info("refused: %s", exc)
            return _refusal(INVALID_DATA, "invalid data", str(exc))
        ids = (str(message.request_id), message.application_id)
        if self.application_id is not None and message.application_id != self.application_id:
            await self.unit_call(self.unit.status())
            return _refusal(
                INVALID_DATA, "Invalid data", f"ApplicationID {message.application_id!r} is not known", *ids
            )
        org_nr = (
            message.org_nr if isinstance(message, tcs.RegisterStatusRequest) else message.control_data.org_nr
        )
        if self.orgnr is not None and org_nr != self.orgnr:
            await self.unit_call(self.unit.status())
            return _refusal(INVALID_DATA, "invalid data", f"OrgNr {org_nr} is not enrolled here", *ids)
        try:
            if isinstance(message, tcs.RegisterStatusRequest):
                return await self._status(message)
            return await self._register(message)
        except Refused as exc:
            log.info("refused: %s", exc)
            text, reason = _refused_words(exc)
            if isinstance(exc, _BadField):
                reason = exc.reason
            return _refusal(int(exc.code), text, reason, *ids)

    async def _status(self, message: tcs.RegisterStatusRequest) -> tcs.RegisterStatusResponse:
        status = await self.unit_call(self.unit.status())
        ident = await self.unit_call(self.unit.identity())
        if message.register_id not in ident.pos_ids and not self.unit.config.auto_register:
            raise Refused(NakCode.INVALID_POS_ID)
        if status.storage is StorageStatus.FULL:
            raise Refused(NakCode.STORAGE_FULL)
        return tcs.RegisterStatusResponse(
            tcs.OK, "OK", "", message.application_id, str(message.request_id), "0", "OK"
        )

    async def _register(self, message: tcs.TcsRequest) -> tcs.TcsResponse:
        control = message.control_data
        try:
            data = tcs.skv_data_of(control, control.register_id)
        except FieldError as exc:
            raise _BadField(str(exc)) from None
        key = f"{'copy' if control.receipt_type is ReceiptType.COPY else 'seq'}:{control.sequence_number}"
        done = await self.unit_call(self.unit.register(key, data))
        code = "" if control.receipt_type in _WITHOUT_CODE else done.code
        return tcs.TcsResponse(
            tcs.OK,
            "OK",
            "",
            message.application_id,
            str(message.request_id),
            "0",
            "OK",
            sequence_number=str(control.sequence_number),
            control_code=tcs.ControlCode(done.unit_id, code),
        )


class _BadField(Refused):
    """Receipt data the unit cannot take (a ManRegisterID too long for a POS id, …)."""

    def __init__(self, reason: str) -> None:
        super().__init__(INVALID_DATA)
        self.reason = reason


@contextlib.asynccontextmanager
async def serve_tcs(
    unit: ControlUnit,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    pki_dir: Path,
    application_id: str | None = None,
    orgnr: str | None = None,
    hold_seconds: float | None = None,
) -> AsyncIterator[TcsService]:
    """Serve TCS over HTTPS on ``host:port`` (0: a free port) with the CA in ``pki_dir``.

    Yields the URL a register POSTs to (``https://127.0.0.1:40123/tcsserver``) and the
    certificate files (:class:`~firmware_sim.control_unit.pki.Pki`): a register needs
    ``ca_cert`` and ``client_p12`` with ``client_password``. ``application_id`` and
    ``orgnr``, when given, are the only ones accepted.
    """
    pki = make_pki(pki_dir)
    server = TcsServer(unit, application_id=application_id, orgnr=orgnr, hold_seconds=hold_seconds)
    tls = server_tls_context(pki, client_auth=True)
    async with run_app(server, host, port, tls, tcs.HTTP_PATH) as url:
        yield TcsService(url, pki)
