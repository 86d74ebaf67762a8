"""Slowly changing dimensions (type 2) and the requests fact (the data-lake plan's lineage: dim_user,
dim_company, dim_service -> fact_requests).

A dimension keeps every version of an entity's tracked attributes: a change closes the current
version (``valid_to``) and opens a new one; an unchanged entity creates nothing, so re-processing
the same input is a no-op; an entity deleted in the source has its current version closed. These
are plain functions of polars frames; the assets around them read and write Delta.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

VALID_FROM, VALID_TO, IS_CURRENT, ATTR_HASH = "valid_from", "valid_to", "is_current", "attr_hash"
# the source's change time (updated_at) the version was seen with; NULL where the source has none
SOURCE_CHANGED_AT = "source_changed_at"


@dataclass(frozen=True)
class DimensionSpec:
    """Which silver table a dimension follows, its business key and tracked attributes."""

    name: str
    source_table: str
    business_key: str
    key_name: str  # the business key's name in the dimension (user_id, company_id, service_code)
    tracked: tuple[str, ...]
    changed_at: str | None  # the source's change time; None: processing time
    created_at: str

    @property
    def surrogate_key(self) -> str:
        return f"{self.name.removeprefix('dim_')}_sk"


DIMENSIONS = [
    DimensionSpec("dim_user", "account_user", "id", "user_id",
                  ("email_clean", "first_name", "last_name", "role", "is_active", "company_id"), "updated_at", "created_at"),
    DimensionSpec("dim_company", "account_company", "id", "company_id",
                  ("name", "tin", "company_type_clean", "status", "verified"), "updated_at", "created_at"),
    DimensionSpec("dim_service", "service_service", "code", "service_code", ("name", "is_active"), None, "created_at"),
]


def _attr_hash(spec: DimensionSpec) -> pl.Expr:
    return pl.struct(list(spec.tracked)).hash(seed=0).reinterpret(signed=True).alias(ATTR_HASH)


def _surrogate(spec: DimensionSpec) -> pl.Expr:
    return pl.struct(spec.key_name, VALID_FROM).hash(seed=1).reinterpret(signed=True).alias(spec.surrogate_key)


def empty_dimension(spec: DimensionSpec, current: pl.DataFrame) -> pl.DataFrame:
    """A dimension with no versions yet, typed after the current-state table."""
    return pl.DataFrame(schema={
        spec.surrogate_key: pl.Int64, spec.key_name: current.schema[spec.business_key],
        **{c: current.schema[c] for c in spec.tracked},
        VALID_FROM: pl.Datetime("us", "UTC"), VALID_TO: pl.Datetime("us", "UTC"), IS_CURRENT: pl.Boolean,
        ATTR_HASH: pl.Int64, SOURCE_CHANGED_AT: pl.Datetime("us", "UTC"),
    })


@dataclass(frozen=True)
class Scd2Counts:
    """What one update of a dimension did."""

    opened: int
    closed_changed: int
    closed_deleted: int
    versions: int
    current: int


def scd2_update(current: pl.DataFrame, dimension: pl.DataFrame | None, spec: DimensionSpec,
                now: dt.datetime) -> tuple[pl.DataFrame, Scd2Counts]:
    """The dimension after comparing it with the entities' current state."""
    dimension = dimension if dimension is not None else empty_dimension(spec, current)
    if SOURCE_CHANGED_AT not in dimension.columns:  # written before the column existed
        dimension = dimension.with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias(SOURCE_CHANGED_AT))
    changed_at = pl.col(spec.changed_at) if spec.changed_at else pl.lit(None, pl.Datetime("us", "UTC"))
    entities = current.select(
        pl.col(spec.business_key).alias(spec.key_name), *spec.tracked,
        pl.col(spec.created_at).cast(pl.Datetime("us", "UTC")).alias("_created"),
        changed_at.cast(pl.Datetime("us", "UTC")).alias("_changed"),
    ).with_columns(_attr_hash(spec))
    open_rows = dimension.filter(pl.col(IS_CURRENT))
    closed_rows = dimension.filter(~pl.col(IS_CURRENT))
    joined = open_rows.join(entities.select(spec.key_name, ATTR_HASH, "_changed"), on=spec.key_name, how="left",
                            suffix="_now")
    unchanged = joined.filter(pl.col(f"{ATTR_HASH}_now") == pl.col(ATTR_HASH))
    changed = joined.filter(pl.col(f"{ATTR_HASH}_now").is_not_null() & (pl.col(f"{ATTR_HASH}_now") != pl.col(ATTR_HASH)))
    deleted = joined.filter(pl.col(f"{ATTR_HASH}_now").is_null())

    # A change closes the open version at its change time, when the source moved it past the version's
    # own. A change observed without a newer change time (Django's QuerySet.update(), an ON DELETE SET
    # NULL cascade, a table without updated_at) happened after the version began and by the time it
    # was observed: it closes at ``now``. Versions of a key so get strictly increasing validity (no
    # zero-length version), and (key, valid_from), hence the surrogate key, is unique by construction.
    observed = pl.lit(now, pl.Datetime("us", "UTC"))
    moved = (pl.col("_changed") > pl.col(VALID_FROM)) & (
        pl.col(SOURCE_CHANGED_AT).is_null() | (pl.col("_changed") > pl.col(SOURCE_CHANGED_AT)))
    change_time = (
        pl.when(moved).then(pl.col("_changed"))
        .when(observed > pl.col(VALID_FROM)).then(observed)
        .otherwise(pl.col(VALID_FROM) + pl.duration(microseconds=1))  # a source clock ahead of ours
    )
    closed_now = pl.concat([
        changed.with_columns(change_time.alias(VALID_TO), pl.lit(False).alias(IS_CURRENT)),
        deleted.with_columns(pl.lit(now, pl.Datetime("us", "UTC")).alias(VALID_TO), pl.lit(False).alias(IS_CURRENT)),
    ]).select(dimension.columns)
    reopened = changed.select(spec.key_name, change_time.alias(VALID_FROM))
    known = set(open_rows[spec.key_name].to_list())
    new_entities = entities.filter(~pl.col(spec.key_name).is_in(list(known))).select(
        spec.key_name, pl.col("_created").alias(VALID_FROM))
    opening = entities.join(pl.concat([reopened, new_entities]), on=spec.key_name, how="inner").select(
        spec.key_name, *spec.tracked, VALID_FROM,
        pl.lit(None, pl.Datetime("us", "UTC")).alias(VALID_TO), pl.lit(True).alias(IS_CURRENT), ATTR_HASH,
        pl.col("_changed").alias(SOURCE_CHANGED_AT),
    ).with_columns(_surrogate(spec)).select(dimension.columns)
    result = pl.concat([closed_rows, unchanged.select(dimension.columns), closed_now, opening]).sort(
        [spec.key_name, VALID_FROM])
    counts = Scd2Counts(opening.height, changed.height, deleted.height, result.height,
                        result.filter(pl.col(IS_CURRENT)).height)
    return result, counts


def version_at(facts: pl.DataFrame, dimension: pl.DataFrame, spec: DimensionSpec, fact_key: str,
               at: str) -> pl.DataFrame:
    """``facts`` with the surrogate key of the dimension version valid at each fact's ``at`` time."""
    versions = dimension.select(
        pl.col(spec.key_name).alias(fact_key), VALID_FROM, VALID_TO, spec.surrogate_key).sort(VALID_FROM)
    matched = facts.sort(at).join_asof(versions, left_on=at, right_on=VALID_FROM, by=fact_key, strategy="backward")
    valid = pl.col(VALID_TO).is_null() | (pl.col(at) < pl.col(VALID_TO))
    return matched.with_columns(pl.when(valid).then(pl.col(spec.surrogate_key)).alias(spec.surrogate_key)) \
        .drop(VALID_FROM, VALID_TO)


FACT_REQUEST_COLUMNS = ("id", "service_id", "author_id", "company_id", "status", "signature_count", "created_at",
                        "updated_at")


def fact_requests(requests: pl.DataFrame, dims: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per service request with the user, company and service versions valid when it was created."""
    by_name = {spec.name: spec for spec in DIMENSIONS}
    facts = requests.select(pl.col("id").alias("request_id"), *FACT_REQUEST_COLUMNS[1:])
    facts = version_at(facts, dims["dim_user"], by_name["dim_user"], "author_id", "created_at")
    facts = version_at(facts, dims["dim_company"], by_name["dim_company"], "company_id", "created_at")
    facts = version_at(facts, dims["dim_service"], by_name["dim_service"], "service_id", "created_at")
    return facts.sort("request_id")
