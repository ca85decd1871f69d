"""The till's catalog and the sync module's databases as release 2084e15 wrote them, opened by
this release: taken up at their schema versions, every row kept, and working.

The files were written by that release's own code (``make_release_files.py`` here, its
docstring has the commands): a till's ``catalog.db`` with two revisions and a customer made
at the till; an inbox with the first 20 messages of the release journal
(tests/fiscal/recordings), 15 processed, one held by the intake and one set aside; the
master-data catalog; the token store with Fortnox's first refresh token. Each test works on
a copy; the recording stays as it was.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest
from aiohttp import web

from gateway.catalog.database import CATALOG_STEPS
from gateway.catalog.store import Catalog
from gateway.cli import main
from gateway.common.migrations import SchemaTooNew, latest_version
from gateway.messages.catalog import Article, CatalogSection, CatalogUpdate
from gateway.sync.http.oauth import TOKEN_STEPS, OAuthTokens, TokenEndpoint
from gateway.sync.inbox import INBOX_STEPS, Inbox
from gateway.sync.masterdata.catalog_db import CATALOG_STEPS as MASTERDATA_STEPS
from gateway.sync.masterdata.catalog_db import CatalogDb
from gateway.sync.routing import Routing

RECORDINGS = Path(__file__).parent
JOURNAL = RECORDINGS.parent / "fiscal" / "recordings" / "release-2084e15.db"
ORGNR, STORE = "5560360793", "main"


def recorded(name: str, tmp_path: Path) -> Path:
    target = tmp_path / f"{name}.db"
    shutil.copyfile(RECORDINGS / f"release-2084e15-{name}.db", target)
    return target


def version_and_rows(path: Path, table: str) -> tuple[int, int]:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0]), int(
            conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        )


def test_the_recordings_carry_no_version() -> None:
    for name in ("catalog", "inbox", "masterdata", "tokens"):
        assert version_and_rows(RECORDINGS / f"release-2084e15-{name}.db", "sqlite_master")[0] == 0, name


async def test_the_tills_catalog_keeps_its_revision_articles_and_customers(tmp_path: Path) -> None:
    path = recorded("catalog", tmp_path)
    catalog = await Catalog.open(path)
    try:
        assert catalog.revision == 2
        coffee = catalog.article_by_barcode("7310865004703")
        assert coffee is not None and (coffee.article.name, coffee.article.price) == ("Kaffe", 3500)
        assert catalog.article("1003") is None  # removed by revision 2
        assert catalog.customer("K100") is not None and catalog.customer("T-KASSA1-1") is not None
        assert await catalog.provisional_number("KASSA1") == "T-KASSA1-2"  # the till's numbers go on
        change = CatalogUpdate(
            ORGNR,
            STORE,
            3,
            2,
            False,
            1,
            1,
            CatalogSection.ARTICLES,
            (Article("1004", "Te", 2900, 1200, ("7310000000011",)),),
        )
        await catalog.apply(change)
        assert catalog.revision == 3 and catalog.article("1004") is not None
    finally:
        await catalog.close()
    assert version_and_rows(path, "articles") == (latest_version(CATALOG_STEPS), 5)


async def test_the_inbox_is_taken_up_and_gets_its_second_version(tmp_path: Path) -> None:
    path = recorded("inbox", tmp_path)
    inbox = await Inbox.open(path)
    try:
        assert await inbox.counts() == {"messages": 21, "processed": 15, "held": 1, "set_aside": 1}
        with closing(sqlite3.connect(path)) as conn:
            indexes = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "rejected_held" in indexes  # version 2's index
        held = await inbox.held()
        assert [h.msg_id for h in held] == [f"{ORGNR}/{STORE}/KASSA9/1"]
        key = (ORGNR, STORE, "KASSA1")
        assert await inbox.next_expected(key) == 16  # processing goes on where it stopped
        # The rest of the release till's messages arrive: stored once, the repeated ones acked again.
        with closing(sqlite3.connect(JOURNAL)) as journal:
            rows = journal.execute("SELECT topic, message FROM outbox ORDER BY sequence").fetchall()
        routing = Routing(frozenset(), frozenset({f"{ORGNR}/{STORE}/KASSA1"}))
        taken = await inbox.take([(str(t), bytes(m)) for t, m in rows], routing, "till.toml")
        assert [t.outcome for t in taken] == ["duplicate"] * 20 + ["stored"] * 13
        assert (await inbox.counts())["messages"] == 34
    finally:
        await inbox.close()
    assert version_and_rows(path, "inbox") == (latest_version(INBOX_STEPS), 34) == (3, 34)


async def test_the_master_data_catalog_keeps_its_marks_and_revisions(tmp_path: Path) -> None:
    path = recorded("masterdata", tmp_path)
    db = await CatalogDb.open(path)
    try:
        revisions = await db.fetchall("SELECT revision, published_at FROM revisions")
        assert [tuple(r) for r in revisions] == [(1, "2026-12-01T07:00:01.000+01:00")]
        assert await db.mark("articles.changed_since") == "2026-12-01T07:00:00+01:00"
        articles = await db.items("articles")
        assert sorted(articles) == ["1001", "1002", "1003", "2001", "3001"]
    finally:
        await db.close()
    assert version_and_rows(path, "articles") == (latest_version(MASTERDATA_STEPS), 5)


@pytest.fixture
async def token_endpoint() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A real HTTP token endpoint: it records each form it gets and hands out new tokens."""
    forms: list[dict[str, str]] = []

    async def token(request: web.Request) -> web.Response:
        forms.append(dict(await request.post()))  # type: ignore[arg-type]
        n = len(forms)
        body = {"access_token": f"access-{n}", "refresh_token": f"refresh-{n}", "expires_in": 3600}
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/token", forms
    finally:
        await runner.cleanup()


async def test_the_token_store_refreshes_with_the_recorded_token(
    tmp_path: Path, token_endpoint: tuple[str, list[dict[str, str]]]
) -> None:
    path = recorded("tokens", tmp_path)
    url, forms = token_endpoint
    tokens = OAuthTokens(path, "fortnox", "", TokenEndpoint(url, "client-id", "client-secret"))
    assert await tokens.access_token() == "access-1"
    assert forms == [{"grant_type": "refresh_token", "refresh_token": "recorded-refresh-token"}]
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT refresh_token FROM oauth_tokens").fetchall() == [("refresh-1",)]
    assert version_and_rows(path, "oauth_tokens") == (latest_version(TOKEN_STEPS), 1)


async def test_a_file_of_a_newer_release_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = recorded("inbox", tmp_path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 7")
        conn.commit()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNew, match=r"the sync module's inbox .*inbox\.db is at schema version 7"):
        await Inbox.open(path)
    assert path.read_bytes() == before


def test_sync_status_on_the_recorded_inbox_names_where_each_register_stands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = recorded("inbox", tmp_path)
    config = tmp_path / "sync.toml"
    config.write_text(
        f'[mqtt]\nurl = "mqtt://127.0.0.1:1"\n\n[sync]\ninbox = "{inbox}"\n'
        f'registers = ["{ORGNR}/{STORE}/KASSA1"]\n',
        encoding="utf-8",
    )
    assert main(["--language", "en", "sync", "--status", "--config", str(config)]) == 1  # KASSA9's is held
    out = capsys.readouterr().out
    # What `tillgw restore --bus-sequence/--last-receipt` compares a backup of KASSA1 with.
    assert f"last stored from {ORGNR}/{STORE}/KASSA1: message 20, receipt 9\n" in out
    assert f"last stored from {ORGNR}/{STORE}/KASSA9: message 1, receipt none\n" in out


def test_sync_status_speaks_swedish_by_default_and_the_file_s_shop_language_when_it_has_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = recorded("inbox", tmp_path)
    config = tmp_path / "sync.toml"
    sync = f'[mqtt]\nurl = "mqtt://127.0.0.1:1"\n\n[sync]\ninbox = "{inbox}"\n'
    sync += f'registers = ["{ORGNR}/{STORE}/KASSA1"]\n'
    config.write_text(sync, encoding="utf-8")

    assert main(["sync", "--status", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert f"inkorg {inbox}: 21 meddelanden, 15 bokförda, 6 inte ännu, " in out
    assert f"senast lagrat från {ORGNR}/{STORE}/KASSA9: meddelande 1, inget kvitto\n" in out
    # The word a script looks for stays; what follows it is Swedish.
    assert "\nHELD: 1 meddelande(n) — kassorna visar dem också; inget efter ett kvarhållet" in out
    assert "Åtgärda varje orsak och kör sedan: tillgw sync --reprocess --config FIL" in out

    config.write_text(f'[shop]\nlanguage = "en"\n\n{sync}', encoding="utf-8")
    assert main(["sync", "--status", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert f"last stored from {ORGNR}/{STORE}/KASSA9: message 1, receipt none\n" in out
    assert "\nHELD: 1 message(s) — the tills show them too" in out
