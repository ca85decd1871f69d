"""The error every ESC/POS builder and decoder raises, and the check of a one-byte argument."""

from __future__ import annotations


class EscPosError(ValueError):
    """A command argument (or reply) does not fit ESC/POS; ``field`` names which one."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


def byte_arg(value: int, field: str, low: int = 0, high: int = 255) -> int:
    """An integer parameter that must fit ``low..high`` (one command byte)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise EscPosError(field, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise EscPosError(field, f"{value} is outside {low}..{high}")
    return value
