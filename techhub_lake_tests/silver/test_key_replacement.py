"""Few changes replace their keys' rows (a predicate overwrite) instead of a MERGE: the table, the
counts and the commit are the same either way, for every rule of which version wins."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from deltalake import DeltaTable

from techhub_lake.catalog import Partitioning, load_catalog
from techhub_lake.lake.delta import read_delta, write_delta
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.silver import current_state
from techhub_lake.silver.current_state import EXTRACTED_AT, ROW_HASH, MergeOutcome, apply_changes

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def frame(rows: list[tuple], key_type=pl.Int64) -> pl.DataFrame:
    """Silver rows: (key, name, updated_at, extracted_at); the hash follows the name."""
    return pl.DataFrame(
        {"id": [r[0] for r in rows], "name": [r[1] for r in rows], "updated_at": [r[2] for r in rows],
         EXTRACTED_AT: [r[3] for r in rows]},
        schema={"id": key_type, "name": pl.String, "updated_at": pl.Datetime("us", "UTC"),
                EXTRACTED_AT: pl.Datetime("us", "UTC")},
    ).with_columns(pl.col("name").hash(seed=0).reinterpret(signed=True).alias(ROW_HASH))


def applied(tmp_path, name: str, table, upserts: pl.DataFrame, gone: pl.DataFrame, initial: pl.DataFrame):
    lake = LakeFiles(str(tmp_path / name))
    write_delta(lake, "silver/t", initial, "error")
    outcome = MergeOutcome()
    apply_changes(lake, "silver/t", table, upserts, gone, {current_state.CURSOR_KEY: "c2"}, outcome, run_id="r")
    commit = DeltaTable(lake.uri("silver/t")).history(1)[0]
    return read_delta(lake, "silver/t").sort("id"), (outcome.inserted, outcome.updated, outcome.deleted), commit


@pytest.mark.parametrize("key_type", [pl.Int64, pl.String])
@pytest.mark.parametrize("partitioning", [Partitioning.DAILY, Partitioning.STREAM])
def test_a_replacement_of_keys_equals_the_merge(tmp_path, monkeypatch, key_type, partitioning):
    table = load_catalog().table("account_user").model_copy(update={"partitioning": partitioning})
    key = (lambda i: i) if key_type == pl.Int64 else (lambda i: f"k'{i}")  # a quote in a text key
    initial = frame([(key(1), "a", T0, T0), (key(2), "b", T0, T0), (key(3), "c", T0, T0), (key(4), "d", T0, T0),
                     (key(5), "e", T0 + HOUR, T0)], key_type)
    upserts = frame([
        (key(1), "a", T0, T0 + HOUR),                # unchanged, extracted again: left alone
        (key(2), "b2", T0 + HOUR, T0 + HOUR),        # changed, extracted later: replaces
        (key(3), "c2", T0 + HOUR, T0 - HOUR),        # changed, extracted earlier: stale (but in a stream)
        (key(5), "e2", T0, T0),                      # same extraction, older watermark: stale (but in a stream)
        (key(6), "f", T0, T0 + HOUR),                # new
    ], key_type)
    gone = pl.DataFrame({"id": [key(4), key(9)]}, schema={"id": key_type})  # 9 was never in silver

    replaced = applied(tmp_path, "replaced", table, upserts, gone, initial)
    monkeypatch.setattr(current_state, "REPLACE_MAX_KEYS", 0)  # every change through the MERGE
    merged = applied(tmp_path, "merged", table, upserts, gone, initial)

    assert replaced[0].equals(merged[0]) and replaced[1] == merged[1]
    assert replaced[2]["operation"] == "WRITE" and merged[2]["operation"] == "MERGE"
    assert replaced[2][current_state.CURSOR_KEY] == "c2"
    names = dict(zip(replaced[0]["id"].to_list(), replaced[0]["name"].to_list(), strict=True))
    stream = partitioning == Partitioning.STREAM
    assert names == {key(1): "a", key(2): "b2", key(3): "c2" if stream else "c", key(5): "e2" if stream else "e",
                     key(6): "f"}
    assert replaced[1] == (1, 3 if stream else 1, 1)


def test_rows_with_a_column_the_table_lacks_add_it(tmp_path):
    table = load_catalog().table("account_user")
    initial = frame([(1, "a", T0, T0), (2, "b", T0, T0)])
    upserts = frame([(2, "b2", T0, T0 + HOUR)]).with_columns(pl.lit("@b").alias("telegram"))
    rows, counts, commit = applied(tmp_path, "lake", table, upserts, pl.DataFrame({"id": []}, schema={"id": pl.Int64}),
                                   initial)
    assert commit["operation"] == "WRITE" and counts == (0, 1, 0)
    assert rows["telegram"].to_list() == [None, "@b"] and rows["name"].to_list() == ["a", "b2"]


def test_nothing_changed_moves_the_cursor_without_a_write_of_rows(tmp_path):
    table = load_catalog().table("account_user")
    initial = frame([(1, "a", T0, T0)])
    rows, counts, commit = applied(tmp_path, "lake", table, frame([(1, "a", T0, T0 + HOUR)]),
                                   pl.DataFrame({"id": [7]}, schema={"id": pl.Int64}), initial)
    assert counts == (0, 0, 0) and rows.equals(initial) and commit[current_state.CURSOR_KEY] == "c2"
    assert commit["operation"] == "WRITE" and commit["operationMetrics"].get("num_added_files", 0) == 0
