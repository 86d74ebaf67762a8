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

from techhub_lake.silver.stream_changes import LOGGED_COMMIT_LSN, LOGGED_COMMIT_TS, LOGGED_LSN, LOGGED_OP

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

    @property
    def source_columns(self) -> list[str]:
        """The columns of the silver table the dimension reads (not its JSON and texts)."""
        return list(dict.fromkeys([self.business_key, *self.tracked, self.created_at,
                                   *([self.changed_at] if self.changed_at else [])]))


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
    # both sides are sorted on the join columns just above; polars cannot verify that per `by` group
    matched = facts.sort(at).join_asof(versions, left_on=at, right_on=VALID_FROM, by=fact_key, strategy="backward",
                                       check_sortedness=False)
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


def scd2_apply_changes(changes: pl.DataFrame, dimension: pl.DataFrame | None,
                       spec: DimensionSpec) -> tuple[pl.DataFrame, Scd2Counts]:
    """The dimension after a captured table's committed changes (changelog rows: the silver columns
    with ``_op``, ``_lsn``, ``_commit_lsn``, ``_commit_ts``): one version per committed change of
    the tracked attributes, valid from its commit time; a delete closes the open version, a key
    inserted again opens a new one. A transaction's last change of a key is the one that counts;
    a change that leaves the tracked attributes as they were opens nothing."""
    utc = pl.Datetime("us", "UTC")
    key = spec.key_name
    dimension = dimension if dimension is not None else empty_dimension(spec, changes)
    if SOURCE_CHANGED_AT not in dimension.columns:
        dimension = dimension.with_columns(pl.lit(None, utc).alias(SOURCE_CHANGED_AT))
    changed_at = pl.col(spec.changed_at).cast(utc) if spec.changed_at else pl.lit(None, utc)
    gone = pl.col(LOGGED_OP) == "delete"
    events = (
        changes.sort(LOGGED_COMMIT_LSN, LOGGED_LSN)
        .unique([spec.business_key, LOGGED_COMMIT_LSN], keep="last", maintain_order=True)
        .select(pl.col(spec.business_key).alias(key), *spec.tracked, pl.col(LOGGED_COMMIT_TS).cast(utc).alias("_at"),
                gone.alias("_gone"), changed_at.alias("_changed"), pl.col(LOGGED_COMMIT_LSN).cast(pl.Int64).alias("_order"))
        .with_columns(pl.when(pl.col("_gone")).then(None).otherwise(_attr_hash(spec)).alias(ATTR_HASH))
    )
    open_rows = dimension.filter(pl.col(IS_CURRENT))
    base = open_rows.select(key, ATTR_HASH, pl.lit(False).alias("_gone"), pl.col(VALID_FROM).alias("_at"),
                            pl.lit(-1, pl.Int64).alias("_order"))
    sequence = pl.concat([base, events.select(base.columns)], how="vertical_relaxed").sort(key, "_order")
    # keep the events that change something: presence, or the tracked attributes while present
    previous_gone = pl.col("_gone").shift(1).over(key).fill_null(True)  # before the first: absent
    previous_hash = pl.col(ATTR_HASH).shift(1).over(key)
    moves = (pl.col("_gone") != previous_gone) | (~pl.col("_gone") & previous_hash.ne_missing(pl.col(ATTR_HASH)))
    sequence = sequence.filter((pl.col("_order") < 0) | moves)
    # validity strictly increasing per key whatever the commit clocks say
    start = pl.col("_at").cum_max().over(key)
    sequence = (sequence.with_columns(start.alias("_start"))
                .with_columns((pl.col("_start") + pl.duration(microseconds=pl.int_range(pl.len()).over([key, "_start"])))
                              .alias("_start"))
                .with_columns(pl.col("_start").shift(-1).over(key).alias("_next"),
                              pl.col("_gone").shift(-1).over(key).alias("_next_gone")))
    followed = sequence.filter((pl.col("_order") < 0) & pl.col("_next").is_not_null()).select(key, "_next", "_next_gone")
    closed_now = (open_rows.join(followed, on=key, how="inner")
                  .with_columns(pl.col("_next").alias(VALID_TO), pl.lit(False).alias(IS_CURRENT)))
    untouched = open_rows.join(followed, on=key, how="anti")
    opening = (sequence.filter((pl.col("_order") >= 0) & ~pl.col("_gone")).select(key, "_order", "_start", "_next")
               .join(events.select(key, "_order", *spec.tracked, ATTR_HASH, "_changed"), on=[key, "_order"], how="left")
               .select(key, *spec.tracked, pl.col("_start").alias(VALID_FROM), pl.col("_next").alias(VALID_TO),
                       pl.col("_next").is_null().alias(IS_CURRENT), ATTR_HASH, pl.col("_changed").alias(SOURCE_CHANGED_AT))
               .with_columns(_surrogate(spec)).select(dimension.columns))
    result = pl.concat([dimension.filter(~pl.col(IS_CURRENT)), untouched.select(dimension.columns),
                        closed_now.select(dimension.columns), opening], how="vertical_relaxed").sort([key, VALID_FROM])
    counts = Scd2Counts(opening.height, closed_now.filter(~pl.col("_next_gone")).height,
                        closed_now.filter(pl.col("_next_gone")).height, result.height,
                        result.filter(pl.col(IS_CURRENT)).height)
    return result, counts
