"""How the source's schema moved away from what the lake saw: tables that appeared (not in the
catalog), catalog tables that are gone, and columns added, dropped or retyped in the catalog's
tables. A Django migration changes the schema with every release; the bronze assets record each
schema version they read, and this says so before anything is read."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg2.extensions

from techhub_lake.catalog.model import Catalog

Shape = dict[str, dict[str, str]]  # table -> column -> type (format_type)


def source_shape(cur: psycopg2.extensions.cursor, schemas: list[str]) -> Shape:
    """Every table of ``schemas`` with its columns and their types (``schema.table`` outside public)."""
    cur.execute(
        """
        SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        ORDER BY n.nspname, c.relname, a.attnum
        """, (schemas,))
    shape: Shape = {}
    for schema, table, column, type_ in cur.fetchall():
        shape.setdefault(table if schema == "public" else f"{schema}.{table}", {})[column] = type_
    return shape


def catalog_name(table) -> str:
    """A catalog table's name as ``source_shape`` keys it."""
    return table.name if table.source_schema == "public" else f"{table.source_schema}.{table.name}"


@dataclass
class Drift:
    """What changed between two looks at the source (or since the catalog, for new tables)."""

    new_tables: list[str] = field(default_factory=list)  # in the source, not in the catalog
    gone_tables: list[str] = field(default_factory=list)  # in the catalog's lake, not in the source
    added: dict[str, list[str]] = field(default_factory=dict)  # catalog table -> columns
    dropped: dict[str, list[str]] = field(default_factory=dict)
    retyped: dict[str, list[str]] = field(default_factory=dict)  # "column: old -> new"

    def changed_tables(self) -> list[str]:
        return sorted({*self.added, *self.dropped, *self.retyped})

    def describe(self) -> str:
        """One line: what moved, or that nothing did."""
        parts = []
        if self.new_tables:
            parts.append(f"{len(self.new_tables)} new table(s) not in the catalog: {', '.join(self.new_tables)} "
                         "(`techhub-lake catalog discover` proposes entries)")
        if self.gone_tables:
            parts.append(f"catalog table(s) gone from the source: {', '.join(self.gone_tables)}")
        for table in self.changed_tables():
            changes = ([f"+{c}" for c in self.added.get(table, [])] + [f"-{c}" for c in self.dropped.get(table, [])]
                       + self.retyped.get(table, []))
            parts.append(f"{table}: {', '.join(changes)}")
        return "; ".join(parts) if parts else "no table or column changed"


def schema_drift(catalog: Catalog, before: Shape | None, now: Shape, seen_tables: set[str] | None = None) -> Drift:
    """The drift between ``before`` (None: the first look, when only new tables are reported) and
    ``now``; tables not in the catalog are reported once (``seen_tables``: those reported already)."""
    described = {catalog_name(t) for t in catalog.tables}
    drift = Drift(new_tables=sorted(set(now) - described - (seen_tables or set())),
                  gone_tables=sorted(catalog_name(t) for t in catalog.lake_tables if catalog_name(t) not in now))
    if before is None:
        return drift
    for table in catalog.lake_tables:
        name = catalog_name(table)
        old, new = before.get(name), now.get(name)
        if old is None or new is None:
            continue
        drift.added[name] = [c for c in new if c not in old]
        drift.dropped[name] = [c for c in old if c not in new]
        drift.retyped[name] = [f"{c}: {old[c]} -> {new[c]}" for c in new if c in old and old[c] != new[c]]
    for changes in (drift.added, drift.dropped, drift.retyped):
        for name in [n for n, listed in changes.items() if not listed]:
            del changes[name]
    return drift


def untracked_tables(catalog: Catalog, cur: psycopg2.extensions.cursor) -> list[str]:
    """The source tables of the catalog's schemas that the catalog does not describe at all."""
    described = {catalog_name(t) for t in catalog.tables}
    return sorted(set(source_shape(cur, sorted({t.source_schema for t in catalog.tables}))) - described)
