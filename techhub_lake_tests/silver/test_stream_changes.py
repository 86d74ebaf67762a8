"""The pieces silver applies a change stream with, on hand-made changes: PostgreSQL's text typed as
bronze types it, TOAST-untouched values filled, the last change per key, and one SCD2 version per
committed change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pyarrow as pa

from techhub_lake.bronze.changes import CHANGE_COLUMNS
from techhub_lake.silver.dimensions import DIMENSIONS, IS_CURRENT, VALID_FROM, VALID_TO, scd2_apply_changes, scd2_update
from techhub_lake.silver.stream_changes import fill_unchanged, fold, typed

UTC = dt.UTC


def changes(rows: list[dict], columns: list[str]) -> pl.DataFrame:
    """Change rows as a change file holds them: the change columns, then the row's text columns."""
    base = {"op": "update", "lsn": 0, "commit_lsn": 0, "commit_ts": dt.datetime(2026, 11, 1, tzinfo=UTC), "xid": 1,
            "_unchanged": []}
    schema = {**{n: pl.from_arrow(pa.schema([(n, t)]).empty_table()).schema[n] for n, t in CHANGE_COLUMNS.items()},
              **dict.fromkeys(columns, pl.String)}
    return pl.DataFrame([base | {"lsn": i + 1, "commit_lsn": i + 1} | r for i, r in enumerate(rows)], schema=schema)


def test_text_values_are_typed_as_bronze_types_them():
    schema = pa.schema([("id", pa.int64()), ("flag", pa.bool_()), ("rating", pa.decimal128(3, 2)), ("score", pa.float64()),
                        ("at", pa.timestamp("us", tz="UTC")), ("local", pa.timestamp("us")), ("day", pa.date32()),
                        ("blob", pa.binary()), ("tags", pa.list_(pa.string())), ("ids", pa.list_(pa.int32())),
                        ("doc", pa.string())])
    frame = changes([
        {"id": "1", "flag": "t", "rating": "4.50", "score": "Infinity", "at": "2026-11-01 10:00:00.5+06",
         "local": "2026-11-01 10:00:00", "day": "2026-11-01", "blob": "\\x0a0b", "tags": '{a,"b, c",NULL,"NULL"}',
         "ids": "{1,2}", "doc": '{"k": "значение"}'},
        {"id": "2", "flag": "f", "rating": "NaN", "score": "1.5", "at": "infinity", "local": None, "day": None,
         "blob": None, "tags": "{}", "ids": None, "doc": None},
    ], schema.names)
    out = typed(frame, schema)
    assert out.columns == [*CHANGE_COLUMNS, *schema.names]
    first, second = out.row(0, named=True), out.row(1, named=True)
    assert first["id"] == 1 and first["flag"] is True and second["flag"] is False
    assert first["rating"] == Decimal("4.50") and second["rating"] is None  # NaN fits no decimal
    assert first["score"] == float("inf") and second["score"] == 1.5
    assert first["at"] == dt.datetime(2026, 11, 1, 4, 0, 0, 500000, tzinfo=dt.timezone.utc)
    assert second["at"] is None  # infinity: as bronze keeps it
    assert first["local"] == dt.datetime(2026, 11, 1, 10) and first["day"] == dt.date(2026, 11, 1)
    assert first["blob"] == b"\n\x0b"
    assert first["tags"] == ["a", "b, c", None, "NULL"] and second["tags"] == []
    assert first["ids"] == [1, 2]
    assert first["doc"] == '{"k": "значение"}'


def test_values_an_update_did_not_send_come_from_the_batch_then_from_silver():
    frame = changes([
        {"op": "insert", "id": "1", "data": "big-1", "note": "a"},
        {"op": "update", "id": "1", "data": None, "note": "b", "_unchanged": ["data"]},
        {"op": "update", "id": "2", "data": None, "note": None, "_unchanged": ["data"]},
        {"op": "update", "id": "3", "data": None, "note": "sent NULL"},
    ], ["id", "data", "note"])
    current = pl.DataFrame({"id": ["2", "3"], "data": ["big-2", "old-3"]})
    filled = fill_unchanged(frame, ["id"], current)
    assert filled["data"].to_list() == ["big-1", "big-1", "big-2", None]
    assert filled["note"].to_list() == ["a", "b", None, "sent NULL"]


def test_the_last_change_of_a_key_wins_and_a_truncate_empties_first():
    frame = changes([
        {"op": "insert", "id": "1", "v": "a"},
        {"op": "delete", "id": "2", "v": None},
        {"op": "update", "id": "1", "v": "b"},
        {"op": "delete", "id": "3", "v": None},
        {"op": "insert", "id": "3", "v": "again"},
    ], ["id", "v"])
    upserts, deleted, truncated = fold(frame, ["id"])
    assert sorted(upserts.select("id", "v").rows()) == [("1", "b"), ("3", "again")]
    assert deleted["id"].to_list() == ["2"] and not truncated
    cut = changes([{"op": "insert", "id": "1", "v": "a"}, {"op": "truncate", "id": None, "v": None},
                   {"op": "insert", "id": "9", "v": "z"}], ["id", "v"])
    upserts, deleted, truncated = fold(cut, ["id"])
    assert truncated and upserts["id"].to_list() == ["9"] and deleted.height == 0


def test_a_dimension_gets_a_version_per_committed_change():
    spec = next(s for s in DIMENSIONS if s.name == "dim_company")
    t0 = dt.datetime(2026, 10, 1, tzinfo=UTC)
    row = {"id": 1, "name": "Acme", "tin": "123456789012", "company_type_clean": "llp", "status": "active",
           "verified": True, "created_at": t0, "updated_at": t0}
    current = pl.DataFrame([row, row | {"id": 2, "name": "Beta"}])
    dimension, _ = scd2_update(current, None, spec, t0)

    def change(op: str, lsn: int, minute: int, **values) -> dict:
        at = t0 + dt.timedelta(days=1, minutes=minute)
        return row | values | {"_op": op, "_lsn": lsn, "_commit_lsn": lsn // 10, "_commit_ts": at, "updated_at": at}

    log = pl.DataFrame([
        change("update", 10, 1, status="suspended"),          # a version at 1 min
        change("update", 20, 2, status="suspended"),          # nothing tracked changed: no version
        change("update", 30, 3, status="active"),             # 3 min, in one transaction...
        change("update", 31, 3, status="closed"),             # ...whose last change counts
        change("delete", 40, 4),                              # closed at 4 min
        change("insert", 50, 5, name="Acme again"),           # back at 5 min
        change("update", 60, 6, id=2, name="Beta 2"),
    ])
    result, counts = scd2_apply_changes(log, dimension, spec)
    acme = result.filter(pl.col("company_id") == 1).sort(VALID_FROM)
    starts = [t0 + dt.timedelta(days=1, minutes=m) for m in (1, 3, 5)]
    assert acme[VALID_FROM].to_list() == [t0, *starts]
    assert acme["status"].to_list() == ["active", "suspended", "closed", "active"]
    assert acme[VALID_TO].to_list() == [starts[0], starts[1], t0 + dt.timedelta(days=1, minutes=4), None]
    assert acme[IS_CURRENT].to_list() == [False, False, False, True]
    assert result.filter(pl.col(IS_CURRENT)).height == 2 and result[spec.surrogate_key].n_unique() == result.height
    assert counts.opened == 4 and counts.closed_changed == 2
    again, _ = scd2_apply_changes(log.clear(), result, spec)
    assert again.sort(spec.surrogate_key).equals(result.sort(spec.surrogate_key))
