"""Derived silver tables rebuilt only where their parent changed.

A table derived row by row from a silver current-state table (typed techpark reports from
``service_report``, tags from ``account_company``, form fields from ``service_hubformdata``) records, on each of its rows, the parent row's
``_row_hash`` as ``_parent_row_hash``. A refresh then builds rows only for the parents that are
new or whose hash changed, keeps every other row as it is, and drops the rows of parents that are
gone. Parsing is what such a table costs (32 JSON fields and an XML document per report took 26 s
at scale 1, every refresh); after a churn batch a few hundred parents change.

The result is written whole, in one overwrite commit: readers see the old table or the new one.
It is written as a stream of blocks of parents in key order, each block the kept rows of its
unchanged parents (read from the previous version) and the rows built for its changed ones, so
memory holds one block, not the table. When nothing was built and no row dropped it is not
written at all (``unchanged``). A derivation that depends on more than its own parent row cannot
use this and is rebuilt whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from techhub_lake.silver.current_state import ROW_HASH

PARENT_HASH = "_parent_row_hash"
# A block's parents: at most PARENTS_PER_BLOCK, of which about PARENTS_PER_BUILD built (at most twice
# that). Building is what takes memory: service_hubformdata's submissions at scale 1 (~10 KB of JSON
# each) peaked at 4.5 GB built in one block, 1.3 GB 10,000 at a time, 0.6 GB 2,500 at a time (the
# first build 1 s slower, each block scanning the parent for its keys). Kept rows are small, but
# each block reads the previous table again for them, so a refresh's blocks hold more parents.
PARENTS_PER_BUILD = 2_500
PARENTS_PER_BLOCK = 10_000


@dataclass(frozen=True)
class Derivation:
    """One incremental derivation: the table's columns, its rows as blocks of parents in key order
    (computed when iterated: ``blocks()``), and how many parents had rows built or kept."""

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
                   parents_per_build: int = PARENTS_PER_BUILD, parents_per_block: int = PARENTS_PER_BLOCK) -> Derivation:
    """The derived table for ``parents`` (keyed by ``parent_key``, with ``_row_hash``): ``previous``'s
    rows whose parent is unchanged, plus ``build`` of the parents that are new or changed.
    ``build`` maps parent rows to derived rows carrying the parent's key as ``child_key``, sorted by
    their own key, which begins with it. Without a previous table, or when its columns are not the
    ones ``build`` makes now (a table made before parent hashes were kept, or by an older version of
    the code), every parent is built.

    Both tables may be lazy scans: of ``parents`` only keys and hashes are read for every row, its
    other columns (the JSON documents, most of its bytes) only for the parents built; of
    ``previous`` only its keys and parent hashes, until the blocks are read. A block covers a range
    of at most ``parents_per_block`` parents in key order, of which about ``parents_per_build`` (at
    most twice that) are built, so memory holds one block's documents and rows. When no row is kept
    (a first build), a block is the next ``parents_per_build`` rows of the parent table as it is
    stored: selecting a block's keys made every block scan the whole parent table (0.13 s a block
    for `service_hubformdata` at scale 2, 0.01 s a slice)."""
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

    def build_rows(keys: pl.Series) -> pl.DataFrame:
        built = build(parents.filter(pl.col(parent_key).is_in(keys.implode())).collect())
        return built.join(versions, on=child_key, how="left").select(schema.names())

    # no parent gone and at most a block to build: built now, since a parent that makes no rows (an
    # empty form) is built on every run and the table is unchanged if that is all there is
    nothing_gone = held is not None and kept.height == held.height
    prebuilt = build_rows(wanted[child_key]) if nothing_gone and 0 < wanted.height <= parents_per_build else None
    unchanged = nothing_gone and (wanted.height == 0 or (prebuilt is not None and prebuilt.height == 0))

    # block boundaries: a new block every parents_per_build parents to build or parents_per_block parents
    built = pl.col(child_key).is_in(wanted[child_key].implode())
    bounds = (versions.select(child_key, pl.max_horizontal(built.cum_sum() // parents_per_build,
                                                           pl.int_range(pl.len()) // parents_per_block).alias("block"))
              .group_by("block", maintain_order=True).agg(pl.col(child_key).first().alias("first"),
                                                             pl.col(child_key).last().alias("last")))

    def blocks() -> Iterator[pl.DataFrame]:
        if unchanged:
            yield previous.select(schema.names()).collect()
            return
        if not kept.height:  # every parent built: slices of the parent table in its own order, each read once
            for start in range(0, versions.height, parents_per_build):
                built = build(parents.slice(start, parents_per_build).collect())
                yield built.join(versions, on=child_key, how="left").select(schema.names()).cast(schema)
            return
        for first, last in bounds.select("first", "last").iter_rows():
            span = pl.col(child_key).is_between(first, last)
            parts = []
            if kept.height:
                parts.append(previous.filter(span).join(kept.filter(span).lazy(), on=[child_key, PARENT_HASH], how="semi")
                             .select(schema.names()).collect())
            if prebuilt is not None:
                parts.append(prebuilt.filter(span))
            elif (builds := wanted.filter(span)[child_key]).len():
                parts.append(build_rows(builds))
            if parts:
                yield pl.concat(parts, how="vertical_relaxed").cast(schema).sort(child_key, maintain_order=True)

    return Derivation(schema, blocks, wanted.height, versions.height - wanted.height, unchanged)
