"""SCD2 dimensions and the requests fact on hand-written frames: change, no change, delete, re-run."""

from __future__ import annotations

import datetime as dt

import polars as pl

from techhub_lake.silver.dimensions import DIMENSIONS, fact_requests, scd2_update

USER = next(s for s in DIMENSIONS if s.name == "dim_user")
SERVICE = next(s for s in DIMENSIONS if s.name == "dim_service")
COMPANY = next(s for s in DIMENSIONS if s.name == "dim_company")
UTC = dt.UTC
T = [dt.datetime(2024, 1, d, tzinfo=UTC) for d in range(1, 10)]


def users(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"id": pl.Int64, "email_clean": pl.String, "first_name": pl.String,
                                      "last_name": pl.String, "role": pl.String, "is_active": pl.Boolean,
                                      "company_id": pl.Int64, "created_at": pl.Datetime("us", "UTC"),
                                      "updated_at": pl.Datetime("us", "UTC")}, orient="row")


def test_first_load_opens_one_current_version_per_entity_from_its_creation():
    dim, counts = scd2_update(users([(1, "a@x", "A", "B", "user", True, None, T[0], T[1]),
                                     (2, "b@x", "C", "D", "user", True, 5, T[2], T[2])]), None, USER, T[8])
    assert (counts.opened, counts.current, counts.versions) == (2, 2, 2)
    assert dim["valid_from"].to_list() == [T[0], T[2]] and dim["valid_to"].to_list() == [None, None]
    assert dim["user_sk"].n_unique() == 2


def test_a_change_closes_the_version_and_opens_a_new_one_a_rerun_does_nothing():
    first, _ = scd2_update(users([(1, "a@x", "A", "B", "user", True, None, T[0], T[1])]), None, USER, T[2])
    changed = users([(1, "a@x", "A", "B", "mentor", True, None, T[0], T[4])])
    second, counts = scd2_update(changed, first, USER, T[5])
    assert (counts.opened, counts.closed_changed, counts.versions, counts.current) == (1, 1, 2, 1)
    old, new = second.sort("valid_from").rows(named=True)
    assert (old["role"], old["valid_to"], old["is_current"]) == ("user", T[4], False)
    assert (new["role"], new["valid_from"], new["valid_to"], new["is_current"]) == ("mentor", T[4], None, True)
    third, counts = scd2_update(changed, second, USER, T[6])  # the same input again
    assert counts.opened == 0 and counts.closed_changed == 0 and third.equals(second)


def test_a_change_of_an_untracked_attribute_creates_no_version():
    first, _ = scd2_update(users([(1, "a@x", "A", "B", "user", True, None, T[0], T[1])]), None, USER, T[2])
    frame = users([(1, "a@x", "A", "B", "user", True, None, T[0], T[3])]).with_columns(pl.lit("x").alias("phone"))
    _, counts = scd2_update(frame, first, USER, T[4])
    assert counts.opened == 0 and counts.versions == 1


def test_a_deleted_entity_has_its_version_closed():
    first, _ = scd2_update(users([(1, "a@x", "A", "B", "user", True, None, T[0], T[1]),
                                  (2, "b@x", "C", "D", "user", True, None, T[0], T[1])]), None, USER, T[2])
    second, counts = scd2_update(users([(2, "b@x", "C", "D", "user", True, None, T[0], T[1])]), first, USER, T[6])
    assert counts.closed_deleted == 1 and counts.current == 1
    gone = second.filter(pl.col("user_id") == 1).row(0, named=True)
    assert (gone["is_current"], gone["valid_to"]) == (False, T[6])


def test_a_silent_change_without_a_change_time_closes_at_processing_time():
    services = pl.DataFrame({"code": ["a"], "name": ["One"], "is_active": [True], "created_at": [T[0]]})
    first, _ = scd2_update(services, None, SERVICE, T[1])
    second, counts = scd2_update(services.with_columns(pl.lit("Renamed").alias("name")), first, SERVICE, T[3])
    assert counts.opened == 1 and second.filter(~pl.col("is_current"))["valid_to"].to_list() == [T[3]]


def test_fact_rows_point_at_the_versions_valid_when_the_request_was_created():
    dim_user, _ = scd2_update(users([(1, "a@x", "A", "B", "user", True, None, T[0], T[0])]), None, USER, T[1])
    dim_user, _ = scd2_update(users([(1, "a@x", "A", "B", "mentor", True, None, T[0], T[4])]), dim_user, USER, T[5])
    dim_service, _ = scd2_update(pl.DataFrame({"code": ["s"], "name": ["S"], "is_active": [True], "created_at": [T[0]]}),
                                 None, SERVICE, T[1])
    dim_company, _ = scd2_update(pl.DataFrame({"id": [9], "name": ["Co"], "tin": [None], "company_type_clean": ["x"],
                                               "status": ["active"], "verified": [True], "created_at": [T[0]],
                                               "updated_at": [T[0]]}, schema_overrides={"tin": pl.String}),
                                 None, COMPANY, T[1])
    requests = pl.DataFrame({"id": [100, 101, 102], "service_id": ["s", "s", "missing"], "author_id": [1, 1, 1],
                             "company_id": [None, 9, None], "status": ["sent"] * 3, "signature_count": [0, 1, 2],
                             "created_at": [T[2], T[6], T[6]], "updated_at": [T[2], T[6], T[6]]},
                            schema_overrides={"company_id": pl.Int64})
    facts = fact_requests(requests, {"dim_user": dim_user, "dim_company": dim_company, "dim_service": dim_service})
    user_versions = dict(dim_user.select("role", "user_sk").rows())
    assert facts["user_sk"].to_list() == [user_versions["user"], user_versions["mentor"], user_versions["mentor"]]
    assert facts["company_sk"].to_list()[0] is None and facts["company_sk"].to_list()[1] == dim_company["company_sk"][0]
    assert facts["service_sk"].to_list()[2] is None  # no such service: no dimension key


def test_silent_changes_open_their_version_when_observed_never_a_zero_length_one():
    # Django's QuerySet.update() and ON DELETE SET NULL change rows without moving updated_at
    first, _ = scd2_update(users([(1, "a@x", "A", "B", "user", True, 7, T[0], T[1])]), None, USER, T[2])
    assert first["valid_from"].to_list() == [T[0]]
    dim = first
    for round_, (role, company, observed) in enumerate([("mentor", 7, T[3]), ("mentor", None, T[4]),
                                                        ("admin", None, T[5])], start=1):
        silent = users([(1, "a@x", "A", "B", role, True, company, T[0], T[1])])  # updated_at still T[1]
        dim, counts = scd2_update(silent, dim, USER, observed)
        assert (counts.opened, counts.closed_changed, counts.versions) == (1, 1, round_ + 1)
    versions = dim.sort("valid_from")
    assert versions["valid_from"].to_list() == [T[0], T[3], T[4], T[5]]
    assert versions["valid_to"].to_list() == [T[3], T[4], T[5], None]
    assert (versions["valid_to"].drop_nulls() > versions["valid_from"].head(3)).all()  # no zero-length version
    assert versions["user_sk"].n_unique() == 4 and versions["is_current"].sum() == 1
    # a source clock ahead of ours (updated_at in the future) still gives a later version
    ahead = users([(2, "b@x", "C", "D", "user", True, None, T[8], T[8])])
    dim2, _ = scd2_update(ahead, None, USER, T[2])
    dim2, _ = scd2_update(ahead.with_columns(pl.lit("admin").alias("role")), dim2, USER, T[3])
    later = dim2.sort("valid_from")["valid_from"].to_list()
    assert later[1] > later[0] and dim2["user_sk"].n_unique() == 2
