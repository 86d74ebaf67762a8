"""The five TechHub marts (the data-lake plan's gold layer), as lazy polars queries over silver current state.

The data-lake plan's SQL joins several one-to-many tables at once and then counts, so its figures fan out;
here every count is taken on its own table, grouped by the key it counts for, and joined on after
(one row per key on both sides, so nothing multiplies). A mart is declared once as a
:class:`MartSpec`: its inputs (silver current-state tables, which are also its asset
dependencies), its key, the query, and a description of every column for the UI.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import polars as pl

Silver = Mapping[str, pl.LazyFrame]  # catalog table name -> its silver current state

FUNNEL = "dm_service_funnel"  # the monthly-partitioned mart

FUNNEL_STAGES = {
    "draft": ("draft",),
    "sent": ("sent",),
    "approved": ("approved",),
    "success": ("success",),
    "rejected": ("reject", "rejected"),
    "signed": ("signed",),
}


@dataclass(frozen=True)
class MartSpec:
    """One gold mart: what it reads, what identifies a row, how it is computed, what each column means.

    ``inputs`` are lake tables by name: a catalog table (its silver current state) or a derived
    table the gold store knows (``service_report_v2``, ``techpark_participants``, a mart)."""

    name: str
    description: str
    inputs: tuple[str, ...]
    key: tuple[str, ...]
    build: Callable[[Silver], pl.LazyFrame]
    columns: dict[str, str]
    monthly: bool = False  # partitioned by calendar month of `month` (the funnel)
    domain: str = "techhub"  # gold/<domain>/<name>
    masked: tuple[str, str] | None = None  # (BIN column, report-year column) masked by the BinMask resource
    needs_mask_year: bool = False  # build takes the BinMask resource's first masked year as a second argument
    metrics: bool = False  # rows are (metric, value): each value also goes into the metadata


def _count_by(frame: pl.LazyFrame, by: str, counted: str, name: str, where: pl.Expr | None = None) -> pl.LazyFrame:
    """Distinct non-null ``counted`` values per non-null ``by`` value, as ``name``."""
    rows = frame if where is None else frame.filter(where)
    return (rows.filter(pl.col(by).is_not_null() & pl.col(counted).is_not_null())
            .group_by(by).agg(pl.col(counted).n_unique().cast(pl.Int64).alias(name)))


def _with_counts(base: pl.LazyFrame, key: str, counts: list[tuple[pl.LazyFrame, str]]) -> pl.LazyFrame:
    """Join per-key counts onto ``base`` (0 where a key has none)."""
    for frame, name in counts:
        base = base.join(frame.rename({frame.collect_schema().names()[0]: key}), on=key, how="left")
        base = base.with_columns(pl.col(name).fill_null(0))
    return base


def _clear_dangling(frame: pl.LazyFrame, column: str, target: pl.LazyFrame, target_key: str = "id") -> pl.LazyFrame:
    """Set ``column`` to NULL where it no longer points at a live row of ``target``.

    The source's foreign keys are ``ON DELETE SET NULL``; that UPDATE does not move ``updated_at``,
    so silver still holds the old reference until the nightly reconciliation. A reference to a row
    that no longer exists can only be one of those, so it reads as NULL, as in the source.
    """
    alive = target.select(pl.col(target_key).alias(column), pl.lit(True).alias("_alive")).unique()
    return (frame.join(alive, on=column, how="left")
            .with_columns(pl.when(pl.col("_alive")).then(pl.col(column)).alias(column)).drop("_alive"))


def dm_users(silver: Silver) -> pl.LazyFrame:
    users = _clear_dangling(silver["account_user"], "company_id", silver["account_company"])
    companies = silver["account_company"].select(pl.col("id").alias("company_id"), pl.col("name").alias("primary_company_name"))
    base = users.join(companies, on="company_id", how="left").select(
        pl.col("id").alias("user_id"),
        pl.col("email_clean").replace("", None).alias("email"),
        "first_name", "last_name", "role", "is_active",
        pl.col("created_at").alias("registered_at"),
        "goals",
        pl.col("company_id").alias("primary_company_id"),
        "primary_company_name",
    )
    return _with_counts(base, "user_id", [
        (_count_by(silver["account_usercompany"], "user_id", "company_id", "companies_count"), "companies_count"),
        (_count_by(silver["service_servicerequest"], "author_id", "id", "service_requests_count"), "service_requests_count"),
        (_count_by(silver["core_eventparticipant"], "author_id", "event_id", "events_attended"), "events_attended"),
    ])


def dm_companies(silver: Silver) -> pl.LazyFrame:
    requests = silver["service_servicerequest"]
    base = silver["account_company"].select(
        pl.col("id").alias("company_id"), "tin", "name", "company_type", "status", "verified", "created_at",
        "startup_status", "it_company_status",
    )
    return _with_counts(base, "company_id", [
        (_count_by(silver["account_usercompany"], "company_id", "user_id", "employees_count"), "employees_count"),
        (_count_by(silver["core_event"], "company_id", "id", "events_count"), "events_count"),
        (_count_by(silver["core_vacancy"], "company_id", "id", "vacancies_count"), "vacancies_count"),
        (_count_by(requests, "company_id", "id", "service_requests_count"), "service_requests_count"),
        (_count_by(requests, "company_id", "id", "successful_requests", pl.col("status") == "success"),
         "successful_requests"),
    ])


def request_month(timezone: str) -> pl.Expr:
    """The calendar month of a request's ``created_at`` in the lake's time zone, as its first day."""
    return pl.col("created_at").dt.convert_time_zone(timezone).dt.truncate("1mo").dt.date().alias("month")


def service_funnel(silver: Silver, timezone: str) -> pl.LazyFrame:
    """Requests per service and month of creation, by status (``other``: any status not named)."""
    named = [status for statuses in FUNNEL_STAGES.values() for status in statuses]
    services = silver["service_service"].select(pl.col("code").alias("service_code"), pl.col("name").alias("service_name"))
    return (
        silver["service_servicerequest"]
        .with_columns(request_month(timezone), pl.col("service_id").alias("service_code"))
        .group_by("service_code", "month")
        .agg(
            pl.len().cast(pl.Int64).alias("total_requests"),
            *[pl.col("status").is_in(statuses).sum().cast(pl.Int64).alias(stage) for stage, statuses in FUNNEL_STAGES.items()],
            (~pl.col("status").is_in(named).fill_null(False)).sum().cast(pl.Int64).alias("other"),
        )
        .join(services, on="service_code", how="left")
        .select("service_code", "service_name", "month", "total_requests", *FUNNEL_STAGES, "other")
    )


def dm_events_analytics(silver: Silver) -> pl.LazyFrame:
    companies = silver["account_company"].select(pl.col("id").alias("company_id"), pl.col("name").alias("company_name"))
    organizations = silver["core_organization"].select(pl.col("code").alias("organization_id"),
                                                       pl.col("name").alias("organization_name"))
    base = (
        silver["core_event"]
        .join(companies, on="company_id", how="left")
        .join(organizations, on="organization_id", how="left")
        .select(pl.col("id").alias("event_id"), "title", "status", "event_type", "event_format", "datetime_start",
                "datetime_end", "published", "company_name", "organization_name", "view_count")
    )
    counted = _with_counts(base, "event_id", [
        (_count_by(silver["core_eventparticipant"], "event_id", "id", "participants_count"), "participants_count")])
    return counted.select(*[c for c in base.collect_schema().names() if c != "view_count"], "participants_count", "view_count")


def dm_vacancies_market(silver: Silver) -> pl.LazyFrame:
    companies = silver["account_company"].select(pl.col("id").alias("company_id"), pl.col("name").alias("company_name"),
                                                 pl.col("verified").alias("company_verified"))
    cities = silver["core_city"].select(pl.col("id").alias("city_id"), pl.col("name").alias("city_name"))
    base = (
        silver["core_vacancy"]
        .join(companies, on="company_id", how="left")
        .join(cities, on="city_id", how="left")
        .select(
            pl.col("id").alias("vacancy_id"), "title", "status", "vacancy_type", "salary_min", "salary_max",
            ((pl.col("salary_min").cast(pl.Float64) + pl.col("salary_max").cast(pl.Float64)) / 2).alias("salary_avg"),
            "company_name", "company_verified", "city_name", "created_at",
        )
    )
    return _with_counts(base, "vacancy_id", [
        (_count_by(silver["core_vacancycandidate"], "vacancy_id", "id", "candidates_count"), "candidates_count")])


USERS = MartSpec(
    name="dm_users",
    description="One row per user: profile, primary company and how many companies, requests and events they have.",
    inputs=("account_user", "account_company", "account_usercompany", "service_servicerequest", "core_eventparticipant"),
    key=("user_id",),
    build=dm_users,
    columns={
        "user_id": "account_user.id",
        "email": "E-mail trimmed and lower-cased; NULL when absent or not an address (about 39% of users)",
        "first_name": "First name",
        "last_name": "Last name",
        "role": "Platform role (user, mentor, ...)",
        "is_active": "Whether the account is active",
        "registered_at": "account_user.created_at (UTC)",
        "goals": "Goal names listed in data.goals; NULL when data.goals is missing or not an array",
        "primary_company_id": "account_user.company_id (NULL for individuals)",
        "primary_company_name": "Name of the primary company",
        "companies_count": "Distinct companies the user belongs to (account_usercompany)",
        "service_requests_count": "Distinct service requests the user authored",
        "events_attended": "Distinct events with a participant row authored by the user",
    },
)

COMPANIES = MartSpec(
    name="dm_companies",
    description="One row per company: identity, tag statuses, and its employees, events, vacancies and requests.",
    inputs=("account_company", "account_usercompany", "core_event", "core_vacancy", "service_servicerequest"),
    key=("company_id",),
    build=dm_companies,
    columns={
        "company_id": "account_company.id",
        "tin": "Taxpayer number (BIN), 12 digits when valid; NULL for about 11%",
        "name": "Company name",
        "company_type": "Company type as the source has it ('' and NULL occur)",
        "status": "Company status",
        "verified": "Whether the company is verified",
        "created_at": "account_company.created_at (UTC)",
        "startup_status": "tag_startup.status",
        "it_company_status": "tag_it_company.status",
        "employees_count": "Distinct users in account_usercompany",
        "events_count": "Events the company organizes",
        "vacancies_count": "Vacancies the company posted",
        "service_requests_count": "Distinct service requests filed for the company",
        "successful_requests": "Distinct service requests of the company with status 'success'",
    },
)


def _funnel(timezone: str) -> MartSpec:
    return MartSpec(
        name=FUNNEL,
        description=("Service requests per service and month of creation (in the lake's time zone), by status; "
                     "partitioned by that month."),
        inputs=("service_servicerequest", "service_service"),
        key=("service_code", "month"),
        build=partial(service_funnel, timezone=timezone),
        columns={
            "service_code": "service_service.code",
            "service_name": "data.name: ru, else kk, else en, or the plain string when name is not an object",
            "month": f"First day of the month the requests were created in ({timezone})",
            "total_requests": "Requests created in the month",
            **{stage: f"Requests now in status {' or '.join(repr(s) for s in statuses)}"
               for stage, statuses in FUNNEL_STAGES.items()},
            "other": "Requests in any other status (or none)",
        },
        monthly=True,
    )


EVENTS = MartSpec(
    name="dm_events_analytics",
    description="One row per event: what, when, who organizes it, and how many take part.",
    inputs=("core_event", "core_eventparticipant", "account_company", "core_organization"),
    key=("event_id",),
    build=dm_events_analytics,
    columns={
        "event_id": "core_event.id",
        "title": "Title: ru, else kk, else en",
        "status": "Event status",
        "event_type": "Event type",
        "event_format": "Online / offline / hybrid",
        "datetime_start": "Start (UTC)",
        "datetime_end": "End (UTC)",
        "published": "Whether the event is published",
        "company_name": "Organizing company",
        "organization_name": "core_organization.name: ru, else kk, else en",
        "participants_count": "Participant rows of the event",
        "view_count": "Page views",
    },
)

VACANCIES = MartSpec(
    name="dm_vacancies_market",
    description="One row per vacancy: salary range and average, employer, city and candidates.",
    inputs=("core_vacancy", "account_company", "core_city", "core_vacancycandidate"),
    key=("vacancy_id",),
    build=dm_vacancies_market,
    columns={
        "vacancy_id": "core_vacancy.id",
        "title": "Title: ru, else kk, else en",
        "status": "Vacancy status",
        "vacancy_type": "Vacancy type",
        "salary_min": "Lower salary bound (NULL for about 45%)",
        "salary_max": "Upper salary bound (NULL for about 45%)",
        "salary_avg": "(salary_min + salary_max) / 2 when both are set, else NULL",
        "company_name": "Employer",
        "company_verified": "Whether the employer is verified",
        "city_name": "City",
        "created_at": "core_vacancy.created_at (UTC)",
        "candidates_count": "Candidate rows of the vacancy",
    },
)


def mart_specs(timezone: str) -> list[MartSpec]:
    """The five marts; the funnel's months are calendar months in ``timezone`` (the catalog's)."""
    return [USERS, COMPANIES, _funnel(timezone), EVENTS, VACANCIES]
