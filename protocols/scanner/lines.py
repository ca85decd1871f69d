"""Serial (and USB-CDC) scanners: each code is a line of bytes; :class:`LineDeframer`
cuts that stream into codes."""

from __future__ import annotations

import enum

from protocols.scanner.rejected import DEFAULT_MAX_LINE, HEAD_BYTES, Rejected

CR = 0x0D
LF = 0x0A


class Terminator(enum.StrEnum):
    """What ends a line from a serial scanner.

    - ``CR``: a CR ends the line; an LF that directly follows a CR (even in a later read)
      is swallowed, so a scanner sending CR LF still works. Any other LF is data.
    - ``LF``: an LF ends the line; a CR directly before it is dropped. Any other CR is data.
    - ``CRLF``: tolerant: CR LF, a lone CR or a lone LF each end exactly one line.
    An empty line is never a code: it is dropped silently.
    """

    CR = "cr"
    LF = "lf"
    CRLF = "crlf"


class LineDeframer:
    """Cuts a serial scanner's byte stream into codes; feed it reads of any size.

    ``prefix`` and ``suffix`` (bytes the scanner is configured to wrap codes in) are
    stripped; a line that lacks a configured one is rejected, because that is what a
    partial line looks like (the port opened halfway through a scan). Lines longer than
    ``max_length`` bytes (prefix and suffix included, terminator excluded) are discarded
    up to the next terminator, so a jammed device cannot make us buffer without bound.
    """

    def __init__(
        self,
        terminator: Terminator = Terminator.CR,
        *,
        prefix: bytes = b"",
        suffix: bytes = b"",
        max_length: int = DEFAULT_MAX_LINE,
        encoding: str = "utf-8",
    ) -> None:
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1, got {max_length}")
        if len(prefix) + len(suffix) >= max_length:
            raise ValueError("prefix and suffix leave no room for a code within max_length")
        self.terminator = Terminator(terminator)
        self.prefix = bytes(prefix)
        self.suffix = bytes(suffix)
        self.max_length = max_length
        self.encoding = encoding
        self._line = bytearray()
        self._discarding = False
        self._after_cr = False  # CR/CRLF modes: the last byte was a terminating CR
        self._held_cr = False  # LF mode: a CR that ends the line if an LF follows

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished line held (never more than ``max_length``)."""
        return len(self._line) + int(self._held_cr)

    def feed(self, data: bytes) -> list[str | Rejected]:
        """Consume ``data``; return the codes (and rejections) completed by it, in order."""
        out: list[str | Rejected] = []
        for byte in data:
            if self.terminator is Terminator.LF:
                self._step_lf_mode(byte, out)
            else:
                self._step_cr_mode(byte, out)
        return out

    def _step_cr_mode(self, byte: int, out: list[str | Rejected]) -> None:
        after_cr, self._after_cr = self._after_cr, False
        if byte == CR:
            self._after_cr = True
            self._end_line(out)
        elif byte == LF and after_cr:
            return  # the LF of a CR LF pair
        elif byte == LF and self.terminator is Terminator.CRLF:
            self._end_line(out)
        else:
            self._append(byte, out)

    def _step_lf_mode(self, byte: int, out: list[str | Rejected]) -> None:
        if self._held_cr:
            self._held_cr = False
            if byte == LF:
                self._end_line(out)
                return
            self._append(CR, out)
        if byte == CR:
            self._held_cr = True
        elif byte == LF:
            self._end_line(out)
        else:
            self._append(byte, out)

    def _append(self, byte: int, out: list[str | Rejected]) -> None:
        if self._discarding:
            return
        self._line.append(byte)
        if len(self._line) > self.max_length:
            out.append(
                Rejected(
                    f"line longer than {self.max_length} bytes without a terminator; "
                    "discarded up to the next terminator",
                    bytes(self._line[:HEAD_BYTES]),
                )
            )
            self._line.clear()
            self._discarding = True

    def _end_line(self, out: list[str | Rejected]) -> None:
        line = bytes(self._line)
        self._line.clear()
        if self._discarding:
            self._discarding = False
            return
        if line:
            out.append(self._unwrap(line))

    def _unwrap(self, line: bytes) -> str | Rejected:
        head = line[:HEAD_BYTES]
        if len(line) < len(self.prefix) + len(self.suffix):
            return Rejected("line shorter than the configured prefix and suffix", head)
        if not line.startswith(self.prefix):
            return Rejected(f"line does not start with the prefix {self.prefix!r}", head)
        if not line.endswith(self.suffix):
            return Rejected(f"line does not end with the suffix {self.suffix!r}", head)
        body = line[len(self.prefix) : len(line) - len(self.suffix)]
        if not body:
            return Rejected("line holds the prefix and suffix but no code", head)
        try:
            return body.decode(self.encoding)
        except UnicodeDecodeError as exc:
            return Rejected(
                f"byte {body[exc.start]:#04x} at position {exc.start} is not valid {self.encoding}",
                head,
            )
