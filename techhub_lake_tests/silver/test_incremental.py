"""Derived silver tables built again only for the parents that changed: the result always equals a
whole rebuild, and only new or changed parents reach the (costly) build."""

from __future__ import annotations

import dataclasses

import polars as pl

from techhub_lake.silver.children import company_tags
from techhub_lake.silver.current_state import ROW_HASH
from techhub_lake.silver.incremental import PARENT_HASH, derive_changed
from techhub_lake.silver.techpark import service_report_v2


@dataclasses.dataclass(frozen=True)
class Derived:
    rows: pl.DataFrame
    parents_built: int
    parents_kept: int
    unchanged: bool


def derive(*args, **options) -> Derived:
    """``derive_changed`` with its blocks collected into one table."""
    derived = derive_changed(*args, **options)
    return Derived(derived.collect(), derived.parents_built, derived.parents_kept, derived.unchanged)


def hashed(frame: pl.DataFrame) -> pl.DataFrame:
    """Parents as silver holds them: with the hash of their columns."""
    return frame.with_columns(pl.struct(frame.columns).hash(seed=0).reinterpret(signed=True).alias(ROW_HASH))


def reports(rows: list[tuple[int, str, str | None]]) -> pl.DataFrame:
    return hashed(pl.DataFrame(
        {"id": [r[0] for r in rows], "company_id": [7] * len(rows), "request_id": [1] * len(rows),
         "status": ["sent"] * len(rows), "data": [r[1] for r in rows], "signed_xml": [r[2] for r in rows],
         "created_at": [None] * len(rows), "updated_at": [None] * len(rows)},
        schema_overrides={"created_at": pl.Datetime("us", "UTC"), "updated_at": pl.Datetime("us", "UTC")}))


XML = '<Report><Header><BIN>{}</BIN></Header></Report>'


def counting(build):
    """``build`` that records the parent keys it was given."""
    seen: list[int] = []

    def wrapped(parents: pl.DataFrame) -> pl.DataFrame:
        seen.extend(parents["id"].to_list())
        return build(parents)

    return wrapped, seen


def test_only_new_and_changed_reports_are_parsed_and_the_result_equals_a_whole_rebuild():
    first = reports([(1, '{"revenue": 10}', XML.format("111111111111")), (2, '{"revenue": 20}', None),
                     (3, '{"revenue": 30}', "<broken")])
    build, seen = counting(service_report_v2)
    initial = derive(None, first, "id", "report_id", service_report_v2)
    assert initial.parents_built == 3 and PARENT_HASH in initial.rows.columns

    # report 2 edited, report 3 deleted, report 4 new; report 1 untouched
    second = reports([(1, '{"revenue": 10}', XML.format("111111111111")), (2, '{"revenue": 25}', None),
                      (4, '{"revenue": 40}', XML.format("222222222222"))])
    again = derive(initial.rows, second, "id", "report_id", build)
    assert sorted(set(seen)) == [2, 4]  # parsed again: only what changed (the empty frame is the schema probe)
    assert (again.parents_built, again.parents_kept) == (2, 1)
    whole = derive(None, second, "id", "report_id", service_report_v2).rows
    assert again.rows.sort("report_id").equals(whole.sort("report_id"))
    assert again.rows.filter(pl.col("report_id") == 2)["revenue"].to_list() == [25.0]
    assert 3 not in again.rows["report_id"].to_list()


def test_a_table_of_other_columns_is_rebuilt_whole():
    parents = reports([(1, '{"revenue": 10}', None), (2, '{"revenue": 20}', None)])
    older = derive(None, parents, "id", "report_id", service_report_v2).rows.drop("comment")  # older code
    build, seen = counting(service_report_v2)
    rebuilt = derive(older, parents, "id", "report_id", build)
    assert rebuilt.parents_built == 2 and "comment" in rebuilt.rows.columns and sorted(set(seen)) == [1, 2]


def test_company_tags_of_unchanged_companies_are_kept():
    tag = '{"status": "approved", "moderation_data": {"verified_at": "2024-01-01T00:00:00Z", "verified_by": 3}}'
    companies = hashed(pl.DataFrame({"id": [1, 2], "tag_startup": [tag, None], "tag_it_company": [None, tag],
                                     "tag_techpark": [None, None], "tag_ts_member": [None, None]},
                                    schema_overrides={"tag_techpark": pl.String, "tag_ts_member": pl.String}))
    first = derive(None, companies, "id", "company_id", company_tags)
    changed = hashed(companies.drop(ROW_HASH).with_columns(
        pl.when(pl.col("id") == 2).then(pl.lit(tag)).otherwise(pl.col("tag_techpark")).alias("tag_techpark")))
    build, seen = counting(company_tags)
    again = derive(first.rows, changed, "id", "company_id", build)
    assert sorted(set(seen)) == [2]
    whole = derive(None, changed, "id", "company_id", company_tags).rows
    assert again.rows.sort("company_id", "tag_type").equals(whole.sort("company_id", "tag_type"))
    assert again.rows.filter(pl.col("company_id") == 2)["tag_type"].sort().to_list() == ["it_company", "techpark"]


def test_a_lazy_scan_of_the_parents_builds_the_same_table_and_reads_only_changed_rows_whole(tmp_path):
    """As the assets call it: the parent table scanned from Delta; only the changed parents reach
    ``build`` (their documents read), the result equals the eager one."""
    from techhub_lake.lake.delta import scan_delta, write_delta
    from techhub_lake.lake.storage import LakeFiles
    from techhub_lake.silver.children import hubformdata_fields

    lake = LakeFiles(str(tmp_path))
    submissions = hashed(pl.DataFrame({"id": [1, 2, 3], "form_id": [1, 1, 2],
                                       "data": ['{"a": 1}', '{"a": "x", "b": true}', '{"c": [1]}']}))
    write_delta(lake, "silver/parents", submissions, "overwrite")
    first = derive(None, scan_delta(lake, "silver/parents"), "id", "hubformdata_id", hubformdata_fields)
    changed = hashed(submissions.drop(ROW_HASH).with_columns(
        pl.when(pl.col("id") == 3).then(pl.lit('{"c": 2}')).otherwise(pl.col("data")).alias("data")))
    write_delta(lake, "silver/parents", changed, "overwrite")
    build, seen = counting(hubformdata_fields)
    again = derive(first.rows, scan_delta(lake, "silver/parents"), "id", "hubformdata_id", build)
    assert sorted(set(seen)) == [3] and (again.parents_built, again.parents_kept) == (1, 2)
    eager = derive(None, changed, "id", "hubformdata_id", hubformdata_fields).rows
    assert again.rows.sort("hubformdata_id", "field").equals(eager.sort("hubformdata_id", "field"))


def test_building_in_blocks_of_parents_equals_one_block_and_unchanged_parents_mean_no_write():
    """Parents are built a block at a time (bounded memory): any block size gives the same table,
    each parent goes to ``build`` once, and a second derivation over the same parents builds nothing
    and says the table is unchanged (the assets then write no new version)."""
    from techhub_lake.silver.children import hubformdata_fields

    submissions = hashed(pl.DataFrame({"id": [5, 1, 4, 2, 3], "form_id": [1, 1, 2, 2, 2],
                                       "data": ['{"a": 1}', '{"a": "x", "b": true}', '{"c": [1]}', "[]", '{"d": null}']}))
    whole = derive(None, submissions, "id", "hubformdata_id", hubformdata_fields)
    build, seen = counting(hubformdata_fields)
    blocks = derive(None, submissions, "id", "hubformdata_id", build, parents_per_build=2)
    assert sorted(seen) == [1, 2, 3, 4, 5] and blocks.parents_built == 5 and not blocks.unchanged
    assert blocks.rows.sort("hubformdata_id", "field").equals(whole.rows.sort("hubformdata_id", "field"))
    again = derive(blocks.rows, submissions, "id", "hubformdata_id", hubformdata_fields, parents_per_build=2)
    # a parent without rows (an empty form) leaves nothing to say it is unchanged: built again, to no rows
    rowless = 5 - blocks.rows["hubformdata_id"].n_unique()
    assert rowless > 0 and (again.parents_built, again.parents_kept, again.unchanged) == (rowless, 5 - rowless, True)
    lazily = derive_changed(blocks.rows.lazy(), submissions.lazy(), "id", "hubformdata_id", hubformdata_fields)
    assert lazily.unchanged and lazily.collect().sort("hubformdata_id", "field").equals(
        blocks.rows.sort("hubformdata_id", "field"))  # a scanned previous table: the same answer
    fewer = derive(blocks.rows, submissions.filter(pl.col("id") != 4), "id", "hubformdata_id", hubformdata_fields)
    # a parent gone: its rows dropped, so the table changed although nothing was built from a document
    assert 4 not in fewer.rows["hubformdata_id"].to_list() and not fewer.unchanged


def test_the_table_is_streamed_in_bounded_blocks_each_row_read_once(tmp_path):
    """What the assets write, a block at a time: the kept rows, read from the previous table a slice
    at a time, then the rows built for the changed parents; the Delta table written from the
    stream equals a whole rebuild."""
    from techhub_lake.lake.delta import read_delta, write_delta
    from techhub_lake.lake.storage import LakeFiles
    from techhub_lake.silver.children import hubformdata_fields

    documents = ['{"a": 1}', '{"a": "x", "b": true}', '{"c": [1]}', '{"d": 4, "e": 5}', '{"f": "six"}']
    submissions = hashed(pl.DataFrame({"id": [5, 3, 1, 4, 2], "form_id": [1, 1, 2, 2, 2], "data": documents}))
    lake = LakeFiles(str(tmp_path))
    first = derive_changed(None, submissions.lazy(), "id", "hubformdata_id", hubformdata_fields, parents_per_build=2)
    # a first build keeps nothing: the parents are taken as they are stored, 2 at a time, each read once
    assert [sorted(b["hubformdata_id"].unique()) for b in first.blocks()] == [[3, 5], [1, 4], [2]]
    write_delta(lake, "silver/fields", first.arrow_stream(), "overwrite")
    changed = hashed(submissions.drop(ROW_HASH).with_columns(
        pl.when(pl.col("id").is_in([2, 5])).then(pl.lit('{"z": 0}')).otherwise(pl.col("data")).alias("data")))
    build, seen = counting(hubformdata_fields)
    previous = read_delta(lake, "silver/fields").lazy()
    derived = derive_changed(previous, changed.lazy(), "id", "hubformdata_id", build, parents_per_build=1,
                             kept_rows_per_slice=3)
    blocks = list(derived.blocks())
    # the previous table's 7 rows read once, 3 at a time, keeping those of the unchanged parents;
    # then the changed parents built, one at a time
    kept, built = blocks[:-2], blocks[-2:]
    assert len(kept) == 3 and all(b.height <= 3 for b in kept)
    assert set(pl.concat(kept)["hubformdata_id"]) == {1, 3, 4}
    assert [sorted(b["hubformdata_id"].unique()) for b in built] == [[2], [5]]
    assert sorted(set(seen)) == [2, 5] and not derived.unchanged
    write_delta(lake, "silver/fields", derived.arrow_stream(), "overwrite", schema_mode="overwrite")
    written = read_delta(lake, "silver/fields")
    whole = derive(None, changed, "id", "hubformdata_id", hubformdata_fields).rows
    assert written.sort("hubformdata_id", "field").equals(whole.sort("hubformdata_id", "field"))


def test_a_streamed_table_is_compressed_in_bounded_row_groups(tmp_path):
    """A stream is written in row groups of ``STREAM_ROW_GROUP_ROWS`` rows, snappy-compressed like
    every other write of the lake (writer properties without a compression write none)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from techhub_lake.lake import delta
    from techhub_lake.lake.storage import LakeFiles

    rows = delta.STREAM_ROW_GROUP_ROWS * 2 + 10
    table = pa.table({"id": range(rows), "text": ["абв" * 20] * rows})
    lake = LakeFiles(str(tmp_path))
    delta.write_delta(lake, "silver/t", pa.RecordBatchReader.from_batches(table.schema, table.to_batches(5_000)),
                      "error")
    files = delta.open_delta(lake, "silver/t").file_uris()
    groups = [pq.ParquetFile(f).metadata.row_group(g) for f in files for g in range(pq.ParquetFile(f).num_row_groups)]
    assert sum(g.num_rows for g in groups) == rows and max(g.num_rows for g in groups) <= delta.STREAM_ROW_GROUP_ROWS
    assert {g.column(c).compression for g in groups for c in range(g.num_columns)} == {"SNAPPY"}
