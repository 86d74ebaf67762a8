"""The read-only role the lake reads a source through: it can connect, SELECT and stream the
captured tables' changes through a replication slot, nothing else."""

from __future__ import annotations

import psycopg2
from psycopg2 import sql

from techhub_lake.messages import UserError, first_line
from techhub_lake.settings import READER_PASSWORD_ENV
from techhub_lake.source.connection import connect


def ensure_read_only_role(url: str, name: str, password: str, schema: str = "public") -> None:
    """Create (or update) login role ``name`` with ``password`` that may connect to the database at
    ``url``, SELECT every table of ``schema`` (now and later) and use logical replication (the
    ``REPLICATION`` attribute: the captured tables' slot), and write nothing. Run as the database's
    owner (the stand-in's superuser); idempotent."""
    if not password:
        raise UserError(f"the read-only role '{name}' needs a password: set ${READER_PASSWORD_ENV}")
    conn = connect(url, application_name="techhub-lake source roles", statement_timeout_ms=None)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            role = sql.Identifier(name)
            cur.execute(sql.SQL(f"{verb} ROLE {{}} LOGIN PASSWORD %s NOSUPERUSER NOCREATEDB NOCREATEROLE "
                                "REPLICATION").format(role),
                        (password,))
            cur.execute("SELECT current_database()")
            database = sql.Identifier(cur.fetchone()[0])
            target = sql.Identifier(schema)
            for statement in (
                "GRANT CONNECT ON DATABASE {database} TO {role}",
                "GRANT USAGE ON SCHEMA {schema} TO {role}",
                "GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}",
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {role}",
                "ALTER ROLE {role} SET default_transaction_read_only = on",
            ):
                cur.execute(sql.SQL(statement).format(database=database, schema=target, role=role))
    except psycopg2.Error as exc:
        raise UserError(f"could not set up the read-only role '{name}': {first_line(exc)}") from None
    finally:
        conn.close()
