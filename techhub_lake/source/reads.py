"""Reading the source for the lake: one read-only REPEATABLE READ snapshot per extraction over
ADBC (binary COPY into Arrow batches), the live columns a table has, the query that reads them
typed as bronze stores them, streaming with one-line errors, re-reading rows by key and the row
hashes the silver reconciliation compares. Bronze turns these streams into day files; silver and
quality read through the same functions.

Driver: ADBC's PostgreSQL driver, chosen by measurement over psycopg2 COPY + parsing and
SQLAlchemy cursors; ``techhub_lake_tests.bench.extract`` prints the figures against a raw binary
COPY of the same table.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pyarrow as pa
from sqlalchemy.engine import make_url

from techhub_lake.catalog import CatalogError, CatalogTable, Strategy
from techhub_lake.catalog.live_check import column_problems
from techhub_lake.messages import first_line
from techhub_lake.source.arrow_types import (
    COLUMNS_QUERY,
    SourceColumn,
    bronze_schema,
    dictionary_columns,
    normalize_batch,
)
from techhub_lake.source.connection import (
    SourceRefused,
    SourceUnavailable,
    connection_error,
    is_permanent_sqlstate,
    libpq_url,
    remedy_for,
)

# Incremental tables carry each row's version as PostgreSQL keeps it, so a later reconciliation can
# find the rows changed without moving the watermark by comparing (key, version) pairs only. The
# version is ``xmin``, the transaction that wrote the row: every UPDATE writes a new row version with
# a new xmin, whether or not it moves ``updated_at`` or changes a value, and VACUUM (FULL) keeps it.
# It replaced md5(t::text), which printed every row as text a second time and hashed it: 1.3 s of
# core_blog's 2.0 s extraction at scale 1 (336 MB of JSON), 3.5 s of service_hubformdata's 4.6 s,
# against a read of the bare columns at the speed of a binary COPY.
SOURCE_VERSION = "_source_xmin"
ROW_VERSION_SQL = "t.xmin::text::bigint"


def adbc_uri(url: str, application_name: str, statement_timeout_ms: int | None) -> str:
    """The source URL with session settings that make every transaction read-only REPEATABLE READ."""
    parsed = make_url(libpq_url(url))
    options = "-c default_transaction_read_only=on -c default_transaction_isolation=repeatable\\ read"
    if statement_timeout_ms:
        options += f" -c statement_timeout={int(statement_timeout_ms)}"
    query = dict(parsed.query) | {"application_name": application_name, "options": options, "connect_timeout": "10"}
    parsed = parsed.set(query={})
    base = parsed.render_as_string(hide_password=False)
    if parsed.password == "":
        base = base.replace(f"{parsed.username}:@", f"{parsed.username}@", 1)
    return base + "?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items())


@contextlib.contextmanager
def arrow_snapshot(url: str, *, application_name: str, statement_timeout_ms: int | None,
                   exported: str | None = None) -> Iterator:
    """An ADBC cursor in one read-only REPEATABLE READ transaction on the source; in the snapshot
    another session ``exported`` (``pg_export_snapshot``, a new replication slot) when given."""
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as adbc

    try:
        conn = adbc.connect(adbc_uri(url, application_name, statement_timeout_ms))
    except adbc_driver_manager.Error as exc:
        raise connection_error(url, str(exc)) from None
    try:
        with conn.cursor() as cur:
            if exported is not None:  # must be the transaction's first statement
                cur.execute("SET TRANSACTION SNAPSHOT '" + exported.replace("'", "''") + "'")
            yield cur
        conn.rollback()
    finally:
        conn.close()


def live_columns(cur, table: CatalogTable, catalog_path: str) -> list[SourceColumn]:
    """The live columns of ``table``; a :class:`CatalogError` if it or a column the catalog names is missing."""
    cur.execute(COLUMNS_QUERY.format(schema=table.source_schema, table=table.name))
    columns = [SourceColumn(*row) for row in cur.fetchall()]
    if not columns:
        # information_schema hides tables the role may not read: tell "no permission" from "no table"
        cur.execute(f"SELECT to_regclass('{table.qualified_name}') IS NOT NULL")
        if cur.fetchone()[0]:
            raise SourceRefused(f"no SELECT permission on source table {table.qualified_name}: "
                                f"GRANT SELECT ON {table.qualified_name} TO the lake's role")
        raise CatalogError(f"{catalog_path}: table '{table.name}': not found in the source (schema {table.source_schema})")
    problems = column_problems(table, {c.name: c.data_type for c in columns})
    if problems:
        raise CatalogError(f"{catalog_path}: {problems[0]}")
    return columns


@dataclass(frozen=True)
class ReadPlan:
    """What both kinds of extraction need before reading: live columns, bronze schema, select list."""

    columns: list[SourceColumn]
    schema: pa.Schema
    select: str
    dictionary: list[str]


def read_plan(cur, table: CatalogTable, catalog_path: str) -> ReadPlan:
    """The live columns of ``table``, the Arrow schema they arrive in, and the select list (with the
    row's version for incremental tables)."""
    columns = live_columns(cur, table, catalog_path)
    schema = bronze_schema(columns)
    select = ", ".join(c.select_expression() for c in columns)
    if table.strategy == Strategy.INCREMENTAL:  # the row's version, for the silver reconciliation
        select += f", {ROW_VERSION_SQL} AS {SOURCE_VERSION}"
        schema = schema.append(pa.field(SOURCE_VERSION, pa.int64()))
    return ReadPlan(columns, schema, select, dictionary_columns(columns))



def stream_query(cur, query: str, batch_size_hint: int, table: CatalogTable) -> Iterator[pa.RecordBatch]:
    """The query's record batches; a connection lost on the way is a one-line SourceUnavailable."""
    import adbc_driver_manager

    cur.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(batch_size_hint)})
    try:
        cur.execute(query)
        yield from cur.fetch_record_batch()
    except (OSError, adbc_driver_manager.Error) as exc:
        first = first_line(exc)
        sqlstate = getattr(exc, "sqlstate", None)
        if is_permanent_sqlstate(sqlstate):  # the server refused the query: the same on every retry
            remedy = remedy_for(first)
            raise SourceRefused(f"the source refused the extraction of {table.name} (SQLSTATE {sqlstate}): "
                                f"{first}" + (f"; {remedy}" if remedy else "")) from exc
        raise SourceUnavailable(f"lost the source while extracting {table.name}: {first}") from exc



def read_rows_by_key(cur, table: CatalogTable, catalog_path: str, keys: list) -> pa.Table:
    """The current rows of some keys (single-column keys), typed as bronze types them, with their version:
    what the reconciliation re-reads for rows whose version changed."""
    plan = read_plan(cur, table, catalog_path)
    (key,) = table.primary_key
    batches = []
    for start in range(0, len(keys), 10_000):
        chunk = keys[start:start + 10_000]
        listed = ", ".join(str(int(k)) for k in chunk) if all(isinstance(k, int) for k in chunk) else \
            ", ".join("'" + str(k).replace("'", "''") + "'" for k in chunk)
        cur.execute(f'SELECT {plan.select} FROM {table.qualified_name} AS t WHERE "{key}" IN ({listed})')
        batches += [normalize_batch(b, plan.schema) for b in cur.fetch_record_batch()]
    return pa.Table.from_batches(batches, schema=plan.schema)


def source_row_versions(cur, table: CatalogTable, *, versions: bool = True) -> pa.Table:
    """Every key of the table with its row's version (``xmin``): only keys and versions cross the
    wire. Without ``versions``, the keys alone (append-only rows never change: only missing keys matter)."""
    (key,) = table.primary_key
    versioned = f", {ROW_VERSION_SQL} AS {SOURCE_VERSION}" if versions else ""
    cur.execute(f'SELECT "{key}"{versioned} FROM {table.qualified_name} AS t')
    return cur.fetch_arrow_table()
