"""Where cut receipts go: ``receipt-0001.png`` and ``receipt-0001.txt`` in the output folder.

Numbers continue after the highest already in the folder, so a restarted simulator never
overwrites an earlier receipt. Each file is written to a hidden temporary file in the same
folder and renamed into place, and the PNG goes first: a reader that waits for the
``.txt`` never sees half a receipt, nor a ``.txt`` without its picture.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from firmware_sim.printer.paper import Item, to_text
from firmware_sim.printer.render import ReceiptRenderer

_NAME_RE = re.compile(r"receipt-(\d+)\.txt")


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either nothing or all of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ReceiptWriter:
    def __init__(self, folder: Path, renderer: ReceiptRenderer | None = None, *, png: bool = True) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.renderer = renderer if renderer is not None or not png else ReceiptRenderer()
        numbers = [int(m.group(1)) for p in folder.iterdir() if (m := _NAME_RE.fullmatch(p.name))]
        self.next_number = max(numbers, default=0) + 1

    def write(self, items: tuple[Item, ...], columns: int) -> Path:
        """Write one receipt; returns the path of its ``.txt``."""
        stem = f"receipt-{self.next_number:04d}"
        self.next_number += 1
        if self.renderer is not None:
            write_atomically(self.folder / f"{stem}.png", self.renderer.png(items, columns))
        text_path = self.folder / f"{stem}.txt"
        write_atomically(text_path, to_text(items, columns).encode("utf-8"))
        return text_path
