"""The warehouse publication on a real PostgreSQL: typed, keyed and commented tables; parts replaced
and nothing else rewritten; readers in other transactions never see an empty or partial table;
the BI role reads ``analytics`` and nothing else."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import polars as pl
import psycopg2
import pytest

from techhub_lake.serve.warehouse import (
    BI_ROLE,
    MartTable,
    WarehouseSchemaError,
    ensure_bi_role,
    publish,
    serialize_publications,
    warehouse_type,
)
from techhub_lake_tests.conftest import execute, query
from techhub_lake_tests.helpers import frame_differences, published_frame, warehouse_for

FUNNEL_LIKE = MartTable("funnel_like", ("service", "month"), "per service and month",
                        {"service": "The service", "month": "First day of the month", "requests": "How many"},
                        part_column="month")


def _publish(url: str, mart: MartTable, frame: pl.DataFrame, version: int | None = None):
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            serialize_publications(cur)
            return publish(cur, mart, frame, version)
    finally:
        conn.close()


def _months(frame_months: dict[str, int], services=("a", "b")) -> pl.DataFrame:
    rows = [(s, dt.date.fromisoformat(m), n) for m, n in frame_months.items() for s in services]
    return pl.DataFrame(rows, schema={"service": pl.String, "month": pl.Date, "requests": pl.Int64}, orient="row")


@pytest.fixture
def warehouse(new_database) -> str:
    return warehouse_for(new_database())


def test_every_type_round_trips_typed_with_null_and_empty_strings_apart(warehouse):
    frame = pl.DataFrame({
        "id": [1, 2, 3],
        "name": ["Алматы; \"quoted\", comma\nline", "", None],
        "amount": pl.Series([Decimal("12.50"), None, Decimal("-0.01")], dtype=pl.Decimal(12, 2)),
        "ratio": [0.5, float("nan"), None],
        "small": pl.Series([1, None, 3], dtype=pl.Int32),
        "flag": [True, False, None],
        "day": [dt.date(2024, 2, 29), None, dt.date(2019, 1, 1)],
        "at": pl.Series([dt.datetime(2024, 1, 1, 6, 30, tzinfo=dt.UTC), None, dt.datetime(2020, 5, 5, tzinfo=dt.UTC)]),
        "tags": [["a", 'b"c', None, "d,e"], [], None],
        "extra": [{"k": 1, "v": "x"}, None, {"k": 2, "v": None}],
    })
    mart = MartTable("typed", ("id",), "types", {"amount": "Money, KZT"})
    done = _publish(warehouse, mart, frame, version=7)
    assert done.created and done.rows_copied == 3 and done.rows_held == 3
    types = dict(query(warehouse, "SELECT column_name, format_type(atttypid, atttypmod) FROM information_schema.columns c "
                                  "JOIN pg_attribute a ON a.attrelid = 'analytics.typed'::regclass AND a.attname = c.column_name "
                                  "WHERE table_schema = 'analytics' AND table_name = 'typed'"))
    assert types == {"id": "bigint", "name": "text", "amount": "numeric(12,2)", "ratio": "double precision",
                     "small": "integer", "flag": "boolean", "day": "date", "at": "timestamp with time zone",
                     "tags": "text[]", "extra": "jsonb"}
    rows = {r[0]: r[1:] for r in query(warehouse, "SELECT id, name, amount, ratio, tags, extra, name IS NULL FROM analytics.typed")}
    assert rows[1][0] == "Алматы; \"quoted\", comma\nline" and rows[1][1] == Decimal("12.50")
    assert rows[2][0] == "" and rows[2][5] is False  # an empty string stays an empty string
    assert rows[3][0] is None and rows[3][5] is True  # and a null a null
    assert str(rows[2][2]) == "nan" and rows[3][2] is None
    assert rows[1][3] == ["a", 'b"c', None, "d,e"] and rows[2][3] == [] and rows[3][3] is None
    assert rows[1][4] == {"k": 1, "v": "x"} and rows[2][4] is None
    assert query(warehouse, "SELECT col_description('analytics.typed'::regclass, 3)") == [("Money, KZT",)]
    assert query(warehouse, "SELECT obj_description('analytics.typed'::regclass)") == [("types",)]
    key = query(warehouse, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'analytics.typed'::regclass "
                           "AND contype = 'p'")
    assert key == [("PRIMARY KEY (id)",)]
    # and read back through Arrow it equals what was published (numeric, NaN and jsonb checked above)
    assert frame_differences(published_frame(warehouse, "typed").drop("amount", "ratio", "extra"),
                             frame.drop("amount", "ratio", "extra"), ["id"]) == []
    # published again unchanged: the columns compare equal, nothing is created or written
    again = _publish(warehouse, mart, frame, version=8)
    assert not again.created and not again.changed


def test_a_type_the_warehouse_cannot_hold_is_named():
    with pytest.raises(WarehouseSchemaError, match="'blob' has type Object"):
        warehouse_type(pl.Object, "blob")


def test_only_changed_months_are_rewritten_and_an_unchanged_table_not_at_all(warehouse):
    months = {"2024-01-01": 5, "2024-02-01": 6, "2024-03-01": 7}
    first = _publish(warehouse, FUNNEL_LIKE, _months(months))
    assert first.created and len(first.parts_replaced) == 3
    versions = dict(query(warehouse, "SELECT service || month, xmin::text FROM analytics.funnel_like"))

    again = _publish(warehouse, FUNNEL_LIKE, _months(months))
    assert not again.changed and again.rows_copied == 0
    assert dict(query(warehouse, "SELECT service || month, xmin::text FROM analytics.funnel_like")) == versions

    changed = _publish(warehouse, FUNNEL_LIKE, _months({"2024-01-01": 5, "2024-02-01": 60, "2024-04-01": 1}))
    assert changed.parts_replaced == ("2024-02-01", "2024-04-01") and changed.parts_removed == ("2024-03-01",)
    assert changed.rows_copied == 4 and changed.rows_held == 6 and not changed.created
    after = dict(query(warehouse, "SELECT service || month, xmin::text FROM analytics.funnel_like"))
    assert {k: v for k, v in after.items() if "2024-01" in k} == {k: v for k, v in versions.items() if "2024-01" in k}
    assert sorted(query(warehouse, "SELECT month::text, sum(requests) FROM analytics.funnel_like GROUP BY 1")) == [
        ("2024-01-01", 10), ("2024-02-01", 120), ("2024-04-01", 2)]


def test_changed_columns_create_the_table_again(warehouse):
    _publish(warehouse, FUNNEL_LIKE, _months({"2024-01-01": 5}))
    wider = _months({"2024-01-01": 5}).with_columns(pl.lit(1.5).alias("share"))
    done = _publish(warehouse, FUNNEL_LIKE, wider)
    assert done.created and done.rows_held == 2
    assert query(warehouse, "SELECT share FROM analytics.funnel_like LIMIT 1") == [(1.5,)]
    retyped = wider.with_columns(pl.col("requests").cast(pl.Float64))
    assert _publish(warehouse, FUNNEL_LIKE, retyped).created
    assert query(warehouse, "SELECT data_type FROM information_schema.columns WHERE table_schema = 'analytics' "
                            "AND column_name = 'requests'") == [("double precision",)]


def test_readers_never_see_an_empty_or_partial_table_while_a_publication_runs(warehouse):
    mart = MartTable("big", ("id",))
    old = pl.DataFrame({"id": range(200_000), "v": ["old"] * 200_000})
    _publish(warehouse, mart, old)
    # a reader whose snapshot predates the publication, in a transaction held open across it
    held = psycopg2.connect(warehouse)
    held.set_session(isolation_level="REPEATABLE READ", readonly=True)
    held_cur = held.cursor()
    held_cur.execute("SELECT count(*) FROM analytics.big")
    seen: list[tuple[int, int]] = []
    stop = threading.Event()

    def poll() -> None:  # plain readers, one statement each, as a dashboard's queries are
        conn = psycopg2.connect(warehouse)
        conn.autocommit = True
        with conn.cursor() as cur:
            while not stop.is_set():
                cur.execute("SELECT count(*), count(*) FILTER (WHERE v = 'new') FROM analytics.big")
                seen.append(cur.fetchone())
        conn.close()

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for round_number in range(3):
            new = pl.DataFrame({"id": range(250_000), "v": ["new" if round_number % 2 == 0 else "old"] * 250_000})
            _publish(warehouse, mart, new)
    finally:
        stop.set()
        reader.join()
    held_cur.execute("SELECT count(*), count(*) FILTER (WHERE v = 'new') FROM analytics.big")
    assert held_cur.fetchone() == (200_000, 0)  # the old snapshot still sees the old rows, all of them
    held.close()
    assert len(seen) > 3
    assert set(seen) <= {(200_000, 0), (250_000, 250_000), (250_000, 0)}, sorted(set(seen))


def test_the_bi_role_reads_analytics_and_nothing_else(warehouse, new_database):
    source = new_database()
    execute(source, "CREATE TABLE account_user (id bigint primary key, email text)", "INSERT INTO account_user VALUES (1, 'a@b.kz')")
    _publish(warehouse, FUNNEL_LIKE, _months({"2024-01-01": 5}))
    conn = psycopg2.connect(warehouse)
    with conn, conn.cursor() as cur:
        ensure_bi_role(cur, "bi-secret-1")
        ensure_bi_role(cur, "bi-secret-2")  # idempotent; the password follows the environment
    conn.close()
    bi = psycopg2.extensions.make_dsn(warehouse, user=BI_ROLE, password="bi-secret-2")
    assert query(bi, "SELECT count(*) FROM analytics.funnel_like") == [(2,)]
    _publish(warehouse, MartTable("later", ("id",)), pl.DataFrame({"id": [1]}))  # published after the grant
    assert query(bi, "SELECT count(*) FROM analytics.later") == [(1,)]
    refused = [
        (bi, "SELECT * FROM techhub_serve.published"),
        (bi, "CREATE TABLE analytics.mine (id int)"),
        (bi, "CREATE TABLE public.mine (id int)"),
        (bi, "INSERT INTO analytics.later VALUES (2)"),
        (bi, "DELETE FROM analytics.later"),
        (psycopg2.extensions.make_dsn(source, user=BI_ROLE, password="bi-secret-2"), "SELECT * FROM account_user"),
    ]
    for dsn, statement in refused:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            execute(dsn, statement)
    (role,) = query(warehouse, "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = %s",
                    (BI_ROLE,))
    assert role == (False, False, False, True)
    # (the embedded server trusts its Unix socket, so the password itself is enforced by a real
    # warehouse's pg_hba.conf, not here)


def test_a_warehouse_role_that_may_not_create_the_bi_role_is_told_what_to_ask_for(warehouse):
    from techhub_lake.source.connection import SourceRefused

    execute(warehouse, "DROP ROLE IF EXISTS techhub_bi_less", "CREATE ROLE techhub_bi_less LOGIN",
            "GRANT CREATE ON DATABASE " + warehouse.rsplit("/", 1)[1].split("?")[0] + " TO techhub_bi_less")
    owner = psycopg2.extensions.make_dsn(warehouse, user="techhub_bi_less")
    _publish(warehouse, FUNNEL_LIKE, _months({"2024-01-01": 5}))
    conn = psycopg2.connect(warehouse)
    with conn, conn.cursor() as cur:  # the role exists (roles are the server's, not a database's)
        ensure_bi_role(cur, "bi-secret")
    conn.close()
    conn = psycopg2.connect(owner)
    with pytest.raises(SourceRefused, match="may not alter the BI role techhub_bi: give it CREATEROLE"):
        with conn, conn.cursor() as cur:
            ensure_bi_role(cur, "bi-secret")
    conn.close()
