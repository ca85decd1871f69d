"""Input that did not become a code, and how much of it a reader holds before giving up."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rejected:
    """Input that did not become a code, and why (for the device's health report).

    ``head`` holds at most the first 32 bytes of what was discarded, enough to recognise
    it in a log without letting a runaway device fill the log.
    """

    reason: str
    head: bytes = b""


HEAD_BYTES = 32

# The longest code a reader takes (bytes of a line, characters typed): longer input is
# discarded up to the end of the line, so a jammed device cannot make it buffer without bound.
DEFAULT_MAX_LINE = 1024
