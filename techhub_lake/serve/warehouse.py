"""Publishing a mart into the PostgreSQL warehouse: typed, keyed, commented, and atomic for readers.

A publication is one transaction: the rows that changed are deleted and the new ones copied in
(``COPY ... FROM STDIN``), and the bookkeeping of what was published commits with them. A reader
sees the previous rows until the commit and the new ones after it, never an empty or partial
table, whatever its isolation level: ``DELETE`` is MVCC, so a transaction that started before the
publication keeps seeing the old rows. (Loading a staging table and renaming it over the old one
would lock readers out while it swaps, and a ``REPEATABLE READ`` reader whose snapshot predates the
swap would find the new table empty; ``TRUNCATE`` is not MVCC-safe either.) A table whose columns
or types changed is created again, in the same transaction.

What was published is kept per table and part (the whole table, or one value of its partition
column: the funnel's month) as a digest of the rows, in the schema ``techhub_serve`` that BI
cannot read: an unchanged mart is not rewritten, and the funnel replaces only its changed months.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from techhub_lake.settings import BI_PASSWORD_ENV
from techhub_lake.source.connection import SourceRefused

SCHEMA = "analytics"  # what BI reads
BOOKKEEPING_SCHEMA = "techhub_serve"  # what was published, for the lake only
BI_ROLE = "techhub_bi"
WHOLE_TABLE = ""  # the part name of a table published whole

_SCALAR_TYPES = {
    pl.Boolean: "boolean", pl.Int8: "smallint", pl.Int16: "smallint", pl.Int32: "integer", pl.Int64: "bigint",
    pl.UInt8: "smallint", pl.UInt16: "integer", pl.UInt32: "bigint", pl.UInt64: "numeric(20,0)",
    pl.Float32: "real", pl.Float64: "double precision", pl.String: "text", pl.Date: "date",
    pl.Time: "time without time zone", pl.Binary: "bytea", pl.Categorical: "text", pl.Enum: "text",
}


class WarehouseSchemaError(ValueError):
    """A mart column whose type has no warehouse type: the message names the column and its type."""


def warehouse_type(dtype: pl.DataType, column: str = "?") -> str:
    """The PostgreSQL type a mart column is published as: numbers, dates and timestamps keep their
    type (BI tools filter and aggregate them), lists become arrays, structs ``jsonb``. Spelled as
    PostgreSQL's ``format_type`` spells it, so a published table's columns compare equal."""
    if isinstance(dtype, pl.Datetime):
        return "timestamp with time zone" if dtype.time_zone else "timestamp without time zone"
    if isinstance(dtype, pl.Decimal):
        return f"numeric({dtype.precision},{dtype.scale})" if dtype.precision else "numeric"
    if isinstance(dtype, pl.Duration):
        return "interval"
    if isinstance(dtype, pl.List | pl.Array):
        return warehouse_type(dtype.inner, column) + "[]"
    if isinstance(dtype, pl.Struct):
        return "jsonb"
    found = _SCALAR_TYPES.get(dtype.base_type())
    if found is None:
        raise WarehouseSchemaError(f"column {column!r} has type {dtype}, which the warehouse cannot hold: "
                                   "cast it in the mart's query")
    return found


@dataclass(frozen=True)
class MartTable:
    """A mart as the warehouse holds it: its name in ``analytics``, key, column descriptions, and the
    column whose values are published part by part (None: the table is published whole)."""

    name: str
    key: tuple[str, ...]
    description: str = ""
    column_descriptions: Mapping[str, str] | None = None
    part_column: str | None = None


@dataclass(frozen=True)
class Publication:
    """What one publication did."""

    table: str  # analytics.<name>
    rows_held: int  # in the warehouse table after it
    rows_copied: int
    parts_replaced: tuple[str, ...]  # ('',) for a whole table; the months replaced for the funnel
    parts_removed: tuple[str, ...]
    created: bool  # the table was (re)created: new, or its columns changed
    seconds: float

    @property
    def changed(self) -> bool:
        return bool(self.parts_replaced or self.parts_removed or self.created)


def serialize_publications(cur: psycopg2.extensions.cursor) -> None:
    """Hold the warehouse's publication lock until the transaction ends: publications running at the
    same time (a multiprocess run) would otherwise race to create the schemas and alter the BI role."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (BOOKKEEPING_SCHEMA,))


def ensure_schemas(cur: psycopg2.extensions.cursor) -> None:
    """The published schema and the bookkeeping schema, with the bookkeeping table."""
    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(BOOKKEEPING_SCHEMA)))
    cur.execute(sql.SQL("""CREATE TABLE IF NOT EXISTS {}.published (
        table_name text NOT NULL, part text NOT NULL, digest text NOT NULL, rows bigint NOT NULL,
        gold_version bigint, published_at timestamptz NOT NULL, PRIMARY KEY (table_name, part))""")
                .format(sql.Identifier(BOOKKEEPING_SCHEMA)))


def ensure_bi_role(cur: psycopg2.extensions.cursor, password: str) -> None:
    """The read-only role BI tools log in as: it may connect and read ``analytics``, tables published
    later included, and nothing else (no other schema, no writes). Its password is set every time,
    so changing ``$TECHHUB_BI_PASSWORD`` changes it."""
    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (BI_ROLE,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    try:
        cur.execute(sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD {}")
                    .format(sql.Identifier(BI_ROLE), sql.Literal(password)))
    except psycopg2.errors.InsufficientPrivilege:
        raise SourceRefused(
            f"the warehouse's role may not {verb.lower()} the BI role {BI_ROLE}: give it CREATEROLE, or have a DBA run "
            f"CREATE ROLE {BI_ROLE} LOGIN PASSWORD '...' (and unset {BI_PASSWORD_ENV}, which the lake then leaves alone)"
        ) from None
    cur.execute("SELECT current_database()")
    (database,) = cur.fetchone()
    role, schema = sql.Identifier(BI_ROLE), sql.Identifier(SCHEMA)
    cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), role))
    cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
    cur.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, role))
    cur.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(schema, role))


def part_digests(frame: pl.DataFrame, part_column: str | None) -> dict[str, str]:
    """A digest of the rows of each part (the whole frame when ``part_column`` is None), independent
    of row order: equal digests, equal rows."""
    hashed = frame.select(pl.struct(pl.all()).hash(seed=0).alias("_h"),
                          (pl.col(part_column).cast(pl.String).fill_null("") if part_column else pl.lit(WHOLE_TABLE))
                          .alias("_part"))
    sums = (hashed.group_by("_part").agg(pl.col("_h").sort(), pl.len().alias("_n"))
            .select("_part", pl.col("_h").hash(seed=0), "_n"))
    return {part: f"{digest:016x}-{rows}" for part, digest, rows in sums.iter_rows()}


def _published(cur: psycopg2.extensions.cursor, name: str) -> dict[str, str]:
    cur.execute(sql.SQL("SELECT part, digest FROM {}.published WHERE table_name = %s")
                .format(sql.Identifier(BOOKKEEPING_SCHEMA)), (name,))
    return dict(cur.fetchall())


def _columns_now(cur: psycopg2.extensions.cursor, name: str) -> list[tuple[str, str]]:
    cur.execute("""SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                   JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
                   ORDER BY a.attnum""", (SCHEMA, name))
    return cur.fetchall()


def _create(cur: psycopg2.extensions.cursor, mart: MartTable, columns: list[tuple[str, str]]) -> None:
    table = sql.Identifier(SCHEMA, mart.name)
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
    definitions = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns]
    if mart.key:
        definitions.append(sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, mart.key))))
    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(definitions)))
    if mart.part_column and mart.part_column not in mart.key[:1]:  # the key's own index does not serve it
        cur.execute(sql.SQL("CREATE INDEX ON {} ({})").format(table, sql.Identifier(mart.part_column)))
    if mart.description:
        cur.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(table, sql.Literal(mart.description)))
    for column, text in (mart.column_descriptions or {}).items():
        if text and column in dict(columns):
            cur.execute(sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(table, sql.Identifier(column), sql.Literal(text)))
    cur.execute(sql.SQL("DELETE FROM {}.published WHERE table_name = %s").format(sql.Identifier(BOOKKEEPING_SCHEMA)),
                (mart.name,))


def _array_literal(column: str, dtype: pl.List | pl.Array) -> pl.Expr:
    """A list column as PostgreSQL array literals (``{"a","b",NULL}``), for COPY's csv format."""
    element = pl.element().cast(pl.String)
    quoted = pl.lit('"') + element.str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True) + pl.lit('"')
    items = pl.col(column).cast(pl.List(dtype.inner)).list.eval(pl.when(element.is_null()).then(pl.lit("NULL")).otherwise(quoted))
    return pl.concat_str(pl.lit("{"), items.list.join(","), pl.lit("}")).alias(column)


def _csv(frame: pl.DataFrame) -> bytes:
    """The rows in COPY's csv format: NULL unquoted and empty, an empty string quoted."""
    encoded = [(_array_literal(name, dtype) if isinstance(dtype, pl.List | pl.Array)
                else pl.col(name).struct.json_encode() if isinstance(dtype, pl.Struct) else pl.col(name))
               for name, dtype in frame.schema.items()]
    return frame.select(encoded).write_csv(include_header=False, null_value="").encode()


def publish(cur: psycopg2.extensions.cursor, mart: MartTable, frame: pl.DataFrame,
            gold_version: int | None = None) -> Publication:
    """Bring ``analytics.<mart>`` to ``frame``'s rows inside the caller's transaction: the parts whose
    digest differs from the one published are deleted and copied again, parts gone are deleted, a
    table whose columns changed is created again. Nothing is written when nothing changed."""
    started = dt.datetime.now(dt.UTC)
    ensure_schemas(cur)
    columns = [(name, warehouse_type(dtype, name)) for name, dtype in frame.schema.items()]
    existing = _columns_now(cur, mart.name)
    created = existing != columns
    if created:
        _create(cur, mart, columns)
    wanted = part_digests(frame, mart.part_column)
    published = _published(cur, mart.name)
    replaced = sorted(part for part, digest in wanted.items() if published.get(part) != digest)
    removed = sorted(set(published) - set(wanted))
    table = sql.Identifier(SCHEMA, mart.name)
    copied = 0
    if replaced or removed:
        gone = [*replaced, *removed]
        if mart.part_column:
            cur.execute(sql.SQL("DELETE FROM {} WHERE coalesce({}::text, '') = ANY(%s)")
                        .format(table, sql.Identifier(mart.part_column)), (gone,))
        else:
            cur.execute(sql.SQL("DELETE FROM {}").format(table))
        rows = (frame if not mart.part_column else
                frame.filter(pl.col(mart.part_column).cast(pl.String).fill_null("").is_in(replaced)))
        if rows.height:
            cur.copy_expert(sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
                table, sql.SQL(", ").join(sql.Identifier(c) for c, _ in columns)).as_string(cur), io.BytesIO(_csv(rows)))
        copied = rows.height
        bookkeeping = sql.Identifier(BOOKKEEPING_SCHEMA)
        cur.execute(sql.SQL("DELETE FROM {}.published WHERE table_name = %s AND part = ANY(%s)").format(bookkeeping),
                    (mart.name, gone))
        for part in replaced:
            cur.execute(sql.SQL("INSERT INTO {}.published VALUES (%s, %s, %s, %s, %s, now())").format(bookkeeping),
                        (mart.name, part, wanted[part], int(wanted[part].rsplit("-", 1)[1]), gold_version))
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    return Publication(f"{SCHEMA}.{mart.name}", frame.height, copied, tuple(replaced), tuple(removed), created, seconds)
