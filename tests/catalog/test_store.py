"""The catalog database: revisions applied whole and in order, gaps held back, repeats harmless."""

from __future__ import annotations

import dataclasses
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.catalog.store import DECODED_ITEMS, Catalog, Outcome
from gateway.messages.catalog import MAX_ITEMS, Customer, decode_update
from gateway.messages.envelope import MessageError

from .conftest import COFFEE, article, coffee_json, revision, stock


async def apply_all(catalog: Catalog, parts: list) -> list[Outcome]:  # type: ignore[type-arg]
    return [(await catalog.apply(part)).outcome for part in parts]


async def test_revisions_in_order_are_applied_and_answer_by_barcode_and_number(catalog: Catalog) -> None:
    assert catalog.revision == 0 and catalog.article_by_barcode("7310865004703") is None
    first = revision(
        1,
        0,
        full=True,
        articles=(
            COFFEE,
            article("2001", "Kanelbulle", 3200, "7312345000011", "7312345000028", vat_rate=1200),
        ),
        stock=(stock("1001", "12.5"),),
    )
    assert await apply_all(catalog, first) == [Outcome.HELD, Outcome.APPLIED]
    assert (catalog.revision, catalog.state.articles) == (1, 2)

    found = catalog.article_by_barcode("7310865004703")
    assert found is not None
    assert found.to_json() == coffee_json("12.5")
    by_second_code = catalog.article_by_barcode("7312345000028")
    assert by_second_code is not None and by_second_code.article.vat_rate == 1200
    # The article number answers as a barcode too; a number nobody has answers nothing.
    by_number = catalog.article_by_barcode("2001")
    assert by_number is not None and by_number.article.name == "Kanelbulle"
    assert catalog.article_by_barcode("9999") is None

    # Revision 2 changes a price and takes a barcode away from an article.
    second = revision(2, articles=(article("2001", "Kanelbulle", 3500, "7312345000028", vat_rate=1200),))
    assert await apply_all(catalog, second) == [Outcome.APPLIED]
    changed = catalog.article("2001")
    assert changed is not None and changed.article.price == 3500
    assert changed.article.barcodes == ("7312345000028",)
    assert catalog.article_by_barcode("7312345000011") is None
    unchanged = catalog.article("1001")
    assert unchanged is not None and unchanged.stock == Decimal("12.5")


async def test_a_revision_after_a_gap_is_held_until_the_missing_one_arrives(catalog: Catalog) -> None:
    await apply_all(catalog, revision(1, 0, full=True, articles=(article("1", price=100),)))
    third = await catalog.apply(revision(3, articles=(article("1", price=300),))[0])
    assert (third.outcome, third.revision, third.applied) == (Outcome.GAP, 1, ())
    held = catalog.article("1")
    assert held is not None and held.article.price == 100  # nothing of revision 3 shows yet
    assert catalog.state.held_parts == 1

    second = await catalog.apply(revision(2, articles=(article("1", price=200), article("2")))[0])
    assert (second.outcome, second.revision, second.applied) == (Outcome.APPLIED, 3, (2, 3))
    after = catalog.article("1")
    assert after is not None and after.article.price == 300
    assert catalog.article("2") is not None
    assert catalog.state.held_parts == 0


async def test_a_part_seen_twice_changes_nothing(catalog: Catalog) -> None:
    parts = revision(
        1, 0, full=True, articles=(article("1", price=100),), customers=(Customer("K1", "Anna AB"),)
    )
    assert (await catalog.apply(parts[0])).outcome is Outcome.HELD
    assert (await catalog.apply(parts[0])).outcome is Outcome.HELD
    assert catalog.state.held_parts == 1
    assert (await catalog.apply(parts[1])).outcome is Outcome.APPLIED
    await apply_all(catalog, revision(2, articles=(article("1", price=200),)))
    # Revision 1 again, all of it: older than what is held, so nothing goes back.
    assert await apply_all(catalog, parts) == [Outcome.OLD, Outcome.OLD]
    again = await catalog.apply(revision(2, articles=(article("1", price=999),))[0])
    assert (again.outcome, again.revision) == (Outcome.OLD, 2)
    found = catalog.article("1")
    assert found is not None and found.article.price == 200
    assert catalog.state.held_parts == 0


async def test_a_full_revision_replaces_everything_but_customers_made_at_the_till(catalog: Catalog) -> None:
    await apply_all(
        catalog,
        revision(
            1,
            0,
            full=True,
            articles=(article("A", "", 100, "111"), article("B", "", 100, "222")),
            customers=(Customer("K1", "Anna AB"),),
            stock=(stock("A", "3"),),
        ),
    )
    await catalog.put_customer(Customer("T-KASSA1-1", "Bertil HB"))
    # A full revision on any base: a till that missed revisions 2-4 takes it as well.
    await apply_all(catalog, revision(5, 1, full=True, articles=(article("C", "", 100, "333"),)))
    assert catalog.revision == 5
    assert catalog.article("A") is None and catalog.article_by_barcode("111") is None
    assert catalog.article_by_barcode("333") is not None
    assert catalog.customer("K1") is None
    till_made = catalog.customer("T-KASSA1-1")
    assert till_made is not None and till_made.provisional
    assert (catalog.state.articles, catalog.state.customers) == (1, 1)


async def test_removed_numbers_leave_their_section(catalog: Catalog) -> None:
    await apply_all(
        catalog,
        revision(
            1,
            0,
            full=True,
            articles=(article("A", "", 100, "111"), article("B")),
            customers=(Customer("K1", "Anna AB"), Customer("K2", "Bertil HB")),
            stock=(stock("A", "3"), stock("B", "-1")),
        ),
    )
    await apply_all(catalog, revision(2, removed={"articles": ("A",), "customers": ("K2",), "stock": ("B",)}))
    assert catalog.article("A") is None and catalog.article_by_barcode("111") is None
    b = catalog.article("B")
    assert b is not None and b.stock is None
    assert catalog.customer("K2") is None and catalog.customer("K1") is not None


async def test_parts_out_of_order_wait_for_their_siblings_also_across_a_restart(tmp_path: Path) -> None:
    parts = revision(
        1,
        0,
        full=True,
        articles=(article("A", "Äpple", 500),),
        customers=(Customer("K1", "Anna AB", address=("Storgatan 1", "352 30 Växjö")),),
        stock=(stock("A", "7"),),
    )
    assert [p.section for p in parts] == ["articles", "customers", "stock"]
    catalog = await Catalog.open(tmp_path / "catalog.db")
    assert (await catalog.apply(parts[2])).outcome is Outcome.HELD
    await catalog.close()

    catalog = await Catalog.open(tmp_path / "catalog.db")
    try:
        assert catalog.state.held_parts == 1  # kept in the file, read back from it
        assert (await catalog.apply(parts[0])).outcome is Outcome.HELD
        assert catalog.article("A") is None
        result = await catalog.apply(parts[1])
        assert (result.outcome, result.revision) == (Outcome.APPLIED, 1)
        found = catalog.article("A")
        assert found is not None and found.stock == Decimal("7")
        customer = catalog.customer("K1")
        assert customer is not None and customer.customer.address == ("Storgatan 1", "352 30 Växjö")
    finally:
        await catalog.close()


async def test_a_large_revision_is_applied_part_by_part_holding_few_parts_in_memory(tmp_path: Path) -> None:
    """More items than the catalog keeps decoded: the parts beyond are read back from the file,
    one at a time, when the revision is applied — out of order, and across a restart."""
    count = 3 * DECODED_ITEMS
    articles = tuple(article(f"A{n:05d}", f"Vara {n}", 100 + n, f"73{n:011d}") for n in range(count))
    parts = revision(1, 0, full=True, articles=articles, stock=tuple(stock(a.number, "2") for a in articles))
    assert len(parts) == 2 * count // MAX_ITEMS
    catalog = await Catalog.open(tmp_path / "catalog.db")
    try:
        for part in reversed(parts[1 : len(parts) // 2]):
            assert (await catalog.apply(part)).outcome is Outcome.HELD
            assert catalog.decoded_items <= DECODED_ITEMS
    finally:
        await catalog.close()

    catalog = await Catalog.open(tmp_path / "catalog.db")
    try:
        for part in parts[len(parts) // 2 :]:
            assert (await catalog.apply(part)).outcome is Outcome.HELD
            assert catalog.decoded_items <= DECODED_ITEMS
        result = await catalog.apply(parts[0])
        assert (result.outcome, result.revision) == (Outcome.APPLIED, 1)
        assert catalog.decoded_items == 0 and catalog.state.held_parts == 0
        for n in (0, DECODED_ITEMS, count - 1):
            found = catalog.article_by_barcode(f"73{n:011d}")
            assert found is not None and (found.article.number, found.stock) == (f"A{n:05d}", Decimal("2"))
        assert catalog.state.articles == count
    finally:
        await catalog.close()


async def test_a_part_that_contradicts_its_siblings_is_refused_by_name(catalog: Catalog) -> None:
    parts = revision(1, 0, full=True, articles=(article("A"),), customers=(Customer("K1", "Anna AB"),))
    await catalog.apply(parts[0])
    other = dataclasses.replace(parts[1], parts=3)
    with pytest.raises(MessageError, match=r"revision 1 part 2: says 3 parts on base 0 \(full\)"):
        await catalog.apply(other)
    assert catalog.state.held_parts == 1


def test_a_bad_message_is_named_by_the_wire_format() -> None:
    # What the subscriber logs for a message it skips (its text comes from the decoder).
    good = revision(1, 0, full=True, articles=(article("A"),))[0].to_bytes()
    with pytest.raises(MessageError, match=r"items\[0\].vat_rate: 700 is not one of"):
        decode_update(good.replace(b'"vat_rate":2500', b'"vat_rate":700'))
    with pytest.raises(MessageError, match="not JSON"):
        decode_update(b"{")


async def test_searches_match_names_in_any_case_and_are_bounded(catalog: Catalog) -> None:
    articles = tuple(article(f"{n:04d}", f"Ölglas {n}", 100) for n in range(30))
    await apply_all(
        catalog,
        revision(
            1,
            0,
            full=True,
            articles=(*articles, article("9000", "Stort ÖLGLAS", 100, "7300000000001")),
            customers=(Customer("K1", "Åkerlunds Bageri AB", orgnr="5560001111"), Customer("K2", "Bo")),
        ),
    )
    found = await catalog.search_articles("ölglas", 5)
    assert [a.article.name for a in found] == ["Ölglas 0", "Ölglas 1", "Ölglas 10", "Ölglas 11", "Ölglas 12"]
    assert len(await catalog.search_articles("ÖLGLAS", 1000)) == 31  # at most MAX_SEARCH anyway
    by_code = await catalog.search_articles("7300000000001")
    assert [a.article.number for a in by_code] == ["9000"]
    assert await catalog.search_articles("nothing like it") == []
    assert [c.customer.number for c in await catalog.search_customers("åkerlund")] == ["K1"]
    assert [c.customer.number for c in await catalog.search_customers("5560001111")] == ["K1"]


async def test_provisional_numbers_count_up_and_skip_numbers_in_use(catalog: Catalog) -> None:
    assert await catalog.provisional_number("KASSA1") == "T-KASSA1-1"
    await catalog.put_customer(Customer("T-KASSA1-2", "Someone"))
    assert await catalog.provisional_number("KASSA1") == "T-KASSA1-3"
    await catalog.count_provisional_from(10)
    assert await catalog.provisional_number("KASSA1") == "T-KASSA1-11"


async def test_the_catalog_file_is_wal_and_readable_while_a_revision_is_written(catalog: Catalog) -> None:
    with sqlite3.connect(catalog.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
