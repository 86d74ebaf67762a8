"""How each synthetic TechHub table is filled: row counts at scale 1 and one set-based INSERT each.

Every INSERT selects from ``generate_series({lo}, {hi})`` so a big table is filled in chunks
(progress, and both cores busy); ids are explicit, so chunks may run in any order and the
result is the same. Randomness comes from the seeded helpers in ``sql/helpers.sql``
(``u``, ``ri``, ``pick``, ``created``, ``updated``, ``para``, ``ml``...). ``{n_<table>}`` is the
row count of a table at the requested scale; ``%(name)s`` parameters are word lists from
:mod:`techhub_lake.source.corpus`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

# Rows at scale 1: the real system (the figures of the TechHub data-lake plan, docs/requirements.md). Reference tables keep their
# size at every scale. Excluded tables are filled at a tenth of their real count: the lake
# never reads them, they exist to prove that it does not.
SCALE_1_ROWS = {
    "account_company": 6_600,
    "account_user": 54_000,
    "account_usercompany": 9_000,
    "account_activation": 30_000,
    "core_event": 1_400,
    "core_eventparticipant": 45_000,
    "core_vacancy": 1_200,
    "core_vacancycandidate": 15_000,
    "core_blog": 1_800,
    "core_techtask": 2_000,
    "core_comment": 20_000,
    "core_actionlog": 125_000,
    "service_hubform": 1_000,
    "service_servicerequest": 56_000,
    "service_servicerequestlog": 150_000,
    "service_hubformdata": 61_000,
    "service_report": 30_000,
    "booking_booking": 8_600,
    "booking_bookingstatus": 20_000,
    "techorda_school": 1_000,
    "techorda_course": 2_000,
    "techorda_flow": 5_000,
    "user_sessions_session": 290_000,
    "django_session": 5_000,
    "silk_request": 5_000,
    "silk_response": 5_000,
    "hub_cache_table": 2_000,
}
FIXED_ROWS = {
    "core_country": 1,
    "core_city": 16,
    "core_category": 14,
    "core_organization": 45,
    "booking_room": 16,
    "service_service": 310,
}

# Named services of the data-lake plan's "top services", with their share of requests.
TOP_SERVICES = [
    ("ast_startup_school", 0.12),
    ("mat_pass", 0.107),
    ("ast_nocode", 0.088),
    ("ast_BetaCareer2022", 0.055),
    ("techorda_graduate_v2", 0.05),
    ("techpark", 0.08),
]


def rows_at_scale(table: str, scale: float) -> int:
    """Row count of ``table`` at ``scale`` (reference tables are fixed)."""
    if table in FIXED_ROWS:
        return FIXED_ROWS[table]
    return max(1, round(SCALE_1_ROWS[table] * scale))


def sql_file(name: str) -> str:
    """The text of one of the package's SQL files (``source/sql/<name>``)."""
    return resources.files("techhub_lake.source").joinpath("sql").joinpath(name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class TableFill:
    """One table's INSERT (``sql/fill/<table>.sql``, run per chunk of row numbers ``{lo}..{hi}``) and
    the tables whose rows it reads (they must be filled first)."""

    name: str
    after: tuple[str, ...] = field(default=())
    chunks: int = 1

    @property
    def sql(self) -> str:
        return sql_file(f"fill/{self.name}.sql")


# Order matters only where a fill reads another table's rows (`after`); the biggest tables are
# listed first so the two workers finish together.
TABLE_FILLS = [
    TableFill("core_actionlog", chunks=16),
    TableFill("service_hubformdata", chunks=10),
    TableFill("core_blog", chunks=6),
    TableFill("account_user", chunks=8),
    TableFill("service_servicerequest", after=("service_service",), chunks=8),
    TableFill("account_company", chunks=2),
    TableFill("service_report", after=("account_company",), chunks=6),
    TableFill("user_sessions_session", chunks=4),
    TableFill("core_event", chunks=2),
    TableFill("core_vacancy"),
    TableFill("service_servicerequestlog", after=("service_servicerequest",), chunks=2),
    TableFill("core_eventparticipant"),
    TableFill("account_activation"),
    TableFill("core_comment"),
    TableFill("core_vacancycandidate"),
    TableFill("account_usercompany"),
    TableFill("booking_booking"),
    TableFill("booking_bookingstatus", after=("booking_booking",)),
    TableFill("core_techtask"),
    TableFill("service_hubform"),
    TableFill("service_service"),
    TableFill("core_organization"),
    TableFill("core_category"),
    TableFill("core_city"),
    TableFill("core_country"),
    TableFill("booking_room"),
    TableFill("techorda_school"),
    TableFill("techorda_course"),
    TableFill("techorda_flow"),
    TableFill("django_session"),
    TableFill("silk_request"),
    TableFill("silk_response"),
    TableFill("hub_cache_table"),
]
