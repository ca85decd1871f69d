"""Schema versions of the SQLite files we write, and the steps that bring an older file up.

Every database (the till's ``till.db`` and ``catalog.db``, the sync module's inbox, its
master-data catalog and its token store) names its versions as an ordered list of
:class:`Step`: step *n* brings a file at version *n − 1* to version *n*. The version a file
is at is SQLite's ``PRAGMA user_version`` (0 in a file no step has touched).

Step 1 of each database is its schema as it was before files carried a version, written so
that it may run on a file of any earlier release (``CREATE … IF NOT EXISTS``, a column
added only where it is missing): a file without a version is taken up as it is, its rows
kept. Later steps are plain changes.

Each step runs in one ``BEGIN IMMEDIATE`` transaction together with its version bump
(``user_version`` is written in the file's header, inside the transaction): a crash or an
error in a step leaves the file at the version before it, whole. Before the steps after the
first on a file that has a version, a copy is taken with SQLite's online backup API beside
it (``<name>.v<old>.bak``), so a step that did not do what it should can be undone by hand.
A file without a version that holds tables (one of a release before versions) gets the
same copy, ``<name>.v0.bak``, before its steps: the later steps change its rows too, and
an upgrade from such a release is the one a shop makes. A new, empty file needs none.
A file at a version above the last step this code knows (written by a newer tillgateway)
is refused: an older program must not write into a schema it does not know.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MigrationFailed",
    "SchemaTooNew",
    "Step",
    "backup_path",
    "latest_version",
    "migrate",
    "schema_version",
    "split_script",
]


@dataclass(frozen=True, slots=True)
class Step:
    """One version of a database: what it adds (in words) and how.

    ``apply`` is an SQL script (statements separated by ``;``) or a function of the open
    connection; either runs inside the step's transaction and must not commit.
    """

    version: int
    what: str
    apply: str | Callable[[sqlite3.Connection], None]


class SchemaTooNew(Exception):
    """The file was written by a newer tillgateway than this one."""


class MigrationFailed(Exception):
    """A step failed; the file is left at the version before it."""


def latest_version(steps: Sequence[Step]) -> int:
    return steps[-1].version if steps else 0


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def backup_path(path: Path, version: int) -> Path:
    """Where :func:`migrate` keeps the copy of ``path`` taken at ``version`` before a step."""
    return path.with_name(f"{path.name}.v{version}.bak")


def migrate(
    conn: sqlite3.Connection, steps: Sequence[Step], *, database: str, path: Path | None = None
) -> int:
    """Bring the database on ``conn`` (autocommit: ``isolation_level=None``) to the last step.

    ``database`` names it in messages ("the till's database /var/lib/tillgw/till.db");
    ``path``: its file, for the copy taken before the first step that changes a file
    holding data (None: no copy, e.g. in memory). Returns the version the file is at.
    Raises :class:`SchemaTooNew` or :class:`MigrationFailed` with a message in words.
    """
    _check_steps(steps)
    latest = latest_version(steps)
    found = schema_version(conn)
    _refuse_newer(found, latest, database)
    if found == latest:
        return found
    if path is not None and (found >= 1 or _holds_tables(conn)):
        _copy(conn, backup_path(path, found))
    for step in steps:
        if step.version <= found:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have run the step while this one waited for the lock.
            now = schema_version(conn)
            _refuse_newer(now, latest, database)
            if now < step.version:
                _run(conn, step)
                conn.execute(f"PRAGMA user_version = {int(step.version)}")
            conn.execute("COMMIT")
        except SchemaTooNew:
            conn.execute("ROLLBACK")
            raise
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise MigrationFailed(
                f"{database} could not be brought from schema version {step.version - 1} to "
                f"{step.version} ({step.what}): {exc}. Nothing of that step was written; the file "
                f"is still at version {step.version - 1}."
            ) from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        found = step.version
    return found


def _check_steps(steps: Sequence[Step]) -> None:
    numbers = [s.version for s in steps]
    if numbers != list(range(1, len(steps) + 1)):
        raise ValueError(f"steps must be numbered 1, 2, 3 … in order, not {numbers}")


def _holds_tables(conn: sqlite3.Connection) -> bool:
    """Whether the file was written before (by a release before versions), not just made."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").fetchone() is not None


def _refuse_newer(found: int, latest: int, database: str) -> None:
    if found > latest:
        raise SchemaTooNew(
            f"{database} is at schema version {found}, written by a newer tillgateway; this one "
            f"knows versions up to {latest}. Run the newer tillgateway again (or restore a "
            "backup this version made): an older program must not write into it."
        )


def _run(conn: sqlite3.Connection, step: Step) -> None:
    if callable(step.apply):
        step.apply(conn)
        return
    for statement in split_script(step.apply):
        conn.execute(statement)


def split_script(script: str) -> list[str]:
    """The statements of an SQL script, each whole (a ``;`` inside a string or a comment stays)."""
    statements: list[str] = []
    current = ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            statement = current.strip()
            if not _only_comments(statement.rstrip(";")):
                statements.append(statement)
            current = ""
    return statements


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())


def _copy(conn: sqlite3.Connection, target: Path) -> None:
    """A consistent copy of the database on ``conn`` at ``target`` (0600), taken by SQLite."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    try:
        copy = sqlite3.connect(tmp)
        try:
            conn.backup(copy)
        finally:
            copy.close()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
