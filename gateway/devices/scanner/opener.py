"""Barcode scanners: :func:`open_scanner` gives the right driver for an address.

Two drivers share everything above the bytes and keys
(:class:`~gateway.devices.scanner.driver.ScannerDriver`):

* :class:`~gateway.devices.scanner.serial_line.SerialScanner`: a serial or USB-CDC scanner,
  or one on a TCP port, reached through the shared link layer;
* :class:`~gateway.devices.scanner.hid.HidScanner`: a USB keyboard-wedge scanner read
  with evdev (``evdev://…`` URLs).

Every scan reaches the subscribers as a :class:`~gateway.devices.scanner.events.ScanEvent`,
and every line that did not make a code as a
:class:`~gateway.devices.scanner.events.ScanRejected` (:mod:`gateway.devices.scanner.events`).
"""

from __future__ import annotations

from typing import Any

from gateway.devices.scanner.driver import ScannerDriver
from gateway.devices.scanner.serial_line import SerialScanner

__all__ = ["open_scanner"]


def open_scanner(url: str, **options: Any) -> ScannerDriver:
    """The right driver for ``url`` (not yet started).

    ``evdev:///dev/input/eventN``, ``evdev://name=NAME`` or ``evdev://id=VVVV:PPPP``: a
    keyboard-wedge scanner (see :mod:`gateway.devices.scanner.hid`); anything else: a
    serial or TCP scanner. ``options`` go to the driver's constructor (``config``,
    ``backoff``, and ``opener``/``open_timeout`` for serial or ``backend`` for HID).
    """
    if url.startswith("evdev:"):
        # Imported here: only tills with a keyboard-wedge scanner need it.
        from gateway.devices.scanner.hid import HidScanner

        return HidScanner(url, **options)
    return SerialScanner(url, **options)
