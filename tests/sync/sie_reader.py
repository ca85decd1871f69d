"""A strict SIE 4i reader for the tests, written apart from gateway/sync/sie.py.

It checks every line of a file against the records the sync module may write, the
character set (code page 437, CR LF), the order of the records (the header, #KONTO, #DIM,
#OBJEKT, then the vouchers), the #KSUMMA checksum (its own bit-by-bit CRC-32, not zlib),
that every object a row names is declared with its dimension, and that every voucher
balances to the öre; any deviation is an AssertionError naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_AMOUNT = re.compile(r"^(-?)(\d+)\.(\d\d)$")
_DATE = re.compile(r"^\d{8}$")
_ACCOUNT = re.compile(r"^\d{4,6}$")


def crc32(data: bytes, crc: int = 0) -> int:
    """CRC-32, reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF, bit by bit."""
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xEDB88320 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


@dataclass
class Tok:
    text: str  # for an object list: what it contributes to the checksum ("1CC")
    kind: str  # bare | quoted | objects
    objects: tuple[tuple[str, str], ...] = ()  # an object list's (dimension, object id) pairs


def object_list(inner: str, where: str) -> Tok:
    """The inside of ``{…}``: pairs of a bare dimension number and an object id."""
    items = tokens(inner, where)
    assert all(t.kind != "objects" for t in items), f"{where}: an object list inside an object list"
    assert len(items) % 2 == 0, f"{where}: an object list of {len(items)} fields, not pairs"
    pairs = tuple((items[i].text, items[i + 1].text) for i in range(0, len(items), 2))
    for i in range(0, len(items), 2):
        dim = items[i]
        assert dim.kind == "bare" and dim.text.isdigit(), f"{where}: {dim.text!r} is not a dimension number"
        assert items[i + 1].kind == "quoted" and items[i + 1].text, f"{where}: an object id not quoted"
    return Tok("".join(d + o for d, o in pairs), "objects", pairs)


def tokens(line: str, where: str) -> list[Tok]:
    out: list[Tok] = []
    i = 0
    while i < len(line):
        c = line[i]
        if c == " ":
            assert line[i - 1] != " ", f"{where}: two spaces in a row"
            i += 1
        elif c == '"':
            j, chars = i + 1, []
            while True:
                assert j < len(line), f"{where}: a text without its closing quote"
                if line[j] == "\\" and j + 1 < len(line) and line[j + 1] == '"':
                    chars.append('"')
                    j += 2
                elif line[j] == '"':
                    break
                else:
                    chars.append(line[j])
                    j += 1
            out.append(Tok("".join(chars), "quoted"))
            i = j + 1
        elif c == "{":
            j, quoted = i + 1, False  # the closing brace outside quotes
            while j < len(line) and (quoted or line[j] != "}"):
                if line[j] == "\\" and quoted and j + 1 < len(line):
                    j += 1
                elif line[j] == '"':
                    quoted = not quoted
                j += 1
            assert j < len(line), f"{where}: an object list without its closing brace"
            out.append(object_list(line[i + 1 : j], where))
            i = j + 1
        else:
            j = line.find(" ", i)
            j = len(line) if j < 0 else j
            out.append(Tok(line[i:j], "bare"))
            i = j
    return out


def ore(text: str, where: str) -> int:
    m = _AMOUNT.match(text)
    assert m, f"{where}: {text!r} is not an amount with a point and two decimals"
    value = int(m.group(2)) * 100 + int(m.group(3))
    return -value if m.group(1) else value


@dataclass
class Voucher:
    series: str
    number: str
    date: str
    text: str
    rows: list[tuple[str, int, str]] = field(default_factory=list)  # account, öre, text
    objects: list[tuple[tuple[str, str], ...]] = field(default_factory=list)  # each row's object list


@dataclass
class SieDoc:
    program: tuple[str, str]
    generated: str
    orgnr: str
    company: str
    accounts: dict[str, str]
    vouchers: list[Voucher]
    ksumma: int
    dimensions: dict[str, str] = field(default_factory=dict)  # number -> name
    objects: dict[tuple[str, str], str] = field(default_factory=dict)  # (dimension, id) -> name


def read_sie(data: bytes) -> SieDoc:
    """Parse and check one file the sync module wrote; AssertionError on anything off."""
    assert data.endswith(b"\r\n"), "the file does not end with CR LF"
    text = data.decode("cp437")
    assert text.encode("cp437") == data
    lines = text[:-2].split("\r\n")
    assert not any("\n" in ln or "\r" in ln for ln in lines), "a bare LF or CR"
    assert lines[0] == "#FLAGGA 0", "the first record is not #FLAGGA 0"
    assert lines[1] == "#KSUMMA", "#KSUMMA does not open the checksummed part"
    last = lines[-1].split(" ")
    assert last[0] == "#KSUMMA" and len(last) == 2 and last[1].isdigit(), "no closing #KSUMMA value"

    crc = 0
    header: dict[str, list[Tok]] = {}
    accounts: dict[str, str] = {}
    dimensions: dict[str, str] = {}
    objects: dict[tuple[str, str], str] = {}
    stage = 0  # the header, #KONTO, #DIM, #OBJEKT, #VER: each in its place, never back
    vouchers: list[Voucher] = []
    current: Voucher | None = None
    in_block = False
    for n, ln in enumerate(lines[2:-1], start=3):
        where = f"line {n} {ln!r}"
        if ln in ("{", "}"):
            assert current is not None, f"{where}: a brace outside a voucher"
            if ln == "{":
                assert not in_block, f"{where}: nested block"
                in_block = True
            else:
                assert in_block, f"{where}: closing an unopened block"
                total = sum(amount for _, amount, _ in current.rows)
                assert total == 0, f"{where}: voucher {current.text!r} sums to {total} öre, not 0"
                in_block, current = False, None
            continue
        label, _, rest = ln.partition(" ")
        assert re.match(r"^#[A-Z]+$", label), f"{where}: not a record"
        toks = tokens(rest, where)
        crc = crc32((label + "".join(t.text for t in toks)).encode("cp437"), crc)
        kinds = [t.kind for t in toks]
        order = {"#KONTO": 1, "#DIM": 2, "#OBJEKT": 3, "#VER": 4, "#TRANS": 4}.get(label, 0)
        assert order >= stage, f"{where}: {label} after a record that SIE 4 puts after it"
        stage = order
        if label == "#TRANS":
            assert in_block and current is not None, f"{where}: #TRANS outside a voucher block"
            assert kinds == ["bare", "objects", "bare", "quoted", "quoted"], f"{where}: fields {kinds}"
            assert _ACCOUNT.match(toks[0].text) and toks[0].text in accounts, f"{where}: undeclared account"
            assert toks[3].text == "", f"{where}: a transaction date; the voucher's is meant"
            for pair in toks[1].objects:
                assert pair in objects, f"{where}: object {pair[1]!r} of dimension {pair[0]} not declared"
            current.rows.append((toks[0].text, ore(toks[2].text, where), toks[4].text))
            current.objects.append(toks[1].objects)
            continue
        assert not in_block, f"{where}: {label} inside a voucher block"
        if label == "#VER":
            assert kinds == ["bare", "quoted", "bare", "quoted"] or kinds == [
                "bare",
                "bare",
                "bare",
                "quoted",
            ], f"{where}: fields {kinds}"
            assert _DATE.match(toks[2].text), f"{where}: not a date"
            current = Voucher(toks[0].text, toks[1].text, toks[2].text, toks[3].text)
            vouchers.append(current)
        elif label == "#KONTO":
            assert kinds == ["bare", "quoted"] and _ACCOUNT.match(toks[0].text), f"{where}: fields {kinds}"
            assert not vouchers, f"{where}: #KONTO after a voucher"
            accounts[toks[0].text] = toks[1].text
        elif label == "#DIM":
            assert kinds == ["bare", "quoted"] and toks[0].text.isdigit(), f"{where}: fields {kinds}"
            assert toks[0].text not in dimensions, f"{where}: dimension {toks[0].text} twice"
            dimensions[toks[0].text] = toks[1].text
        elif label == "#OBJEKT":
            assert kinds == ["bare", "quoted", "quoted"], f"{where}: fields {kinds}"
            assert toks[0].text in dimensions, f"{where}: dimension {toks[0].text} not declared by #DIM"
            key = (toks[0].text, toks[1].text)
            assert toks[1].text and key not in objects, f"{where}: object empty or declared twice"
            objects[key] = toks[2].text
        else:
            expected = {
                "#PROGRAM": ["quoted", "quoted"],
                "#FORMAT": ["bare"],
                "#GEN": ["bare"],
                "#SIETYP": ["bare"],
                "#ORGNR": ["bare"],
                "#FNAMN": ["quoted"],
            }
            assert label in expected, f"{where}: a record the sync module does not write"
            assert kinds == expected[label], f"{where}: fields {kinds}"
            assert label not in header, f"{where}: {label} twice"
            header[label] = toks
    assert current is None and not in_block, "a voucher without its closing brace"
    assert header["#FORMAT"][0].text == "PC8" and header["#SIETYP"][0].text == "4"
    assert _DATE.match(header["#GEN"][0].text)
    assert re.match(r"^\d{6}-\d{4}$", header["#ORGNR"][0].text)
    assert int(last[1]) == crc, f"#KSUMMA {last[1]} is not the checksum {crc}"
    used = {account for v in vouchers for account, _, _ in v.rows}
    assert used == set(accounts), f"#KONTO {sorted(accounts)} is not the accounts used {sorted(used)}"
    named = {pair for v in vouchers for row in v.objects for pair in row}
    assert named == set(objects), f"#OBJEKT {sorted(objects)} is not the objects used {sorted(named)}"
    assert {d for d, _ in objects} == set(dimensions), f"#DIM {sorted(dimensions)} declared but not used"
    return SieDoc(
        program=(header["#PROGRAM"][0].text, header["#PROGRAM"][1].text),
        generated=header["#GEN"][0].text,
        orgnr=header["#ORGNR"][0].text,
        company=header["#FNAMN"][0].text,
        accounts=accounts,
        vouchers=vouchers,
        ksumma=crc,
        dimensions=dimensions,
        objects=objects,
    )
