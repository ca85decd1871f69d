"""The Infrasec TCS driver: Infrasec's cloud control unit, reached over HTTPS with the
register's TLS client certificate (:mod:`protocols.tcs`, docs/protocols/tcs.md).

:class:`TcsControlUnit` implements :class:`~gateway.devices.control_units.interface.ControlUnit` with
the retry, deadline and health rules of the other drivers
(:class:`~gateway.devices.control_units.operation.RetryingUnit`, HTTPS from
:class:`~gateway.devices.control_units.cloud_driver.CloudUnit`):

* every request has a deadline (``request_timeout``, 2 s) and is tried at most
  ``1 + retries`` times (3), every try the same document: the same ``RequestID``
  (derived from the register and ``seq``, so a resend after a crash is the same request
  too) and the same ``SequenceNumber``; a service that did register the first time
  answers the repeat with the same code and stores nothing new;
* no answer, a dropped connection, HTTP 5xx, an unreadable answer: retried (see
  :mod:`gateway.devices.control_units.cloud_driver`); out of tries, :class:`ControlUnitUnavailable`, and
  the pipeline keeps the receipt in doubt and sends it again before the next sale;
* ``ResponseCode`` other than 0: :class:`ControlUnitRefused`, final, ``said`` holding
  the service's words (ResponseCode, ResponseMessage, ResponseReason, SKVResponseCode,
  SKVResponseMessage). TCS publishes no list of codes, so the refusal carries no NAK
  number;
* the certificate missing, unreadable, of the wrong password, expired, or refused by the
  server: final, the driver ``failed`` with words that say so;
* an accepted normal receipt without a ``Code``: a fault (another try), never a receipt.
  A copy, a pro forma and a training receipt may come back without one: MEWS' test of
  the real service says copies and pro forma "should have the same control code as the
  original transaction so its not returned in the response" (docs/protocols/tcs.md,
  choice D2). A code that does come back is kept.

Identity: protocol ``TCS``, the unit id is the ``ControlServerID`` of the first accepted
registration (the register-status answer carries none; MEWS' ``RegisterStatusResponse``);
no firmware (the service states no version). Status: ``RegisterStatus`` for this
register; ``ResponseCode`` 0 is OK.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from pathlib import Path
from typing import Unpack

from gateway.common.health import DeviceState
from gateway.common.i18n import tr
from gateway.devices.control_units.cloud_driver import SEQ_MAX, CloudUnit, Op
from gateway.devices.control_units.http_driver import Stop
from gateway.devices.control_units.interface import ControlUnit, Registration, UnitStatus
from gateway.devices.control_units.operation import Tries
from protocols import tcs
from protocols.ccsp import MainStatus, StorageStatus
from protocols.skv import ControlData, ReceiptType

__all__ = ["TCS_VERSION", "TcsControlUnit"]

log = logging.getLogger("tillgw.devices.tcs_unit")
frame_log = logging.getLogger("tillgw.devices.tcs_unit.frames")

TCS_VERSION = 1  # TCS carries no version number; this is the one we know
SERVICE = "the Infrasec TCS service"
_OK = UnitStatus(MainStatus.OK, StorageStatus.OK)
_EPOCH = datetime(2000, 1, 1)  # any date: the settings check needs a receipt
_HEADERS = {"Content-Type": tcs.CONTENT_TYPE, "Accept": "application/xml"}


class TcsControlUnit(CloudUnit, ControlUnit):
    """The TCS service at ``url`` for the register ``pos_id`` of ``orgnr``.

    ``url`` is the service's address (``https://tcs-verify.infrasec-api.se`` gets the
    path ``/tcsserver``). ``application_id`` is the POS application's id at Infrasec,
    ``register_id`` the register's ``ManRegisterID`` (``pos_id`` when not given),
    ``register_address`` where the register stands. ``client_cert`` is the register's
    PKCS#12 file and ``client_cert_password`` its password; ``ca_cert`` a PEM file to
    trust instead of the system's store. Nothing is opened until :meth:`start` or the
    first call.
    """

    _log = log
    _frame_log = frame_log
    service = SERVICE
    protocol = "TCS"
    version = TCS_VERSION
    _unit_noun = "control server"

    def __init__(
        self,
        url: str,
        pos_id: str,
        orgnr: str,
        *,
        application_id: str,
        register_id: str | None = None,
        register_address: str,
        client_cert: Path | None,
        client_cert_password: str | None,
        ca_cert: Path | None = None,
        **tries: Unpack[Tries],
    ) -> None:
        super().__init__(
            url,
            pos_id,
            orgnr,
            ca_cert=ca_cert,
            client_cert=client_cert,
            client_cert_password=client_cert_password,
            **tries,
        )
        self.application_id = application_id
        self.register_id = register_id if register_id is not None else pos_id
        self.register_address = register_address
        # Checked now, so that a wrong setting stops the till's start, not its first sale.
        tcs.encode_request(
            tcs.RegisterStatusRequest(application_id, uuid.UUID(int=0), self._orgnr, self.register_id)
        )
        tcs.control_data_of(
            ControlData(_EPOCH, self._orgnr, self.pos_id, 0, ReceiptType.TRAINING, 0),
            register_id=self.register_id,
            register_address=register_address,
        )

    def _checked_url(self, url: str) -> str:
        checked = super()._checked_url(url)
        return checked if checked.endswith(tcs.HTTP_PATH) else checked + tcs.HTTP_PATH

    # -- the ControlUnit interface ------------------------------------------------------

    async def register(self, seq: int, data: ControlData, *, cashier: str = "") -> Registration:
        """Register one receipt; the same ``seq`` and data may be sent again safely.
        ``cashier`` is not sent: ``ControlData`` in TCS has no field for it."""
        self._check_receipt(seq, data, seq_max=SEQ_MAX)
        request = tcs.TcsRequest(
            self.application_id,
            tcs.request_id_of(self.register_id, self._orgnr, seq),
            tcs.control_data_of(data, register_id=self.register_id, register_address=self.register_address),
        )
        body = tcs.encode_request(request)  # the same bytes on every try

        async def attempt(op: Op) -> Registration:
            return await self._register(op, seq, data.receipt_type, body)

        return await self._operate(f"seq={seq} receipt={data.receipt_no}", attempt, identify=True)

    # -- single requests ----------------------------------------------------------------

    async def _register(self, op: Op, seq: int, receipt_type: ReceiptType, body: bytes) -> Registration:
        answer = await self._exchange(op, body)
        reply = self._decoded(op, answer, tcs.decode_response)
        if not reply.ok:
            self._refuse_with(
                tr(
                    "{service} refused the receipt ({said}) — check the receipt; if "
                    "it happens again, call the supplier with these words"
                ).format(service=SERVICE, said=reply.said),
                op,
                reply.said,
            )
        # Copies and pro forma receipts get no code from TCS (choice D2); training neither.
        code = reply.control_code.code
        if receipt_type is not ReceiptType.COPY or code:
            code = self._code_of(code, receipt_type)
        self._note_unit(reply.control_code.control_server_id)
        unit_id = reply.control_code.control_server_id or (self._identity.unit_id if self._identity else "")
        return self._registered(
            op,
            seq,
            code,
            unit_id,
            _OK.main,
            _OK.storage,
            receipt_type,
            code_needed=bool(code) or receipt_type is ReceiptType.NORMAL,
        )

    async def _query_status(self, op: Op) -> UnitStatus:
        request = tcs.RegisterStatusRequest(self.application_id, uuid.uuid4(), self._orgnr, self.register_id)
        answer = await self._exchange(op, tcs.encode_request(request))
        reply = self._decoded(op, answer, tcs.decode_status_response)
        if not reply.ok:
            self._refuse_with(
                tr(
                    "{service} does not accept this register ({said}) — check "
                    "[control_unit] register_id ({register_id!r}) and that the "
                    "register is enrolled with Infrasec"
                ).format(service=SERVICE, said=reply.said, register_id=self.register_id),
                op,
                reply.said,
                state=DeviceState.FAILED,
            )
        return _OK

    async def _exchange(self, op: Op, body: bytes) -> bytes:
        if self._client_cert is None:
            raise Stop(
                tr(
                    "the TCS server refused this register's certificate (none is "
                    "configured) — set [control_unit] client_cert to the certificate "
                    "Infrasec issued for this register"
                )
            )
        answer = await self._post(op, self.url, body, _HEADERS)
        if answer.status != 200:
            op.journal.received(answer.body, f"HTTP {answer.status} {answer.reason}")
            if answer.status in (401, 403):
                raise Stop(self._certificate_refused_words(f"HTTP {answer.status}"))
            raise Stop(
                tr(
                    "{url} answered HTTP {status} {reason} instead of a TCS reply — "
                    "check the control unit's address (like https://…/tcsserver)"
                ).format(url=self.url, status=answer.status, reason=answer.reason)
            )
        return answer.body

    def _certificate_refused_words(self, alert: str) -> str:
        return tr(
            "the TCS server refused this register's certificate ({alert}) — "
            "check that [control_unit] client_cert is the certificate "
            "Infrasec issued for this register and still valid; if it is, "
            "call Infrasec"
        ).format(alert=alert)
