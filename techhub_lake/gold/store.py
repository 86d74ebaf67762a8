"""Where gold marts live and how they are read and written: Delta tables under ``gold/<domain>``,
replaced in one commit each, read back sorted by key."""

from __future__ import annotations

import hashlib
import io

import dagster as dg
import polars as pl
from deltalake import CommitProperties

from techhub_lake.catalog import Catalog
from techhub_lake.faults import fault_point
from techhub_lake.gold.marts import MartSpec
from techhub_lake.lake.delta import open_delta, scan_delta, write_delta
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.silver.assets import silver_key
from techhub_lake.silver.current_state import silver_table_path
from techhub_lake.silver.techpark_assets import (
    PARTICIPANTS,
    PARTICIPANTS_PATH,
    REPORT_V2,
    REPORT_V2_PATH,
)


def gold_path(name: str, domain: str = "techhub") -> str:
    """``gold/<domain>/<mart>`` under the lake root."""
    return f"gold/{domain}/{name}"


def gold_key(name: str, domain: str = "techhub") -> dg.AssetKey:
    """``gold/<domain>/<mart>``."""
    return dg.AssetKey(["gold", domain, name])


# Lake tables a mart may read besides the catalog tables' current state: name -> (asset, path).
DERIVED_INPUTS: dict[str, tuple[dg.AssetKey, str]] = {
    "service_report_v2": (REPORT_V2, REPORT_V2_PATH),
    "techpark_participants": (PARTICIPANTS, PARTICIPANTS_PATH),
    "techpark/general_indicators": (gold_key("general_indicators", "techpark"), gold_path("general_indicators", "techpark")),
}


def resolve_input(name: str, catalog: Catalog) -> tuple[dg.AssetKey, str]:
    """The asset and lake path of a mart input: a derived table, else a catalog table's current state."""
    if name in DERIVED_INPUTS:
        return DERIVED_INPUTS[name]
    table = catalog.table(name)
    return silver_key(table), silver_table_path(table)


def read_inputs(lake: LakeFiles, catalog: Catalog, tables: tuple[str, ...]) -> dict[str, pl.LazyFrame]:
    """Each table a mart reads, lazily; fails naming the first that has not been materialized."""
    frames = {}
    for name in tables:
        key, path = resolve_input(name, catalog)
        frame = scan_delta(lake, path)
        if frame is None:
            raise dg.Failure(f"{lake.uri(path)} does not exist yet: materialize {key.to_user_string()} first",
                             allow_retries=False)
        frames[name] = frame
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
