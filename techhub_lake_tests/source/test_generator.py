"""The synthetic TechHub source: deterministic, shaped like the contract, with the contract's quirks."""

from __future__ import annotations

import pytest

from techhub_lake.source.generator import (
    SourceNotSynthetic,
    generated_with,
    init_source,
)
from techhub_lake.source.tables import FIXED_ROWS, SCALE_1_ROWS, rows_at_scale
from techhub_lake_tests.conftest import SOURCE_SCALE, SOURCE_SEED, query
from techhub_lake_tests.helpers import table_fingerprints

B, T, TZ, J, BOOL, I, D = "bigint", "text", "timestamptz", "jsonb", "boolean", "integer", "date"

# Every column of the TechHub source contract (docs/synthetic-source.md), with its type family.
CONTRACT = {
    "account_user": {"id": B, "email": T, "phone": T, "first_name": T, "last_name": T, "iin": T, "role": T,
                     "is_active": BOOL, "is_staff": BOOL, "company_id": B, "last_login": TZ, "created_at": TZ,
                     "updated_at": TZ, "data": J, "tags": J, "permissions": J},
    "account_company": {"id": B, "tin": T, "name": T, "company_type": T, "status": T, "verified": BOOL, "bank": T,
                        "iik": T, "bik": T, "created_at": TZ, "updated_at": TZ, "tag_startup": J,
                        "tag_it_company": J, "tag_techpark": J, "tag_ts_member": J, "basic_info": J},
    "account_usercompany": {"id": B, "user_id": B, "company_id": B, "role": T, "created_at": TZ},
    "core_event": {"id": B, "title": J, "content": J, "contact_info": J, "status": T, "event_type": T,
                   "event_format": T, "datetime_start": TZ, "datetime_end": TZ, "published": BOOL, "company_id": B,
                   "organization_id": T, "category_id": B, "city_id": B, "view_count": I, "created_at": TZ,
                   "updated_at": TZ},
    "core_eventparticipant": {"id": B, "event_id": B, "author_id": B, "status": T, "created_at": TZ},
    "core_vacancy": {"id": B, "title": J, "status": T, "vacancy_type": T, "salary_min": I, "salary_max": I,
                     "company_id": B, "city_id": B, "created_at": TZ, "updated_at": TZ},
    "core_vacancycandidate": {"id": B, "vacancy_id": B, "user_id": B, "status": T, "created_at": TZ},
    "core_blog": {"id": B, "title": J, "content": J, "author_id": B, "company_id": B, "published": BOOL,
                  "created_at": TZ, "updated_at": TZ},
    "core_actionlog": {"id": B, "user_id": B, "action": T, "object_type": T, "object_id": B, "payload": J,
                       "ip": "inet", "created_at": TZ},
    "core_organization": {"code": T, "name": J},
    "core_city": {"id": B, "name": T, "country_id": B},
    "core_category": {"id": B, "name": J},
    "core_country": {"id": B, "name": T},
    "service_service": {"code": T, "data": J, "is_active": BOOL, "created_at": TZ},
    "service_servicerequest": {"id": B, "service_id": T, "author_id": B, "company_id": B, "status": T, "data": J,
                               "created_at": TZ, "updated_at": TZ},
    "service_servicerequestlog": {"id": B, "request_id": B, "status_from": T, "status_to": T, "created_at": TZ},
    "service_hubform": {"id": B, "code": T, "title": J},
    "service_hubformdata": {"id": B, "form_id": B, "author_id": B, "data": J, "created_at": TZ, "updated_at": TZ},
    "service_report": {"id": B, "company_id": B, "request_id": B, "status": T, "data": J, "signed_xml": T,
                       "created_at": TZ, "updated_at": TZ},
    "booking_room": {"id": B, "name": T, "capacity": I},
    "booking_booking": {"id": B, "room_id": B, "author_id": B, "start": TZ, "end": TZ, "status": T,
                        "created_at": TZ, "updated_at": TZ},
    "booking_bookingstatus": {"id": B, "booking_id": B, "status": T, "created_at": TZ},
    "techorda_school": {"id": B, "name": T, "created_at": TZ},
    "techorda_course": {"id": B, "school_id": B, "name": T, "created_at": TZ},
    "techorda_flow": {"id": B, "course_id": B, "name": T, "start_date": D, "end_date": D, "created_at": TZ},
}
EXCLUDED = ["user_sessions_session", "django_session", "silk_request", "silk_response", "hub_cache_table"]
_FAMILY = {"bigint": B, "character varying": T, "text": T, "timestamp with time zone": TZ, "jsonb": J,
           "boolean": BOOL, "integer": I, "date": D, "inet": "inet"}


def test_schema_satisfies_the_contract(generated_source):
    rows = query(generated_source, "SELECT table_name, column_name, data_type FROM information_schema.columns "
                                   "WHERE table_schema = 'public'")
    live: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        live.setdefault(table, {})[column] = _FAMILY.get(data_type, data_type)
    for table, columns in CONTRACT.items():
        assert table in live, table
        for column, family in columns.items():
            assert live[table].get(column) == family, (table, column, live[table].get(column))
    for table in EXCLUDED:
        assert table in live


def test_row_counts_follow_the_scale(generated_source):
    for table in [*SCALE_1_ROWS, *FIXED_ROWS]:
        (count,) = query(generated_source, f'SELECT count(*) FROM public."{table}"')[0]
        assert count == rows_at_scale(table, SOURCE_SCALE), table
    assert generated_with(generated_source) == (SOURCE_SEED, SOURCE_SCALE)


@pytest.mark.slow
def test_same_seed_same_content_other_seed_other_content(generated_source, new_database):
    again = new_database()
    init_source(again, scale=SOURCE_SCALE, seed=SOURCE_SEED)
    first, second = table_fingerprints(generated_source), table_fingerprints(again)
    assert first == second
    other = new_database()
    init_source(other, scale=SOURCE_SCALE, seed=SOURCE_SEED + 1)
    third = table_fingerprints(other)
    differing = {t for t in first if first[t] != third[t]}
    assert {"account_user", "account_company", "core_actionlog", "service_servicerequest", "core_blog"} <= differing


def _rate(url: str, sql: str) -> float:
    return float(query(url, sql)[0][0])


@pytest.mark.parametrize(
    ("sql", "expected", "tolerance"),
    [
        ("SELECT avg((email IS NULL)::int) FROM account_user", 0.39, 0.04),
        ("SELECT avg((iin IS NULL)::int) FROM account_user", 0.998, 0.004),
        ("SELECT avg((tin IS NULL)::int) FROM account_company", 0.112, 0.05),
        ("SELECT avg((bank IS NULL)::int) FROM account_company", 0.95, 0.04),
        ("SELECT avg((iik IS NULL AND bik IS NULL)::int) FROM account_company", 0.95, 0.04),
        ("SELECT avg((company_id IS NULL)::int) FROM service_servicerequest", 0.926, 0.03),
        ("SELECT avg((salary_min IS NULL)::int) FROM core_vacancy", 0.45, 0.15),
        ("SELECT avg((salary_max IS NULL)::int) FROM core_vacancy", 0.45, 0.15),
    ],
    ids=["email", "iin", "tin", "bank", "iik-bik", "request-company", "salary-min", "salary-max"],
)
def test_null_rates_are_near_the_contract(generated_source, sql, expected, tolerance):
    assert abs(_rate(generated_source, sql) - expected) <= tolerance


def test_quirks_of_real_data_are_present(generated_source):
    url = generated_source
    one = lambda sql: query(url, sql)[0][0]
    # TIN: 12 digits and unique when set
    assert one("SELECT count(*) FROM account_company WHERE tin !~ '^\\d{12}$'") == 0
    assert one("SELECT count(tin) - count(DISTINCT tin) FROM account_company") == 0
    assert one("SELECT count(*) FROM account_user WHERE iin IS NOT NULL AND iin !~ '^\\d{12}$'") == 0
    # company_type: '' and NULL both occur; salary min > max occurs
    assert one("SELECT count(*) FROM account_company WHERE company_type = ''") > 0
    assert one("SELECT count(*) FROM account_company WHERE company_type IS NULL") > 0
    assert one("SELECT count(*) FROM core_vacancy WHERE salary_min > salary_max") > 0
    # JSON keys missing, NULL or of an unexpected type
    assert one("SELECT count(*) FROM account_user WHERE NOT data ? 'goals'") > 0
    assert one("SELECT count(*) FROM account_user WHERE jsonb_typeof(data -> 'goals') = 'null'") > 0
    assert one("SELECT count(*) FROM account_user WHERE jsonb_typeof(data -> 'goals') = 'string'") > 0
    assert one("SELECT count(*) FROM account_user WHERE jsonb_typeof(tags -> 'article') = 'string'") > 0
    assert one("SELECT count(*) FROM core_event WHERE NOT title ? 'kk'") > 0
    assert one("SELECT count(*) FROM service_service WHERE jsonb_typeof(data -> 'name') = 'string'") > 0
    assert one("SELECT count(*) FROM account_company WHERE jsonb_typeof(tag_startup -> 'moderation_data') = 'string'") > 0
    assert one("SELECT count(*) FROM account_user WHERE email <> lower(btrim(email))") > 0
    # Cyrillic, Kazakh letters and emoji
    assert one("SELECT count(*) FROM core_blog WHERE content ->> 'kk' ~ '[әғқңөұүһі]'") > 0
    assert one("SELECT count(*) FROM core_event WHERE title::text ~ '[\\U0001F300-\\U0001FAFF]'") > 0
    assert one("SELECT count(*) FROM account_user WHERE first_name ~ '[А-Яа-яӘәҚқҰұ]'") > 0


def test_timestamps_span_2019_to_2026_in_almaty_with_day_edges(generated_source):
    url = generated_source
    first, last = query(url, "SELECT min(created_at AT TIME ZONE 'Asia/Almaty'), "
                             "max(updated_at AT TIME ZONE 'Asia/Almaty') FROM account_user")[0]
    assert first.year == 2019 and last.year == 2026
    years = {r[0] for r in query(url, "SELECT DISTINCT extract(year FROM created_at AT TIME ZONE 'Asia/Almaty')::int FROM core_actionlog")}
    assert years == set(range(2019, 2027))
    # rows exactly on local midnight and on the last millisecond of a local day
    midnight = query(url, "SELECT count(*) FROM core_actionlog WHERE (created_at AT TIME ZONE 'Asia/Almaty')::time = '00:00'")[0][0]
    last_ms = query(url, "SELECT count(*) FROM core_actionlog WHERE (created_at AT TIME ZONE 'Asia/Almaty')::time = '23:59:59.999'")[0][0]
    assert midnight > 0 and last_ms > 0
    assert query(url, "SELECT count(*) FROM account_user WHERE updated_at < created_at")[0][0] == 0


def test_foreign_keys_hold(generated_source):
    constraints = query(generated_source, "SELECT count(*), bool_and(convalidated) FROM pg_constraint c "
                                          "JOIN pg_namespace n ON n.oid = c.connamespace AND n.nspname = 'public' "
                                          "WHERE contype = 'f'")[0]
    assert constraints[0] >= 30 and constraints[1] is True
    orphans = query(generated_source, """
        SELECT (SELECT count(*) FROM account_user u LEFT JOIN account_company c ON c.id = u.company_id
                WHERE u.company_id IS NOT NULL AND c.id IS NULL)
             + (SELECT count(*) FROM core_event e LEFT JOIN core_organization o ON o.code = e.organization_id
                WHERE e.organization_id IS NOT NULL AND o.code IS NULL)
             + (SELECT count(*) FROM service_servicerequest r LEFT JOIN service_service s ON s.code = r.service_id
                WHERE s.code IS NULL)""")[0][0]
    assert orphans == 0


def test_row_widths_are_realistic(generated_source):
    blog, payload, form = query(generated_source, """
        SELECT (SELECT avg(octet_length(content::text)) FROM core_blog),
               (SELECT avg(octet_length(payload::text)) FROM core_actionlog),
               (SELECT avg(octet_length(data::text)) FROM service_hubformdata)""")[0]
    assert 150_000 <= blog <= 260_000
    assert 6_000 <= payload <= 11_000
    assert 7_000 <= form <= 14_000


def test_refuses_to_overwrite_a_database_it_did_not_generate(new_database):
    url = new_database()
    query_url = url
    import psycopg2

    conn = psycopg2.connect(query_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE customers (id int); INSERT INTO customers VALUES (1)")
    conn.close()
    with pytest.raises(SourceNotSynthetic, match=r"refusing to initialise .*customers"):
        init_source(url, scale=0.001, seed=1)
    assert query(url, "SELECT count(*) FROM customers")[0][0] == 1


def test_bad_scale_is_rejected(new_database):
    with pytest.raises(ValueError, match=r"--scale must be in"):
        init_source(new_database(), scale=0, seed=1)
