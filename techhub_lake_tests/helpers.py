"""Small helpers the tests share."""

from __future__ import annotations

import psycopg2

from techhub_lake.source.introspection import single_column_keys


def table_fingerprints(url: str, tables: list[str] | None = None) -> dict[str, str]:
    """md5 over every row's text, in primary-key order, per public table: equal fingerprints,
    equal content."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            keys = single_column_keys(cur)
            result = {}
            for table in sorted(tables or keys):
                cur.execute(
                    f'SELECT md5(coalesce(string_agg(md5(t::text), \'\' ORDER BY t."{keys[table]}"), \'\')) FROM public."{table}" t'
                )
                result[table] = cur.fetchone()[0]
            return result
    finally:
        conn.close()


def table_columns(url: str, table: str) -> list[str]:
    """The columns of a public table, in order."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND table_name = %s ORDER BY ordinal_position",
                (table,),
            )
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def row_hashes(url: str, table: str, key: str = "id", columns: list[str] | None = None) -> dict[str, str]:
    """Primary key -> md5 of the row's text (of ``columns`` only, if given), for one table."""
    row = "t" if columns is None else "ROW(" + ", ".join(f't."{c}"' for c in columns) + ")"
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f'SELECT t."{key}"::text, md5({row}::text) FROM public."{table}" t')
            return dict(cur.fetchall())
    finally:
        conn.close()
