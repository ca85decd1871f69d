"""SIE 4i files (vouchers for import into a bookkeeping program): a small, strict writer.

Pure: a :class:`SieFile` in, the file's bytes out. docs/sie.md shows a whole file and
explains each record; the rules kept here:

* **Character set**: IBM PC 8-bit, code page 437 (``#FORMAT PC8``). A character that
  code page 437 does not have is written ``?``. Lines end with CR LF.
* **Records**: ``#LABEL`` and fields separated by one space. Texts are always in double
  quotes, a quote inside written ``\\"`` (a backslash becomes ``/``, so that it never
  escapes anything); control characters become spaces. Account
  numbers, dates (``YYYYMMDD``), the series and amounts are written bare; an empty field
  is ``""``. The transactions of a ``#VER`` are sub-records between a ``{`` line and a
  ``}`` line; ``#TRANS konto {objektlista} belopp transdat transtext``. The object list is
  empty (``{}``) or names the row's objects as pairs of a dimension number and a quoted
  object id: ``{1 "CC"}``.
* **Dimensions and objects**: a file whose rows name objects declares each dimension
  (``#DIM 1 "Kostnadsställe"``; dimension 1 is reserved for the cost centre) and each
  object (``#OBJEKT 1 "CC" "Butiken"``) after the ``#KONTO`` records and before the first
  ``#VER``, the order SIE 4 gives them; :func:`render` refuses a row naming an object the
  file does not declare.
* **Amounts**: öre in, written as kronor with a point and two decimals, debit positive,
  credit negative (``-1234.50``). Every voucher must add up to exactly zero öre:
  :func:`render` refuses (:class:`UnbalancedVoucher`) to write one that does not.
* **#KSUMMA** (SIE filformat 4B, "Kontrollsummering"): an opening ``#KSUMMA`` without a
  value right after ``#FLAGGA``, a closing ``#KSUMMA <value>`` as the last record. The value
  is CRC-32 — polynomial EDB88320 (reflected), initial value FFFFFFFF, final XOR FFFFFFFF,
  i.e. ``zlib.crc32`` — over, for every record between the two ``#KSUMMA`` records in
  file order, the record's label followed by the contents of its fields, in code page 437
  bytes, *without* the spaces between fields, the quotes around texts (an escaped quote
  counts as the one character ``"``), the braces of object lists (``{1 "CC"}`` adds
  ``1CC``) and the line ends; the ``{`` and ``}`` lines around a voucher's transactions
  contribute nothing. It is written as an unsigned decimal number. docs/sie.md says where
  this reading comes from.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from gateway.receipts.money import money_text

__all__ = [
    "COST_CENTRE_DIMENSION",
    "COST_CENTRE_DIMENSION_NAME",
    "ENCODING",
    "SieFile",
    "Trans",
    "UnbalancedVoucher",
    "Voucher",
    "ksumma",
    "render",
]

ENCODING = "cp437"
NEWLINE = "\r\n"
COST_CENTRE_DIMENSION = 1  # SIE reserves dimension 1 for the cost centre (kostnadsställe)
COST_CENTRE_DIMENSION_NAME = "Kostnadsställe"


class UnbalancedVoucher(ValueError):
    """A voucher whose transactions do not add up to zero öre; ``str()`` says by how much."""


@dataclass(frozen=True, slots=True)
class Trans:
    account: str
    amount: int  # öre, debit positive, credit negative
    text: str = ""
    objects: tuple[tuple[int, str], ...] = ()  # (dimension, object id) of the row: its object list


@dataclass(frozen=True, slots=True)
class Voucher:
    series: str
    number: str  # "" lets the receiving program number the voucher (SIE 4i)
    day: date
    text: str
    transactions: tuple[Trans, ...]

    @property
    def balance(self) -> int:
        return sum(t.amount for t in self.transactions)

    def check(self) -> None:
        """Raise :class:`UnbalancedVoucher` unless the transactions add up to zero öre."""
        debit = sum(t.amount for t in self.transactions if t.amount > 0)
        credit = -sum(t.amount for t in self.transactions if t.amount < 0)
        if debit != credit:
            raise UnbalancedVoucher(
                f"voucher {self.text!r} does not balance: debit {money_text(debit)}, "
                f"credit {money_text(credit)}, difference {money_text(debit - credit)}"
            )


@dataclass(frozen=True, slots=True)
class SieFile:
    program: str
    version: str
    generated: date
    orgnr: str  # NNNNNN-NNNN
    company: str
    accounts: tuple[tuple[str, str], ...]  # (number, name) of every account used
    vouchers: tuple[Voucher, ...]
    dimensions: tuple[tuple[int, str], ...] = ()  # (number, name) of every dimension used
    objects: tuple[tuple[int, str, str], ...] = ()  # (dimension, id, name) of every object used


# -- records ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Text:
    """A field written in quotes."""

    value: str


@dataclass(frozen=True, slots=True)
class _Objects:
    """An object list ``{dim "obj" …}``: pairs of a dimension number and an object id."""

    items: tuple[tuple[int, str], ...] = ()


_Field = str | _Text | _Objects
_Record = tuple[str, tuple[_Field, ...]]


def _clean(text: str) -> str:
    """Printable, only what code page 437 has (else ``?``), no backslash (it escapes a quote)."""
    printable = "".join(" " if ord(c) < 0x20 or ord(c) == 0x7F else c for c in text).replace("\\", "/")
    return printable.encode(ENCODING, errors="replace").decode(ENCODING)


def _quote(value: str) -> str:
    return '"' + value.replace('"', '\\"') + '"'


def _field_text(field: _Field) -> str:
    if isinstance(field, _Text):
        return _quote(field.value)
    if isinstance(field, _Objects):
        return "{" + " ".join(f"{dim} {_quote(obj)}" for dim, obj in field.items) + "}"
    return field if field else '""'


def _field_content(field: _Field) -> str:
    """What a field contributes to the checksum: its content, without quotes or braces."""
    if isinstance(field, _Text):
        return field.value
    if isinstance(field, _Objects):
        return "".join(f"{dim}{obj}" for dim, obj in field.items)
    return field


def _line(record: _Record) -> str:
    label, fields = record
    return " ".join((label, *(_field_text(f) for f in fields)))


def ksumma(records: Sequence[_Record]) -> int:
    """The ``#KSUMMA`` value of the records between the opening and closing ``#KSUMMA``."""
    crc = 0
    for label, fields in records:
        content = label + "".join(_field_content(f) for f in fields)
        crc = zlib.crc32(content.encode(ENCODING), crc)
    return crc & 0xFFFFFFFF


def _records(sie: SieFile) -> Iterator[_Record | str]:
    """The records after ``#KSUMMA`` in order; a bare ``{`` / ``}`` string is a block line."""
    yield "#PROGRAM", (_Text(_clean(sie.program)), _Text(_clean(sie.version)))
    yield "#FORMAT", ("PC8",)
    yield "#GEN", (sie.generated.strftime("%Y%m%d"),)
    yield "#SIETYP", ("4",)
    yield "#ORGNR", (sie.orgnr,)
    yield "#FNAMN", (_Text(_clean(sie.company)),)
    for number, name in sie.accounts:
        yield "#KONTO", (number, _Text(_clean(name)))
    for dim, name in sie.dimensions:
        yield "#DIM", (str(dim), _Text(_clean(name)))
    for dim, obj, name in sie.objects:
        yield "#OBJEKT", (str(dim), _Text(_clean(obj)), _Text(_clean(name)))
    for voucher in sie.vouchers:
        yield (
            "#VER",
            (voucher.series, voucher.number, voucher.day.strftime("%Y%m%d"), _Text(_clean(voucher.text))),
        )
        yield "{"
        for t in voucher.transactions:
            objects = _Objects(tuple((dim, _clean(obj)) for dim, obj in t.objects))
            yield "#TRANS", (t.account, objects, money_text(t.amount), "", _Text(_clean(t.text)))
        yield "}"


def render(sie: SieFile) -> bytes:
    """The file's bytes (code page 437, CR LF), ``#KSUMMA`` included.

    Raises :class:`UnbalancedVoucher` if a voucher does not add up to zero öre, and
    ValueError if an account, object or dimension used is not declared.
    """
    declared = {number for number, _ in sie.accounts}
    dimensions = {dim for dim, _ in sie.dimensions}
    objects = {(dim, obj) for dim, obj, _ in sie.objects}
    for dim, obj, _ in sie.objects:
        if dim not in dimensions:
            raise ValueError(f"object {obj!r} is in dimension {dim}, which the file does not declare")
    for voucher in sie.vouchers:
        voucher.check()
        missing = sorted({t.account for t in voucher.transactions} - declared)
        if missing:
            raise ValueError(f"voucher {voucher.text!r} uses undeclared accounts {', '.join(missing)}")
        unknown = sorted({o for t in voucher.transactions for o in t.objects} - objects)
        if unknown:
            named = ", ".join(f"{obj!r} of dimension {dim}" for dim, obj in unknown)
            raise ValueError(f"voucher {voucher.text!r} uses undeclared objects {named}")
    lines = ["#FLAGGA 0", "#KSUMMA"]
    summed: list[_Record] = []
    for item in _records(sie):
        if isinstance(item, str):
            lines.append(item)
        else:
            summed.append(item)
            lines.append(_line(item))
    lines.append(f"#KSUMMA {ksumma(summed)}")
    return (NEWLINE.join(lines) + NEWLINE).encode(ENCODING)
