"""The checks ``tillgw diag --all`` runs beside the devices: ports, USB, the bus, the journal,
the disk and the registration. Each is a function to a :class:`Check`: what was found, in
words, and the next step when something is wrong.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Check", "Verdict"]


class Verdict(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"  # works now, will not for long (disk filling), or cannot be told
    PROBLEM = "problem"


@dataclass(slots=True)
class Check:
    name: str  # "serial ports", "usb", "mqtt", "journal", "disk", "registration"
    verdict: Verdict
    summary: str  # in words, for the table
    details: dict[str, Any] = field(default_factory=dict)
    next_step: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "verdict": self.verdict.value,
            "summary": self.summary,
            "details": self.details,
            "next_step": self.next_step,
        }
