"""One run of ``tillgw diag``: what every probe and check found, as a whole.

:class:`Report` holds the findings and the checks, the problem in words when there is
one, the exit code, and the JSON document of ``--json``.

Exit codes: 0 when every device asked for (or, when scanning, at least one found)
answered and can work; 1 when nothing answered, a unit cannot register receipts, or a
printer is not ready (out of paper, cover open, …) or failed its test page or drawer kick,
or a check is not ``ok``; 2 for a usage error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from gateway.common.health import DeviceState
from gateway.common.i18n import tr
from tools.diag.checks import Check
from tools.diag.finding import Finding

__all__ = ["EXIT_OK", "EXIT_PROBLEM", "EXIT_USAGE", "Report"]

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2


@dataclass(slots=True)
class Report:
    control_units: list[Finding]
    scanned: list[str] | None  # the ports tried when scanning; None for an explicit address
    problem: str | None  # words for the whole run when nothing usable answered
    scanners: list[Finding] = field(default_factory=list)  # each scanner asked for with --scanner
    printers: list[Finding] = field(default_factory=list)  # each printer asked for with --printer
    checks: list[Check] = field(
        default_factory=list
    )  # with --all: ports, USB, bus, journal, disk, registration

    @property
    def exit_code(self) -> int:
        return EXIT_PROBLEM if self.problem else EXIT_OK

    def next_steps(self) -> list[tuple[str, str]]:
        """Every next step, each with what it is about: each device that cannot work or needs
        attention soon, then each check that is not ok. The words are the finding's or the
        check's own; none is dropped. A scan's devices have none here: its problem says what
        to do."""
        steps: list[tuple[str, str]] = []
        devices = [*(self.control_units if self.scanned is None else []), *self.printers, *self.scanners]
        for f in devices:
            if f.next_step and (not f.usable or f.state == DeviceState.DEGRADED.value):
                steps.append((f"{tr(f.device)} {f.url}", f.next_step))
        steps.extend((c.name, c.next_step) for c in self.checks if c.next_step and not c.ok)
        return steps

    def to_json(self) -> dict[str, Any]:
        found = (
            [f for f in self.control_units if f.answered] if self.scanned is not None else self.control_units
        )
        return {
            "ok": self.problem is None,
            "problem": self.problem,
            "scanned": self.scanned,
            "control_units": [asdict(f) for f in found],
            "scanners": [asdict(f) for f in self.scanners],
            "printers": [asdict(f) for f in self.printers],
            "checks": [c.to_json() for c in self.checks],
            "next_steps": [{"about": about, "next_step": step} for about, step in self.next_steps()],
        }
