"""Where gold marts live and how they are read and written: Delta tables under ``gold/<domain>``,
replaced in one commit each, read back sorted by key."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable

import dagster as dg
import polars as pl
from deltalake import CommitProperties

from techhub_lake.faults import fault_point
from techhub_lake.gold.marts import MartSpec
from techhub_lake.lake.delta import open_delta, require_delta, scan_delta, write_delta
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.registry import LakeTable


def gold_path(name: str, domain: str = "techhub") -> str:
    """``gold/<domain>/<mart>`` under the lake root."""
    return f"gold/{domain}/{name}"


def gold_key(name: str, domain: str = "techhub") -> dg.AssetKey:
    """``gold/<domain>/<mart>``."""
    return dg.AssetKey(["gold", domain, name])


def input_tables(tables: Iterable[LakeTable], marts: Iterable[MartSpec]) -> dict[str, LakeTable]:
    """What a mart may read, by the name its spec uses: every silver table of ``tables`` (the
    registry's, read from the silver layer's specs) by its name, and each of ``marts`` as
    ``<domain>/<name>``."""
    found = {t.name: t for t in tables if t.layer == "silver"}
    for mart in marts:
        path = gold_path(mart.name, mart.domain)
        found[f"{mart.domain}/{mart.name}"] = LakeTable(gold_key(mart.name, mart.domain), "gold", mart.name, path, {})
    return found


def read_inputs(lake: LakeFiles, inputs: dict[str, LakeTable], names: tuple[str, ...]) -> dict[str, pl.LazyFrame]:
    """Each table a mart reads (``names``, resolved by ``input_tables``), lazily; fails naming the
    first that has not been materialized."""
    frames = {}
    for name in names:
        table = inputs[name]
        frames[name] = pl.scan_delta(require_delta(lake, table.path, table.key))
    return frames


def mart_content(lake: LakeFiles, spec: MartSpec) -> pl.DataFrame | None:
    """A mart's rows sorted by its key, without lineage columns: what BI reads, in a fixed order."""
    frame = scan_delta(lake, gold_path(spec.name, spec.domain))
    return None if frame is None else frame.select(list(spec.columns)).collect().sort(list(spec.key))


def content_digest(frame: pl.DataFrame) -> str:
    """SHA-256 of a frame's Arrow IPC bytes: equal digests, byte-identical content."""
    buffer = io.BytesIO()
    frame.rechunk().write_ipc(buffer, compression="uncompressed")
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def write_mart(lake: LakeFiles, spec: MartSpec, rows: pl.DataFrame, run_id: str, predicate: str | None = None) -> int:
    """Replace the mart, or with ``predicate`` only the rows it selects, in one Delta commit (readers
    see the previous version until it lands); returns the new version."""
    path = gold_path(spec.name, spec.domain)
    properties = CommitProperties(custom_metadata={"techhub.run_id": run_id})
    fault_point("gold.write")
    if predicate is None:
        write_delta(lake, path, rows, "overwrite", schema_mode="overwrite", commit_properties=properties)
    else:
        write_delta(lake, path, rows, "overwrite", predicate=predicate, commit_properties=properties)
    return open_delta(lake, path).version()
