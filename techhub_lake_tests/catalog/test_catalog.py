"""The table catalog: the packaged YAML is complete, and every bad entry is rejected with a
one-line message naming the file, the table and the field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from techhub_lake.catalog import CatalogError, Partitioning, Strategy, load_catalog
from techhub_lake.catalog.live_check import (
    catalog_problems,
    verify_catalog_against_source,
)
from techhub_lake.source.connection import read_only_snapshot

# The data-lake plan's load strategies and priority lists, plus the source contract's tables.
SEED_STRATEGIES = {
    "full": [
        "core_organization", "core_city", "core_category", "core_country", "booking_room", "service_service",
        "account_usercompany", "account_activation", "core_eventparticipant", "core_vacancycandidate",
        "core_techtask", "core_comment", "service_hubform", "techorda_school", "techorda_course", "techorda_flow",
    ],
    "incremental": [
        "account_user", "core_event", "core_blog", "booking_booking", "service_hubformdata", "core_vacancy",
    ],
    # the three tables the replaced warehouse took through Debezium: every change, from the replication slot
    "cdc": ["account_company", "service_servicerequest", "service_report"],
    "append": ["core_actionlog", "service_servicerequestlog", "booking_bookingstatus"],
    "exclude": ["user_sessions_session", "django_session", "silk_request", "silk_response", "hub_cache_table"],
}
SEED_WATERMARKS = {
    "account_user": "updated_at", "account_company": "updated_at", "service_servicerequest": "updated_at",
    "core_event": "updated_at", "core_blog": "updated_at", "core_actionlog": "created_at",
    "booking_booking": "updated_at",
}


def test_packaged_catalog_has_every_planned_table_with_its_planned_strategy():
    catalog = load_catalog()
    for strategy, tables in SEED_STRATEGIES.items():
        for name in tables:
            assert catalog.table(name).strategy == Strategy(strategy), name
    for name, watermark in SEED_WATERMARKS.items():
        assert catalog.table(name).watermark == watermark
    assert {t.name for t in catalog.lake_tables} == {n for s, ts in SEED_STRATEGIES.items() if s != "exclude" for n in ts}


def test_defaults_resolve_per_strategy():
    catalog = load_catalog()
    assert catalog.defaults.timezone == "Asia/Almaty"
    user, log, city = catalog.table("account_user"), catalog.table("core_actionlog"), catalog.table("core_city")
    assert (user.freshness, log.freshness, city.freshness) == (
        dt.timedelta(minutes=30), dt.timedelta(minutes=15), dt.timedelta(days=1))
    assert user.lookback == dt.timedelta(days=2) and log.lookback == dt.timedelta(days=1)
    assert (user.partitioning, city.partitioning) == (Partitioning.DAILY, Partitioning.SNAPSHOT)
    assert user.short_name == "user" and catalog.table("service_servicerequest").short_name == "servicerequest"
    assert catalog.table("core_organization").primary_key == ("code",)


def _write(tmp_path: Path, doc: object, text: str | None = None) -> Path:
    path = tmp_path / "tables.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(doc, allow_unicode=True))
    return path


def _valid_doc() -> dict:
    return {
        "defaults": {"timezone": "Asia/Almaty", "freshness": {"incremental": "30m"}},
        "tables": [
            {"name": "account_user", "module": "account", "strategy": "incremental", "watermark": "updated_at"},
            {"name": "core_city", "module": "core", "strategy": "full"},
        ],
    }


def test_a_valid_custom_catalog_loads(tmp_path):
    catalog = load_catalog(_write(tmp_path, _valid_doc()))
    assert [t.name for t in catalog] == ["account_user", "core_city"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["tables"][0].update(strategy="incrementl"),
         ["table 'account_user'", "field 'strategy'", "unknown value 'incrementl'", "incremental"]),
        (lambda d: d["tables"][0].pop("watermark"),
         ["table 'account_user'", "field 'watermark'", "needs a watermark"]),
        (lambda d: d["tables"].append(dict(d["tables"][1])),
         ["table 'core_city'", "field 'name'", "duplicate table"]),
        (lambda d: d["tables"][1].update(watermak="updated_at"),
         ["table 'core_city'", "field 'watermak'", "unknown field"]),
        (lambda d: d["tables"][0].update(lookback="two days"),
         ["table 'account_user'", "field 'lookback'", "not a duration"]),
        (lambda d: d["tables"][0].update(module="core"),
         ["table 'account_user'", "field 'module'", "does not start with 'core_'"]),
        (lambda d: d["tables"][1].update(partitioning="daily"),
         ["table 'core_city'", "field 'partitioning'", "does not fit strategy 'full'"]),
        (lambda d: d["tables"][1].update(name="Core City"),
         ["table 'Core City'", "field 'name'"]),
        (lambda d: d["defaults"].update(timezone="Asia/Nowhere"),
         ["defaults", "field 'timezone'", "unknown time zone"]),
    ],
    ids=["unknown-strategy", "incremental-without-watermark", "duplicate", "unknown-field", "bad-duration",
         "module-mismatch", "partitioning-mismatch", "bad-name", "bad-timezone"],
)
def test_bad_catalog_entries_are_rejected_with_file_table_and_field(tmp_path, mutate, expected):
    doc = _valid_doc()
    mutate(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message
    for part in expected:
        assert part in message, (part, message)


def test_not_yaml_and_missing_file_are_clear(tmp_path):
    with pytest.raises(CatalogError, match=r"not valid YAML at line \d+: expected"):
        load_catalog(_write(tmp_path, None, text="tables:\n  - name: [unclosed\n"))
    with pytest.raises(CatalogError, match=r"cannot read the catalog"):
        load_catalog(tmp_path / "missing.yaml")
    with pytest.raises(CatalogError, match=r"expected a mapping with a 'tables' list"):
        load_catalog(_write(tmp_path, ["account_user"]))


def test_packaged_catalog_matches_the_generated_source(generated_source):
    with read_only_snapshot(generated_source) as cur:
        assert catalog_problems(load_catalog(), cur) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"watermark": "changed_at"}, "table 'account_user', field 'watermark': column 'changed_at' is not in source table public.account_user"),
        ({"primary_key": ["uuid"]}, "table 'account_user', field 'primary_key': column 'uuid' is not in source table"),
        ({"watermark": "email"}, "field 'watermark': column 'email' is character varying, not a timestamp"),
        ({"json_columns": {"email": []}}, "field 'json_columns': column 'email' is character varying, not jsonb"),
        ({"name": "account_users"}, "table 'account_users': not found in the source (schema public)"),
    ],
    ids=["missing-watermark", "missing-key", "watermark-not-time", "json-not-jsonb", "missing-table"],
)
def test_catalog_is_checked_against_the_live_schema(tmp_path, generated_source, change, expected):
    doc = _valid_doc()
    doc["tables"][0].update(change)
    catalog = load_catalog(_write(tmp_path, doc))
    with read_only_snapshot(generated_source) as cur, pytest.raises(CatalogError) as info:
        verify_catalog_against_source(catalog, cur)
    assert expected in str(info.value)
    assert str(info.value).startswith(catalog.path)


def test_a_history_starting_in_the_future_is_refused(tmp_path):
    import yaml

    from techhub_lake.catalog.model import DEFAULT_CATALOG_PATH

    doc = yaml.safe_load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))
    doc["defaults"]["start_date"] = "2030-01-01"
    path = tmp_path / "future.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"defaults, field 'start_date': 2030-01-01 is after today .*no daily "
                                           r"partition would exist"):
        load_catalog(path)
