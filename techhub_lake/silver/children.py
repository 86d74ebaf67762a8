"""Child tables unpacked from JSON of a silver current-state table:

- ``silver/account/company_tags``: one row per company and tag (``tag_startup``, ``tag_it_company``,
  ``tag_techpark``, ``tag_ts_member``) with its status and moderation (the data-lake plan's "company_tags");
- ``silver/service/hubformdata_fields``: one row per form submission and field, whatever fields the
  form has, so any form can be queried without a schema change.

Both are built again only for the companies and submissions that changed (``silver.incremental``).
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


# what a value's text holds: JSON's own spelling of a number, a boolean, an object or an array
_NUMBER = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$"


def value_type(value: pl.Expr) -> pl.Expr:
    """What a field's value (as text) holds: ``number``, ``boolean``, ``object``, ``array`` or ``string``.
    Said per value, so a field that holds 100 in one submission and "1 000 000" in the next has a
    number and a string, and no submission's type depends on any other's."""
    return (pl.when(value.is_in(["true", "false"])).then(pl.lit("boolean"))
            .when(value.str.contains(_NUMBER)).then(pl.lit("number"))
            .when(value.str.starts_with("{")).then(pl.lit("object"))
            .when(value.str.starts_with("[")).then(pl.lit("array"))
            .otherwise(pl.lit("string")))


def hubformdata_fields(submissions: pl.DataFrame) -> pl.DataFrame:
    """One row per submission and field: (hubformdata_id, form_id, field, value as text, value_type).

    The documents are parsed in bulk as newline-delimited JSON, every field read as text whatever its
    JSON type (a string unquoted, a number as written, an object or array as JSON), so a field that
    is a boolean in one submission and a number in the next is read, not refused; ``value_type`` is
    said per value (:func:`value_type`). A submission's rows depend on that submission alone, so only
    new and changed submissions are parsed on a refresh. NULL values are left out.
    """
    objects = submissions.filter(pl.col("data").str.starts_with("{"))
    schema = {"hubformdata_id": pl.Int64, "form_id": pl.Int64, "field": pl.String, "value": pl.String,
              "value_type": pl.String}
    if objects.is_empty():
        return pl.DataFrame(schema=schema)
    text = "\n".join(objects["data"].str.replace_all("\n", " ").to_list()).encode()
    # the field names only (inferring types would refuse a field whose JSON type changes between rows)
    names = pl.scan_ndjson(io.BytesIO(text), infer_schema_length=None).collect_schema().names()
    if not names:
        return pl.DataFrame(schema=schema)
    as_text = pl.read_ndjson(io.BytesIO(text), schema=dict.fromkeys(names, pl.String))
    long = (
        pl.concat([objects.select(pl.col("id").alias("hubformdata_id"), "form_id"), as_text], how="horizontal")
        .unpivot(index=["hubformdata_id", "form_id"], variable_name="field", value_name="value")
        .drop_nulls("value")
        .with_columns(value_type(pl.col("value")).alias("value_type"))
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
    # the column holding the parent's key: a parent's rows depend on that parent row alone, so only
    # the rows of changed parents are built again (``silver.incremental``)
    parent_key_column: str


CHILD_TABLES = [
    ChildTable("account", "company_tags", "account_company", company_tags,
               "Company tags (startup, IT company, techpark, TS member): status, moderation, data as JSON.",
               ("company_id", "tag_type"), parent_key_column="company_id"),
    ChildTable("service", "hubformdata_fields", "service_hubformdata", hubformdata_fields,
               "Every field of every hub form submission as (field, value, value_type), whatever the form.",
               ("hubformdata_id", "field"), parent_key_column="hubformdata_id"),
]
