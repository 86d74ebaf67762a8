"""Change data capture from the source: PostgreSQL logical replication with the built-in ``pgoutput``
plugin (no server extension; managed PostgreSQL with logical replication enabled will do).

- A publication (``techhub_lake``) of the tables the lake captures, and one logical replication
  slot (``techhub_lake_<database>``) that keeps their changes until the lake confirms them.
- The first load and the stream join with no gap and no overlap: the slot is created over a
  replication connection that exports its snapshot, and the tables' first snapshot is read in that
  very snapshot (``SET TRANSACTION SNAPSHOT``); the stream then holds exactly the changes after it.
- Changes are drained in bounded batches through the SQL interface: ``peek`` reads whole
  transactions without consuming them, the caller publishes them durably, and only then
  ``confirm`` advances the slot. A crash in between re-delivers the batch (at least once); the
  lake applies each LSN once.

Needs ``wal_level = logical`` on the server (the embedded one has it) and a role with the
``REPLICATION`` attribute and ``SELECT`` on the published tables.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg2
import psycopg2.extras
from psycopg2 import sql
from sqlalchemy.engine import make_url

from techhub_lake.messages import first_line
from techhub_lake.source import pgoutput
from techhub_lake.source.arrow_types import SourceColumn
from techhub_lake.source.connection import SourceRefused, connect, connection_error, libpq_url

PUBLICATION = "techhub_lake"  # publications belong to one database
SLOT_PREFIX = "techhub_lake_"  # replication slots belong to the whole server: one per source database
APPLICATION_NAME = "techhub-lake cdc"


@dataclass(frozen=True)
class Change:
    """One captured row change, in commit order: ``values`` by column name, as text (the key alone for
    a delete; ``pgoutput.UNCHANGED`` for a TOASTed value an update did not touch)."""

    table: str
    op: str  # insert, update, delete, truncate
    lsn: int  # of the change itself
    commit_lsn: int
    commit_ts: dt.datetime
    xid: int
    values: dict[str, object]


@dataclass
class ChangeBatch:
    """Whole transactions read from the slot: their changes in order, the relations they used
    (column names and type OIDs), and the LSN that confirms them all."""

    changes: list[Change] = field(default_factory=list)
    relations: dict[str, pgoutput.Relation] = field(default_factory=dict)
    transactions: int = 0
    confirm_lsn: int | None = None  # end of the last complete transaction read


@dataclass(frozen=True)
class SlotState:
    """Where the slot stands: the LSN the lake confirmed, the WAL the server keeps for it, and
    whether the server still can (``wal_status`` ``lost`` means it invalidated the slot)."""

    exists: bool
    confirmed_lsn: int | None = None
    retained_wal_bytes: int | None = None  # WAL the server keeps for the slot (from its restart LSN)
    lag_bytes: int | None = None  # WAL written since the lake's last confirmation
    wal_status: str | None = None
    active: bool = False

    @property
    def invalidated(self) -> bool:
        """Whether the server gave up the slot (its WAL outgrew ``max_slot_wal_keep_size``): its
        changes are lost, and the lake must take a new snapshot."""
        return self.exists and self.wal_status == "lost"


def slot_name(url: str) -> str:
    """The lake's replication slot for the database at ``url``: ``techhub_lake_<database>`` (slot
    names are server-wide, lower case letters, digits and underscores, at most 63 characters)."""
    database = make_url(libpq_url(url)).database or "postgres"
    return (SLOT_PREFIX + re.sub(r"[^a-z0-9_]", "_", database.lower()))[:63]


def lsn_text(lsn: int) -> str:
    """An LSN as PostgreSQL writes it (``16/B374D848``)."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def lsn_value(text: str) -> int:
    """An LSN written as PostgreSQL writes it, as a number."""
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def _reader(url: str) -> psycopg2.extensions.connection:
    """A read-only session: peeking at and advancing the slot write no data."""
    conn = connect(url, application_name=APPLICATION_NAME)
    conn.set_session(readonly=True, autocommit=True)
    return conn


def ensure_publication(url: str, tables: list[str], schema: str = "public") -> None:
    """The lake's publication, publishing exactly ``tables`` (created, or its table list set)."""
    conn = connect(url, application_name=APPLICATION_NAME)
    try:
        conn.autocommit = True
        names = sql.SQL(", ").join(sql.Identifier(schema, t) for t in sorted(tables))
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (PUBLICATION,))
            exists = cur.fetchone() is not None
            cur.execute("SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s", (PUBLICATION,))
            if exists and set(cur.fetchall()) == {(schema, t) for t in tables}:
                return  # as wanted already (perhaps made by a DBA): nothing to change, no privilege needed
            verb = "ALTER PUBLICATION {} SET TABLE {}" if exists else "CREATE PUBLICATION {} FOR TABLE {}"
            try:
                cur.execute(sql.SQL(verb).format(sql.Identifier(PUBLICATION), names))
            except psycopg2.Error as exc:
                wanted = sql.SQL(verb).format(sql.Identifier(PUBLICATION), names).as_string(conn)
                raise SourceRefused(f"the lake's role cannot set up publication {PUBLICATION} "
                                    f"({first_line(exc)}); have the tables' owner run: {wanted}") from None
    finally:
        conn.close()


def slot_state(url: str) -> SlotState:
    """The lake's slot as the server sees it (``exists=False`` when there is none)."""
    conn = _reader(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT confirmed_flush_lsn::text, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, "
                        "pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, wal_status, active "
                        "FROM pg_replication_slots WHERE slot_name = %s", (slot_name(url),))
            row = cur.fetchone()
    finally:
        conn.close()
    if row is None:
        return SlotState(exists=False)
    confirmed, retained, lag, status, active = row
    return SlotState(True, lsn_value(confirmed) if confirmed else None, retained, lag, status, active)


@contextlib.contextmanager
def new_slot(url: str) -> Iterator[tuple[int, str]]:
    """Create the lake's slot and yield (its consistent LSN, the exported snapshot's name) while the
    snapshot can still be used: read the tables' first snapshot inside the block with
    ``read_in_snapshot``. The replication connection stays open (and idle) until the block ends."""
    try:
        conn = psycopg2.connect(libpq_url(url), connection_factory=psycopg2.extras.LogicalReplicationConnection,
                                application_name=APPLICATION_NAME, connect_timeout=10)
    except psycopg2.OperationalError as exc:
        raise connection_error(url, str(exc)) from None
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE_REPLICATION_SLOT {slot_name(url)} LOGICAL pgoutput (SNAPSHOT 'export')")
            _name, consistent, snapshot, _plugin = cur.fetchone()
            yield lsn_value(consistent), snapshot
    finally:
        conn.close()


@contextlib.contextmanager
def read_in_snapshot(url: str, snapshot: str) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor in a read-only REPEATABLE READ transaction that sees exactly the exported ``snapshot``."""
    conn = connect(url, application_name=APPLICATION_NAME)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cur:
            cur.execute("SET TRANSACTION SNAPSHOT %s", (snapshot,))
            yield cur
        conn.rollback()
    finally:
        conn.close()


def wait_for_flush(url: str, timeout_s: float = 10.0) -> bool:
    """Make sure the WAL written so far is flushed: logical decoding reads only flushed WAL, and
    with ``synchronous_commit = off`` (the embedded server) a commit returns before its WAL is
    flushed, so a peek right after it could miss it. On PostgreSQL 17 and later one tiny logical
    message with ``flush`` does it at once (pgoutput does not pass messages on unless asked);
    elsewhere this waits for the WAL writer. Writes no data; False if the flush did not come."""
    conn = _reader(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_current_wal_insert_lsn()")
            (target,) = cur.fetchone()
            try:
                cur.execute("SELECT pg_logical_emit_message(false, %s, '', true)", (PUBLICATION,))
                return True
            except psycopg2.Error:  # before PostgreSQL 17 (no flush argument), or not allowed
                pass
            deadline = time.monotonic() + timeout_s
            while True:
                cur.execute("SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", (target,))
                if cur.fetchone()[0]:
                    return True
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.05)
    finally:
        conn.close()


def flushed_lsn(url: str) -> int:
    """The server's WAL flushed so far: what a peek can see now."""
    conn = _reader(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_current_wal_flush_lsn()::text")
            return lsn_value(cur.fetchone()[0])
    finally:
        conn.close()


def peek(url: str, max_changes: int, upto_lsn: int | None = None) -> ChangeBatch:
    """The next whole transactions in the slot, about ``max_changes`` changes (a transaction is never
    split), committed before ``upto_lsn`` if given, without consuming them. Each peek is a decoding
    session of its own, in which the server describes every table (a Relation message) before its
    first change."""
    known: dict[int, pgoutput.Relation] = {}
    batch = ChangeBatch()
    conn = _reader(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT lsn::text, data FROM pg_logical_slot_peek_binary_changes(%s, %s::pg_lsn, %s, "
                        "'proto_version', '1', 'publication_names', %s)",
                        (slot_name(url), lsn_text(upto_lsn) if upto_lsn is not None else None, max_changes, PUBLICATION))
            rows = cur.fetchall()
    finally:
        conn.close()
    begin: pgoutput.Begin | None = None
    pending: list[Change] = []
    for lsn, data in rows:
        message = pgoutput.decode(bytes(data))
        if isinstance(message, pgoutput.Relation):
            known[message.relation_id] = message
            batch.relations[message.name] = message
        elif isinstance(message, pgoutput.Begin):
            begin, pending = message, []
        elif isinstance(message, pgoutput.RowChange) and begin is not None:
            relation = known[message.relation_id]
            row = message.new if message.new is not None else message.old
            names = [c.name for c in relation.columns]
            pending.append(Change(relation.name, message.op, lsn_value(lsn), begin.final_lsn, begin.commit_ts,
                                  begin.xid, dict(zip(names, row, strict=True))))
        elif isinstance(message, pgoutput.Truncate) and begin is not None:
            pending += [Change(known[r].name, "truncate", lsn_value(lsn), begin.final_lsn, begin.commit_ts, begin.xid, {})
                        for r in message.relation_ids]
        elif isinstance(message, pgoutput.Commit):
            batch.changes += pending
            batch.transactions += 1
            batch.confirm_lsn = message.end_lsn
            begin, pending = None, []
    return batch


def confirm(url: str, lsn: int) -> None:
    """Tell the server the lake holds everything before ``lsn``: the slot moves on and the server may
    recycle that WAL. Call only after the changes are durably published. Never moves the slot
    backwards (another drain may have confirmed further), and does nothing without a slot."""
    conn = _reader(url)
    try:
        with conn.cursor() as cur:  # never backwards: another drain may have confirmed further
            cur.execute("SELECT pg_replication_slot_advance(slot_name, greatest(%s::pg_lsn, confirmed_flush_lsn)) "
                        "FROM pg_replication_slots WHERE slot_name = %s", (lsn_text(lsn), slot_name(url)))
    finally:
        conn.close()


def pending_changes(url: str) -> bool:
    """Whether the slot holds a change of a published table: a peek at one change up to the WAL
    flushed now. When it holds none, the slot is moved past that WAL (other tables' and other
    databases' writes, Dagster's own storage on the embedded server), so an idle lake neither
    retains WAL nor looks behind. What the CDC sensor asks every tick."""
    wait_for_flush(url, timeout_s=2.0)  # a commit made just now is seen now, not at the next tick
    upto = flushed_lsn(url)
    if peek(url, 1, upto).changes:
        return True
    confirm(url, upto)
    return False


_TYPES_QUERY = """
SELECT t.oid, t.typcategory = 'A', coalesce(b.typname, t.typname)
FROM pg_type t LEFT JOIN pg_type b ON t.typtype = 'd' AND b.oid = t.typbasetype
WHERE t.oid = ANY(%s)
"""


def relation_columns(url: str, relation: pgoutput.Relation) -> list[SourceColumn]:
    """A relation's columns as ``information_schema`` would describe them (type names from the
    type OIDs the stream carries, a numeric's precision and scale from its modifier), so a schema
    seen in the stream has the same fingerprint as one read from the catalog."""
    conn = _reader(url)
    try:
        with conn.cursor() as cur:
            cur.execute(_TYPES_QUERY, (sorted({c.type_oid for c in relation.columns}),))
            types = {oid: (is_array, name) for oid, is_array, name in cur.fetchall()}
    finally:
        conn.close()
    columns = []
    for column in relation.columns:
        is_array, name = types.get(column.type_oid, (False, "text"))
        precision = scale = None
        if name == "numeric" and column.type_modifier >= 4:
            precision, scale = ((column.type_modifier - 4) >> 16) & 0xFFFF, (column.type_modifier - 4) & 0xFFFF
        columns.append(SourceColumn(column.name, "ARRAY" if is_array else name, name, precision, scale))
    return columns


def drop_slot(url: str) -> bool:
    """Drop the lake's slot if there is one (before a new one is made); whether there was."""
    conn = _reader(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
                        (slot_name(url),))
            return bool(cur.rowcount)
    finally:
        conn.close()


def drop(url: str) -> list[str]:
    """Drop the lake's slot and publication (what exists of them); returns what was dropped."""
    dropped = [f"replication slot {slot_name(url)}"] if drop_slot(url) else []
    conn = connect(url, application_name=APPLICATION_NAME)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (PUBLICATION,))
            if cur.fetchone():
                cur.execute(sql.SQL("DROP PUBLICATION {}").format(sql.Identifier(PUBLICATION)))
                dropped.append(f"publication {PUBLICATION}")
    finally:
        conn.close()
    return dropped
