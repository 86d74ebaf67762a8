"""Real resources shared by the tests: an embedded PostgreSQL the tests start themselves, and
generated TechHub sources on it."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

import psycopg2
import pytest

from techhub_lake.source.embedded import EmbeddedPostgres
from techhub_lake.source.generator import init_source

# Small scales keep the suite fast; scale 1 belongs to the benchmarks.
SOURCE_SCALE = 0.05
SOURCE_SEED = 42


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the tests away from a developer's own source, lake and Dagster instance."""
    saved = {k: os.environ.get(k) for k in ("TECHHUB_SOURCE_URL", "TECHHUB_LAKE_ROOT", "TECHHUB_STATE_DIR", "DAGSTER_HOME", "TECHHUB_CATALOG")}
    for key in saved:
        os.environ.pop(key, None)
    os.environ["TECHHUB_STATE_DIR"] = str(tmp_path_factory.mktemp("state"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """One embedded PostgreSQL for the whole session (started as whatever user runs the tests)."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data")
    server.start()
    yield server
    server.destroy()


_database_names = (f"techhub_test_{n}" for n in itertools.count(1))


@pytest.fixture(scope="session")
def new_database(pg_server: EmbeddedPostgres) -> Callable[[], str]:
    """Create an empty database on the session server and return its URL."""

    def create() -> str:
        name = next(_database_names)
        conn = psycopg2.connect(pg_server.url("postgres"))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return pg_server.url(name)

    return create


@pytest.fixture(scope="session")
def generated_source(new_database: Callable[[], str]) -> str:
    """A TechHub source generated at SOURCE_SCALE / SOURCE_SEED; tests must not modify it."""
    url = new_database()
    init_source(url, scale=SOURCE_SCALE, seed=SOURCE_SEED)
    return url


def query(url: str, sql: str, params: tuple | dict | None = None) -> list[tuple]:
    """Run one query on ``url`` and return all rows."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.rollback()
        conn.close()
