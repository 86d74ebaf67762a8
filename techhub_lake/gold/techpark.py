"""The techpark BI marts (the techpark reporting plan), one row per live report each (``export_by_country``: per report
and country), and their data-quality mart.

Every mart carries the report's certificate by the techpark reporting plan's three-level fallback: the report's own
``certificate_number``, else the company's in ``techpark_participants`` (its latest signed
``techpark`` request), else the one in the company's latest ``techpark`` request of any status
that has one; ``certificate_source`` says which. The BIN is masked for reports of 2021 and later
by the ``bin_mask`` resource (declared with ``masked`` on each spec, applied by the asset factory).
"""

from __future__ import annotations

import polars as pl

from techhub_lake.gold.marts import MartSpec, Silver
from techhub_lake.silver.techpark import export_rows

DOMAIN = "techpark"
INPUTS = ("service_report_v2", "techpark_participants", "service_servicerequest")
MASKED = ("bin", "report_year")

COMMON = {
    "report_id": "service_report.id",
    "company_id": "The reporting company",
    "company_name": "Company name as written in the report",
    "report_year": "Year the report is for",
    "report_period": "Period: Q1..Q4 or year",
    "status": "Report status",
    "bin": "BIN: the report's own, else the signed XML's; masked for 2021 and later",
    "certificate_number": "Techpark certificate: the report's, else the participant's, else the latest request's",
    "certificate_source": "Which level the certificate came from: report, participant, request (NULL: none)",
}


def certified_reports(silver: Silver) -> pl.LazyFrame:
    """The live reports with the certificate fallback applied."""
    participants = silver["techpark_participants"].select(
        "company_id", pl.col("certificate_number").alias("_participant_certificate"))
    requests = (
        silver["service_servicerequest"]
        .filter((pl.col("service_id") == "techpark") & pl.col("company_id").is_not_null()
                & pl.col("certificate_number").is_not_null() & (pl.col("certificate_number") != ""))
        .sort("created_at", "id")
        .unique("company_id", keep="last", maintain_order=True)
        .select("company_id", pl.col("certificate_number").alias("_request_certificate"))
    )
    levels = {"report": "certificate_number", "participant": "_participant_certificate", "request": "_request_certificate"}
    source = pl.lit(None, pl.String)
    for level, column in reversed(levels.items()):
        source = pl.when(pl.col(column).is_not_null()).then(pl.lit(level)).otherwise(source)
    return (
        silver["service_report_v2"]
        .join(participants, on="company_id", how="left")
        .join(requests, on="company_id", how="left")
        .with_columns(pl.coalesce(*levels.values()).alias("certificate_number"), source.alias("certificate_source"))
    )


def _per_report(columns: list[str]):
    def build(silver: Silver) -> pl.LazyFrame:
        return certified_reports(silver).select(*COMMON, *columns)
    return build


def exports(silver: Silver) -> pl.LazyFrame:
    counts = export_rows(silver["service_report_v2"]).group_by("report_id").agg(pl.len().cast(pl.Int64).alias("export_countries"))
    return (certified_reports(silver).join(counts, on="report_id", how="left")
            .with_columns(pl.when(pl.col("export_by_country_valid")).then(pl.col("export_countries").fill_null(0))
                          .alias("export_countries"))
            .select(*COMMON, "export_revenue", "export_countries", "export_by_country_valid"))


def export_by_country(silver: Silver) -> pl.LazyFrame:
    return (export_rows(silver["service_report_v2"])
            .join(certified_reports(silver).select(*COMMON), on="report_id", how="inner")
            .select(*COMMON, "position", "country", "amount"))


def _mart(name: str, description: str, build, columns: dict[str, str], key: tuple[str, ...] = ("report_id",)) -> MartSpec:
    return MartSpec(name=name, description=description, inputs=INPUTS, key=key, build=build,
                    columns={**COMMON, **columns}, domain=DOMAIN, masked=MASKED)


GENERAL = {"revenue": "Revenue, KZT", "income_total": "Total income, KZT", "expenses_total": "Total expenses, KZT",
           "rd_expenses": "R&D expenses, KZT", "products_count": "Products", "patents": "Patents",
           "priority_area": "Priority area (fintech, edtech, ...)"}
FINANCING = {"loans": "Loans, KZT", "investments": "Investments, KZT", "grants": "Grants, KZT",
             "own_funds": "Own funds, KZT", "foreign_investments": "Foreign investments, KZT"}
TAXES = {"tax_kpn": "Corporate income tax benefit (КПН), KZT", "tax_nds": "VAT benefit (НДС), KZT",
         "tax_ipn": "Individual income tax benefit (ИПН), KZT", "tax_sn": "Social tax benefit (СН), KZT",
         "tax_benefits_total": "All tax benefits, KZT"}
EMPLOYEES = {"employees_residents": "Resident employees", "employees_nonresidents": "Non-resident employees",
             "employees_gph": "People on civil-law (ГПХ) contracts", "employees_women": "Women employed",
             "average_salary": "Average salary, KZT"}
EXPORTS = {"export_revenue": "Export revenue, KZT",
           "export_countries": "Countries in export_by_country (NULL when the array is malformed or absent)",
           "export_by_country_valid": "Whether export_by_country is a well-formed array"}
BY_COUNTRY = {"position": "Position in the report's export_by_country array", "country": "Country",
              "amount": "Export to the country, KZT"}

TECHPARK_MARTS = [
    _mart("general_indicators", "Techpark participants' reports: revenue, income, expenses, R&D, products.",
          _per_report(list(GENERAL)), GENERAL),
    _mart("financing", "Techpark participants' reports: loans, investments, grants.", _per_report(list(FINANCING)), FINANCING),
    _mart("tax_benefits", "Techpark participants' reports: tax benefits (КПН, НДС, ИПН, СН).",
          _per_report(list(TAXES)), TAXES),
    _mart("employees", "Techpark participants' reports: residents, non-residents, ГПХ contracts.",
          _per_report(list(EMPLOYEES)), EMPLOYEES),
    _mart("exports", "Techpark participants' reports: export revenue.", exports, EXPORTS),
    _mart("export_by_country", "One row per report and country of its export_by_country array (malformed arrays give none).",
          export_by_country, BY_COUNTRY, key=("report_id", "position")),
]


def dq_metrics(silver: Silver, mask_from_year: int) -> pl.LazyFrame:
    """The techpark quality figures: fill rates, masking (against the BIN mask's first year, as
    configured), certificates, malformed input."""
    reports = certified_reports(silver).select("report_id", "report_year", "bin", "certificate_number",
                                                "certificate_source", "dq_signed_xml_malformed",
                                                "dq_export_by_country_malformed")
    published = silver["techpark/general_indicators"].select("report_id", pl.col("bin").alias("_published_bin"))
    joined = reports.join(published, on="report_id", how="left")
    recent = (pl.col("report_year") >= mask_from_year) | pl.col("report_year").is_null()
    with_bin = pl.col("bin").is_not_null()
    masked = pl.col("_published_bin") != pl.col("bin")
    every = pl.col("report_id").is_not_null()

    def rate(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
        return pl.when(denominator.sum() > 0).then(numerator.sum() / denominator.sum())

    figures = joined.select(
        pl.len().cast(pl.Float64).alias("reports"),
        rate(with_bin, every).alias("bin_fill_rate"),
        rate(pl.col("certificate_number").is_not_null(), every).alias("certificate_fill_rate"),
        rate(recent & with_bin & masked.fill_null(False), recent & with_bin).alias("masking_rate_masked_years"),
        rate(~recent & with_bin & masked.fill_null(False), ~recent & with_bin).alias("masking_rate_unmasked_years"),
        pl.col("certificate_number").is_null().sum().cast(pl.Float64).alias("reports_without_certificate"),
        *[(pl.col("certificate_source") == level).sum().cast(pl.Float64).alias(f"certificate_from_{level}")
          for level in ("report", "participant", "request")],
        pl.col("dq_signed_xml_malformed").sum().cast(pl.Float64).alias("malformed_signed_xml"),
        pl.col("dq_export_by_country_malformed").sum().cast(pl.Float64).alias("malformed_export_arrays"),
    )
    return figures.unpivot(variable_name="metric", value_name="value").with_columns(
        pl.col("metric").replace_strict(METRICS, return_dtype=pl.String).alias("description"))


METRICS = {
    "reports": "Live reports",
    "bin_fill_rate": "Share of reports with a BIN (the report's or the signed XML's)",
    "certificate_fill_rate": "Share of reports with a certificate after the three-level fallback",
    "masking_rate_masked_years": "Share of reports of the masked years (from the BIN mask's first year, "
                                 "$TECHHUB_BIN_MASK_FROM_YEAR) with a BIN whose BIN is masked in gold (must be 1)",
    "masking_rate_unmasked_years": "Share of earlier reports with a BIN whose BIN is masked in gold (must be 0)",
    "reports_without_certificate": "Reports with no certificate at any level",
    "certificate_from_report": "Certificates taken from the report itself",
    "certificate_from_participant": "Certificates taken from techpark_participants",
    "certificate_from_request": "Certificates taken from the company's latest techpark request",
    "malformed_signed_xml": "Reports whose signed_xml does not parse",
    "malformed_export_arrays": "Reports whose export_by_country is present but not a well-formed array",
}

DQ_METRICS = MartSpec(
    name="dq_metrics", description="Data-quality figures of the techpark marts, recomputed at each run.",
    inputs=(*INPUTS, "techpark/general_indicators"), key=("metric",), build=dq_metrics, needs_mask_year=True,
    columns={"metric": "Figure", "value": "Its value now", "description": "What it measures"},
    domain=DOMAIN, metrics=True)
