"""The errors of the CCSP codec: a bad frame (or its LRC), or a message it cannot read."""

from __future__ import annotations


class CcspError(ValueError):
    """Bytes that are not a valid CCSP frame or message."""


class FrameError(CcspError):
    """The frame itself is wrong: start, length, separators, LRC or terminator."""


class LrcError(FrameError):
    """The frame is well formed but its LRC does not match its bytes."""


class MessageError(CcspError):
    """The frame is sound but its message is not one we can read."""
