"""Silver's transforms on small hand-written frames: odd JSON included, and the tie-break."""

from __future__ import annotations

import datetime as dt

import polars as pl

from techhub_lake.catalog import load_catalog
from techhub_lake.silver.bronze_changes import EXTRACTED_AT
from techhub_lake.silver.current_state import ROW_HASH, latest_versions
from techhub_lake.silver.transforms import enrich, quality_counts, silver_column

CATALOG = load_catalog()
UTC = dt.UTC


def test_multilingual_fields_split_and_pick_ru_then_kk_then_en():
    frame = pl.DataFrame({"id": [1, 2, 3, 4, 5], "title": [
        '{"ru": "Конференция", "kk": "Конференция", "en": "Conference"}', '{"kk": "Сәлем 🚀", "en": "Hi"}',
        '{"en": "Only English"}', '{"ru": "", "en": "Empty ru"}', None]})
    out = enrich(CATALOG.table("core_techtask"), frame)
    assert out["title"].to_list() == ["Конференция", "Сәлем 🚀", "Only English", "Empty ru", None]
    assert out["title_kk"].to_list() == ["Конференция", "Сәлем 🚀", None, None, None]
    assert out["title_json"].to_list() == frame["title"].to_list()  # the JSON is kept
    assert silver_column(CATALOG.table("core_techtask"), "title") == "title_json"


def _users(**overrides) -> pl.DataFrame:
    base = {"id": [1], "email": ["u@mail.kz"], "phone": ["+7 701"], "data": ['{}'], "tags": ['{}'], "permissions": ['{}']}
    return pl.DataFrame(base | overrides)


def test_account_user_json_unpacked_with_odd_values_flagged():
    frame = pl.DataFrame({
        "id": [1, 2, 3, 4],
        "email": [" User.5@Mail.KZ ", None, "a@b.kz", ""],
        "phone": ["+7 701 1", "", None, "+7"],
        "data": ['{"goals": ["vacancies", "networking"], "auth_flow": {"type": "egov"}, "hard_skills": ["sql"], "soft_skills": [], "extra_courses": []}',
                 '{"goals": "vacancies", "auth_flow": {"type": null}}',
                 '{"goals": null}',
                 '{"hard_skills": ["go", 1]}'],
        "tags": ['{"article": true}', '{"article": "yes"}', '{}', '{"article": false, "newsletter": true}'],
        "permissions": ['{"documentolog": false}', '{}', '{"documentolog": true}', '{}'],
    })
    out = enrich(CATALOG.table("account_user"), frame)
    assert out["goals"].to_list() == [["vacancies", "networking"], None, None, None]
    assert out["goal_vacancies"].to_list() == [True, None, None, None]
    assert out["goal_networking"].to_list() == [True, None, None, None]
    assert out["dq_data_goals_invalid"].to_list() == [False, True, False, False]  # a string, not a list
    assert out["dq_data_goals_missing"].to_list() == [False, False, True, True]
    assert out["auth_flow_type"].to_list() == ["egov", None, None, None]
    assert out["dq_data_auth_flow_type_missing"].to_list() == [False, True, True, True]
    assert out["hard_skills"].to_list() == [["sql"], None, None, ["go", "1"]]
    assert out["tags_article"].to_list() == [True, None, None, False]
    assert out["dq_tags_article_invalid"].to_list() == [False, True, False, False]
    assert out["tags_newsletter"].to_list() == [None, None, None, True]
    assert out["permissions_documentolog"].to_list() == [False, None, True, None]
    assert out["email_clean"].to_list() == ["user.5@mail.kz", None, "a@b.kz", None]  # empty: NULL
    assert out["dq_email_invalid"].to_list() == [False, False, False, False]
    assert out["dq_has_email"].to_list() == [True, False, True, False]
    assert out["dq_has_phone"].to_list() == [True, False, False, True]
    assert out["dq_profile_complete"].to_list() == [True, False, False, False]


def test_real_profiles_of_any_shape_unpack_what_matches_and_flag_the_rest():
    """What a real Django app writes and our generator does not: objects where names were expected,
    nested arrays, empty and odd TINs. Nothing fails; what does not match is NULL and flagged."""
    users = pl.DataFrame({
        "id": [1, 2, 3],
        "email": ["a@b.kz", None, None], "phone": [None, None, None],
        "data": ['{"extra_courses": [{"name": "Python", "year": 2020}], "hard_skills": [["sql"]]}',
                 '{"extra_courses": ["Go"], "hard_skills": "sql", "soft_skills": [true, 2.5, null]}',
                 '{"goals": [{"x": 1}], "auth_flow": [1, 2]}'],
        "tags": ["{}", "[]", '"x"'], "permissions": ["{}", "null", "{}"],
    }, schema_overrides={"email": pl.String, "phone": pl.String})
    out = enrich(CATALOG.table("account_user"), users)
    assert out["extra_courses"].to_list() == [None, ["Go"], None]
    assert out["dq_data_extra_courses_invalid"].to_list() == [True, False, False]
    assert out["hard_skills"].to_list() == [None, None, None]
    assert out["dq_data_hard_skills_invalid"].to_list() == [True, True, False]
    assert out["soft_skills"].to_list() == [None, ["true", "2.5", None], None]
    assert out["goals"].to_list() == [None, None, None] and out["dq_data_goals_invalid"].to_list() == [False, False, True]
    assert out["data"].to_list() == users["data"].to_list()  # the JSON itself stays, for what did not match
    companies = pl.DataFrame({
        "id": [1, 2, 3, 4], "tin": ["", "24014000001", " 240140000001 ", "2401400000ab"],
        "company_type": ["x"] * 4, "verified": [False] * 4, "bank": [None] * 4, "iik": [None] * 4, "bik": [None] * 4,
        "basic_info": [None] * 4, "tag_startup": [None] * 4, "tag_it_company": [None] * 4,
    }, schema_overrides={k: pl.String for k in ("bank", "iik", "bik", "basic_info", "tag_startup", "tag_it_company")})
    out = enrich(CATALOG.table("account_company"), companies)
    assert out["tin"].to_list() == [None, None, "240140000001", None]
    assert out["dq_tin_invalid"].to_list() == [True, True, False, True]


def test_goal_columns_seen_earlier_are_computed_for_new_rows():
    out = enrich(CATALOG.table("account_user"), _users(data=['{"goals": ["education"]}']), known={"goal_mentorship"})
    assert out["goal_education"].to_list() == [True] and out["goal_mentorship"].to_list() == [False]


def test_account_company_cleaned_and_flagged():
    frame = pl.DataFrame({
        "id": [1, 2, 3], "tin": ["240140000001", None, "12345"], "company_type": ["startup", "", None],
        "verified": [True, True, False], "bank": ["Kaspi", None, None], "iik": ["KZ1", None, None], "bik": ["X", None, None],
        "basic_info": ['{"company_tag": "startup"}', '{"company_tag": null}', '{"company_tag": {"x": 1}}'],
        "tag_startup": ['{"status": "approved", "moderation_data": "n/a"}', None, '{"data": {}}'],
        "tag_it_company": [None, '{"status": "pending"}', None],
    })
    out = enrich(CATALOG.table("account_company"), frame)
    assert out["tin_valid"].to_list() == [True, False, False]
    assert out["dq_tin_invalid"].to_list() == [False, False, True]
    assert out["tin"].to_list() == ["240140000001", None, None]  # an invalid TIN is cleaned to NULL ...
    assert out["tin_raw"].to_list() == ["240140000001", None, "12345"]  # ... and kept as the source had it
    assert out["company_type_clean"].to_list() == ["startup", "unknown", "unknown"]
    assert out["company_tag"].to_list() == ["startup", None, None]
    assert out["dq_basic_info_company_tag_invalid"].to_list() == [False, False, True]
    assert out["startup_status"].to_list() == ["approved", None, None]
    assert out["it_company_status"].to_list() == [None, "pending", None]
    assert out["dq_verified_without_bank_details"].to_list() == [False, True, False]


def test_event_contacts_vacancy_salaries_requests_and_service_names():
    events = enrich(CATALOG.table("core_event"), pl.DataFrame({
        "id": [1, 2, 3], "title": ['{"ru": "А"}'] * 3, "content": ['{"en": "B"}'] * 3,
        "contact_info": ['{"email": "e@x.kz", "phone": 77000000001, "full_name": "Ерлан"}', None, '{"email": ["a"]}']}))
    assert events["contact_email"].to_list() == ["e@x.kz", None, None]
    assert events["contact_phone"].to_list() == ["77000000001", None, None]  # a number still reads as text
    assert events["dq_contact_info_email_invalid"].to_list() == [False, False, True]

    vacancies = enrich(CATALOG.table("core_vacancy"), pl.DataFrame({
        "id": [1, 2, 3], "title": ['{"ru": "Dev"}'] * 3, "description": ['{}'] * 3,
        "salary_min": [100, 300, None], "salary_max": [200, 200, 500]}))
    assert vacancies["salary_valid"].to_list() == [True, False, False]
    assert vacancies["dq_salary_min_above_max"].to_list() == [False, True, False]

    requests = enrich(CATALOG.table("service_servicerequest"), pl.DataFrame({
        "id": [1, 2, 3], "service_id": ["techpark", "mat_pass", "techpark"],
        "data": ['{"signatures": [{"signer": "a"}, {"signer": "b"}], "certificate_number": "ТП-1"}',
                 '{"signatures": "oops", "reject_detail": "нет", "certificate_number": "X"}', '{}']}))
    assert requests["signature_count"].to_list() == [2, None, None]
    assert requests["dq_data_signatures_invalid"].to_list() == [False, True, False]
    assert requests["reject_detail"].to_list() == [None, "нет", None]
    assert requests["certificate_number"].to_list() == ["ТП-1", None, None]  # only for techpark

    services = enrich(CATALOG.table("service_service"), pl.DataFrame({
        "code": ["a", "b", "c", "d"],
        "data": ['{"name": {"kk": "Қызмет", "en": "Service"}}', '{"name": "Услуга 7"}', '{}', '{"name": {"en": "E"}}']}))
    assert services["name"].to_list() == ["Қызмет", "Услуга 7", None, "E"]
    assert services["dq_data_name_missing"].to_list() == [False, False, True, False]


def test_the_later_extraction_wins_and_within_one_the_later_watermark():
    t0, t1 = dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 1, 2, tzinfo=UTC)
    rows = pl.DataFrame({
        "id": [1, 1, 2, 2, 3, 4, 4],
        "updated_at": [t1, t0, t0, t0, t0, t0, t1],
        "status": ["stale", "committed late", "first", "second", "only", "earlier", "later"],
        EXTRACTED_AT: [t0, t1, t0, t1, t0, t0, t0],
    })
    latest = latest_versions(rows, CATALOG.table("service_servicerequest")).sort("id")
    # a late commit with an older updated_at, extracted later, is the truth; within one extraction
    # (one snapshot) the later watermark
    assert latest["status"].to_list() == ["committed late", "second", "only", "later"]
    assert latest[ROW_HASH].dtype == pl.Int64 and latest[ROW_HASH].n_unique() == 4


def test_quality_counts():
    frame = pl.DataFrame({"dq_a": [True, False, None], "salary_valid": [True, False, None],
                          "dq_has_email": [True, True, False], "x": [1, 2, 3]})
    assert quality_counts(frame) == {"dq_a": 1, "not_salary_valid": 2, "not_dq_has_email": 1}


def test_company_tags_one_row_per_company_and_tag():
    from techhub_lake.silver.children import company_tags

    companies = pl.DataFrame({
        "id": [1, 2],
        "tag_startup": ['{"status": "approved", "data": {"stage": "mvp"}, "moderation_data": {"verified_at": "2024-01-02T10:00:00+05:00", "verified_by": 7}}', None],
        "tag_it_company": ['{"status": "pending", "moderation_data": "n/a"}', None],
        "tag_techpark": [None, '{"status": "approved", "data": {}, "moderation_data": null}'],
        "tag_ts_member": [None, None],
    })
    tags = company_tags(companies)
    assert tags.select("company_id", "tag_type", "status").rows() == [
        (1, "it_company", "pending"), (1, "startup", "approved"), (2, "techpark", "approved")]
    startup = tags.filter(pl.col("tag_type") == "startup").row(0, named=True)
    assert startup["verified_at"] == dt.datetime(2024, 1, 2, 5, 0, tzinfo=UTC) and startup["verified_by"] == 7
    assert startup["data"] == '{"stage": "mvp"}' or startup["data"] == '{"stage":"mvp"}'
    assert tags["dq_moderation_data_invalid"].to_list() == [True, False, False]


def test_hubformdata_fields_long_table_of_any_form():
    from techhub_lake.silver.children import hubformdata_fields

    submissions = pl.DataFrame({"id": [10, 11, 12, 13], "form_id": [1, 1, 2, 2], "data": [
        '{"Risks": "high 🚀", "Budget": 100, "Team": true}',
        '{"Budget": "1 000 000", "Risks": null}',
        '{"Priority_area": "AI", "Extra": {"a": 1}, "Links": ["x", 2]}',
        '{"Team": 5, "Extra": "none", "Share": -0.5e2}']})  # a field whose JSON type changes between rows
    fields = hubformdata_fields(submissions)
    assert fields.select("hubformdata_id", "field", "value", "value_type").rows() == [
        (10, "Budget", "100", "number"), (10, "Risks", "high 🚀", "string"), (10, "Team", "true", "boolean"),
        (11, "Budget", "1 000 000", "string"),
        (12, "Extra", '{"a": 1}', "object"), (12, "Links", '["x", 2]', "array"), (12, "Priority_area", "AI", "string"),
        (13, "Extra", "none", "string"), (13, "Share", "-50", "number"), (13, "Team", "5", "number")]
    # a submission's rows depend on it alone: what a refresh builds for the changed ones is what a
    # whole rebuild would hold for them
    for subset in ([11], [12, 13], [10]):
        alone = hubformdata_fields(submissions.filter(pl.col("id").is_in(subset)))
        assert alone.equals(fields.filter(pl.col("hubformdata_id").is_in(subset))), subset


def test_a_table_without_its_own_transform_gets_its_listed_json_keys_as_columns(tmp_path):
    """Keys of any script and with spaces become columns; values stay text whatever their JSON type;
    a document that is not an object is flagged, never fatal."""
    path = tmp_path / "catalog.yaml"
    path.write_text('defaults: {timezone: UTC, start_date: "2024-01-01"}\ntables:\n'
                    '  - {name: billing_invoice, module: billing, strategy: full,\n'
                    '     json_columns: {details: [status, amount, "due date", "Комментарий", owner, "status "]}}\n',
                    encoding="utf-8")
    table = load_catalog(path).table("billing_invoice")
    documents = ['{"status": "open", "amount": 12.5, "due date": "2024-01-02", "Комментарий": "ок", "owner": {"id": 1}}',
                 '{"status": null, "amount": "12,5"}', '[{"status": "closed"}]', '"text"', "null", "{}", None]
    frame = enrich(table, pl.DataFrame({"id": range(len(documents)), "details": documents}))
    assert frame.columns == ["id", "details", "dq_details_not_object", "details_status", "details_amount",
                             "details_due_date", "details_комментарий", "details_owner", "details_status_2"]
    assert frame["details_status"].to_list() == ["open", None, None, None, None, None, None]
    assert frame["details_amount"].to_list() == ["12.5", "12,5", None, None, None, None, None]
    assert frame["details_due_date"][0] == "2024-01-02" and frame["details_комментарий"][0] == "ок"
    assert frame["details_owner"][0] == '{"id":1}'
    assert frame["dq_details_not_object"].to_list() == [False, False, True, True, True, False, False]
