"""Questions about a source database's structure that the generator, churn and tests share."""

from __future__ import annotations

import psycopg2.extensions


def single_column_keys(cur: psycopg2.extensions.cursor, schema: str = "public") -> dict[str, str]:
    """Table -> primary-key column, for every table of ``schema`` whose key is a single column."""
    cur.execute(
        """
        SELECT c.relname, a.attname
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = %s
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
        WHERE i.indisprimary AND i.indnatts = 1
        """,
        (schema,),
    )
    return dict(cur.fetchall())
