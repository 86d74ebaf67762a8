"""Derived silver tables rebuilt only where their parent changed.

A table derived row by row from a silver current-state table (typed techpark reports from
``service_report``, tags from ``account_company``, form fields from ``service_hubformdata``) records, on each of its rows, the parent row's
``_row_hash`` as ``_parent_row_hash``. A refresh then builds rows only for the parents that are
new or whose hash changed, keeps every other row as it is, and drops the rows of parents that are
gone. Parsing is what such a table costs (32 JSON fields and an XML document per report took 26 s
at scale 1, every refresh); after a churn batch a few hundred parents change.

The result is written whole, in one overwrite commit, as before: readers see the old table or the
new one; when nothing was built and no row dropped it is not written at all (``unchanged``). A
derivation that depends on more than its own parent row cannot use this and is rebuilt whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from techhub_lake.silver.current_state import ROW_HASH

PARENT_HASH = "_parent_row_hash"
# Parents built at a time. A first build of service_hubformdata's 61,612 submissions at scale 1 in one
# block (600 MB of JSON) peaked at 4.5 GB; each block scans the parent again, for the keys it takes.
PARENTS_PER_BUILD = 10_000


@dataclass(frozen=True)
class Derivation:
    """What one incremental derivation did: the table (lazy: the kept rows are read from the previous
    table only when it is written) and how many parents it built rows for."""

    rows: pl.LazyFrame
    parents_built: int
    parents_kept: int
    unchanged: bool = False  # ``rows`` are the previous table's rows as they are: nothing to write


def derive_changed(previous: pl.DataFrame | pl.LazyFrame | None, parents: pl.DataFrame | pl.LazyFrame, parent_key: str,
                   child_key: str, build: Callable[[pl.DataFrame], pl.DataFrame], *,
                   parents_per_build: int = PARENTS_PER_BUILD) -> Derivation:
    """The derived table for ``parents`` (keyed by ``parent_key``, with ``_row_hash``): ``previous``'s
    rows whose parent is unchanged, plus ``build`` of the parents that are new or changed.
    ``build`` maps parent rows to derived rows carrying the parent's key as ``child_key``. Without
    a previous table, or when its columns are not the ones ``build`` makes now (a table made before
    parent hashes were kept, or by an older version of the code), every parent is built.

    Both tables may be lazy scans: of ``parents`` only keys and hashes are read for every row, its
    other columns (the JSON documents, most of its bytes) only for the parents built, and those
    ``parents_per_build`` at a time, in key order, so memory holds one block's documents; of
    ``previous`` only its keys and parent hashes, until the result is collected."""
    parents = parents.lazy()
    versions = parents.select(pl.col(parent_key).alias(child_key), pl.col(ROW_HASH).alias(PARENT_HASH)).collect()
    empty = build(parents.clear().collect())
    previous = previous.lazy() if previous is not None else None
    if previous is None or set(previous.collect_schema().names()) != {*empty.columns, PARENT_HASH}:
        held = kept = None
        wanted = versions[child_key]
    else:
        held = previous.select(child_key, PARENT_HASH).collect()
        kept = held.join(versions, on=[child_key, PARENT_HASH], how="semi")
        wanted = versions.join(kept.unique(), on=[child_key, PARENT_HASH], how="anti")[child_key]
    wanted = wanted.sort()
    blocks = [build(parents.filter(pl.col(parent_key).is_in(wanted[start:start + parents_per_build].implode())).collect())
              for start in range(0, wanted.len(), parents_per_build)]
    built = pl.concat(blocks, how="vertical_relaxed") if blocks else empty
    built = built.join(versions, on=child_key, how="left")
    # nothing built and no row dropped: the kept rows, a subset of the previous table, are all of it
    unchanged = kept is not None and built.height == 0 and kept.height == held.height
    rows = built.lazy()
    if kept is not None and kept.height:
        kept_rows = previous.join(versions.lazy(), on=[child_key, PARENT_HASH], how="semi").select(built.columns)
        rows = pl.concat([kept_rows, rows], how="vertical_relaxed")
    return Derivation(rows, wanted.len(), versions.height - wanted.len(), unchanged)
