"""Derived silver tables rebuilt only where their parent changed.

A table derived row by row from a silver current-state table (typed techpark reports from
``service_report``, tags from ``account_company``, form fields from ``service_hubformdata``) records, on each of its rows, the parent row's
``_row_hash`` as ``_parent_row_hash``. A refresh then builds rows only for the parents that are
new or whose hash changed, keeps every other row as it is, and drops the rows of parents that are
gone. Parsing is what such a table costs (32 JSON fields and an XML document per report took 26 s
at scale 1, every refresh); after a churn batch a few hundred parents change.

The result is written whole, in one overwrite commit: readers see the old table or the new one.
It is written as a stream of blocks, so memory holds one block, not the table: first the rows of
unchanged parents, read from the previous version a slice at a time, then the rows built for new
or changed parents, a few thousand parents at a time. When nothing was built and no row dropped it
is not written at all (``unchanged``). A derivation that depends on more than its own parent row
cannot use this and is rebuilt whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from techhub_lake.silver.current_state import ROW_HASH

PARENT_HASH = "_parent_row_hash"
# Parents built at a time. Building is what takes memory: service_hubformdata's submissions (~10 KB
# of JSON each) built at scale 1 peaked at 4.5 GB in one block, 1.3 GB 10,000 at a time; streamed to
# Delta, 2,500 at a time 839 MB at scale 1 and 964 MB at scale 2, 1,000 at a time 769 and 822 MB
# (7.6 -> 8.0 s at scale 1, 13.7 -> 11.2 s at scale 2).
PARENTS_PER_BUILD = 1_000
# Rows of the previous table read at a time for the unchanged parents' rows (~100 MB of form fields).
KEPT_ROWS_PER_SLICE = 100_000


@dataclass(frozen=True)
class Derivation:
    """One incremental derivation: the table's columns, its rows as blocks (computed when iterated:
    ``blocks()``), and how many parents had rows built or kept."""

    schema: pl.Schema
    blocks: Callable[[], Iterator[pl.DataFrame]]
    parents_built: int
    parents_kept: int
    unchanged: bool = False  # the previous table's rows as they are: nothing to write

    def collect(self) -> pl.DataFrame:
        """The whole table in memory (small tables and tests; the assets stream ``arrow_stream``)."""
        return pl.concat([self.schema.to_frame(), *self.blocks()], how="vertical")

    def arrow_stream(self) -> pa.RecordBatchReader:
        """The blocks as one Arrow stream, for a Delta write that holds one block at a time."""
        schema = self.schema.to_frame().to_arrow().schema
        batches = (batch for block in self.blocks() for batch in block.to_arrow().cast(schema).to_batches())
        return pa.RecordBatchReader.from_batches(schema, batches)


def derive_changed(previous: pl.DataFrame | pl.LazyFrame | None, parents: pl.DataFrame | pl.LazyFrame, parent_key: str,
                   child_key: str, build: Callable[[pl.DataFrame], pl.DataFrame], *,
                   parents_per_build: int = PARENTS_PER_BUILD, kept_rows_per_slice: int = KEPT_ROWS_PER_SLICE
                   ) -> Derivation:
    """The derived table for ``parents`` (keyed by ``parent_key``, with ``_row_hash``): ``previous``'s
    rows whose parent is unchanged, plus ``build`` of the parents that are new or changed.
    ``build`` maps parent rows to derived rows carrying the parent's key as ``child_key``. Without a
    previous table, or when its columns are not the ones ``build`` makes now (a table made before
    parent hashes were kept, or by an older version of the code), every parent is built.

    Both tables may be lazy scans: of ``parents`` only keys and hashes are read for every row, its
    other columns (the JSON documents, most of its bytes) only for the parents built; of
    ``previous`` only its keys and parent hashes, until the blocks are read. The blocks: the kept
    rows, ``kept_rows_per_slice`` rows of the previous table at a time, each row read once; then
    the rows built, ``parents_per_build`` parents at a time, so memory holds one block's documents
    and rows. A first build takes the parent table as it is stored, a slice at a time (selecting
    each block's keys made every block scan the whole parent table: 0.13 s a block for
    ``service_hubformdata`` at scale 2, 0.01 s a slice)."""
    parents = parents.lazy()
    versions = (parents.select(pl.col(parent_key).alias(child_key), pl.col(ROW_HASH).alias(PARENT_HASH))
                .collect().sort(child_key))
    empty = build(parents.clear().collect())
    schema = pl.Schema({**empty.schema, PARENT_HASH: versions.schema[PARENT_HASH]})
    previous = previous.lazy() if previous is not None else None
    if previous is None or set(previous.collect_schema().names()) != set(schema.names()):
        previous = held = None
        kept = versions.clear()
    else:
        held = previous.select(child_key, PARENT_HASH).unique().collect()
        kept = held.join(versions, on=[child_key, PARENT_HASH], how="semi")
    wanted = versions.join(kept, on=[child_key, PARENT_HASH], how="anti")

    def built_from(rows: pl.LazyFrame) -> pl.DataFrame:
        """``build`` of some parent rows, with their parent hashes, in the table's columns."""
        return build(rows.collect()).join(versions, on=child_key, how="left").select(schema.names()).cast(schema)

    def build_rows(keys: pl.Series) -> pl.DataFrame:
        return built_from(parents.filter(pl.col(parent_key).is_in(keys.implode())))

    # no parent gone and at most a block to build: built now, since a parent that makes no rows (an
    # empty form) is built on every run and the table is unchanged if that is all there is
    nothing_gone = held is not None and kept.height == held.height
    prebuilt = build_rows(wanted[child_key]) if nothing_gone and 0 < wanted.height <= parents_per_build else None
    unchanged = nothing_gone and (wanted.height == 0 or (prebuilt is not None and prebuilt.height == 0))

    def blocks() -> Iterator[pl.DataFrame]:
        if unchanged:
            yield previous.select(schema.names()).collect()
            return
        if kept.height:
            rows = previous.select(pl.len()).collect().item()
            for start in range(0, rows, kept_rows_per_slice):
                yield (previous.slice(start, kept_rows_per_slice).join(kept.lazy(), on=[child_key, PARENT_HASH], how="semi")
                       .select(schema.names()).collect().cast(schema))
        if prebuilt is not None:
            yield prebuilt
        elif kept.height:  # the new and changed parents, by their keys
            for start in range(0, wanted.height, parents_per_build):
                yield build_rows(wanted[child_key].slice(start, parents_per_build))
        else:  # every parent: the parent table as it is stored, a slice at a time
            for start in range(0, versions.height, parents_per_build):
                yield built_from(parents.slice(start, parents_per_build))

    return Derivation(schema, blocks, wanted.height, versions.height - wanted.height, unchanged)
