"""A decoder of PostgreSQL's built-in ``pgoutput`` logical decoding messages, protocol version 1.

The messages are the bytes ``pg_logical_slot_peek_binary_changes`` returns for a slot created with
the ``pgoutput`` plugin: Begin, Commit, Relation, Insert, Update, Delete, Truncate (Origin and Type
are read and skipped). Column values arrive in text form, as PostgreSQL prints them; ``UNCHANGED``
marks a TOASTed value an update did not touch (the server does not send it).

Written here rather than taken from a library: the one Python decoder installable here
(``pypgoutput`` 0.0.3, last released in 2022) reads the Begin message's xid as 64 bits where the
protocol has 32, copies every message into an ``io.BytesIO`` and requires psycopg2 built from
source; this one reads with ``struct`` straight from the message's bytes and depends on nothing.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass

POSTGRES_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class _Unchanged:
    """A TOASTed column value an update left as it was: the server does not send it again."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = _Unchanged()


@dataclass(frozen=True)
class Column:
    """One column of a relation: its name, type OID and modifier (``atttypmod``: a numeric's precision
    and scale, a varchar's length; -1 for none), and whether it is part of the replica identity key."""

    name: str
    type_oid: int
    part_of_key: bool
    type_modifier: int = -1


@dataclass(frozen=True)
class Relation:
    """A table as the stream describes it (sent before its first change and after each schema change)."""

    relation_id: int
    namespace: str
    name: str
    replica_identity: str  # d (default: the primary key), n, f (full), i (index)
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Begin:
    """The start of a committed transaction: its commit LSN, commit time and xid."""

    final_lsn: int  # the transaction's commit LSN
    commit_ts: dt.datetime
    xid: int


@dataclass(frozen=True)
class Commit:
    """The end of a transaction: its commit LSN and the LSN a consumer confirms after it."""

    commit_lsn: int
    end_lsn: int  # where the next transaction starts: what a consumer confirms
    commit_ts: dt.datetime


@dataclass(frozen=True)
class RowChange:
    """An insert, update or delete of one row of ``relation_id``: ``new`` for inserts and updates,
    ``old`` for deletes (the key, or the whole row with REPLICA IDENTITY FULL) and for updates of
    the key. Values are text (None for NULL, ``UNCHANGED`` for an untouched TOASTed value)."""

    op: str  # insert, update, delete
    relation_id: int
    new: tuple[object, ...] | None
    old: tuple[object, ...] | None


@dataclass(frozen=True)
class Truncate:
    """A TRUNCATE of one or more relations."""

    relation_ids: tuple[int, ...]


Message = Relation | Begin | Commit | RowChange | Truncate | None

_INT32 = struct.Struct(">i")
_INT16 = struct.Struct(">h")


def _timestamp(micros: int) -> dt.datetime:
    return POSTGRES_EPOCH + dt.timedelta(microseconds=micros)


def _string(data: bytes, at: int) -> tuple[str, int]:
    end = data.index(b"\0", at)
    return data[at:end].decode("utf-8"), end + 1


def _tuple(data: bytes, at: int) -> tuple[tuple[object, ...], int]:
    (count,) = _INT16.unpack_from(data, at)
    at += 2
    values: list[object] = []
    for _ in range(count):
        kind = data[at]
        at += 1
        if kind == ord("t"):
            (length,) = _INT32.unpack_from(data, at)
            at += 4
            values.append(data[at:at + length].decode("utf-8"))
            at += length
        elif kind == ord("n"):
            values.append(None)
        elif kind == ord("u"):
            values.append(UNCHANGED)
        else:
            raise ValueError(f"pgoutput: unknown tuple value kind {chr(kind)!r}")
    return tuple(values), at


def decode(payload: bytes | memoryview) -> Message:
    """One pgoutput message; None for the kinds the lake does not use (Origin, Type, logical messages)."""
    data = bytes(payload)
    kind = chr(data[0])
    if kind == "B":
        final_lsn, ts, xid = struct.unpack_from(">qqi", data, 1)
        return Begin(final_lsn, _timestamp(ts), xid)
    if kind == "C":
        _flags, commit_lsn, end_lsn, ts = struct.unpack_from(">bqqq", data, 1)
        return Commit(commit_lsn, end_lsn, _timestamp(ts))
    if kind == "R":
        (relation_id,) = _INT32.unpack_from(data, 1)
        namespace, at = _string(data, 5)
        name, at = _string(data, at)
        identity = chr(data[at])
        (count,) = _INT16.unpack_from(data, at + 1)
        at += 3
        columns = []
        for _ in range(count):
            flags = data[at]
            column, at = _string(data, at + 1)
            type_oid, modifier = struct.unpack_from(">ii", data, at)
            at += 8
            columns.append(Column(column, type_oid, bool(flags & 1), modifier))
        return Relation(relation_id, namespace, name, identity, tuple(columns))
    if kind == "I":
        (relation_id,) = _INT32.unpack_from(data, 1)
        new, _ = _tuple(data, 6)  # after 'N'
        return RowChange("insert", relation_id, new, None)
    if kind == "U":
        (relation_id,) = _INT32.unpack_from(data, 1)
        at, old = 5, None
        if chr(data[at]) in ("K", "O"):  # the old key (or old row) came first
            old, at = _tuple(data, at + 1)
        new, _ = _tuple(data, at + 1)  # after 'N'
        return RowChange("update", relation_id, new, old)
    if kind == "D":
        (relation_id,) = _INT32.unpack_from(data, 1)
        old, _ = _tuple(data, 6)  # after 'K' or 'O'
        return RowChange("delete", relation_id, None, old)
    if kind == "T":
        (count,) = _INT32.unpack_from(data, 1)
        ids = struct.unpack_from(f">{count}i", data, 6)  # after the options byte
        return Truncate(tuple(ids))
    return None
