"""The six techpark marts (the techpark reporting plan) computed straight on the source PostgreSQL in plain SQL.

The contract: one row per live report; typed fields of ``data``; BIN = the report's own, else the
one in the signed XML's ``<BIN>`` element (no BIN from a document that is not well formed);
certificate = the report's, else the company's latest signed ``techpark`` request's, else the
company's latest ``techpark`` request of any status that has one; BIN masked for 2021 and later
(the default mask: all but the last four characters). ``export_by_country`` rows come only from
well-formed arrays of ``{country, amount}`` objects.

The embedded PostgreSQL is built without libxml (no ``xpath()``), so well-formedness is judged the
way the generator breaks documents: a report document that does not end with its closing root
element. The lake's side uses a real XML parser, and its unit tests cover other malformations.
"""

from __future__ import annotations

from techhub_lake.silver.techpark import REPORT_FIELDS
from techhub_lake_tests.gold.reference import text

NUMBER = r"^-?\d+(\.\d+)?$"


def typed(key: str) -> str:
    dtype = REPORT_FIELDS[key]
    value = text(f"r.data -> '{key}'")
    if dtype.is_integer():
        sql_type = "int4" if key == "report_year" else "int8"
        return f"(CASE WHEN {value} ~ '^-?\\d+$' THEN {value}::{sql_type} END)"
    if dtype.is_float():
        return f"(CASE WHEN {value} ~ '{NUMBER}' THEN {value}::float8 END)"
    return f"NULLIF({value}, '')"


EXPORT_VALID = f"""coalesce(jsonb_typeof(r.data -> 'export_by_country') = 'array' AND NOT EXISTS (
    SELECT 1 FROM jsonb_array_elements(r.data -> 'export_by_country') e
    WHERE NOT (jsonb_typeof(e) = 'object' AND coalesce({text("e -> 'country'")}, '') <> ''
               AND coalesce({text("e -> 'amount'")}, '') ~ '{NUMBER}')), false)"""

FIELDS = [k for k in REPORT_FIELDS if k not in ("bin", "certificate_number")]

CERTIFIED = f"""
WITH reports AS (
    SELECT r.id AS report_id, r.company_id, r.status,
           {", ".join(f"{typed(k)} AS {k}" for k in FIELDS)},
           {typed("bin")} AS report_bin,
           CASE WHEN r.signed_xml ~ '</Report>\\s*$'
                THEN NULLIF(btrim(substring(r.signed_xml FROM '<BIN>([^<]*)</BIN>')), '') END AS xml_bin,
           {typed("certificate_number")} AS report_certificate,
           {EXPORT_VALID} AS export_by_country_valid,
           r.data -> 'export_by_country' AS exports
    FROM service_report r
), participants AS (
    SELECT DISTINCT ON (q.company_id) q.company_id, NULLIF({text("q.data -> 'certificate_number'")}, '') AS certificate
    FROM service_servicerequest q JOIN account_company c ON c.id = q.company_id
    WHERE q.service_id = 'techpark' AND q.status = 'signed'
    ORDER BY q.company_id, q.created_at DESC, q.id DESC
), requests AS (
    SELECT DISTINCT ON (company_id) company_id, certificate
    FROM (SELECT company_id, created_at, id, {text("data -> 'certificate_number'")} AS certificate
          FROM service_servicerequest WHERE service_id = 'techpark' AND company_id IS NOT NULL) x
    WHERE certificate <> ''
    ORDER BY company_id, created_at DESC, id DESC
), certified AS (
    SELECT reports.*, coalesce(report_bin, xml_bin) AS raw_bin,
           coalesce(report_certificate, p.certificate, q.certificate) AS certificate_number,
           CASE WHEN report_certificate IS NOT NULL THEN 'report' WHEN p.certificate IS NOT NULL THEN 'participant'
                WHEN q.certificate IS NOT NULL THEN 'request' END AS certificate_source
    FROM reports LEFT JOIN participants p USING (company_id) LEFT JOIN requests q USING (company_id)
), published AS (
    SELECT certified.*,
           CASE WHEN raw_bin IS NULL OR (report_year IS NOT NULL AND report_year < 2021) THEN raw_bin
                WHEN length(raw_bin) > 4 THEN repeat('*', length(raw_bin) - 4) || right(raw_bin, 4)
                ELSE repeat('*', length(raw_bin)) END AS bin
    FROM certified
)
"""

COMMON = "report_id, company_id, company_name, report_year, report_period, status, bin, certificate_number, certificate_source"


def per_report(columns: str) -> str:
    return f"{CERTIFIED} SELECT {COMMON}, {columns} FROM published"


TECHPARK_SQL = {
    "general_indicators": per_report("revenue, income_total, expenses_total, rd_expenses, products_count, patents, priority_area"),
    "financing": per_report("loans, investments, grants, own_funds, foreign_investments"),
    "tax_benefits": per_report("tax_kpn, tax_nds, tax_ipn, tax_sn, tax_benefits_total"),
    "employees": per_report("employees_residents, employees_nonresidents, employees_gph, employees_women, average_salary"),
    "exports": per_report("export_revenue, CASE WHEN export_by_country_valid THEN jsonb_array_length(exports) END "
                          "AS export_countries, export_by_country_valid"),
    "export_by_country": f"""{CERTIFIED}
        SELECT {COMMON}, (e.n - 1)::int4 AS position, {text("e.value -> 'country'")} AS country,
               ({text("e.value -> 'amount'")})::float8 AS amount
        FROM published CROSS JOIN LATERAL jsonb_array_elements(exports) WITH ORDINALITY AS e(value, n)
        WHERE export_by_country_valid""",
}

# What the quality mart must report, counted on the source
MALFORMED_SQL = f"""
SELECT count(*) FILTER (WHERE r.signed_xml IS NOT NULL AND r.signed_xml !~ '</Report>\\s*$') AS malformed_signed_xml,
       count(*) FILTER (WHERE r.data ? 'export_by_country' AND jsonb_typeof(r.data -> 'export_by_country') <> 'null'
                        AND NOT {EXPORT_VALID}) AS malformed_export_arrays
FROM service_report r
"""
