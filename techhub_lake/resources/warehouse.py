"""The PostgreSQL warehouse BI tools read, as a Dagster resource: where the serving layer publishes
the gold marts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg
import psycopg2.extensions
from pydantic import Field

from techhub_lake.settings import BI_PASSWORD_ENV, WAREHOUSE_URL_ENV, warehouse_url
from techhub_lake.source.connection import LakeDatabase, SourceUnavailable, connect

WAREHOUSE = LakeDatabase("the warehouse", WAREHOUSE_URL_ENV)
EMBEDDED_WAREHOUSE_DATABASE = "warehouse"  # on the embedded server, never the source's database
APPLICATION_NAME = "techhub-lake-serve"
STATEMENT_TIMEOUT_MS = 10 * 60 * 1000


def resolve_warehouse_url(url: str | None = None) -> str:
    """``url`` if given, else ``$TECHHUB_WAREHOUSE_URL``, else the database ``warehouse`` on the
    running embedded PostgreSQL (created if missing); a one-line error naming the remedy when none."""
    if url or (url := warehouse_url()):
        return url
    from techhub_lake.source.embedded import EmbeddedPostgres

    embedded = EmbeddedPostgres.default()
    if not embedded.is_running():
        raise SourceUnavailable(
            f"{WAREHOUSE_URL_ENV} is not set and no embedded PostgreSQL is running in {embedded.data_dir}: "
            f"set {WAREHOUSE_URL_ENV}, or start the embedded server (`techhub-lake source init`; "
            "`techhub-lake refresh`, `ui` and `demo` start it)")
    return embedded.ensure_database(EMBEDDED_WAREHOUSE_DATABASE)


class WarehouseDatabase(dg.ConfigurableResource):
    """The PostgreSQL database whose schema ``analytics`` holds the published marts, and the
    password of the read-only role BI tools log in as."""

    url: str | None = Field(default=None, description=(
        f"Warehouse URL (from ${WAREHOUSE_URL_ENV}). Unset: database `warehouse` on the embedded PostgreSQL."))
    bi_password: str | None = Field(default=None, description=(
        f"Password of the read-only BI role (from ${BI_PASSWORD_ENV}). Unset: the role is not created or changed."))
    statement_timeout_ms: int = Field(default=STATEMENT_TIMEOUT_MS, description="Per-statement timeout.")

    def resolved_url(self) -> str:
        """The URL publications connect to."""
        return resolve_warehouse_url(self.url)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg2.extensions.cursor]:
        """A cursor in one read-write transaction on the warehouse, committed when the block ends
        and rolled back if it raises: a publication lands whole or not at all."""
        conn = connect(self.resolved_url(), application_name=APPLICATION_NAME,
                       statement_timeout_ms=self.statement_timeout_ms, database=WAREHOUSE)
        try:
            with conn, conn.cursor() as cur:  # psycopg2: commit on success, rollback on an exception
                yield cur
        finally:
            conn.close()
