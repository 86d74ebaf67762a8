"""Connections to the source database: URL resolution, and read-only snapshots that protect it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import psycopg2
import psycopg2.extensions
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from techhub_lake.settings import SOURCE_URL_ENV

APPLICATION_NAME = "techhub-lake"
DEFAULT_STATEMENT_TIMEOUT_MS = 15 * 60 * 1000


class SourceUnavailable(RuntimeError):
    """The source database cannot be reached or is not configured; the message says which and where."""


def libpq_url(url: str) -> str:
    """Turn a SQLAlchemy-style URL (``postgresql+psycopg2://...``) into the libpq form psycopg2 takes."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SourceUnavailable(f"{SOURCE_URL_ENV} is not a database URL: {redact(url)!r}") from None
    if not parsed.drivername.startswith("postgresql"):
        raise SourceUnavailable(f"source URL must be a PostgreSQL URL, got driver '{parsed.drivername}'")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def resolve_source_url(url: str | None = None) -> str:
    """The source URL: ``url`` if given, else ``$TECHHUB_SOURCE_URL``, else the running embedded server.

    Raises :class:`SourceUnavailable` naming what to do when there is none.
    """
    if url:
        return url
    configured = os.environ.get(SOURCE_URL_ENV)
    if configured:
        return configured
    from techhub_lake.source.embedded import EmbeddedPostgres

    embedded = EmbeddedPostgres.default()
    running = embedded.url()
    if running is None:
        raise SourceUnavailable(
            f"{SOURCE_URL_ENV} is not set and no embedded source is running in {embedded.data_dir}: "
            "run `techhub-lake source init` or set "
            f"{SOURCE_URL_ENV}"
        )
    return running


def connect(
    url: str,
    *,
    application_name: str = APPLICATION_NAME,
    statement_timeout_ms: int | None = DEFAULT_STATEMENT_TIMEOUT_MS,
    connect_timeout_s: int = 10,
) -> psycopg2.extensions.connection:
    """Open a psycopg2 connection with an application name and a statement timeout.

    A dead or unreachable database raises :class:`SourceUnavailable` with the (redacted) URL and
    the server's first line of complaint.
    """
    options = f"-c statement_timeout={int(statement_timeout_ms)}" if statement_timeout_ms else None
    try:
        return psycopg2.connect(
            libpq_url(url),
            application_name=application_name,
            connect_timeout=connect_timeout_s,
            options=options,
        )
    except psycopg2.OperationalError as exc:
        first_line = (str(exc).strip().splitlines() or ["no answer"])[0]
        raise SourceUnavailable(f"cannot connect to the source database {redact(url)}: {first_line}") from None


@contextlib.contextmanager
def read_only_snapshot(
    url: str,
    *,
    application_name: str = APPLICATION_NAME,
    statement_timeout_ms: int | None = DEFAULT_STATEMENT_TIMEOUT_MS,
) -> Iterator[psycopg2.extensions.cursor]:
    """Yield a cursor inside one READ ONLY, REPEATABLE READ transaction: a consistent snapshot
    of the source that cannot write to it. The transaction is rolled back on exit."""
    conn = connect(url, application_name=application_name, statement_timeout_ms=statement_timeout_ms)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cur:
            yield cur
        conn.rollback()
    finally:
        conn.close()
