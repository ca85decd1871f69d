"""The srv4pos driver: srv4pos's cloud control unit, JSON over HTTPS with an API key
(:mod:`protocols.srv4pos`, docs/protocols/srv4pos.md).

:class:`Srv4posControlUnit` implements :class:`~gateway.devices.control_units.interface.ControlUnit`
with the retry, deadline and health rules of the other drivers (HTTPS from
:class:`~gateway.devices.control_units.cloud_driver.CloudUnit`):

* every request has a deadline (``request_timeout``, 2 s) and is tried at most
  ``1 + retries`` times (3), every try the same body (the same ``receiptNumber``,
  ``printType`` and ``date``); the service answers a repeat with the same code;
* no answer, a dropped connection, HTTP 5xx, an unreadable answer: retried; out of
  tries, :class:`ControlUnitUnavailable` (the pipeline keeps the receipt in doubt and
  sends it again before the next sale);
* HTTP 401 (``UnauthorizedJsonException``): the API key is wrong — final, ``failed``:
  "srv4pos refused the API key — check [control_unit] api_key";
* HTTP 403 (``ForbiddenJsonException``): the key expired, or the register is not yet
  approved (srv4pos's "I got 403" page) — final, ``failed``, with the service's words;
* HTTP 404 / 405 / 410: the address (or its API version) is wrong — final, ``failed``;
* any other 4xx (``ValueNotValidJsonException``, ``ControlUnitReceiptJsonException``,
  …): :class:`ControlUnitRefused` with the error name and details as ``said``;
* an accepted normal or copy receipt without a code: a fault (another try), never a
  receipt; pro forma and training need none (training is sent as pro forma: the codec's
  choice 2). A code that does come back is kept.

Identity: protocol ``srv4pos``; the unit id is the ``controlUnitSerial`` of the last
accepted registration ("" before the first); no firmware (the service states none).
Status: srv4pos publishes no status call whose answer is known, so :meth:`status` asks
nothing and reports the last registration's result (OK before the first) — a dead
service shows at the next sale, not while the till is idle (docs, choice D3).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Unpack
from zoneinfo import ZoneInfo

from gateway.common.health import DeviceState
from gateway.common.i18n import tr
from gateway.devices.control_units.cloud_driver import SEQ_MAX, CloudUnit, Op
from gateway.devices.control_units.http_driver import Stop
from gateway.devices.control_units.interface import ControlUnit, Registration, UnitStatus
from gateway.devices.control_units.operation import Tries
from protocols import srv4pos
from protocols.ccsp import MainStatus, StorageStatus
from protocols.skv import ControlData, FieldError

__all__ = ["SRV4POS_VERSION", "Srv4posControlUnit"]

log = logging.getLogger("tillgw.devices.srv4pos_unit")
frame_log = logging.getLogger("tillgw.devices.srv4pos_unit.frames")

SRV4POS_VERSION = 1  # the wire carries no protocol version; the API's is in the URL (v45)
SERVICE = "srv4pos"
_OK = UnitStatus(MainStatus.OK, StorageStatus.OK)


class Srv4posControlUnit(CloudUnit, ControlUnit):
    """The srv4pos service at ``url`` (its base, like ``https://s.srv4pos.com/v45``) for
    the register ``pos_id`` of ``orgnr``.

    ``corporate_id`` is the seller's id at srv4pos, ``cash_register_name`` the register's
    name there (``pos_id`` when not given), ``api_key`` the key its activation returned;
    ``ca_cert`` a PEM file to trust instead of the system's store.
    """

    _log = log
    _frame_log = frame_log
    service = SERVICE
    protocol = "srv4pos"
    version = SRV4POS_VERSION
    _unit_noun = "control unit"

    def __init__(
        self,
        url: str,
        pos_id: str,
        orgnr: str,
        *,
        corporate_id: str,
        cash_register_name: str | None = None,
        api_key: str,
        ca_cert: Path | None = None,
        zone: ZoneInfo = srv4pos.SWEDEN,
        **tries: Unpack[Tries],
    ) -> None:
        super().__init__(url, pos_id, orgnr, ca_cert=ca_cert, **tries)
        self.zone = zone  # the shop's: the receipt's local date and time become the service's instant in it
        self.corporate_id = corporate_id
        self.cash_register_name = cash_register_name if cash_register_name is not None else pos_id
        self._kd_url = self.url + srv4pos.kd_path(corporate_id, self.cash_register_name)
        try:
            self.__headers = {
                "Authorization": srv4pos.authorization(api_key),
                "Content-Type": srv4pos.CONTENT_TYPE,
                "Accept": srv4pos.CONTENT_TYPE,
            }
        except srv4pos.Srv4posError:
            raise ValueError("[control_unit] api_key is empty or holds a control character") from None

    # -- the ControlUnit interface ------------------------------------------------------

    async def register(self, seq: int, data: ControlData, *, cashier: str = "") -> Registration:
        """Register one receipt; the same ``seq`` and data may be sent again safely.
        ``cashier`` is not sent: the registration has no field for it."""
        self._check_receipt(seq, data, seq_max=SEQ_MAX)
        body = srv4pos.encode_kd(srv4pos.kd_request_of(data, self.zone))  # the same bytes on every try

        async def attempt(op: Op) -> Registration:
            return await self._register(op, seq, data, body)

        return await self._operate(f"seq={seq} receipt={data.receipt_no}", attempt, identify=False)

    # -- single requests ----------------------------------------------------------------

    async def _query_status(self, op: Op) -> UnitStatus:
        """Nothing to ask (choice D3): the last registration's result, OK before the first."""
        return self._last_status or _OK

    async def _register(self, op: Op, seq: int, data: ControlData, body: bytes) -> Registration:
        answer = await self._post(op, self._kd_url, body, self.__headers)
        if answer.status != 200:
            op.journal.received(answer.body, f"HTTP {answer.status} {answer.reason}")
            self._answer_error(op, answer.status, answer.reason, answer.body)
        reply = self._decoded(op, answer.body, srv4pos.decode_kd_reply)
        code = self._code_of(reply.response, data.receipt_type)
        self._note_unit(reply.control_unit_serial)
        return self._registered(
            op, seq, code, reply.control_unit_serial, _OK.main, _OK.storage, data.receipt_type
        )

    def _answer_error(self, op: Op, status: int, reason: str, body: bytes) -> None:
        """What an HTTP 4xx (or other non-200 below 500) calls for; always raises."""
        try:
            error = srv4pos.decode_error(body)
            said = f"HTTP {status} {error.said}"
        except FieldError:
            said = f"HTTP {status} {reason}".strip()
        if status == 401:
            raise Stop(
                tr("srv4pos refused the API key ({said}) — check [control_unit] api_key").format(said=said)
            )
        if status == 403:
            raise Stop(
                tr(
                    "srv4pos does not let this register in ({said}) — the API key "
                    "may have expired or the register may not be approved yet; check "
                    "[control_unit] api_key and corporate_id, or ask srv4pos"
                ).format(said=said)
            )
        if status in (404, 405, 410) or not 400 <= status < 500:
            raise Stop(
                tr(
                    "{url} answered {said} instead of a srv4pos reply — check the "
                    "control unit's address (like https://s.srv4pos.com/v45), "
                    "corporate_id and cash_register_name"
                ).format(url=self.url, said=said)
            )
        self._refuse_with(
            tr(
                "srv4pos refused the receipt ({said}) — check the receipt; if it "
                "happens again, call the supplier with these words"
            ).format(said=said),
            op,
            said,
            state=DeviceState.FAILED if error_is_lasting(said) else None,
        )


def error_is_lasting(said: str) -> bool:
    """A refusal no next receipt will escape: the unit's journal memory is full."""
    return "InternLoggFull" in said
