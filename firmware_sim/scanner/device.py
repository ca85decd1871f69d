"""The simulated serial barcode scanner, independent of the transport.

A scan is the code's text (UTF-8) wrapped in the configured prefix and suffix and ended
by the terminator (CR, LF or CR LF), which is what a serial or USB-CDC scanner sends
(see :class:`protocols.scanner.LineDeframer` for the reading side). Every attached
receiver gets every scan; a scan with nobody attached is lost, as with a real scanner.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from protocols.scanner import Terminator

log = logging.getLogger("tillgw.sim.scanner")

TERMINATOR_BYTES: dict[Terminator, bytes] = {
    Terminator.CR: b"\r",
    Terminator.LF: b"\n",
    Terminator.CRLF: b"\r\n",
}

_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{2}|[rnte\\])")
_SIMPLE_ESCAPES = {"r": "\r", "n": "\n", "t": "\t", "e": "\x1b", "\\": "\\"}


def unescape(text: str) -> bytes:
    """A prefix or suffix as typed on a command line: ``\\x02``, ``\\r``, ``\\t``, ``\\\\``
    stand for their bytes; everything else is UTF-8."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(1)
        return chr(int(token[1:], 16)) if token[0] == "x" else _SIMPLE_ESCAPES[token]

    return _ESCAPE_RE.sub(replace, text).encode("utf-8")


@dataclass(frozen=True)
class ScannerConfig:
    terminator: Terminator = Terminator.CR
    prefix: bytes = b""
    suffix: bytes = b""


class ScanError(ValueError):
    """A code that cannot be sent as one scan (empty, or with a line break inside)."""


class Scanner:
    def __init__(self, config: ScannerConfig | None = None) -> None:
        self.config = config if config is not None else ScannerConfig()
        self.scans = 0
        self._receivers: list[Callable[[bytes], None]] = []
        self._listeners: list[Callable[[], None]] = []

    def frame(self, code: str) -> bytes:
        """The bytes one scan of ``code`` puts on the line."""
        if not code:
            raise ScanError("an empty code is not a scan")
        if "\r" in code or "\n" in code:
            raise ScanError(f"{code!r} contains a line break, which would end the scan early")
        config = self.config
        return config.prefix + code.encode("utf-8") + config.suffix + TERMINATOR_BYTES[config.terminator]

    def scan(self, code: str) -> int:
        """Send one scan to every receiver; returns how many got it."""
        data = self.frame(code)
        self.scans += 1
        receivers = list(self._receivers)
        for send in receivers:
            send(data)
        if receivers:
            log.info("scanned %r to %d receiver(s)", code, len(receivers))
        else:
            log.warning("scanned %r, but nobody is connected: the scan is lost", code)
        return len(receivers)

    @property
    def receivers(self) -> int:
        return len(self._receivers)

    def attach(self, send: Callable[[bytes], None]) -> Callable[[], None]:
        """Add a receiver (a connected line); returns the function that removes it."""
        self._receivers.append(send)
        self._notify()

        def detach() -> None:
            if send in self._receivers:
                self._receivers.remove(send)
                self._notify()

        return detach

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` whenever a receiver comes or goes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()
