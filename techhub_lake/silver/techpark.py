"""Techpark reporting in silver (the techpark reporting plan): participants' periodic reports with their JSON typed, and
the techpark's participants with their certificates.

- ``service_report_v2``: one row per live report (silver's current state is already the latest
  version with deletes applied), 32 typed fields from ``data``, the BIN from ``signed_xml``, and
  ``bin`` = the report's own BIN, else the XML's. ``export_by_country`` is valid when it is an
  array of ``{country, amount}`` objects; anything else present is counted as malformed.
- ``techpark_participants``: per company, its latest signed ``techpark`` request and the
  certificate in it.
"""

from __future__ import annotations

import polars as pl

from techhub_lake.silver.transforms.json_fields import json_raw, json_text
from techhub_lake.silver.transforms.signed_xml import signed_xml_fields

NUMBER = r"^-?\d+(\.\d+)?$"  # a JSON number (or numeric text) as silver accepts it
INTEGER = r"^-?\d+$"

# data key -> silver type (the techpark reporting plan's "30+ fields")
REPORT_FIELDS: dict[str, pl.DataType] = {
    "report_year": pl.Int32(), "report_period": pl.String(), "bin": pl.String(), "company_name": pl.String(),
    "certificate_number": pl.String(),
    "revenue": pl.Float64(), "income_total": pl.Float64(), "expenses_total": pl.Float64(), "rd_expenses": pl.Float64(),
    "loans": pl.Float64(), "investments": pl.Float64(), "grants": pl.Float64(), "own_funds": pl.Float64(),
    "foreign_investments": pl.Float64(),
    "tax_kpn": pl.Float64(), "tax_nds": pl.Float64(), "tax_ipn": pl.Float64(), "tax_sn": pl.Float64(),
    "tax_benefits_total": pl.Float64(),
    "employees_residents": pl.Int64(), "employees_nonresidents": pl.Int64(), "employees_gph": pl.Int64(),
    "employees_women": pl.Int64(), "average_salary": pl.Int64(),
    "export_revenue": pl.Float64(),
    "products_count": pl.Int64(), "patents": pl.Int64(), "priority_area": pl.String(),
    "contact_person": pl.String(), "contact_phone": pl.String(), "comment": pl.String(),
}
EXPORTS = "export_by_country"
_OBJECT = r"\{[^{}]*\}"


def typed_field(key: str, dtype: pl.DataType) -> pl.Expr:
    """``data.<key>`` as ``dtype``; text that is not a number of that kind gives NULL. One pass over
    the document: the value is extracted only if it has the expected form, else NULL, then cast."""
    text = json_text("data", f"$.{key}")
    if dtype.is_integer():
        return text.str.extract(f"({INTEGER})", 1).cast(dtype)
    if dtype.is_float():
        return text.str.extract(f"({NUMBER})", 1).cast(dtype)
    return text.replace("", None)  # "" is no value


def export_array_valid(raw: pl.Expr) -> pl.Expr:
    """Whether a JSON value is an array of flat ``{country, amount}`` objects with a country and a
    numeric amount in each (an empty array is valid)."""
    objects = raw.str.extract_all(_OBJECT)
    rest = raw.str.replace_all(_OBJECT, "").str.replace_all(r"[\s,]", "")
    elements_ok = objects.list.eval(  # pl.col("") is the list element inside list.eval
        (json_text("", "$.country").str.len_chars() > 0).fill_null(False)
        & json_text("", "$.amount").str.contains(NUMBER).fill_null(False)
    ).list.all()
    return (raw.str.starts_with("[") & (rest == "[]") & elements_ok).fill_null(False)


def service_report_v2(reports: pl.DataFrame) -> pl.DataFrame:
    """The typed reports; see the module docstring."""
    exports = json_raw("data", f"$.{EXPORTS}")
    return (
        reports.with_columns(
            *[typed_field(key, dtype).alias(f"report_{key}" if key == "bin" else key) for key, dtype in REPORT_FIELDS.items()],
            exports.alias(EXPORTS),
            signed_xml_fields("signed_xml").alias("_xml"),
        )
        .with_columns(
            pl.col("_xml").struct.field("bin").alias("xml_bin"),
            pl.col("_xml").struct.field("malformed").alias("dq_signed_xml_malformed"),
            export_array_valid(pl.col(EXPORTS)).alias("export_by_country_valid"),
        )
        .with_columns(
            pl.coalesce("report_bin", "xml_bin").alias("bin"),
            pl.when(pl.col("report_bin").is_not_null()).then(pl.lit("report"))
            .when(pl.col("xml_bin").is_not_null()).then(pl.lit("signed_xml")).alias("bin_source"),
            (pl.col(EXPORTS).is_not_null() & ~pl.col("export_by_country_valid")).alias("dq_export_by_country_malformed"),
        )
        .with_columns(pl.col("bin").is_null().alias("dq_bin_missing"))
        .select(
            pl.col("id").alias("report_id"), "company_id", "request_id", "status",
            *[("report_bin" if key == "bin" else key) for key in REPORT_FIELDS], "xml_bin", "bin", "bin_source",
            EXPORTS, "export_by_country_valid", "dq_signed_xml_malformed", "dq_export_by_country_malformed",
            "dq_bin_missing", "created_at", "updated_at",
        )
        .sort("report_id")
    )


def export_rows(reports: pl.LazyFrame) -> pl.LazyFrame:
    """One row per report and element of a valid ``export_by_country`` array: position, country, amount."""
    return (
        reports.filter(pl.col("export_by_country_valid"))
        .select("report_id", pl.col(EXPORTS).str.extract_all(_OBJECT).alias("_element"))
        .explode("_element")
        .drop_nulls("_element")
        .with_columns(pl.int_range(pl.len()).over("report_id").cast(pl.Int32).alias("position"))
        .select(
            "report_id", "position",
            json_text("_element", "$.country").alias("country"),
            json_text("_element", "$.amount").cast(pl.Float64).alias("amount"),
        )
    )


def techpark_participants(requests: pl.DataFrame, companies: pl.DataFrame) -> pl.DataFrame:
    """Per live company, its latest signed ``techpark`` request (by creation, then id) and that
    request's certificate."""
    return (
        requests.filter((pl.col("service_id") == "techpark") & (pl.col("status") == "signed") & pl.col("company_id").is_not_null())
        .sort("created_at", "id")
        .unique("company_id", keep="last", maintain_order=True)
        .join(companies.select(pl.col("id").alias("company_id"), pl.col("name").alias("company_name"),
                               pl.col("tin").alias("company_bin")), on="company_id", how="inner")
        .select(
            "company_id", "company_name", "company_bin",
            pl.col("id").alias("request_id"),
            pl.col("created_at").alias("signed_request_created_at"),
            pl.when(pl.col("certificate_number") != "").then(pl.col("certificate_number")).alias("certificate_number"),
            pl.col("certificate_issue_date").str.to_date("%Y-%m-%d", strict=False).alias("certificate_issue_date"),
            pl.col("certificate_end_date").str.to_date("%Y-%m-%d", strict=False).alias("certificate_end_date"),
        )
        .sort("company_id")
    )
