"""Child tables unpacked from JSON of a silver current-state table:

- ``silver/account/company_tags``: one row per company and tag (``tag_startup``, ``tag_it_company``,
  ``tag_techpark``, ``tag_ts_member``) with its status and moderation (the data-lake plan's "company_tags");
- ``silver/service/hubformdata_fields``: one row per form submission and field, whatever fields the
  form has, so any form can be queried without a schema change.

``company_tags`` is built again only for the companies that changed; ``hubformdata_fields`` is
rebuilt whole (a field's value type is settled over every submission).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from techhub_lake.silver.transforms.json_fields import json_raw, json_text

TAG_COLUMNS = ("tag_startup", "tag_it_company", "tag_techpark", "tag_ts_member")


def company_tags(companies: pl.DataFrame) -> pl.DataFrame:
    """One row per company and tag it carries."""
    parts = []
    for column in TAG_COLUMNS:
        verified_at = json_text(column, "$.moderation_data.verified_at")
        verified_by = json_text(column, "$.moderation_data.verified_by")
        parts.append(companies.filter(pl.col(column).is_not_null()).select(
            pl.col("id").alias("company_id"),
            pl.lit(column.removeprefix("tag_")).alias("tag_type"),
            json_text(column, "$.status").alias("status"),
            verified_at.str.to_datetime(time_zone="UTC", strict=False).alias("verified_at"),
            verified_by.cast(pl.Int64, strict=False).alias("verified_by"),
            json_raw(column, "$.data").alias("data"),
            # moderation data that is not an object (a stray string) is a counted problem, not a failure
            (json_raw(column, "$.moderation_data").is_not_null()
             & ~json_raw(column, "$.moderation_data").str.starts_with("{")).alias("dq_moderation_data_invalid"),
        ))
    return pl.concat(parts).sort(["company_id", "tag_type"])


_KIND = {pl.String: "string", pl.Boolean: "boolean", pl.Null: "null"}


def _kind(dtype: pl.DataType) -> str:
    if dtype.is_numeric():
        return "number"
    if isinstance(dtype, pl.Struct):
        return "object"
    if isinstance(dtype, pl.List):
        return "array"
    return _KIND.get(dtype.base_type(), "string")


def hubformdata_fields(submissions: pl.DataFrame) -> pl.DataFrame:
    """One row per submission and field: (hubformdata_id, form_id, field, value as text, value_type).

    The documents are parsed in bulk as newline-delimited JSON; a field's ``value_type`` is the type
    the parser settles on over all submissions (a field that is sometimes a number and sometimes a
    string is a string). NULL values are left out.
    """
    objects = submissions.filter(pl.col("data").str.starts_with("{"))
    schema = {"hubformdata_id": pl.Int64, "form_id": pl.Int64, "field": pl.String, "value": pl.String,
              "value_type": pl.String}
    if objects.is_empty():
        return pl.DataFrame(schema=schema)
    text = "\n".join(objects["data"].str.replace_all("\n", " ").to_list()).encode()
    parsed = pl.read_ndjson(io.BytesIO(text), infer_schema_length=None)
    if not parsed.width:
        return pl.DataFrame(schema=schema)
    kinds = {name: _kind(dtype) for name, dtype in parsed.schema.items()}
    as_text = parsed.select([
        (pl.when(pl.col(c).is_not_null()).then(pl.col(c).struct.json_encode()) if kinds[c] == "object"
         else pl.col(c).cast(pl.List(pl.String)).list.join(", ") if kinds[c] == "array"
         else pl.col(c).cast(pl.String)).alias(c)
        for c in parsed.columns
    ])
    long = (
        pl.concat([objects.select(pl.col("id").alias("hubformdata_id"), "form_id"), as_text], how="horizontal")
        .unpivot(index=["hubformdata_id", "form_id"], variable_name="field", value_name="value")
        .drop_nulls("value")
        .with_columns(pl.col("field").replace_strict(kinds, return_dtype=pl.String).alias("value_type"))
    )
    return long.select(list(schema)).cast(schema).sort(["hubformdata_id", "field"])


@dataclass(frozen=True)
class ChildTable:
    """A child table: its name, the parent table it unpacks, and the function that builds it."""

    module: str
    name: str
    parent: str
    build: Callable[[pl.DataFrame], pl.DataFrame]
    description: str
    key: tuple[str, ...]  # what identifies a row
    # the column holding the parent's key when a parent's rows depend on that parent row alone:
    # then only the rows of changed parents are built again (``silver.incremental``)
    parent_key_column: str | None = None


CHILD_TABLES = [
    ChildTable("account", "company_tags", "account_company", company_tags,
               "Company tags (startup, IT company, techpark, TS member): status, moderation, data as JSON.",
               ("company_id", "tag_type"), parent_key_column="company_id"),
    ChildTable("service", "hubformdata_fields", "service_hubformdata", hubformdata_fields,
               "Every field of every hub form submission as (field, value, value_type), whatever the form.",
               ("hubformdata_id", "field")),
]
