"""The change stream of the captured tables (``strategy: cdc``): one replication slot, the first
snapshot it joins, and its drains into bronze change files.

A stream starts with a snapshot: the slot is created with an exported snapshot, every captured
table is copied in that very snapshot into ``<table>/_snapshot/lsn=<consistent LSN>/``, and the
slot then holds exactly the changes committed after it (``source.cdc``). The lake records the
stream's state in ``bronze/techhub/_metadata/cdc_stream.json``, written *before* the slot is made
(incomplete) and again when every table's snapshot is published (complete), so a crash in between
is seen by the next run, which starts over. A new snapshot is taken when there is no complete one,
when the slot is gone or the server invalidated it (its WAL outgrew ``max_slot_wal_keep_size``),
or when a table joins the captured ones; silver then replaces each table by the new snapshot and
applies the changes after it, so nothing is lost or applied twice.

One drain at a time: a drain holds a PostgreSQL advisory lock for its whole length, so runs that
overlap (a sensor's and a refresh's) take turns instead of racing for the slot.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace

from techhub_lake.bronze.assets import extract_and_record
from techhub_lake.bronze.changes import DRAIN_BATCH_CHANGES, DrainOutcome, drain_to_bronze
from techhub_lake.bronze.extract import Extraction
from techhub_lake.bronze.metadata_log import append_extraction_log
from techhub_lake.catalog import Catalog, CatalogTable
from techhub_lake.faults import fault_point
from techhub_lake.lake.layout import CDC_STREAM_STATE, SNAPSHOT_DIR, bronze_table_dir
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.source import cdc
from techhub_lake.source.connection import connect


@dataclass(frozen=True)
class StreamState:
    """The stream the lake follows: its slot, the LSN its snapshot was taken at, when, of which tables."""

    slot: str
    tables: tuple[str, ...]
    complete: bool
    snapshot_lsn: int | None = None
    snapshot_at: dt.datetime | None = None


def snapshot_file(table: CatalogTable, lsn: int) -> str:
    """The first snapshot of a captured table taken at ``lsn``."""
    return f"{bronze_table_dir(table)}/{SNAPSHOT_DIR}/lsn={lsn:016X}/data.parquet"


def read_stream_state(lake: LakeFiles) -> StreamState | None:
    """The stream's recorded state, or None before the first snapshot."""
    if not lake.exists(CDC_STREAM_STATE):
        return None
    with lake.fs.open_input_stream(lake.path(CDC_STREAM_STATE)) as handle:
        raw = json.loads(handle.read())
    at = raw.get("snapshot_at")
    return StreamState(raw["slot"], tuple(raw["tables"]), raw["complete"], raw.get("snapshot_lsn"),
                       dt.datetime.fromisoformat(at) if at else None)


def _write_state(lake: LakeFiles, state: StreamState) -> None:
    record = asdict(state) | {"snapshot_at": state.snapshot_at.isoformat() if state.snapshot_at else None,
                              "snapshot_lsn_text": cdc.lsn_text(state.snapshot_lsn) if state.snapshot_lsn else None}
    with lake.atomic_writer(CDC_STREAM_STATE) as stream:
        stream.write(json.dumps(record, indent=2).encode())


def snapshot_reason(state: StreamState | None, slot: cdc.SlotState, slot_name: str, tables: list[str]) -> str | None:
    """Why the stream needs a new snapshot now, or None when it can go on."""
    if state is None:
        return "first load of the captured tables"
    if not state.complete:
        return "the previous snapshot did not finish"
    if state.slot != slot_name:
        return f"the lake followed slot {state.slot}, not {slot_name}"
    if not slot.exists:
        return f"replication slot {slot_name} is gone"
    if slot.invalidated:
        return (f"the server invalidated replication slot {slot_name} (its WAL outgrew max_slot_wal_keep_size), "
                "so its changes are lost")
    added = sorted(set(tables) - set(state.tables))
    if added:
        return f"newly captured table(s): {', '.join(added)}"
    return None


@contextmanager
def one_drain_at_a_time(url: str, wait: bool = True) -> Iterator[bool]:
    """Hold the lake's advisory lock on the source for the block, waiting for it if another drain
    holds it (or, without ``wait``, yielding False at once); the lock goes with the session if the
    process dies."""
    conn = connect(url, application_name=cdc.APPLICATION_NAME, statement_timeout_ms=None)
    try:
        conn.set_session(readonly=True, autocommit=True)
        key = zlib.crc32(cdc.slot_name(url).encode())
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s), true" if wait else "SELECT NULL, pg_try_advisory_lock(%s)", (key,))
            yield bool(cur.fetchone()[1])
    finally:
        conn.close()


def stream_needs_drain(url: str, lake: LakeFiles, tables: list[str]) -> str | None:
    """Why the stream should be followed now (a snapshot is due, or the slot holds a change of a
    captured table), or None: a cheap look at ``pg_replication_slots`` and one peeked change,
    skipped while a drain runs. What the CDC sensor asks on every tick."""
    with one_drain_at_a_time(url, wait=False) as mine:
        if not mine:
            return None  # a drain is under way: it takes what there is
        reason = snapshot_reason(read_stream_state(lake), cdc.slot_state(url), cdc.slot_name(url), tables)
        if reason is not None:
            return reason
        return "the replication slot holds new changes" if cdc.pending_changes(url) else None


@dataclass
class StreamRun:
    """What one materialization of the stream did: a new snapshot (and why), then a drain."""

    state: StreamState
    reason: str | None = None
    snapshots: dict[str, Extraction] = field(default_factory=dict)
    drain: DrainOutcome = field(default_factory=DrainOutcome)
    slot: cdc.SlotState | None = None


def take_snapshot(url: str, lake: LakeFiles, tables: list[CatalogTable], catalog: Catalog, *, run_id: str,
                  statement_timeout_ms: int | None, log: Callable[[str], None]) -> tuple[StreamState, dict[str, Extraction]]:
    """A new slot and, in its exported snapshot, a copy of every captured table (recorded as
    extractions and schema versions like any bronze snapshot)."""
    names = tuple(t.name for t in tables)
    slot_name = cdc.slot_name(url)
    _write_state(lake, StreamState(slot_name, names, complete=False))
    cdc.drop_slot(url)
    cdc.ensure_publication(url, list(names))
    snapshots = {}
    with cdc.new_slot(url) as (lsn, exported):
        taken = dt.datetime.now(dt.UTC)
        log(f"replication slot {slot_name} created at {cdc.lsn_text(lsn)}; copying {len(tables)} table(s) in its snapshot")
        for table in tables:
            snapshots[table.name], _ = extract_and_record(
                url, lake, table, catalog, days=None, snapshot_day=taken.date(), run_id=run_id,
                statement_timeout_ms=statement_timeout_ms, log=log, exported=exported, path=snapshot_file(table, lsn))
            fault_point("bronze.stream.snapshot")  # some tables copied, the stream not yet complete
    state = StreamState(slot_name, names, complete=True, snapshot_lsn=lsn, snapshot_at=taken)
    _write_state(lake, state)
    return state, snapshots


def _drain_records(drain: DrainOutcome, tables: list[CatalogTable], run_id: str, started: dt.datetime) -> list[dict]:
    records = []
    for table in tables:
        drained = drain.tables.get(table.name)
        if drained is None or not drained.changes:
            continue
        records.append({
            "table": table.name, "run_id": run_id, "strategy": table.strategy.value, "status": "success",
            "partition_start": drained.first_commit.date().isoformat(), "partition_end": drained.last_commit.date().isoformat(),
            "rows": drained.changes, "files": len(drained.files), "removed_files": 0, "started_at": started,
            "finished_at": dt.datetime.now(dt.UTC), "watermark_min": drained.first_commit, "watermark_max": drained.last_commit,
            "schema_version": drained.schema_version.version if drained.schema_version else None})
    return records


def follow_stream(url: str, lake: LakeFiles, tables: list[CatalogTable], catalog: Catalog, *, run_id: str,
                  statement_timeout_ms: int | None = None, log: Callable[[str], None] = lambda _: None,
                  max_changes: int = DRAIN_BATCH_CHANGES) -> StreamRun:
    """Bring the captured tables' bronze up to date: a new snapshot when one is needed, then every
    change the slot holds, drained into change files and confirmed."""
    started = dt.datetime.now(dt.UTC)
    with one_drain_at_a_time(url):  # waits for a drain under way
        names = [t.name for t in tables]
        state = read_stream_state(lake)
        reason = snapshot_reason(state, cdc.slot_state(url), cdc.slot_name(url), names)
        run = StreamRun(state=state, reason=reason)
        if reason is not None:
            log(f"new snapshot of the captured tables: {reason}")
            run.state, run.snapshots = take_snapshot(url, lake, tables, catalog, run_id=run_id,
                                                     statement_timeout_ms=statement_timeout_ms, log=log)
        elif set(state.tables) != set(names):  # a table no longer captured: stop publishing it
            cdc.ensure_publication(url, names)
            run.state = replace(state, tables=tuple(names))
            _write_state(lake, run.state)
        run.drain = drain_to_bronze(url, lake, tables, catalog.defaults.timezone, max_changes=max_changes, run_id=run_id)
        append_extraction_log(lake, *_drain_records(run.drain, tables, run_id, started))
        run.slot = cdc.slot_state(url)
    return run
