"""Check the catalog against a live source schema: every table and column it names must exist.

Run by ``techhub-lake catalog check`` and before extractions, never when Dagster loads the
definitions (that must not touch the database).
"""

from __future__ import annotations

import psycopg2.extensions

from techhub_lake.catalog.model import Catalog, CatalogError, CatalogTable

_WATERMARK_TYPES = {"timestamp with time zone", "timestamp without time zone", "date"}
_JSON_TYPES = {"jsonb", "json"}


def schema_columns(cur: psycopg2.extensions.cursor, schemas: set[str]) -> dict[tuple[str, str], dict[str, str]]:
    """(schema, table) -> {column: data type} for every table in ``schemas``."""
    cur.execute(
        """
        SELECT table_schema, table_name, column_name, data_type
        FROM information_schema.columns
        WHERE table_schema = ANY(%s)
        ORDER BY table_schema, table_name, ordinal_position
        """,
        (sorted(schemas),),
    )
    columns: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, data_type in cur.fetchall():
        columns.setdefault((schema, table), {})[column] = data_type
    return columns


def catalog_problems(catalog: Catalog, cur: psycopg2.extensions.cursor) -> list[str]:
    """Every mismatch between the catalog and the live source, one message each (empty if none)."""
    tables = catalog.lake_tables
    live = schema_columns(cur, {t.source_schema for t in tables})
    problems = []
    for table in tables:
        columns = live.get((table.source_schema, table.name))
        if columns is None:
            problems.append(f"table '{table.name}': not found in the source (schema {table.source_schema})")
        else:
            problems += column_problems(table, columns)
    return problems


def column_problems(table: CatalogTable, columns: dict[str, str]) -> list[str]:
    """Every way the live ``columns`` of ``table`` (name -> information_schema data type) disagree with
    what the catalog says of it, one message each: the check ``catalog check`` runs on every table and
    an extraction runs on its own before it reads."""
    problems = []
    for field, names in table.referenced_columns().items():
        for name in names:
            if name not in columns:
                problems.append(
                    f"table '{table.name}', field '{field}': column '{name}' is not in source table "
                    f"{table.source_schema}.{table.name}"
                )
    if table.watermark in columns and columns[table.watermark] not in _WATERMARK_TYPES:
        problems.append(
            f"table '{table.name}', field 'watermark': column '{table.watermark}' is "
            f"{columns[table.watermark]}, not a timestamp"
        )
    for name in table.json_columns:
        if name in columns and columns[name] not in _JSON_TYPES:
            problems.append(
                f"table '{table.name}', field 'json_columns': column '{name}' is {columns[name]}, not jsonb"
            )
    return problems


def verify_catalog_against_source(catalog: Catalog, cur: psycopg2.extensions.cursor) -> None:
    """Raise :class:`CatalogError` (one line, naming file, table and field) if the source disagrees."""
    problems = catalog_problems(catalog, cur)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CatalogError(f"{catalog.path}: {problems[0]}{more}")
