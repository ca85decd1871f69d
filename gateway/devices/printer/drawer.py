"""The cash drawer, opened and read through the receipt printer's port.

The drawer hangs on the printer's drawer port: ``ESC p`` pulses its solenoid, and its
sensor is bit 2 of the ``DLE EOT 1`` answer (drawer kick-out connector pin 3). Whether
pin 3 high means open or closed depends on the drawer, hence ``open_level``.

A kick is now or never. It may wait for the printer's port (behind a receipt being
sent, or a reconnect) for at most ``expiry`` seconds (3 by default); past that it is
:attr:`KickOutcome.EXPIRED` and never sent — a drawer must not fly open minutes after
it was asked, in front of someone else. A kick is also never sent to a printer that is
offline (out of paper, cover open): the printer would hold it and open the drawer when
it came back. Both are checked right before the bytes go out.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass

from gateway.common.i18n import tr
from gateway.devices.printer.driver import CommandExpired, PrinterDriver
from gateway.devices.printer.settings import OpenLevel
from gateway.devices.printer.status import PrinterCondition, PrinterOffline, PrinterUnavailable
from protocols import escpos
from protocols.escpos import DrawerPin

__all__ = [
    "DEFAULT_KICK_EXPIRY",
    "DEFAULT_SENSOR_POLL",
    "Drawer",
    "KickOutcome",
    "KickResult",
    "OpenLevel",
]

log = logging.getLogger("tillgw.devices.drawer")

DEFAULT_KICK_EXPIRY = 3.0
DEFAULT_SENSOR_POLL = 0.25  # how often wait_until_closed asks the sensor


class KickOutcome(enum.StrEnum):
    SENT = "sent"  # the pulse went out; drawer_open says what the sensor read after it
    EXPIRED = "expired"  # waited too long for the printer; never sent
    REFUSED = "refused"  # the printer is offline and would hold the kick; never sent
    FAILED = "failed"  # the printer did not answer; never sent, or its effect unknown


@dataclass(frozen=True, slots=True)
class KickResult:
    outcome: KickOutcome
    reason: str  # "sent", or what happened — what to do
    waited: float  # seconds from the request to the pulse (or to giving up)
    drawer_open: bool | None  # the sensor right after the pulse (None if not read)

    @property
    def sent(self) -> bool:
        return self.outcome is KickOutcome.SENT


class Drawer:
    """The drawer on ``printer``'s drawer port.

    ``pin``, ``on_ms`` and ``off_ms`` are the default pulse (2 ms steps, up to 510 ms);
    each :meth:`open_drawer` may override them.
    """

    def __init__(
        self,
        printer: PrinterDriver,
        *,
        pin: DrawerPin = DrawerPin.PIN2,
        on_ms: int = 50,
        off_ms: int = 500,
        open_level: OpenLevel | str = OpenLevel.HIGH,
        expiry: float = DEFAULT_KICK_EXPIRY,
        sensor_poll: float = DEFAULT_SENSOR_POLL,
    ) -> None:
        if expiry <= 0 or sensor_poll <= 0:
            raise ValueError("expiry and sensor_poll must be positive")
        escpos.drawer_kick(pin, on_ms, off_ms)  # refuse a bad default pulse now, not at the sale
        self.printer = printer
        self.pin = DrawerPin(pin)
        self.on_ms = on_ms
        self.off_ms = off_ms
        self.open_level = OpenLevel(open_level)
        self.expiry = expiry
        self.sensor_poll = sensor_poll

    def is_open_in(self, condition: PrinterCondition) -> bool:
        """What the sensor bit of ``condition`` means for this drawer."""
        return condition.printer.drawer_pin3_high == (self.open_level is OpenLevel.HIGH)

    async def open_drawer(
        self, pin: DrawerPin | None = None, on_ms: int | None = None, off_ms: int | None = None
    ) -> KickResult:
        """Pulse the drawer open, now or never (see the module documentation)."""
        requested = self.printer.now()  # first: the wait for the port counts from here
        kick = escpos.drawer_kick(
            self.pin if pin is None else pin,
            self.on_ms if on_ms is None else on_ms,
            self.off_ms if off_ms is None else off_ms,
        )
        try:
            after = await self.printer.send_now(kick, not_after=requested + self.expiry)
        except CommandExpired as exc:
            return self._not_sent(
                KickOutcome.EXPIRED,
                tr(
                    "drawer not opened: the kick {exc} — it is dropped so that the "
                    "drawer never opens late; open it again"
                ).format(exc=exc),
                requested,
            )
        except PrinterOffline as exc:
            words = tr("drawer not opened: {exc} (the printer must be online to open it)").format(exc=exc)
            return self._not_sent(KickOutcome.REFUSED, words, requested)
        except PrinterUnavailable as exc:
            return self._not_sent(
                KickOutcome.FAILED, tr("drawer not opened: {exc}").format(exc=exc), requested
            )
        waited = self.printer.now() - requested
        log.info("%s: drawer kicked after %.2f s", self.printer.url, waited)
        return KickResult(KickOutcome.SENT, "sent", waited, self.is_open_in(after))

    def _not_sent(self, outcome: KickOutcome, reason: str, requested: float) -> KickResult:
        log.warning("%s: %s", self.printer.url, reason)
        return KickResult(outcome, reason, self.printer.now() - requested, None)

    async def drawer_open(self) -> bool:
        """Read the sensor now. Raises :class:`PrinterUnavailable` if the printer is silent."""
        return self.is_open_in(await self.printer.status())

    async def wait_until_closed(self, within: float) -> bool:
        """Wait (asking every ``sensor_poll`` s) until the drawer is shut; ``False`` after ``within`` s.

        A printer that does not answer counts as "not known closed" meanwhile.
        """
        if within <= 0:
            raise ValueError(f"within {within} must be positive")
        try:
            async with asyncio.timeout(within):
                while True:
                    try:
                        if not await self.drawer_open():
                            return True
                    except PrinterUnavailable:
                        pass
                    # A poll period: the sensor gives no signal of its own (without ASB).
                    await asyncio.sleep(self.sensor_poll)
        except TimeoutError:
            return False
