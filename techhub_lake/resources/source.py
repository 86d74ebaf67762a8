"""The source database as a Dagster resource: read-only snapshots of the TechHub PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg
import psycopg2.extensions
from pydantic import Field

from techhub_lake.source.connection import (
    APPLICATION_NAME,
    DEFAULT_STATEMENT_TIMEOUT_MS,
    read_only_snapshot,
    resolve_source_url,
)


class SourceDatabase(dg.ConfigurableResource):
    """The TechHub PostgreSQL the lake reads; every read is a READ ONLY, REPEATABLE READ snapshot
    with a statement timeout and an application name, so the source is never written to and a
    runaway query is stopped by the server."""

    url: str | None = Field(
        default=None,
        description="Source URL (from $TECHHUB_SOURCE_URL). Unset: the running embedded PostgreSQL.",
    )
    statement_timeout_ms: int = Field(default=DEFAULT_STATEMENT_TIMEOUT_MS, description="Per-statement timeout.")
    application_name: str = Field(default=APPLICATION_NAME, description="Shown in pg_stat_activity.")

    def resolved_url(self) -> str:
        """The URL to connect to; a clear error when neither a URL nor an embedded source exists."""
        return resolve_source_url(self.url)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[psycopg2.extensions.cursor]:
        """A cursor inside one read-only REPEATABLE READ transaction on the source."""
        with read_only_snapshot(
            self.resolved_url(),
            application_name=self.application_name,
            statement_timeout_ms=self.statement_timeout_ms,
        ) as cur:
            yield cur
