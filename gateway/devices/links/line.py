"""How a device is wired: serial line settings and a per-device protocol description.

These are plain frozen values so that a config file can override any of them (an older
CleanCash unit ran at 19200 baud with DTR) without the driver knowing where they came
from. Network links ignore the serial settings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CCSP_LEGACY_PROTOCOL",
    "CCSP_PROTOCOL",
    "CCSP_SPEEDS",
    "DeviceProtocol",
    "LineSettings",
]

Parity = Literal["N", "E", "O", "M", "S"]


@dataclass(frozen=True, slots=True)
class LineSettings:
    """A serial line's framing and flow control, in pyserial's own terms."""

    baudrate: int = 9600
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Parity = "N"
    stopbits: float = 1
    rtscts: bool = False
    dsrdtr: bool = False
    xonxoff: bool = False
    dtr: bool | None = (
        None  # DTR held asserted (True) or dropped (False) once open; None: the driver's default
    )

    def __post_init__(self) -> None:
        if self.baudrate <= 0:
            raise ValueError(f"baudrate {self.baudrate} must be positive")
        if self.bytesize not in (5, 6, 7, 8):
            raise ValueError(f"bytesize {self.bytesize} must be 5, 6, 7 or 8")
        if self.parity not in ("N", "E", "O", "M", "S"):
            raise ValueError(f"parity {self.parity!r} must be one of N, E, O, M, S")
        if self.stopbits not in (1, 1.5, 2):
            raise ValueError(f"stopbits {self.stopbits} must be 1, 1.5 or 2")

    def serial_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``serial.serial_for_url`` (DTR is set after opening)."""
        kwargs = dataclasses.asdict(self)
        del kwargs["dtr"]
        return kwargs

    def describe(self) -> str:
        """``9600 8N1`` plus the flow control in use, as a technician writes it."""
        stop = f"{self.stopbits:g}"
        flow = [name for name in ("rtscts", "dsrdtr", "xonxoff") if getattr(self, name)]
        if self.dtr is not None:
            flow.append("DTR on" if self.dtr else "DTR off")
        return f"{self.baudrate} {self.bytesize}{self.parity}{stop}" + (
            f" ({', '.join(flow)})" if flow else ""
        )


@dataclass(frozen=True, slots=True)
class DeviceProtocol:
    """What a driver needs to know about a device family before it speaks to one."""

    name: str
    line: LineSettings = LineSettings()

    def with_line(self, **changes: Any) -> DeviceProtocol:
        """The same protocol on a differently wired line (``with_line(baudrate=19200)``)."""
        return dataclasses.replace(self, line=dataclasses.replace(self.line, **changes))


CCSP_PROTOCOL = DeviceProtocol("CCSP", LineSettings(baudrate=9600))
"""CleanCash Serial Protocol: 9600 8N1, no flow control."""

CCSP_LEGACY_PROTOCOL = CCSP_PROTOCOL.with_line(baudrate=19200, dtr=True)
"""The CleanCash COM API samples' ``COM3:19200,DTR``: 19200 8N1 with DTR asserted (a
line the unit draws on, not hardware flow control)."""

CCSP_SPEEDS = (9600, 57600, 19200)
"""The speeds CCSP units answer at, in the order a till probes them: 9600 (the common
one), 57600 (Skattedosan / PosPlus units), 19200 (older units)."""
