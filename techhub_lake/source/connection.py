"""Connections to the source database: URL resolution, and read-only snapshots that protect it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from techhub_lake.settings import SOURCE_URL_ENV, source_url

APPLICATION_NAME = "techhub-lake"
DEFAULT_STATEMENT_TIMEOUT_MS = 15 * 60 * 1000


class SourceUnavailable(RuntimeError):
    """The source database (or another database of the lake's: the warehouse) cannot be reached or
    is not configured; the message says which and where."""


class SourceRefused(SourceUnavailable):
    """The database answered and refused: wrong credentials, no such database or role, no permission,
    a SQL error. Retrying cannot help, so runs fail at once; the message names the remedy."""


@dataclass(frozen=True)
class LakeDatabase:
    """One of the databases the lake connects to, as its error messages name it."""

    name: str  # "the source database"
    env: str  # the variable that points at it


SOURCE = LakeDatabase("the source database", SOURCE_URL_ENV)


# The server answers FATAL for these too, but they pass: retrying is the remedy.
_PASSING_REFUSALS = ("starting up", "shutting down", "too many connections", "remaining connection slots",
                     "in recovery mode")
# SQLSTATE classes of errors that end the same way however often they are retried: syntax or access
# rule (42), data exception (22), invalid authorization (28), invalid catalog name (3D), feature
# not supported (0A), invalid schema name (3F), integrity (23).
_PERMANENT_SQLSTATE_CLASSES = ("42", "22", "28", "3D", "0A", "3F", "23")
_REMEDIES = (  # {env}: the variable that points at the database
    ("password authentication failed", "check the user and password in {env}"),
    ("does not exist", "check the database and user names in {env}"),
    ("no pg_hba.conf entry", "allow this host and user in the server's pg_hba.conf"),
    ("permission denied", "grant the lake's role SELECT on the table (GRANT SELECT ON ... TO <role>)"),
)


def remedy_for(message: str, database: LakeDatabase = SOURCE) -> str:
    """What a user can do about a refusal, from the server's words ('' when nothing specific)."""
    return next((remedy.format(env=database.env) for words, remedy in _REMEDIES if words in message), "")


def connection_error(url: str, message: str, database: LakeDatabase = SOURCE) -> SourceUnavailable:
    """The error for a failed connection: refused (the server answered FATAL: not retried) or
    unavailable (down, unreachable, starting: retried), in one line with the redacted URL."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()] or ["no answer"]
    detail = next((line for line in lines if "FATAL:" in line), lines[0])
    detail = detail.split("FATAL:", 1)[1].strip() if "FATAL:" in detail else detail
    refused = "FATAL:" in message and not any(words in message for words in _PASSING_REFUSALS)
    if refused:
        remedy = remedy_for(detail, database)
        return SourceRefused(f"{database.name} {redact(url)} refused the lake: {detail}"
                             + (f"; {remedy}" if remedy else ""))
    return SourceUnavailable(f"cannot connect to {database.name} {redact(url)}: {detail}")


def is_permanent_sqlstate(sqlstate: str | None) -> bool:
    """Whether a server error of this SQLSTATE would fail the same way on a retry."""
    return bool(sqlstate) and sqlstate[:2].upper() in _PERMANENT_SQLSTATE_CLASSES


def libpq_url(url: str, database: LakeDatabase = SOURCE) -> str:
    """Turn a SQLAlchemy-style URL (``postgresql+psycopg2://...``) into the libpq form psycopg2 takes."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SourceUnavailable(f"{database.env} is not a database URL: {redact(url)!r}") from None
    if not parsed.drivername.startswith("postgresql"):
        raise SourceUnavailable(f"{database.env} must be a PostgreSQL URL, got driver '{parsed.drivername}'")
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
    configured = source_url()
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
    database: LakeDatabase = SOURCE,
) -> psycopg2.extensions.connection:
    """Open a psycopg2 connection with an application name and a statement timeout to ``database``
    (the source unless told).

    A dead or unreachable database raises :class:`SourceUnavailable` with the (redacted) URL and
    the server's first line of complaint.
    """
    options = f"-c statement_timeout={int(statement_timeout_ms)}" if statement_timeout_ms else None
    try:
        return psycopg2.connect(
            libpq_url(url, database),
            application_name=application_name,
            connect_timeout=connect_timeout_s,
            options=options,
        )
    except psycopg2.OperationalError as exc:
        raise connection_error(url, str(exc), database) from None


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
