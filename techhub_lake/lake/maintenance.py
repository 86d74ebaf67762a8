"""Keeping the lake tidy: small Delta files compacted, files no version references removed, and the
debris of killed writes cleaned up.

Every MERGE adds files and every refresh of a mart replaces some; without maintenance a table's
directory grows with files no reader needs, and a silver table merged many times is read from many
small files. Compaction is delta-rs's OPTIMIZE; removal of unreferenced files is its VACUUM, with a
retention (``VACUUM_RETENTION``) far longer than any read of the lake runs, so a reader still on an
older version never loses a file. A write killed half-way leaves a hidden ``.<name>.tmp-<uuid>``
file (``LakeFiles.atomic_writer``): one older than ``DEBRIS_AGE``, or whose writer (named in it) is a
process of this host that is gone, belongs to no live write. Every table gets a Delta checkpoint,
so its state no longer depends on the older commit files.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import socket
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow.fs as pafs

from techhub_lake.lake.delta import TABLE_PROPERTIES, open_delta
from techhub_lake.lake.storage import TEMPORARY_MARK, LakeFiles
from techhub_lake.processes import process_gone

VACUUM_RETENTION = dt.timedelta(days=7)
DEBRIS_AGE = dt.timedelta(hours=6)
COMPACT_WHEN_FILES = 16  # a table (or partition) of more active files than this is compacted
DELTA_LOG = "_delta_log"


@dataclass(frozen=True)
class TableUpkeep:
    """What maintenance did to one Delta table."""

    path: str
    files_before: int
    files_after: int
    compacted: int  # files rewritten into larger ones
    removed: int  # unreferenced files deleted by VACUUM


def delta_tables(lake: LakeFiles, under: str) -> list[str]:
    """The Delta tables below a directory of the lake (their paths relative to the root), from one
    listing: every directory that holds a ``_delta_log``."""
    selector = pafs.FileSelector(lake.path(under), recursive=True, allow_not_found=True)
    prefix = lake.base + "/"
    roots = {posixpath.dirname(info.path).removeprefix(prefix) for info in lake.fs.get_file_info(selector)
             if info.type == pafs.FileType.Directory and posixpath.basename(info.path) == DELTA_LOG}
    return sorted(roots)


def upkeep_table(lake: LakeFiles, path: str, retention: dt.timedelta = VACUUM_RETENTION) -> TableUpkeep:
    """Compact a table with many small files, then VACUUM what no version within ``retention`` uses;
    a table without the lake's ``TABLE_PROPERTIES`` gets them."""
    table = open_delta(lake, path)
    stale = {k: v for k, v in TABLE_PROPERTIES.items() if table.metadata().configuration.get(k) != v}
    if stale:  # a table created before the lake set these properties
        table.alter.set_table_properties(stale)
    before = len(table.file_uris())
    compacted = 0
    if before > COMPACT_WHEN_FILES:
        metrics = table.optimize.compact()
        compacted = int(metrics.get("numFilesRemoved", 0))
        table = open_delta(lake, path)
    removed = table.vacuum(retention_hours=int(retention.total_seconds() // 3600), dry_run=False,
                           enforce_retention_duration=False)
    table.create_checkpoint()  # readers start from here: a lost older commit file no longer matters
    return TableUpkeep(path, before, len(table.file_uris()), compacted, len(removed))


def writer_gone(temporary: str, written: dt.datetime) -> bool:
    """Whether the process that wrote a temporary file (its name carries host and pid) is a process
    of this host that no longer runs it: gone, a zombie, or its pid reused by a later process."""
    _, _, owner = temporary.rpartition(TEMPORARY_MARK)
    parts = owner.split("~")
    if len(parts) != 3 or parts[1] != socket.gethostname() or not parts[2].isdigit():
        return False  # another machine's write (or an old name): only its age tells
    return process_gone(int(parts[2]), written.timestamp())


def remove_debris(lake: LakeFiles, under: str, older_than: dt.timedelta = DEBRIS_AGE,
                  now: dt.datetime | None = None) -> list[str]:
    """Delete the temporary files of writes that never finished: hidden ``.tmp-`` files older than
    ``older_than``, or written by a process of this host that is gone. The paths removed, relative
    to the root. The lake upkeep runs it over the lake; every extraction over its table's directory."""
    now = now or dt.datetime.now(dt.UTC)
    selector = pafs.FileSelector(lake.path(under), recursive=True, allow_not_found=True)
    prefix = lake.base + "/"
    removed = []
    for info in lake.fs.get_file_info(selector):
        name = posixpath.basename(info.path)
        if info.type == pafs.FileType.File and name.startswith(".") and TEMPORARY_MARK in name:
            mtime = info.mtime if info.mtime.tzinfo else info.mtime.replace(tzinfo=dt.UTC)
            if now - mtime > older_than or writer_gone(name, mtime):
                lake.fs.delete_file(info.path)
                removed.append(info.path.removeprefix(prefix))
    return removed


def upkeep_lake(lake: LakeFiles, layers: tuple[str, ...], log: Callable[[str], None] = lambda _: None,
                retention: dt.timedelta = VACUUM_RETENTION) -> tuple[list[TableUpkeep], list[str]]:
    """Every Delta table of ``layers`` compacted and vacuumed, and every layer's debris removed."""
    tables: list[TableUpkeep] = []
    debris: list[str] = []
    for layer in layers:
        debris += remove_debris(lake, layer)
        for path in delta_tables(lake, layer):
            done = upkeep_table(lake, path, retention)
            tables.append(done)
            if done.compacted or done.removed:
                log(f"{path}: {done.files_before} -> {done.files_after} files, {done.compacted} compacted, "
                    f"{done.removed} unreferenced removed")
    return tables, debris
