"""Which source tables moved, cheaply, and which bronze partitions that touches.

PostgreSQL already counts every table's inserts, updates and deletes (``pg_stat_user_tables``);
reading those counters costs nothing whatever the table's size. Only for a table whose counters
moved is ``max(<watermark>)`` read, which is a full scan where a Django ``updated_at`` has no
index, so it is paid only when there is something to find. Both reads happen in one read-only
transaction with a statement timeout.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

from techhub_lake.catalog import Catalog, CatalogTable, Partitioning
from techhub_lake.source.connection import read_only_snapshot


@dataclass(frozen=True)
class TableActivity:
    """A table's change counters and newest watermark, as seen at one moment."""

    inserts: int
    updates: int
    deletes: int
    max_watermark: str | None = None  # ISO timestamp; None until read

    def counters(self) -> tuple[int, int, int]:
        return self.inserts, self.updates, self.deletes


def watched_tables(catalog: Catalog) -> list[CatalogTable]:
    """The incremental and append tables: those loaded in daily partitions."""
    return [t for t in catalog.lake_tables if t.partitioning == Partitioning.DAILY]


def read_activity(url: str, tables: list[CatalogTable], previous: dict[str, TableActivity],
                  statement_timeout_ms: int | None) -> dict[str, TableActivity]:
    """Every watched table's counters, and the newest watermark of those whose counters moved
    since ``previous`` (or that have none yet)."""
    by_name = {t.name: t for t in tables}
    with read_only_snapshot(url, statement_timeout_ms=statement_timeout_ms,
                            application_name="techhub-lake source-change sensor") as cur:
        cur.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables "
            "WHERE schemaname = 'public' AND relname = ANY(%s)", (list(by_name),))
        counters = {name: (int(i), int(u), int(d)) for name, i, u, d in cur.fetchall()}
        activity = {}
        for name, values in counters.items():
            before = previous.get(name)
            if before is not None and before.counters() == values:
                activity[name] = before
                continue
            table = by_name[name]
            cur.execute(f'SELECT max("{table.watermark}") FROM {table.qualified_name}')
            newest = cur.fetchone()[0]
            activity[name] = TableActivity(*values, max_watermark=newest.isoformat() if newest else None)
    return activity


def changed_days(table: CatalogTable, before: TableActivity | None, now: TableActivity, catalog: Catalog,
                 today: dt.date) -> tuple[str, str] | None:
    """The daily partitions to re-extract for a table, as a key range, or None if it did not move.

    From the day of the newest watermark seen before (rows committed late land at or after it),
    but not before the table's lookback window, up to the day of the newest watermark now (today
    when only deletes moved the counters)."""
    if before is not None and before.counters() == now.counters():
        return None
    zone = ZoneInfo(catalog.defaults.timezone)

    def day(iso: str | None) -> dt.date | None:
        return dt.datetime.fromisoformat(iso).astimezone(zone).date() if iso else None

    earliest = today - dt.timedelta(days=table.lookback.days)
    start = max(day(before.max_watermark) or earliest, earliest) if before else earliest
    end = min(day(now.max_watermark) or today, today)
    start = min(start, end)
    first = catalog.defaults.start_date
    return max(start, first).isoformat(), max(end, first).isoformat()


def encode_cursor(activity: dict[str, TableActivity]) -> str:
    """The sensor's cursor: every watched table's last seen counters and watermark."""
    return json.dumps({name: asdict(value) for name, value in sorted(activity.items())})


def decode_cursor(cursor: str | None) -> dict[str, TableActivity]:
    """The activity a cursor recorded (nothing for a first tick)."""
    return {name: TableActivity(**value) for name, value in json.loads(cursor).items()} if cursor else {}
