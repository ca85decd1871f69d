"""The ASCII control bytes every ESC/POS command, real-time request and line feed starts with."""

from __future__ import annotations

NUL = 0x00
EOT = 0x04
ENQ = 0x05
LF = 0x0A
DLE = 0x10
DC4 = 0x14
ESC = 0x1B
FS = 0x1C
GS = 0x1D
