"""What a probe of ``tillgw diag`` learns about one device: a :class:`Finding`.

Each kind of device has a probe — an async function from an address to a finding
(:mod:`~tools.diag.unit_probe`, :mod:`~tools.diag.printer_probe`,
:mod:`~tools.diag.scanner_watch`); the report, the table and the JSON document take
findings as they come.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.common.health import DeviceState

__all__ = ["DEFAULT_POS_ID", "PROBE_TIMEOUT", "READ_SECONDS", "SCAN_TIMEOUT", "Finding", "next_step_of"]

PROBE_TIMEOUT = 1.0  # per request: a unit answers IQ, a printer its status, in well under a second
DEFAULT_POS_ID = "tillgw-diag"  # probes never register a receipt, so no real POS id is needed
SCAN_TIMEOUT = 0.5  # per port while scanning: a unit that is there answers at once
READ_SECONDS = 10.0  # how long `--scanner` listens by default: time to pick up a few items


@dataclass(slots=True)
class Finding:
    """What one probe learnt about one address."""

    device: str  # "control unit", "printer" or "scanner"
    url: str
    answered: bool
    state: str  # a DeviceState value
    reason: str  # "ready", or "<state>: <what> — <what to do>"
    details: dict[str, Any] = field(default_factory=dict)
    next_step: str | None = None

    @property
    def usable(self) -> bool:
        return self.answered and self.state != DeviceState.FAILED.value


def next_step_of(reason: str) -> str | None:
    """The part of a reason after the dash: what to do."""
    _, dash, step = reason.partition(" — ")
    return step if dash else None
