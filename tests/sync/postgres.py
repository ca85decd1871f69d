"""PostgreSQL for the tests: a database of this test session's own on the machine's server.

``tillgw_test_<random>`` is created on 127.0.0.1:5432 (user ``postgres``, trust
authentication, as CI's ``.ci/run`` starts it) when the first test asks for it and dropped
at the end of the session; each test gets a schema of its own in it (the URL's
``search_path``), so tests never see each other's rows. When nothing answers on
127.0.0.1:5432 the tests that need it are skipped, saying so.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator

import psycopg
import pytest

__all__ = ["SERVER", "postgres_database", "postgres_url", "schema_url"]

SERVER = "postgresql://postgres@127.0.0.1:5432"


def _answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """The URL of a database made for this test session (dropped at its end)."""
    if not _answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432 (start it: pg_ctlcluster 15 main start)")
    name = f"tillgw_test_{secrets.token_hex(6)}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{SERVER}/{name}"
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def schema_url(database: str, schema: str) -> str:
    return f"{database}?options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """A URL whose tables land in a schema of this test's own."""
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema_url(postgres_database, schema)
