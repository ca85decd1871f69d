"""The srv4pos driver: srv4pos's cloud control unit, JSON over HTTPS with an API key
(:mod:`protocols.srv4pos`, docs/protocols/srv4pos.md).

:class:`Srv4posControlUnit` implements :class:`~gateway.devices.fiscal_unit.ControlUnit`
with the retry, deadline and health rules of the other drivers (HTTPS from
:class:`~gateway.devices.https_unit.HttpsUnit`):

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

from gateway.devices.fiscal_unit import ControlUnit, Registration, UnitIdentity, UnitStatus, needs_code
from gateway.devices.health import DeviceState
from gateway.devices.https_unit import HttpProblem, HttpsUnit, Op, Stop
from gateway.devices.unit_operation import Retry
from protocols import srv4pos
from protocols.ccsp import MainStatus, StorageStatus
from protocols.skv import ControlData, FieldError, validate_orgnr

__all__ = ["DEFAULT_REQUEST_TIMEOUT", "DEFAULT_RETRIES", "SRV4POS_VERSION", "Srv4posControlUnit"]

log = logging.getLogger("tillgw.devices.srv4pos_unit")
frame_log = logging.getLogger("tillgw.devices.srv4pos_unit.frames")

DEFAULT_REQUEST_TIMEOUT = 2.0
DEFAULT_RETRIES = 2
DEFAULT_BUSY_TIMEOUT = 10.0
DEFAULT_BUSY_POLL = 0.5
SRV4POS_VERSION = 1  # the wire carries no protocol version; the API's is in the URL (v45)
SERVICE = "srv4pos"
_OK = UnitStatus(MainStatus.OK, StorageStatus.OK)


class Srv4posControlUnit(HttpsUnit, ControlUnit):
    """The srv4pos service at ``url`` (its base, like ``https://s.srv4pos.com/v45``) for
    the register ``pos_id`` of ``orgnr``.

    ``corporate_id`` is the seller's id at srv4pos, ``cash_register_name`` the register's
    name there (``pos_id`` when not given), ``api_key`` the key its activation returned;
    ``ca_cert`` a PEM file to trust instead of the system's store.
    """

    _log = log
    _frame_log = frame_log
    service = SERVICE

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
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        busy_poll: float = DEFAULT_BUSY_POLL,
        watch_interval: float | None = None,
    ) -> None:
        super().__init__(
            url,
            pos_id,
            ca_cert=ca_cert,
            client_cert=None,
            client_cert_password=None,
            request_timeout=request_timeout,
            retries=retries,
            busy_timeout=busy_timeout,
            busy_poll=busy_poll,
            watch_interval=watch_interval,
        )
        self._orgnr = validate_orgnr(orgnr)
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

    @property
    def orgnr(self) -> str:
        return self._orgnr

    # -- the ControlUnit interface ------------------------------------------------------

    async def start(self) -> UnitIdentity:
        """Nothing to ask (choice D3): the driver is ready, its identity learnt at the
        first registration."""
        self._start_watching()
        return await self.identity()

    async def identity(self) -> UnitIdentity:
        async def body(op: Op) -> UnitIdentity:
            self._apply_status(await self._query_status(op))
            return self._identity or UnitIdentity("", SRV4POS_VERSION, "", protocol="srv4pos")

        return await self._operate("handshake", body, identify=False)

    async def register(self, seq: int, data: ControlData, *, cashier: str = "") -> Registration:
        """Register one receipt; the same ``seq`` and data may be sent again safely.
        ``cashier`` is not sent: the registration has no field for it."""
        if isinstance(seq, bool) or not 1 <= seq < 2**63:
            raise ValueError(f"seq {seq} is outside 1..{2**63 - 1}")
        if data.pos_id != self.pos_id:
            raise ValueError(
                f"receipt for POS id {data.pos_id!r} sent to the control unit of {self.pos_id!r}"
            )
        if data.orgnr != self._orgnr:
            raise ValueError(
                f"receipt for organisation number {data.orgnr} sent to the control unit of {self._orgnr}"
            )
        body = srv4pos.encode_kd(srv4pos.kd_request_of(data))  # the same bytes on every try

        async def attempt(op: Op) -> Registration:
            return await self._register(op, seq, data, body)

        return await self._operate(f"seq={seq} receipt={data.receipt_no}", attempt, identify=False)

    # -- single requests ----------------------------------------------------------------

    async def _query_status(self, op: Op) -> UnitStatus:
        return self._last_status or _OK

    async def _register(self, op: Op, seq: int, data: ControlData, body: bytes) -> Registration:
        answer = await self._post(op, self._kd_url, body, self.__headers)
        if answer.status != 200:
            op.journal.received(answer.body, f"HTTP {answer.status} {answer.reason}")
            self._answer_error(op, answer.status, answer.reason, answer.body)
        try:
            reply = srv4pos.decode_kd_reply(answer.body)
        except FieldError as exc:
            op.journal.received(answer.body, f"dropped: {exc}")
            raise Retry(HttpProblem.DAMAGED, str(exc)) from None
        op.journal.received(answer.body)
        code = self._code_of(reply.response, data.receipt_type)
        if reply.control_unit_serial:
            if self._identity is not None and self._identity.unit_id not in ("", reply.control_unit_serial):
                log.warning(
                    "%s: the control unit changed from %s to %s",
                    self.url,
                    self._identity.unit_id,
                    reply.control_unit_serial,
                )
            self._identity = UnitIdentity(reply.control_unit_serial, SRV4POS_VERSION, "", protocol="srv4pos")
        self._sticky = None
        self._apply_status(_OK)
        return Registration(
            seq,
            code,
            reply.control_unit_serial,
            _OK.main,
            _OK.storage,
            tuple(op.journal.records),
            op.attempt,
            needs_code(data.receipt_type),
        )

    def _answer_error(self, op: Op, status: int, reason: str, body: bytes) -> None:
        """What an HTTP 4xx (or other non-200 below 500) calls for; always raises."""
        try:
            error = srv4pos.decode_error(body)
            said = f"HTTP {status} {error.said}"
        except FieldError:
            said = f"HTTP {status} {reason}".strip()
        if status == 401:
            raise Stop(f"srv4pos refused the API key ({said}) — check [control_unit] api_key")
        if status == 403:
            raise Stop(
                f"srv4pos does not let this register in ({said}) — the API key may have expired or the "
                "register may not be approved yet; check [control_unit] api_key and corporate_id, "
                "or ask srv4pos"
            )
        if status in (404, 405, 410) or not 400 <= status < 500:
            raise Stop(
                f"{self.url} answered {said} instead of a srv4pos reply — check the control unit's "
                "address (like https://s.srv4pos.com/v45), corporate_id and cash_register_name"
            )
        self._refuse_with(
            f"srv4pos refused the receipt ({said}) — check the receipt; if it happens again, "
            "call the supplier with these words",
            op,
            said,
            state=DeviceState.FAILED if error_is_lasting(said) else None,
        )


def error_is_lasting(said: str) -> bool:
    """A refusal no next receipt will escape: the unit's journal memory is full."""
    return "InternLoggFull" in said
