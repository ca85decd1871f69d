"""The default adapter: each Z report becomes an SIE 4i file with one voucher.

One file per Z report in the configured folder, named by organisation number, store,
register and Z number (``5560360793-vaxjo-KASSA1-Z000012.si``). A file is written
atomically — a temporary file in the same folder, fsynced, renamed over the name, the
folder fsynced — so a reader never sees half a file. The ``sie_files`` table records
which Z reports have their file, in the same transaction that marks the message
processed; the file is written just before that commit, and its content depends only on
the message and the configuration, so a crash between the two writes the very same file
again on restart. A Z report that already has a file (the same Z sent again under another
``msg_id``) gets no second one.

With ``[sync.sie].cost_centre`` every row of the voucher carries that cost centre
(dimension 1, ``{1 "CC"}``), and the file declares the dimension and the object.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib.metadata
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from gateway.messages.envelope import BusMessage
from gateway.receipts.money import money_text
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.sie.config import SieConfig
from gateway.sync.booking import BookingError, ZFigures, z_figures, z_voucher
from gateway.sync.database import now_text
from gateway.sync.files import write_atomically
from gateway.sync.payloads import z_report
from gateway.sync.settings import AccountsConfig
from gateway.sync.sie import (
    COST_CENTRE_DIMENSION,
    COST_CENTRE_DIMENSION_NAME,
    SieFile,
    UnbalancedVoucher,
    Voucher,
    render,
)
from gateway.sync.sql import SqlConnection

__all__ = ["SIE_SCHEMA", "SieAdapter", "file_name"]

SIE_SCHEMA = """
CREATE TABLE IF NOT EXISTS sie_files (
    orgnr TEXT NOT NULL,
    store TEXT NOT NULL,
    register TEXT NOT NULL,
    z_no INTEGER NOT NULL,
    msg_id TEXT NOT NULL,             -- the message it was made from
    file TEXT NOT NULL,               -- the file's name in the SIE folder
    sha256 TEXT NOT NULL,             -- of the file's bytes
    written_at TEXT NOT NULL,
    PRIMARY KEY (orgnr, store, register, z_no)
);
"""


@functools.cache
def _version() -> str:
    """The package's version, asked of its metadata once (a look-up reads files)."""
    try:
        return importlib.metadata.version("tillgateway")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "0"


def file_name(message: BusMessage, z_no: int) -> str:
    return f"{message.orgnr}-{message.store}-{message.register}-Z{z_no:06d}.si"


class SieAdapter:
    """Z reports to SIE 4i files; receipts and events need nothing from it."""

    name = "SIE"

    def __init__(
        self,
        folder: Path,
        accounts: AccountsConfig,
        sie: SieConfig,
        *,
        after_write: Callable[[Path], None] | None = None,
    ) -> None:
        self.folder = folder
        self.accounts = accounts
        self.sie = sie
        self.after_write = after_write  # tests: a crash between the file and the commit

    def handles(self, kind: str) -> bool:
        return kind == "report.z"

    async def setup(self, db: SqlConnection) -> None:
        await db.executescript(SIE_SCHEMA)

    def document(self, message: BusMessage, z: ZFigures) -> SieFile:
        """The SIE file of one Z report (:class:`BookingError` if its figures do not balance)."""
        number = str(z.z_no) if self.sie.voucher_number == "z" else ""
        voucher = self._with_cost_centre(
            z_voucher(z, self.accounts, self.sie.series, number, message.register)
        )
        used = sorted({t.account for t in voucher.transactions})
        dimensions: tuple[tuple[int, str], ...] = ()
        objects: tuple[tuple[int, str, str], ...] = ()
        if self.sie.cost_centre is not None:
            dimensions = ((COST_CENTRE_DIMENSION, COST_CENTRE_DIMENSION_NAME),)
            name = self.sie.cost_centre_name or self.sie.cost_centre
            objects = ((COST_CENTRE_DIMENSION, self.sie.cost_centre, name),)
        return SieFile(
            program="tillgateway",
            version=_version(),
            generated=z.day,  # the Z's day, not today's: the same message always gives the same bytes
            orgnr=f"{z.orgnr[:6]}-{z.orgnr[6:]}",
            company=self.sie.company_name or z.company,
            accounts=tuple((a, self.sie.account_name(a)) for a in used),
            vouchers=(voucher,),
            dimensions=dimensions,
            objects=objects,
        )

    def _with_cost_centre(self, voucher: Voucher) -> Voucher:
        """Every row on the configured cost centre; the voucher as it is without one."""
        code = self.sie.cost_centre
        if code is None:
            return voucher
        rows = tuple(replace(t, objects=((COST_CENTRE_DIMENSION, code),)) for t in voucher.transactions)
        return replace(voucher, transactions=rows)

    async def process(self, db: SqlConnection, message: BusMessage) -> str | None:
        if message.kind != "report.z":
            return None
        where = f"{message.orgnr}/{message.store}/{message.register}"
        try:
            z = z_figures(z_report(message))
            if z.nothing_to_book:
                return f"Z {z.z_no} of {where}, {z.day}: no sales, so no voucher and no SIE file"
            content = render(self.document(message, z))
        except (BookingError, UnbalancedVoucher) as exc:
            raise AdapterError(f"refused to write the voucher of {message.msg_id}: {exc}") from None
        async with db.execute(
            "SELECT file, msg_id FROM sie_files WHERE orgnr = ? AND store = ? AND register = ? AND z_no = ?",
            (message.orgnr, message.store, message.register, z.z_no),
        ) as cursor:
            earlier = await cursor.fetchone()
        if earlier is not None:
            return (
                f"Z {z.z_no} of {where} already has {earlier[0]} (from {earlier[1]}); "
                f"{message.msg_id} writes no second file"
            )
        path = self.folder / file_name(message, z.z_no)
        try:
            await asyncio.to_thread(write_atomically, path, content)
        except OSError as exc:
            raise AdapterError(f"cannot write the file of Z {z.z_no} of {where}: {exc}") from None
        if self.after_write is not None:
            self.after_write(path)
        await db.execute(
            "INSERT INTO sie_files (orgnr, store, register, z_no, msg_id, file, sha256, written_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message.orgnr,
                message.store,
                message.register,
                z.z_no,
                message.msg_id,
                path.name,
                hashlib.sha256(content).hexdigest(),
                now_text(),
            ),
        )
        return (
            f"wrote {path}: Z {z.z_no} of {where}, {z.day.isoformat()}, "
            f"sales {money_text(z.net_sales)} incl. VAT"
        )
