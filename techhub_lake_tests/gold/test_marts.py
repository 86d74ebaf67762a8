"""The gold marts' queries on small hand-made silver frames (fan-out, dangling references, the funnel's
months), their asset specs, and a clear failure when silver is missing."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl

from techhub_lake.catalog import load_catalog
from techhub_lake.definitions import build_definitions
from techhub_lake.gold.funnel import (
    FINGERPRINT,
    contiguous_ranges,
    monthly_partitions,
    months_to_refresh,
    owned_months,
)
from techhub_lake.gold.marts import dm_companies, dm_users, mart_specs, service_funnel
from techhub_lake.resources import LakeStorage, SourceDatabase

CATALOG = load_catalog()
UTC = dt.UTC


def when(day: int, month: int = 3, hour: int = 12) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, tzinfo=UTC)


def silver() -> dict[str, pl.LazyFrame]:
    """Two users, two companies; user 1 belongs to both companies, wrote three requests and attended
    two events (one twice): joined all at once, as the data-lake plan's SQL does, these multiply."""
    frames = {
        "account_user": pl.DataFrame({
            "id": [1, 2], "email_clean": ["a@x.kz", ""], "first_name": ["Айгерим", "Bob"], "last_name": ["Ә", "B"],
            "role": ["user", "mentor"], "is_active": [True, False], "created_at": [when(1), when(2)],
            "goals": [["Найти работу", "Networking"], None],
            "company_id": [10, 99],  # 99 was deleted: ON DELETE SET NULL cleared it in the source
        }),
        "account_company": pl.DataFrame({
            "id": [10, 11], "tin": ["123456789012", None], "name": ["ТОО Альфа", "Beta"], "company_type": ["too", ""],
            "status": ["active", "pending"], "verified": [True, False], "created_at": [when(1), when(1)],
            "startup_status": ["approved", None], "it_company_status": [None, "pending"],
        }),
        "account_usercompany": pl.DataFrame({"id": [1, 2, 3], "user_id": [1, 1, 2], "company_id": [10, 11, 10]}),
        "service_servicerequest": pl.DataFrame({
            "id": [100, 101, 102, 103], "author_id": [1, 1, 1, 2], "company_id": [10, 10, 11, None],
            "status": ["success", "sent", "reject", "weird"], "service_id": ["techpark", "techpark", "mat_pass", "techpark"],
            # 103 is created at 20:00 UTC on Feb 29: already March 1st in Almaty
            "created_at": [when(5), when(6), when(7), dt.datetime(2024, 2, 29, 20, tzinfo=UTC)],
        }),
        "core_eventparticipant": pl.DataFrame({"id": [1, 2, 3], "event_id": [7, 7, 8], "author_id": [1, 1, 1]}),
        "core_event": pl.DataFrame({"id": [7, 8], "company_id": [10, 10]}),
        "core_vacancy": pl.DataFrame({"id": [5], "company_id": [11]}),
        "service_service": pl.DataFrame({"code": ["techpark", "mat_pass"], "name": ["Технопарк", "Mat pass"]}),
    }
    return {name: frame.lazy() for name, frame in frames.items()}


def test_counts_do_not_fan_out():
    users = dm_users(silver()).collect().sort("user_id")
    first = users.row(0, named=True)
    assert (first["companies_count"], first["service_requests_count"], first["events_attended"]) == (2, 3, 2)
    assert users.get_column("companies_count").to_list() == [2, 1]
    companies = dm_companies(silver()).collect().sort("company_id")
    assert companies.select("employees_count", "events_count", "vacancies_count", "service_requests_count",
                            "successful_requests").rows() == [(2, 2, 0, 2, 1), (1, 0, 1, 1, 0)]


def test_users_are_cleaned_and_dangling_companies_read_as_null():
    users = dm_users(silver()).collect().sort("user_id")
    assert users.get_column("email").to_list() == ["a@x.kz", None]
    assert users.get_column("primary_company_id").to_list() == [10, None]
    assert users.get_column("primary_company_name").to_list() == ["ТОО Альфа", None]
    assert users.get_column("goals").to_list() == [["Найти работу", "Networking"], None]


def test_funnel_counts_each_status_by_month_in_almaty():
    funnel = service_funnel(silver(), "Asia/Almaty").collect().sort("service_code", "month")
    assert funnel.rows(named=True) == [
        {"service_code": "mat_pass", "service_name": "Mat pass", "month": dt.date(2024, 3, 1), "total_requests": 1,
         "draft": 0, "sent": 0, "approved": 0, "success": 0, "rejected": 1, "signed": 0, "other": 0},
        {"service_code": "techpark", "service_name": "Технопарк", "month": dt.date(2024, 3, 1), "total_requests": 3,
         "draft": 0, "sent": 1, "approved": 0, "success": 1, "rejected": 0, "signed": 0, "other": 1},
    ]


def test_months_to_refresh_are_the_missing_and_the_changed():
    keys = ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]
    current = pl.DataFrame({"month": [dt.date(2023, 12, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)],
                            "_requests_fingerprint": [1, 2, 3]})
    stored = pl.DataFrame({"month": [dt.date(2023, 12, 1), dt.date(2024, 2, 1), dt.date(2024, 4, 1)],
                           "_requests_fingerprint": [1, 9, 4]})
    # Feb changed, March is new, April lost all its requests; Dec 2023 belongs to January and is unchanged
    assert months_to_refresh(keys, keys, current, stored) == ["2024-02-01", "2024-03-01", "2024-04-01"]
    assert months_to_refresh(keys, ["2024-02-01"], current, current) == ["2024-01-01", "2024-03-01", "2024-04-01"]
    assert contiguous_ranges(["2024-04-01", "2024-01-01", "2024-02-01"], keys) == [
        ("2024-01-01", "2024-02-01"), ("2024-04-01", "2024-04-01")]


def test_the_first_partition_owns_every_earlier_month():
    partitions = monthly_partitions(CATALOG)
    first = partitions.time_window_for_partition_key("2019-01-01")
    assert owned_months(partitions, first) == (None, dt.date(2019, 2, 1))
    later = partitions.time_window_for_partition_key("2024-03-01")
    assert owned_months(partitions, later) == (dt.date(2024, 3, 1), dt.date(2024, 4, 1))


def test_every_mart_is_an_asset_with_its_silver_inputs_and_described_columns():
    defs = build_definitions(CATALOG, {"source": SourceDatabase(url="postgresql://127.0.0.1:1/none"),
                                       "lake": LakeStorage(root="/nonexistent")})
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    for mart in mart_specs(CATALOG.defaults.timezone):
        spec = specs[dg.AssetKey(["gold", "techhub", mart.name])]
        assert spec.group_name == "gold"
        assert {d.asset_key for d in spec.deps} == {dg.AssetKey(["silver", CATALOG.table(t).module, CATALOG.table(t).short_name])
                                                   for t in mart.inputs}
        schema = spec.metadata["dagster/column_schema"].value
        # the funnel also documents its lineage column, which its quality contract checks is there
        assert [c.name for c in schema.columns] == [*mart.columns, *([FINGERPRINT] if mart.monthly else [])]
        assert all(c.description for c in schema.columns), mart.name
        if mart.monthly:
            assert isinstance(spec.partitions_def, dg.MonthlyPartitionsDefinition)
            assert spec.partitions_def.timezone == "Asia/Almaty"


def test_a_mart_without_its_silver_fails_naming_what_to_materialize(tmp_path, dagster_instance):
    defs = build_definitions(CATALOG, {"source": SourceDatabase(url="postgresql://127.0.0.1:1/none"),
                                       "lake": LakeStorage(root=str(tmp_path / "lake"))})
    result = dg.materialize([defs.resolve_assets_def(dg.AssetKey(["gold", "techhub", "dm_users"]))],
                            instance=dagster_instance, raise_on_error=False)
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "silver/techhub/account/user does not exist yet: materialize silver/account/user first" in message
    assert not (tmp_path / "lake" / "gold").exists()  # nothing half-written

