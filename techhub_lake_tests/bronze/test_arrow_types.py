"""The PostgreSQL -> Arrow type map: stated per type, and round-tripped through real Parquet files."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import duckdb
import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from techhub_lake.bronze.extract import extract_snapshot
from techhub_lake.catalog.model import CatalogTable, Partitioning, Strategy
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.source.arrow_types import SourceColumn


@pytest.mark.parametrize(
    ("column", "expected", "select"),
    [
        (SourceColumn("a", "bigint", "int8"), pa.int64(), '"a"'),
        (SourceColumn("a", "smallint", "int2"), pa.int16(), '"a"'),
        (SourceColumn("a", "numeric", "numeric", 12, 2), pa.decimal128(12, 2), '"a"'),
        (SourceColumn("a", "numeric", "numeric"), pa.string(), '"a"::text AS "a"'),
        (SourceColumn("a", "jsonb", "jsonb"), pa.string(), '"a"'),
        (SourceColumn("a", "uuid", "uuid"), pa.string(), '"a"::text AS "a"'),
        (SourceColumn("a", "inet", "inet"), pa.string(), 'abbrev("a") AS "a"'),  # as printed, no /32 added
        (SourceColumn("a", "timestamp with time zone", "timestamptz"), pa.timestamp("us", tz="UTC"), '"a"'),
        (SourceColumn("a", "ARRAY", "_text"), pa.list_(pa.string()), '"a"'),
        (SourceColumn("a", "ARRAY", "_uuid"), pa.list_(pa.string()), '"a"::text[] AS "a"'),
        (SourceColumn("a", "USER-DEFINED", "mood"), pa.string(), '"a"::text AS "a"'),
    ],
)
def test_type_map(column, expected, select):
    assert column.arrow_type() == expected
    assert column.select_expression() == select


TYPES_DDL = """
CREATE TABLE core_typesample (
    id bigint PRIMARY KEY, i2 smallint, i4 integer, f4 real, f8 double precision, amount numeric(12, 2),
    loose numeric, flag boolean, label varchar(20), body text, doc jsonb, uid uuid, ip inet, span interval,
    at_tz timestamptz, at_naive timestamp, day date, tags text[], scores integer[], uids uuid[], raw bytea
);
INSERT INTO core_typesample (id) SELECT g FROM generate_series(1, 300) g;  -- whole first batches of NULLs
INSERT INTO core_typesample VALUES
 (1001, 7, 70000, 1.5, 2.25, 12345.67, 3.14159265358979323846, true, 'Қазақ', 'текст 🚀',
  '{"ru": "Привет", "n": 1, "nested": {"a": [1, 2]}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '203.0.113.7',
  '1 day 02:00', '2024-02-29 23:59:59.999+05', '2024-02-29 23:59:59.999', '2024-02-29', '{x,"y z",NULL}',
  '{1,2,NULL}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '\\x00ff'),
 (1002, -1, -2, -0.5, -1e300, -0.01, -1, false, '', '', '[]', NULL, NULL, NULL, '1970-01-01 00:00+00', NULL,
  '1900-01-01', '{}', '{}', '{}', '\\x');
"""


def test_every_type_round_trips_through_bronze(new_database, tmp_path):
    url = new_database()
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(TYPES_DDL)
    table = CatalogTable(
        name="core_typesample", source_schema="public", module="core", strategy=Strategy.FULL, primary_key=("id",),
        watermark=None, partitioning=Partitioning.SNAPSHOT, json_columns={"doc": ()}, pii=(), freshness=None,
        lookback=dt.timedelta(0), priority="normal", description="")
    lake = LakeFiles(str(tmp_path / "lake"))
    extraction = extract_snapshot(url, lake, table, dt.date(2024, 3, 1), catalog_path="test",
                                  batch_size_hint=4096)  # small batches: the first ones are all NULL
    assert extraction.rows == 302
    path = lake.path(extraction.files[0].path)
    written = pq.read_table(path)
    assert written.schema.field("amount").type == pa.decimal128(12, 2)
    assert written.schema.field("loose").type == pa.string()
    assert written.schema.field("at_tz").type == pa.timestamp("us", tz="UTC")
    assert written.schema.field("scores").type == pa.list_(pa.int32())
    assert written.num_rows == 302 and written.column("i4").null_count == 300

    rows = {r["id"]: r for r in written.to_pylist()}
    full = rows[1001]
    assert (full["i2"], full["i4"], full["f4"], full["f8"], full["flag"]) == (7, 70000, 1.5, 2.25, True)
    assert full["amount"] == decimal.Decimal("12345.67")
    assert full["loose"] == "3.14159265358979323846"
    assert (full["label"], full["body"]) == ("Қазақ", "текст 🚀")
    assert full["doc"] == '{"n": 1, "ru": "Привет", "nested": {"a": [1, 2]}}'  # jsonb's own text
    assert uuid.UUID(full["uid"]) == uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    assert (full["ip"], full["span"]) == ("203.0.113.7", "1 day 02:00:00")  # as PostgreSQL prints them
    assert full["at_tz"] == dt.datetime(2024, 2, 29, 18, 59, 59, 999000, tzinfo=dt.UTC)
    assert full["at_naive"] == dt.datetime(2024, 2, 29, 23, 59, 59, 999000)
    assert full["day"] == dt.date(2024, 2, 29)
    assert full["tags"] == ["x", "y z", None] and full["scores"] == [1, 2, None]
    assert full["uids"] == ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"] and full["raw"] == b"\x00\xff"
    empty = rows[1002]
    assert (empty["label"], empty["tags"], empty["scores"], empty["raw"], empty["doc"]) == ("", [], [], b"", "[]")
    assert empty["amount"] == decimal.Decimal("-0.01") and empty["f8"] == -1e300

    # a client that is not ours reads the same values
    via_duckdb = duckdb.sql(f"SELECT count(*), sum(i4), max(body), min(day) FROM read_parquet('{path}')").fetchall()[0]
    assert via_duckdb == (302, 69998, "текст 🚀", dt.date(1900, 1, 1))
