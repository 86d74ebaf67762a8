"""Per-table silver transforms: what each TechHub table's JSON and texts become in silver (skills,
goals, tags, contact details, names), with their quality flags. Each is a plain function of a
polars frame and the silver table's current columns (no I/O); ``TABLE_TRANSFORMS`` maps a table to
its own."""

from __future__ import annotations

import re
from collections.abc import Callable

import polars as pl

from techhub_lake.silver.transforms.json_fields import (
    json_bool,
    json_object_array_length,
    json_string_list,
    json_text,
    missing,
    wrong_type,
)
from techhub_lake.silver.transforms.multilingual import LANGUAGES, first_present

Transform = Callable[[pl.DataFrame, set[str]], pl.DataFrame]


def slug(name: str) -> str:
    """A column-name-safe form of a JSON value or key: ``"Networking 2.0"`` -> ``networking_2_0``."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_") or "empty"


def _slug_expr(value: pl.Expr) -> pl.Expr:
    """:func:`slug` as an expression."""
    cleaned = value.str.to_lowercase().str.replace_all(r"[^0-9a-z]+", "_").str.strip_chars("_")
    return pl.when(cleaned == "").then(pl.lit("empty")).otherwise(cleaned)


def _has_text(column: str) -> pl.Expr:
    return pl.col(column).is_not_null() & (pl.col(column).str.strip_chars() != "")


def _keys_seen(frame: pl.DataFrame, column: str) -> set[str]:
    """Top-level keys appearing in a column of flat JSON objects."""
    found = frame.select(pl.col(column).str.extract_all(r'"([^"\\]+)"\s*:').explode().drop_nulls())
    return {m.split('"')[1] for m in found.to_series().unique().to_list()}


def _flag_columns(column: str, key: str, value: pl.Expr) -> list[pl.Expr]:
    path = f"$.{key}"
    return [missing(column, path).alias(f"dq_{column}_{slug(key)}_missing"),
            wrong_type(column, path, value).alias(f"dq_{column}_{slug(key)}_invalid")]


def _object_keys_as_columns(frame: pl.DataFrame, column: str, known: set[str]) -> pl.DataFrame:
    """Each key of a flat JSON object as a boolean column ``<column>_<key>`` (non-booleans: NULL, flagged)."""
    keys = _keys_seen(frame, column) | {c.removeprefix(f"{column}_") for c in known if c.startswith(f"{column}_")
                                        and not c.startswith(f"{column}_json")}
    columns = []
    for key in sorted(keys):
        value = json_bool(column, f"$.{key}")
        columns += [value.alias(f"{column}_{slug(key)}"),
                    wrong_type(column, f"$.{key}", value).alias(f"dq_{column}_{slug(key)}_invalid")]
    return frame.with_columns(columns) if columns else frame


SKILL_LISTS = ("hard_skills", "soft_skills", "extra_courses")  # arrays of names in account_user.data
EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def account_user(frame: pl.DataFrame, known: set[str]) -> pl.DataFrame:
    """Profile JSON unpacked (goals, auth flow, skills), tags and permissions as columns, email and
    phone cleaned and flagged (the data-lake plan's ``clean_account_user``)."""
    goals = json_string_list("data", "$.goals")
    auth_flow = json_text("data", "$.auth_flow.type")
    # an address is kept trimmed and lower-cased when it has the shape local@domain.tld; anything
    # else (a name, a phone number, "n/a") becomes NULL and is flagged
    email = pl.col("email").str.strip_chars().str.to_lowercase()
    email_valid = email.str.contains(EMAIL_SHAPE).fill_null(False)
    frame = frame.with_columns(
        goals.alias("goals"),
        auth_flow.alias("auth_flow_type"),
        *[json_string_list("data", f"$.{key}").alias(key) for key in SKILL_LISTS],
        *[wrong_type("data", f"$.{key}", json_string_list("data", f"$.{key}")).alias(f"dq_data_{key}_invalid")
          for key in SKILL_LISTS],
        pl.when(email_valid).then(email).alias("email_clean"),
        (_has_text("email") & ~email_valid).alias("dq_email_invalid"),
        _has_text("email").alias("dq_has_email"),
        _has_text("phone").alias("dq_has_phone"),
        *_flag_columns("data", "goals", goals),
        *_flag_columns("data", "auth_flow.type", auth_flow),
    ).with_columns((pl.col("dq_has_email") & pl.col("dq_has_phone")).alias("dq_profile_complete"))
    slugs = pl.col("goals").list.eval(_slug_expr(pl.element()))
    seen = set(frame.select(slugs.explode().drop_nulls().unique()).to_series().to_list())
    keys = seen | {c.removeprefix("goal_") for c in known if c.startswith("goal_")}
    frame = frame.with_columns([slugs.list.contains(key).alias(f"goal_{key}") for key in sorted(keys)])
    frame = _object_keys_as_columns(frame, "tags", known)
    return _object_keys_as_columns(frame, "permissions", known)


def account_company(frame: pl.DataFrame, known: set[str]) -> pl.DataFrame:
    """TIN validated, company type cleaned (the data-lake plan's ``clean_account_company``), the basic-info
    tag and the startup / IT-company statuses as columns, missing bank details flagged."""
    # The TIN (BIN) is kept only when it is 12 digits (spaces around it dropped); anything else
    # (empty, 11 digits, letters) becomes NULL, flagged, and stays as the source had it in tin_raw.
    trimmed = pl.col("tin").str.strip_chars()
    tin_valid = trimmed.str.contains(r"^\d{12}$").fill_null(False)
    company_tag = json_text("basic_info", "$.company_tag")
    return frame.with_columns(
        pl.col("tin").alias("tin_raw"),
        pl.when(tin_valid).then(trimmed).alias("tin"),
        tin_valid.alias("tin_valid"),
        (pl.col("tin").is_not_null() & ~tin_valid).alias("dq_tin_invalid"),
        pl.when(pl.col("company_type").str.strip_chars().fill_null("") == "").then(pl.lit("unknown"))
        .otherwise(pl.col("company_type").str.strip_chars()).alias("company_type_clean"),
        company_tag.alias("company_tag"),
        json_text("tag_startup", "$.status").alias("startup_status"),
        json_text("tag_it_company", "$.status").alias("it_company_status"),
        (pl.col("verified") & (pl.col("bank").is_null() | pl.col("iik").is_null() | pl.col("bik").is_null()))
        .alias("dq_verified_without_bank_details"),
        wrong_type("basic_info", "$.company_tag", company_tag).alias("dq_basic_info_company_tag_invalid"),
    )


def core_event(frame: pl.DataFrame, known: set[str]) -> pl.DataFrame:
    """Contact details unpacked."""
    columns = []
    for key in ("email", "phone", "full_name"):
        value = json_text("contact_info", f"$.{key}")
        columns += [value.alias(f"contact_{key}"),
                    wrong_type("contact_info", f"$.{key}", value).alias(f"dq_contact_info_{key}_invalid")]
    return frame.with_columns(columns)


def core_vacancy(frame: pl.DataFrame, known: set[str]) -> pl.DataFrame:
    """``salary_valid``: both bounds set and min <= max (the data-lake plan's data-quality rule)."""
    valid = pl.col("salary_min").is_not_null() & pl.col("salary_max").is_not_null() & \
        (pl.col("salary_min") <= pl.col("salary_max"))
    return frame.with_columns(
        valid.alias("salary_valid"),
        (pl.col("salary_min") > pl.col("salary_max")).fill_null(False).alias("dq_salary_min_above_max"),
    )


def service_servicerequest(frame: pl.DataFrame, known: set[str]) -> pl.DataFrame:
    """Signature count, rejection detail, and the certificate of ``techpark`` requests."""
    signatures = json_object_array_length("data", "$.signatures")
    techpark = pl.col("service_id") == "techpark"
    return frame.with_columns(
        signatures.alias("signature_count"),
        json_text("data", "$.reject_detail").alias("reject_detail"),
        *[pl.when(techpark).then(json_text("data", f"$.{key}")).alias(key)
          for key in ("certificate_number", "certificate_issue_date", "certificate_end_date")],
        wrong_type("data", "$.signatures", signatures).alias("dq_data_signatures_invalid"),
    )


def service_service(frame: pl.DataFrame, known: set[str]) -> pl.DataFrame:
    """The service name, ru -> kk -> en, or the plain string when ``data.name`` is not an object."""
    per_language = [json_text("data", f"$.name.{lang}").alias(f"name_{lang}") for lang in LANGUAGES]
    plain = json_text("data", "$.name")
    return frame.with_columns(per_language).with_columns(
        pl.coalesce(first_present(*(pl.col(f"name_{lang}") for lang in LANGUAGES)), plain).alias("name"),
        missing("data", "$.name").alias("dq_data_name_missing"),
    )


TABLE_TRANSFORMS: dict[str, Transform] = {
    "account_user": account_user,
    "account_company": account_company,
    "core_event": core_event,
    "core_vacancy": core_vacancy,
    "service_servicerequest": service_servicerequest,
    "service_service": service_service,
}
