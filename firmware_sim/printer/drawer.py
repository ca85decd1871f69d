"""The cash drawer on the printer's kick-out connector.

A pulse on the pin it is wired to (or a hand on the key) opens it; it closes again after
``drawer_close_seconds``, or when pushed shut. The printer reports it by the level of
the drawer sensor on pin 3, whose polarity is configured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from firmware_sim.printer.config import PrinterConfig
from protocols.escpos import DrawerKick

log = logging.getLogger("tillgw.sim.printer")


class CashDrawer:
    """One drawer; ``kicks`` counts the pulses that opened it."""

    def __init__(self, config: PrinterConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.kicks = 0
        self._opened_at: float | None = None

    def kick(self, kick: DrawerKick) -> None:
        """A drawer kick command reached the connector."""
        wired = self.config.drawer_pin
        if wired is not None and kick.pin is not wired:
            log.info("drawer kick on %s: no drawer wired there", kick.pin.name)
            return
        if kick.on_ms <= 0:
            log.info("drawer kick with a 0 ms pulse: the solenoid does not move")
            return
        self.kicks += 1
        self._opened_at = self.clock()
        log.info("drawer kicked open (%s, %d ms on)", kick.pin.name, kick.on_ms)

    @property
    def is_open(self) -> bool:
        opened = self._opened_at
        if opened is None:
            return False
        close_after = self.config.drawer_close_seconds
        if close_after > 0 and self.clock() - opened >= close_after:
            self._opened_at = None
            return False
        return True

    @property
    def pin3_high(self) -> bool:
        """The raw sensor level ``DLE EOT 1`` reports (see ``drawer_open_high``)."""
        return self.is_open == self.config.drawer_open_high

    def open(self) -> None:
        """Someone opens the drawer by hand (key or lever)."""
        self._opened_at = self.clock()

    def close(self) -> None:
        """Someone pushes the drawer shut."""
        self._opened_at = None
