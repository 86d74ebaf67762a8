"""Extraction of one source table into bronze Parquet: streamed, atomic, bounded in memory.

The source is read through ``techhub_lake.source.reads``; this module turns its stream into day files.

A window of daily partitions is read with one query (``watermark >= start AND watermark < end
ORDER BY watermark, key``) in one read-only REPEATABLE READ snapshot, and streamed as Arrow record
batches straight into one Parquet file per day: since rows arrive in watermark order, only one
file is open at a time and memory stays at a few batches whatever the table's size. A full-load
table is read in key order into one snapshot file for the run day.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from techhub_lake.catalog import CatalogTable
from techhub_lake.faults import fault_point
from techhub_lake.lake.layout import bronze_file, bronze_table_dir
from techhub_lake.lake.maintenance import remove_debris
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.source.arrow_types import SourceColumn, normalize_batch
from techhub_lake.source.reads import arrow_snapshot, read_plan, stream_query

PARQUET_COMPRESSION = "snappy"  # the data-lake plan: bronze is Parquet (snappy); measured cheapest per small daily file
ROW_GROUP_BYTES = 64 * 1024 * 1024
BATCH_SIZE_HINT_BYTES = 16 * 1024 * 1024
PREVIEW_ROWS = 5
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

BatchHook = Callable[[int, int], None]  # (batches read so far, rows read so far)


@dataclass(frozen=True)
class DayWindow:
    """One daily partition: its calendar day and its [start, end) in the lake's time zone."""

    day: dt.date
    start: dt.datetime
    end: dt.datetime


@dataclass
class WrittenFile:
    """A file published by an extraction."""

    path: str
    day: dt.date
    rows: int
    bytes: int


@dataclass
class Extraction:
    """What one extraction read and wrote."""

    table: CatalogTable
    columns: list[SourceColumn]
    query: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    files: list[WrittenFile] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rows: int = 0
    watermark_min: dt.datetime | None = None
    watermark_max: dt.datetime | None = None
    preview: pa.Table | None = None

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def seconds(self) -> float:
        return ((self.finished_at or self.started_at) - self.started_at).total_seconds()


def _prefetch(batches: Iterable[pa.RecordBatch], cancel: Callable[[], None], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """Read the next batches in a thread while the caller compresses and writes (both release the
    GIL), holding at most ``depth`` batches. If the caller stops early, the query is cancelled."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not hand_over(batch):
                    return
            hand_over(done)
        except BaseException as exc:  # handed to the consumer
            hand_over(exc)

    thread = threading.Thread(target=produce, name="bronze-prefetch", daemon=True)
    thread.start()
    try:
        while (item := buffer.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=0.5)
        if thread.is_alive():
            with contextlib.suppress(Exception):
                cancel()
            thread.join(timeout=30)


class _Encoders:
    """Encodes and publishes day files on background threads, so finished days are compressed while
    the next ones stream in (Parquet encoding, not the database, limits a single thread). A file's
    steps run in order; at most ``depth`` steps are in flight, which bounds the memory they hold."""

    def __init__(self, workers: int = 2, depth: int = 3) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="bronze-encode")
        self._slots = threading.BoundedSemaphore(depth)
        self._last: dict[int, Future] = {}
        self._publishing: list[Future] = []

    def submit(self, owner: object, step: Callable[[], object], publishes: bool = False) -> None:
        previous = self._last.get(id(owner))
        if previous is not None:
            previous.result()  # the file's earlier step first (and its error, if any, now)
        self._slots.acquire()
        future = self._pool.submit(step)
        future.add_done_callback(lambda _: self._slots.release())
        self._last[id(owner)] = future
        if publishes:
            self._publishing.append(future)

    def wait(self, owner: object) -> None:
        """Wait for a file's steps in flight (before it is abandoned)."""
        previous = self._last.get(id(owner))
        if previous is not None:
            with contextlib.suppress(BaseException):
                previous.result()

    def published(self) -> list[WrittenFile]:
        """Wait for every publication; the files in the order their days ended."""
        try:
            return [future.result() for future in self._publishing]
        finally:
            self._pool.shutdown(wait=True)

    def close(self) -> None:
        """Let steps in flight finish (complete days still publish), start no new ones."""
        self._pool.shutdown(wait=True, cancel_futures=False)


class _DayFile:
    """One day's Parquet file: written in row groups by the encoders, published atomically at the end."""

    def __init__(self, lake: LakeFiles, path: str, day: dt.date, schema: pa.Schema, dictionary: list[str],
                 encoders: _Encoders) -> None:
        self.path, self.day, self.rows = path, day, 0
        self._lake, self._schema, self._dictionary, self._encoders = lake, schema, dictionary, encoders
        self._atomic = None
        self._stream = None
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.RecordBatch] = []
        self._pending_bytes = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._pending_bytes += batch.nbytes
        self.rows += batch.num_rows
        if self._pending_bytes >= ROW_GROUP_BYTES:
            self._encoders.submit(self, functools.partial(self._write, self._take()))

    def _take(self) -> list[pa.RecordBatch]:
        batches, self._pending, self._pending_bytes = self._pending, [], 0
        return batches

    def _write(self, batches: list[pa.RecordBatch]) -> None:
        if self._writer is None:
            self._atomic = self._lake.atomic_writer(self.path)
            self._stream = self._atomic.__enter__()
            self._writer = pq.ParquetWriter(self._stream, self._schema, compression=PARQUET_COMPRESSION,
                                            use_dictionary=self._dictionary)
        if batches:
            self._writer.write_table(pa.Table.from_batches(batches, schema=self._schema))
            fault_point("bronze.write")  # a temporary file half written

    def _publish(self, batches: list[pa.RecordBatch]) -> WrittenFile:
        try:
            self._write(batches)
            self._writer.close()
            size = self._stream.tell()
            self._atomic.__exit__(None, None, None)
            return WrittenFile(self.path, self.day, self.rows, size)
        except BaseException as exc:
            self._discard(exc)
            raise

    def publish(self) -> None:
        """Queue the rest of the file and its publication."""
        self._encoders.submit(self, functools.partial(self._publish, self._take()), publishes=True)

    def abandon(self, exc: BaseException) -> None:
        """Drop the half-written file: the previous published one stays."""
        self._encoders.wait(self)
        self._discard(exc)

    def _discard(self, exc: BaseException) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        if self._atomic is not None:
            with contextlib.suppress(BaseException):
                self._atomic.__exit__(type(exc), exc, exc.__traceback__)
            self._atomic = None


def _micros(moment: dt.datetime, naive: bool) -> int:
    if naive:
        return (moment.replace(tzinfo=None) - _EPOCH.replace(tzinfo=None)) // dt.timedelta(microseconds=1)
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def _literal(moment: dt.datetime, naive: bool) -> str:
    return f"'{moment.replace(tzinfo=None).isoformat()}'" if naive else f"'{moment.isoformat()}'::timestamptz"


def _track(extraction: Extraction, batch: pa.RecordBatch, watermark: str | None) -> None:
    extraction.rows += batch.num_rows
    if extraction.preview is None and batch.num_rows:
        extraction.preview = pa.Table.from_batches([batch.slice(0, PREVIEW_ROWS)])
    if watermark and batch.num_rows:
        low, high = pc.min_max(batch.column(watermark)).values()
        for value, attr, pick in ((low, "watermark_min", min), (high, "watermark_max", max)):
            if value.is_valid:
                current = getattr(extraction, attr)
                moment = value.as_py()
                setattr(extraction, attr, moment if current is None else pick(current, moment))


def extract_days(
    url: str,
    lake: LakeFiles,
    table: CatalogTable,
    days: list[DayWindow],
    *,
    catalog_path: str,
    application_name: str = "techhub-lake bronze",
    statement_timeout_ms: int | None = None,
    batch_size_hint: int = BATCH_SIZE_HINT_BYTES,
    on_batch: BatchHook | None = None,
) -> Extraction:
    """Extract the rows whose watermark falls in ``days`` (consecutive daily partitions) into one
    file per day; days without rows lose any file they had, so a re-run mirrors the source exactly."""
    if not days or not table.watermark:
        raise ValueError(f"extract_days needs days and a watermark ({table.name})")
    started = dt.datetime.now(dt.UTC)
    remove_debris(lake, bronze_table_dir(table))  # what a killed earlier write of this table left
    with arrow_snapshot(url, application_name=application_name, statement_timeout_ms=statement_timeout_ms) as cur:
        plan = read_plan(cur, table, catalog_path)
        columns, schema, select, dictionary = plan.columns, plan.schema, plan.select, plan.dictionary
        watermark = next(c for c in columns if c.name == table.watermark)
        naive = watermark.udt_name == "timestamp"
        order = ", ".join(f'"{k}"' for k in (table.watermark, *table.primary_key))
        query = (
            f"SELECT {select} FROM {table.qualified_name} AS t WHERE {watermark.quoted} >= {_literal(days[0].start, naive)} "
            f"AND {watermark.quoted} < {_literal(days[-1].end, naive)} ORDER BY {order}"
        )
        extraction = Extraction(table=table, columns=columns, query=query, started_at=started)
        bounds = pl.Series([_micros(d.start, naive) for d in days] + [_micros(days[-1].end, naive)], dtype=pl.Int64)
        current: _DayFile | None = None
        written_days: set[int] = set()
        batches = 0
        encoders = _Encoders()
        try:
            for raw in _prefetch(stream_query(cur, query, batch_size_hint, table), cur.adbc_cancel):
                batch = normalize_batch(raw, schema)
                batches += 1
                _track(extraction, batch, table.watermark)
                if batch.num_rows:
                    # rows come in watermark order: the day index only grows, so cut at its changes
                    marks = pl.Series(batch.column(table.watermark).cast(pa.int64()))
                    index = (bounds.search_sorted(marks, side="right") - 1).to_list()
                    changes = pl.Series(index).diff().fill_null(0).ne(0).arg_true().to_list()
                    cuts = [0, *changes, batch.num_rows]
                    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
                        day_index = index[lo]
                        if current is None or current.day != days[day_index].day:
                            if current is not None:
                                current.publish()
                            current = _DayFile(lake, bronze_file(table, days[day_index].day), days[day_index].day,
                                               schema, dictionary, encoders)
                            written_days.add(day_index)
                        current.add(batch.slice(lo, hi - lo))
                if on_batch is not None:
                    on_batch(batches, extraction.rows)
                fault_point("bronze.batch")  # mid-stream: the source's transaction is open
            if current is not None:
                current.publish()
                current = None
            extraction.files.extend(encoders.published())
        except BaseException as exc:
            if current is not None:
                current.abandon(exc)
            encoders.close()
            raise
    # days without rows lose the file they had: one listing of the table, not a request per day
    published = set(lake.file_stats(bronze_table_dir(table)))
    for index, window in enumerate(days):
        stale = bronze_file(table, window.day)
        if index not in written_days and stale in published and lake.delete(stale):
            extraction.removed.append(stale)
    extraction.finished_at = dt.datetime.now(dt.UTC)
    return extraction


def extract_snapshot(
    url: str,
    lake: LakeFiles,
    table: CatalogTable,
    day: dt.date,
    *,
    catalog_path: str,
    application_name: str = "techhub-lake bronze",
    statement_timeout_ms: int | None = None,
    batch_size_hint: int = BATCH_SIZE_HINT_BYTES,
    on_batch: BatchHook | None = None,
    exported: str | None = None,
    path: str | None = None,
) -> Extraction:
    """Copy the whole table, in key order, into the snapshot file of ``day`` (an empty table gives
    an empty file: the snapshot says the table was empty that day). With ``exported`` (a snapshot
    another session exported) and ``path``, the copy is read in that snapshot and written there:
    the first snapshot of a captured table, joined to its change stream."""
    started = dt.datetime.now(dt.UTC)
    remove_debris(lake, bronze_table_dir(table))  # what a killed earlier write of this table left
    with arrow_snapshot(url, application_name=application_name, statement_timeout_ms=statement_timeout_ms,
                        exported=exported) as cur:
        plan = read_plan(cur, table, catalog_path)
        schema = plan.schema
        order = ", ".join(f'"{k}"' for k in table.primary_key)
        query = f"SELECT {plan.select} FROM {table.qualified_name} AS t ORDER BY {order}"
        extraction = Extraction(table=table, columns=plan.columns, query=query, started_at=started)
        encoders = _Encoders(workers=1)
        target = _DayFile(lake, path or bronze_file(table, day), day, schema, plan.dictionary, encoders)
        try:
            for count, raw in enumerate(_prefetch(stream_query(cur, query, batch_size_hint, table), cur.adbc_cancel), start=1):
                batch = normalize_batch(raw, schema)
                _track(extraction, batch, table.watermark if table.watermark in schema.names else None)
                target.add(batch)
                if on_batch is not None:
                    on_batch(count, extraction.rows)
            target.publish()
            extraction.files.extend(encoders.published())
        except BaseException as exc:
            target.abandon(exc)
            encoders.close()
            raise
    extraction.finished_at = dt.datetime.now(dt.UTC)
    return extraction
