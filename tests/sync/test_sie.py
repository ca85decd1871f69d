"""The SIE writer and the booking of a Z report, on their own (no bus, no files)."""

from __future__ import annotations

import zlib
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gateway.config import ConfigError
from gateway.messages.bodies import ReportBody
from gateway.messages.envelope import BusMessage
from gateway.receipts.money import money_text
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.sie.adapter import SieAdapter, _version
from gateway.sync.adapters.sie.config import SieConfig
from gateway.sync.booking import BookingError, book_z, z_figures
from gateway.sync.config import load_sync_config
from gateway.sync.payloads import z_report
from gateway.sync.settings import AccountsConfig
from gateway.sync.sie import SieFile, Trans, UnbalancedVoucher, Voucher, _Text, ksumma, render
from tests.sync.payloads import z_of, z_payload
from tests.sync.sie_reader import crc32, read_sie
from tests.sync.test_config import example


def z_body(**over: Any) -> ReportBody[int]:
    """A Z report's body as the sync module reads it (tests/sync/payloads.py: 100,00 at 25 % by
    card, 56,60 at 12 % in cash rounded up to 57,00), with the fields of ``over`` replaced."""
    return z_of(z_payload(**over))


def one_voucher_file(*rows: Trans, company: str = "Testbolaget AB") -> SieFile:
    accounts = tuple(sorted({(t.account, f"Konto {t.account}") for t in rows}))
    return SieFile(
        program="tillgateway",
        version="1.0",
        generated=date(2026, 3, 2),
        orgnr="556036-0793",
        company=company,
        accounts=accounts,
        vouchers=(Voucher("K", "", date(2026, 3, 2), "Z-dagrapport 7", rows),),
    )


def test_amounts_are_kronor_with_a_point_and_two_decimals() -> None:
    # The SIE writer's amounts are gateway.receipts.money's money_text.
    assert [money_text(v) for v in (0, 5, -5, 100, -12345, 123456789)] == [
        "0.00",
        "0.05",
        "-0.05",
        "1.00",
        "-123.45",
        "1234567.89",
    ]


def test_the_checksum_is_crc32_over_labels_and_field_contents_only() -> None:
    # By hand: the bytes summed are "#FORMATPC8" then "#FNAMNCafé AB" (é is 0x82 in
    # code page 437) — no spaces, no quotes, no line ends.
    records: list[Any] = [("#FORMAT", ("PC8",)), ("#FNAMN", (_Text("Café AB"),))]
    expected = crc32(b"#FORMATPC8" + b"#FNAMNCaf\x82 AB")
    assert ksumma(records) == expected == zlib.crc32(b"#FORMATPC8#FNAMNCaf\x82 AB")


def test_a_file_is_code_page_437_with_crlf_and_a_checksum_a_reader_agrees_with() -> None:
    data = render(
        one_voucher_file(Trans("1910", 57_00, "Kontant"), Trans("3002", -57_00, "Försäljning 12 %"))
    )
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert "Försäljning".encode("cp437") in data
    doc = read_sie(data)
    assert doc.vouchers[0].rows == [("1910", 57_00, "Kontant"), ("3002", -57_00, "Försäljning 12 %")]
    lines = data.decode("cp437").split("\r\n")
    assert lines[:2] == ["#FLAGGA 0", "#KSUMMA"] and lines[-2] == f"#KSUMMA {doc.ksumma}"


def test_texts_are_quoted_escaped_and_kept_to_code_page_437() -> None:
    data = render(
        one_voucher_file(
            Trans("1910", 1_00, 'Kvitto "A\\B"\tnr 5 €'), Trans("3001", -1_00), company='Café "Bönan" AB'
        )
    )
    text = data.decode("cp437")
    assert '#FNAMN "Café \\"Bönan\\" AB"' in text
    assert '#TRANS 1910 {} 1.00 "" "Kvitto \\"A/B\\" nr 5 ?"' in text
    assert '#TRANS 3001 {} -1.00 "" ""' in text
    doc = read_sie(data)
    assert doc.company == 'Café "Bönan" AB'
    assert doc.vouchers[0].rows[0][2] == 'Kvitto "A/B" nr 5 ?'


def test_an_unbalanced_voucher_is_never_written() -> None:
    with pytest.raises(UnbalancedVoucher, match=r"debit 57.00, credit 56.99, difference 0.01"):
        render(one_voucher_file(Trans("1910", 57_00), Trans("3002", -56_99)))


def test_an_undeclared_account_is_never_written() -> None:
    sie = one_voucher_file(Trans("1910", 1_00), Trans("3001", -1_00))
    with pytest.raises(ValueError, match="undeclared accounts 3001"):
        render(replace(sie, accounts=(("1910", "Kassa"),)))


def test_a_z_report_is_booked_per_means_and_rate_with_the_rounding_on_the_balancing_side() -> None:
    rows = book_z(z_figures(z_body()), AccountsConfig())
    assert [(t.account, t.amount) for t in rows] == [
        ("1910", 57_00),
        ("1580", 100_00),
        ("3001", -80_00),
        ("2611", -20_00),
        ("3002", -50_54),
        ("2621", -6_06),
        ("3740", -40),  # cash rounded up by 0,40: a credit
    ]
    assert sum(t.amount for t in rows) == 0


def test_accounts_are_configuration_and_figures_on_one_account_are_one_line() -> None:
    accounts = replace(AccountsConfig(), card="1910", sales_12="3001", vat_12="2611")
    rows = book_z(z_figures(z_body()), accounts)
    assert [(t.account, t.amount, t.text) for t in rows] == [
        ("1910", 157_00, "Kontant, Kort"),
        ("3001", -130_54, "Försäljning 25 % moms, Försäljning 12 % moms"),
        ("2611", -26_06, "Utgående moms 25 %, Utgående moms 12 %"),
        ("3740", -40, "Öresavrundning"),
    ]


def test_figures_that_do_not_add_up_are_refused_with_both_sums() -> None:
    with pytest.raises(BookingError, match=r"payments \(157.00\) are not the sales incl. VAT \(156.60\)"):
        book_z(z_figures(z_body(rounding=0)), AccountsConfig())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"report": "x"}, "report: 'x' is not a Z report"),
        ({"z_no": 0}, "z_no: 0 is not 1 or more"),
        ({"vat": [{"rate": "13", "gross": 0, "vat": 0, "net": 0}]}, r"vat\[0\].rate: '13' is not one of"),
        ({"company": {"name": "X", "orgnr": "123"}}, "company.orgnr"),
        ({"at": "yesterday"}, "at: 'yesterday' does not start with a date"),
    ],
)
def test_a_malformed_z_report_is_refused_naming_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(BookingError, match=message):
        z_figures(z_body(**change))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"z_no": "7"}, r"payload.z_no: expected int \| null, got str"),
        ({"net_sales": 156.6}, "payload.net_sales: expected int, got float"),
        ({"payments": {"cash": 1, "crypto": 2}}, r"payload.payments: invalid enum value 'crypto'"),
        ({"company": {"name": "X"}}, "payload.company.orgnr: missing"),
    ],
)
def test_a_z_report_the_contract_does_not_describe_is_refused_naming_the_field(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(AdapterError, match=message):
        z_report(z_message(z_payload(**change)))


# -- the cost centre ----------------------------------------------------------------------


def z_message(body: dict[str, Any]) -> BusMessage:
    """A ``report.z`` message carrying ``body``."""
    return BusMessage(
        msg_id="m-7",
        kind="report.z",
        orgnr="5560360793",
        store="vaxjo",
        register="KASSA1",
        sequence=40,
        journal_entry=120,
        entry_hash="0" * 64,
        at=body["at"],
        payload=body,
    )


def sie_of(config: SieConfig) -> bytes:
    adapter = SieAdapter(Path("unused"), AccountsConfig(), config)
    return render(adapter.document(z_message(z_payload()), z_figures(z_body())))


def test_a_cost_centre_is_on_every_row_and_declared_in_the_header_line_by_line() -> None:
    data = sie_of(SieConfig(cost_centre="CC", cost_centre_name="Butiken Växjö"))
    lines = data.decode("cp437").split("\r\n")
    assert lines[-1] == ""  # the file ends with CR LF
    rows = [
        ("1910", "57.00", "Kontant"),
        ("1580", "100.00", "Kort"),
        ("3001", "-80.00", "Försäljning 25 % moms"),
        ("2611", "-20.00", "Utgående moms 25 %"),
        ("3002", "-50.54", "Försäljning 12 % moms"),
        ("2621", "-6.06", "Utgående moms 12 %"),
        ("3740", "-0.40", "Öresavrundning"),
    ]
    accounts = [
        ("1580", "Fordringar för kontokort och kuponger"),
        ("1910", "Kassa"),
        ("2611", "Utgående moms på försäljning inom Sverige, 25 %"),
        ("2621", "Utgående moms på försäljning inom Sverige, 12 %"),
        ("3001", "Försäljning inom Sverige, 25 % moms"),
        ("3002", "Försäljning inom Sverige, 12 % moms"),
        ("3740", "Öres- och kronutjämning"),
    ]
    assert lines[:-2] == [
        "#FLAGGA 0",
        "#KSUMMA",
        f'#PROGRAM "tillgateway" "{_version()}"',
        "#FORMAT PC8",
        "#GEN 20260302",
        "#SIETYP 4",
        "#ORGNR 556036-0793",
        '#FNAMN "Café \\"Bönan\\" AB"',
        *(f'#KONTO {number} "{name}"' for number, name in accounts),
        '#DIM 1 "Kostnadsställe"',
        '#OBJEKT 1 "CC" "Butiken Växjö"',
        '#VER K "" 20260302 "Z-dagrapport 7 kassa KASSA1"',
        "{",
        *(f'#TRANS {account} {{1 "CC"}} {amount} "" "{text}"' for account, amount, text in rows),
        "}",
    ]
    # The checksum by hand: labels and field contents, an object list as its dimension and
    # id without braces or quotes ("1CC"), computed bit by bit, not with zlib.
    summed = [
        f"#PROGRAMtillgateway{_version()}",
        "#FORMATPC8",
        "#GEN20260302",
        "#SIETYP4",
        "#ORGNR556036-0793",
        '#FNAMNCafé "Bönan" AB',
        *(f"#KONTO{number}{name}" for number, name in accounts),
        "#DIM1Kostnadsställe",
        "#OBJEKT1CCButiken Växjö",
        "#VERK20260302Z-dagrapport 7 kassa KASSA1",
        *(f"#TRANS{account}1CC{amount}{text}" for account, amount, text in rows),
    ]
    assert lines[-2] == f"#KSUMMA {crc32(''.join(summed).encode('cp437'))}"
    doc = read_sie(data)
    assert doc.dimensions == {"1": "Kostnadsställe"}
    assert doc.objects == {("1", "CC"): "Butiken Växjö"}
    assert doc.vouchers[0].objects == [(("1", "CC"),)] * len(rows)


def test_a_cost_centre_without_a_name_is_named_by_its_code_and_none_leaves_the_file_as_it_was() -> None:
    doc = read_sie(sie_of(SieConfig(cost_centre="200")))
    assert doc.objects == {("1", "200"): "200"}
    plain = sie_of(SieConfig())
    assert b"#DIM" not in plain and b"#OBJEKT" not in plain and b'{1 "' not in plain
    assert all(row == () for row in read_sie(plain).vouchers[0].objects)


def test_a_row_naming_an_undeclared_object_is_never_written() -> None:
    sie = one_voucher_file(Trans("1910", 1_00, objects=((1, "CC"),)), Trans("3001", -1_00))
    with pytest.raises(ValueError, match="undeclared objects 'CC' of dimension 1"):
        render(sie)
    with pytest.raises(ValueError, match="dimension 1, which the file does not declare"):
        render(replace(sie, objects=((1, "CC", "Butiken"),)))
    declared = replace(sie, dimensions=((1, "Kostnadsställe"),), objects=((1, "CC", "Butiken"),))
    assert read_sie(render(declared)).vouchers[0].objects == [(("1", "CC"),), ()]


def test_the_reader_refuses_objects_out_of_place_or_undeclared() -> None:
    sie = one_voucher_file(Trans("1910", 1_00, objects=((1, "CC"),)), Trans("3001", -1_00))
    good = render(replace(sie, dimensions=((1, "Kostnadsställe"),), objects=((1, "CC", "Butiken"),)))
    text = good.decode("cp437")
    swapped = text.replace(
        '#DIM 1 "Kostnadsställe"\r\n#OBJEKT 1 "CC" "Butiken"',
        '#OBJEKT 1 "CC" "Butiken"\r\n#DIM 1 "Kostnadsställe"',
    )
    with pytest.raises(AssertionError, match="not declared by #DIM"):
        read_sie(swapped.encode("cp437"))
    other = text.replace('{1 "CC"}', '{1 "CD"}')
    with pytest.raises(AssertionError, match="object 'CD' of dimension 1 not declared"):
        read_sie(other.encode("cp437"))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('cost_centre = "C C"', r"\[sync.sie\].cost_centre: 'C C' must be 1-20 letters"),
        ('cost_centre = "€1"', r"\[sync.sie\].cost_centre: '€1' must be 1-20 letters"),
        ("cost_centre = 200", r"\[sync.sie\].cost_centre: must be a non-empty string"),
        (
            'cost_centre_name = "Butiken"',
            r"\[sync.sie\].cost_centre_name: names a cost centre, but cost_centre",
        ),
        ('cost_centre = "CC"\ncost_centre_name = " "', r"\[sync.sie\].cost_centre_name: must not be empty"),
    ],
)
def test_a_cost_centre_mistake_names_its_key(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "sync.toml"
    path.write_text(f"[sync.sie]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_sync_config(path)
    path.write_text('[sync.sie]\ncost_centre = "Växjö-1"\ncost_centre_name = "Butiken"\n', encoding="utf-8")
    sie = load_sync_config(path).sie
    assert (sie.cost_centre, sie.cost_centre_name) == ("Växjö-1", "Butiken")


def test_the_documented_cost_centre_reads(tmp_path: Path) -> None:
    path = tmp_path / "sync.toml"
    path.write_text(example(), encoding="utf-8")
    sie = load_sync_config(path).sie
    assert (sie.cost_centre, sie.cost_centre_name) == ("200", "Butiken i Växjö")
