"""The schema steps of gateway/common/migrations.py on real SQLite files: run once each, in
order, with their version bump; a failing step leaves the file whole at the version before
it (and the copy taken before it); a file of a newer version is refused and left as it is."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from gateway.common.migrations import (
    MigrationFailed,
    SchemaTooNew,
    Step,
    backup_path,
    migrate,
    schema_version,
    split_script,
)

V1 = Step(
    1, "the notes table", "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"
)
V2 = Step(2, "a column for who wrote it", "ALTER TABLE notes ADD COLUMN author TEXT")


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def tables(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return [
            str(r[0])
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]


def test_a_new_file_gets_every_step_and_the_last_version(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    conn = connect(path)
    assert migrate(conn, (V1, V2), database="the notes", path=path) == 2
    conn.execute("INSERT INTO notes (text, author) VALUES ('hej', 'Anna')")
    conn.close()
    assert tables(path) == ["notes"]
    assert not backup_path(path, 0).exists()  # a file without a version is taken up without a copy
    conn = connect(path)
    assert schema_version(conn) == 2 and migrate(conn, (V1, V2), database="the notes", path=path) == 2
    assert conn.execute("SELECT text, author FROM notes").fetchall() == [("hej", "Anna")]
    conn.close()


def test_an_unversioned_file_of_an_earlier_release_is_taken_up_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    conn = connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    conn.execute("INSERT INTO notes (text) VALUES ('from the old release')")
    assert migrate(conn, (V1, V2), database="the notes", path=path) == 2
    assert conn.execute("SELECT text, author FROM notes").fetchall() == [("from the old release", None)]
    conn.close()
    # The file as the old release left it, kept beside it: the way back without a backup.
    copy = backup_path(path, 0)
    assert copy.name == "notes.db.v0.bak" and copy.stat().st_mode & 0o777 == 0o600
    with closing(sqlite3.connect(copy)) as old:
        assert old.execute("PRAGMA user_version").fetchone() == (0,)
        assert old.execute("SELECT * FROM notes").fetchall() == [(1, "from the old release")]


def test_a_later_step_is_run_on_a_copy_kept_beside_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    conn = connect(path)
    migrate(conn, (V1,), database="the notes", path=path)
    conn.execute("INSERT INTO notes (text) VALUES ('at version 1')")
    assert migrate(conn, (V1, V2), database="the notes", path=path) == 2
    conn.close()
    copy = backup_path(path, 1)
    assert copy.name == "notes.db.v1.bak" and copy.stat().st_mode & 0o777 == 0o600
    with closing(sqlite3.connect(copy)) as old:
        assert old.execute("PRAGMA user_version").fetchone() == (1,)
        assert old.execute("SELECT * FROM notes").fetchall() == [(1, "at version 1")]


def test_a_failing_step_leaves_the_file_whole_at_the_version_before_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    conn = connect(path)
    migrate(conn, (V1,), database="the notes", path=path)
    conn.execute("INSERT INTO notes (text) VALUES ('kept')")

    def half_done(c: sqlite3.Connection) -> None:
        c.execute("CREATE TABLE authors (name TEXT PRIMARY KEY)")
        c.execute("INSERT INTO authors VALUES ('Anna')")
        c.execute("INSERT INTO authors VALUES ('Anna')")  # the step fails here, half done

    with pytest.raises(MigrationFailed) as refused:
        migrate(conn, (V1, Step(2, "the authors", half_done)), database="the notes /x/notes.db", path=path)
    assert str(refused.value) == (
        "the notes /x/notes.db could not be brought from schema version 1 to 2 (the authors): "
        "UNIQUE constraint failed: authors.name. Nothing of that step was written; "
        "the file is still at version 1."
    )
    assert not conn.in_transaction and schema_version(conn) == 1
    conn.close()
    assert tables(path) == ["notes"]  # no half of the step
    # Run again with the step mended: it goes through.
    conn = connect(path)
    assert migrate(conn, (V1, V2), database="the notes", path=path) == 2
    assert conn.execute("SELECT text FROM notes").fetchall() == [("kept",)]
    conn.close()


def test_a_file_of_a_newer_version_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    conn = connect(path)
    migrate(conn, (V1, V2, Step(3, "an index", "CREATE INDEX by_author ON notes (author)")), database="x")
    with pytest.raises(SchemaTooNew) as refused:
        migrate(conn, (V1, V2), database="the till's catalog /var/lib/tillgw/catalog.db", path=path)
    assert str(refused.value) == (
        "the till's catalog /var/lib/tillgw/catalog.db is at schema version 3, written by a newer "
        "tillgateway; this one knows versions up to 2. Run the newer tillgateway again (or restore a "
        "backup this version made): an older program must not write into it."
    )
    assert schema_version(conn) == 3 and not backup_path(path, 3).exists()
    conn.close()


def test_two_processes_opening_at_once_run_each_step_once(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    connect(path).close()
    runs: list[int] = []
    barrier = threading.Barrier(2)

    def counted(c: sqlite3.Connection) -> None:
        runs.append(1)
        c.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")  # fails if run twice

    def opener() -> None:
        conn = connect(path)
        conn.execute("PRAGMA busy_timeout=30000")
        barrier.wait()
        migrate(conn, (Step(1, "notes", counted),), database="the notes", path=path)
        conn.close()

    threads = [threading.Thread(target=opener) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert runs == [1] and tables(path) == ["notes"]


def test_steps_must_be_numbered_from_one_in_order() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    with pytest.raises(ValueError, match=r"numbered 1, 2, 3 … in order, not \[1, 3\]"):
        migrate(conn, (V1, Step(3, "skipped two", "SELECT 1")), database="x")


def test_a_script_splits_into_whole_statements() -> None:
    script = """
    CREATE TABLE a (x TEXT DEFAULT ';');  -- a comment; with a semicolon
    INSERT INTO a VALUES ('b;c'); INSERT INTO a VALUES ('d');
    -- only a comment at the end
    """
    assert split_script(script) == [
        "CREATE TABLE a (x TEXT DEFAULT ';');",
        "-- a comment; with a semicolon\n    INSERT INTO a VALUES ('b;c');",
        "INSERT INTO a VALUES ('d');",
    ]
