"""How a simulated printer is built: paper width, code table, drawer wiring, buffer size."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from protocols.escpos import CodeTable, DrawerPin

DEFAULT_BUFFER_BYTES = 4096


@dataclass(frozen=True)
class PrinterConfig:
    """How the simulated printer is built.

    ``drawer_open_high``: the drawer sensor's polarity. ``True`` (the default) means
    "pin 3 high = drawer open", so ``DLE EOT 1`` bit 2 is set while the drawer is open;
    ``False`` is the reverse. Real drawers differ, so the gateway makes it configurable.
    ``drawer_close_seconds``: an opened drawer closes again after this long; 0 keeps it
    open until :meth:`PrinterDevice.close_drawer`. ``drawer_pin``: the kick-out pin the
    drawer is wired to; ``None`` means a pulse on either pin opens it.
    """

    output: Path
    columns: int = 48
    code_table: CodeTable = CodeTable.CP437
    drawer_close_seconds: float = 3.0
    drawer_open_high: bool = True
    drawer_pin: DrawerPin | None = None
    buffer_bytes: int = DEFAULT_BUFFER_BYTES
    disconnect_seconds: float = 2.0
    png: bool = True
    font: Path | None = None

    def __post_init__(self) -> None:
        if self.columns < 1:
            raise ValueError(f"columns must be at least 1, got {self.columns}")
        if self.drawer_close_seconds < 0:
            raise ValueError(f"drawer_close_seconds must be >= 0, got {self.drawer_close_seconds}")
        if self.buffer_bytes < 1:
            raise ValueError(f"buffer_bytes must be at least 1, got {self.buffer_bytes}")
        if self.disconnect_seconds < 0:
            raise ValueError(f"disconnect_seconds must be >= 0, got {self.disconnect_seconds}")
