"""A table of bad inputs, each through the real `techhub-lake` command: what a user can get wrong
(catalog, URLs, lake roots, arguments, settings) ends in one line naming what, where and the
remedy, with exit code 1 (2 for arguments click itself rejects), never a traceback; what a source
can get wrong (hostile rows, schema drift) is cleaned and flagged, and only a type change no
type can hold stops its own table, in one line.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import psycopg2
import pytest
import yaml

from techhub_lake.catalog.model import DEFAULT_CATALOG_PATH
from techhub_lake.lake.delta import read_delta
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.silver.current_state import silver_table_path
from techhub_lake.source.embedded import EmbeddedPostgres
from techhub_lake.source.generator import init_source
from techhub_lake_tests.conftest import catalog_starting

pytestmark = pytest.mark.slow
CLI = str(Path(sys.executable).with_name("techhub-lake"))
CITY = ["refresh", "--skip-checks", "--select", "key:bronze/core/city"]


def cli(args: list[str], work: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The command as a user runs it: its own process, a state directory of its own, no inherited
    source, lake or Dagster settings but those given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TECHHUB_", "DAGSTER_", "AWS_"))}
    environment = clean | {"TECHHUB_STATE_DIR": str(work / "state"), "TECHHUB_LAKE_ROOT": str(work / "lake"),
                           "DAGSTER_HOME": str(work / "home")} | env
    (work / "home").mkdir(exist_ok=True)
    try:
        return subprocess.run([CLI, *args], env=environment, capture_output=True, text=True, timeout=600, cwd=work)
    finally:  # the command leaves the embedded server running for the next one; a test must not
        EmbeddedPostgres(work / "state" / "postgres").stop()


def assert_one_line(result: subprocess.CompletedProcess, code: int, parts: tuple[str, ...]) -> str:
    assert result.returncode == code, (result.returncode, result.stdout[-1500:], result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    for part in parts:
        assert part in errors[0], (part, errors[0])
    return errors[0]


def catalog_doc() -> dict:
    return yaml.safe_load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))


def write_catalog(work: Path, change: Callable[[dict], object] | str) -> str:
    path = work / "bad.yaml"
    if isinstance(change, str):
        path.write_text(change, encoding="utf-8")
    else:
        doc = catalog_doc()
        change(doc)
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(path)


def table_entry(doc: dict, name: str) -> dict:
    return next(t for t in doc["tables"] if t["name"] == name)


@dataclass(frozen=True)
class Bad:
    """One bad input: the command, how the environment is set up, the exit code, what the line says."""

    name: str
    args: list[str]
    setup: Callable[[Path, dict], dict] = lambda work, world: {}
    code: int = 1
    parts: tuple[str, ...] = ()


def with_catalog(change) -> Callable[[Path, dict], dict]:
    return lambda work, world: {"TECHHUB_CATALOG": write_catalog(work, change)}


def with_live_catalog(change) -> Callable[[Path, dict], dict]:
    return lambda work, world: {"TECHHUB_CATALOG": write_catalog(work, change), "TECHHUB_SOURCE_URL": world["url"]}


def with_source(url: Callable[[dict], str]) -> Callable[[Path, dict], dict]:
    return lambda work, world: {"TECHHUB_SOURCE_URL": url(world), "TECHHUB_CATALOG": world["recent_catalog"]}


def with_lake(root: Callable[[Path, dict], str], **more: str) -> Callable[[Path, dict], dict]:
    return lambda work, world: {"TECHHUB_LAKE_ROOT": root(work, world), "TECHHUB_SOURCE_URL": world["url"],
                                "TECHHUB_CATALOG": world["recent_catalog"], **more}


def a_file(work: Path, _world) -> str:
    (work / "a-file").write_text("not a directory")
    return str(work / "a-file")


def _set(table: str, **values):
    return lambda doc: table_entry(doc, table).update(values)


def _drop(table: str, key: str):
    return lambda doc: table_entry(doc, table).pop(key)


CASES = [
    # --- the catalog ------------------------------------------------------------------------------
    Bad("catalog file missing", ["catalog", "check"], lambda w, _: {"TECHHUB_CATALOG": str(w / "nope.yaml")},
        parts=("nope.yaml",)),
    Bad("catalog not YAML", ["catalog", "check"], with_catalog("tables: [unclosed"), parts=("bad.yaml",)),
    Bad("catalog a list", ["catalog", "check"], with_catalog("- a\n- b\n"), parts=("bad.yaml",)),
    Bad("catalog empty", ["catalog", "check"], with_catalog(""), parts=("bad.yaml",)),
    Bad("unknown strategy", ["catalog", "check"], with_catalog(_set("account_user", strategy="incrementl")),
        parts=("account_user", "strategy", "incrementl")),
    Bad("incremental without watermark", ["catalog", "check"], with_catalog(_drop("account_user", "watermark")),
        parts=("account_user", "watermark")),
    Bad("duplicate table", ["catalog", "check"],
        with_catalog(lambda d: d["tables"].append(dict(table_entry(d, "core_city")))), parts=("core_city", "duplicate")),
    Bad("unknown field", ["catalog", "check"], with_catalog(_set("core_city", watermak="updated_at")),
        parts=("core_city", "watermak")),
    Bad("bad duration", ["catalog", "check"], with_catalog(_set("account_user", lookback="two days")),
        parts=("account_user", "lookback")),
    Bad("module mismatch", ["catalog", "check"], with_catalog(_set("account_user", module="core")),
        parts=("account_user", "module")),
    Bad("bad time zone", ["catalog", "check"],
        with_catalog(lambda d: d["defaults"].update(timezone="Asia/Nowhere")), parts=("timezone",)),
    Bad("history starting in the future", ["catalog", "check"],
        with_catalog(lambda d: d["defaults"].update(start_date="2099-01-01")), parts=("start_date",)),
    Bad("start date not a date", ["catalog", "check"],
        with_catalog(lambda d: d["defaults"].update(start_date="yesterday")), parts=("start_date",)),
    Bad("catalog path is a directory", ["catalog", "check", "--catalog", "."], code=2),
    Bad("table missing in the source", ["catalog", "check"],
        with_live_catalog(lambda d: d["tables"].append({"name": "core_ghost", "module": "core", "strategy": "full"})),
        parts=("1 mismatch",)),
    Bad("watermark missing in the source", ["catalog", "check"],
        with_live_catalog(_set("account_user", watermark="modified_at")), parts=("mismatch",)),
    Bad("primary key missing in the source", ["catalog", "check"],
        with_live_catalog(_set("core_city", primary_key=["uuid"])), parts=("mismatch",)),
    Bad("PII column missing in the source", ["catalog", "check"],
        with_live_catalog(_set("account_user", pii=["email", "passport"])), parts=("mismatch",)),
    # --- the source URL ---------------------------------------------------------------------------
    Bad("source URL not a URL", ["catalog", "check"], lambda w, _: {"TECHHUB_SOURCE_URL": "not a url"},
        parts=("TECHHUB_SOURCE_URL", "not a database URL")),
    Bad("source URL of another database", ["catalog", "check"],
        lambda w, _: {"TECHHUB_SOURCE_URL": "mysql://root@127.0.0.1/techhub"}, parts=("mysql",)),
    Bad("source refuses connections", ["catalog", "check"],
        lambda w, _: {"TECHHUB_SOURCE_URL": "postgresql://u:secret@127.0.0.1:1/techhub"},
        parts=("127.0.0.1:1",)),
    Bad("source password never printed", ["catalog", "check"],
        lambda w, _: {"TECHHUB_SOURCE_URL": "postgresql://u:hunter2@127.0.0.1:1/techhub"}, parts=("***",)),
    Bad("source database missing", ["catalog", "check"],
        lambda w, world: {"TECHHUB_SOURCE_URL": world["server"].url("no_such_database")},
        parts=("no_such_database",)),
    Bad("source role cannot log in", CITY, with_source(lambda world: world["no_login"]),
        parts=("bronze/core/city", "not permitted to log in")),
    Bad("source role without SELECT", CITY, with_source(lambda world: world["no_select"]),
        parts=("bronze/core/city", "core_city")),
    # --- the lake root ----------------------------------------------------------------------------
    Bad("lake root s3 without a bucket", CITY, with_lake(lambda w, _: "s3://"), parts=("no bucket",)),
    Bad("lake root in a missing bucket", CITY,
        lambda w, world: with_lake(lambda *_: "s3://no-such-bucket/lake", **world["s3_env"])(w, world),
        parts=("no-such-bucket",)),
    Bad("lake root on an S3 server that is down", CITY,
        with_lake(lambda w, _: "s3://datalake/lake", AWS_ENDPOINT_URL="http://127.0.0.1:1", AWS_ACCESS_KEY_ID="k",
                  AWS_SECRET_ACCESS_KEY="s", AWS_REGION="us-east-1"), parts=("127.0.0.1:1",)),
    Bad("lake root is a file", CITY, with_lake(a_file), parts=("a-file", "not a directory")),
    Bad("lake root of an unknown scheme", CITY, with_lake(lambda w, _: "gs://bucket/lake"), parts=("gs://",)),
    # --- arguments ---------------------------------------------------------------------------------
    Bad("selection that does not parse", ["refresh", "--select", "key:(((nope"], parts=("--select",)),
    Bad("selection matching nothing", ["refresh", "--select", "key:bronze/core/ghost"],
        with_source(lambda world: world["url"]), parts=("matches no asset",)),
    Bad("rebuild of an unknown asset", ["rebuild", "silver/nowhere"], with_source(lambda world: world["url"]),
        parts=("silver/nowhere", "no asset")),
    Bad("rebuild --reextract of a mart", ["rebuild", "gold/techhub/dm_users", "--reextract"],
        with_source(lambda world: world["url"]), parts=("reads no bronze asset",)),
    Bad("demo at scale 0", ["demo", "--scale", "0", "--no-ui"], code=2),
    Bad("demo at scale 11", ["demo", "--scale", "11", "--no-ui"], code=2),
    Bad("ui on a privileged port", ["ui", "--port", "80"], code=2),
    Bad("source init at a negative scale", ["source", "init", "--scale", "-1"], code=2),
    Bad("unknown command", ["refrsh"], code=2),
    Bad("unknown flag", ["refresh", "--everything"], code=2),
    # --- settings ----------------------------------------------------------------------------------
    Bad("unknown executor", CITY, lambda w, world: {"TECHHUB_EXECUTOR": "spark", "TECHHUB_SOURCE_URL": world["url"]},
        parts=("TECHHUB_EXECUTOR", "spark")),
]


@pytest.fixture(scope="module")
def world(new_database, pg_server, s3_server, tmp_path_factory):
    """A source, roles that cannot log in or read, an S3 server, a short catalog."""
    url = new_database()
    init_source(url, scale=0.002, seed=17)
    conn = psycopg2.connect(pg_server.url("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS bad_no_login; CREATE ROLE bad_no_login NOLOGIN")
        cur.execute("DROP ROLE IF EXISTS bad_no_select; CREATE ROLE bad_no_select LOGIN")
    conn.close()
    work = tmp_path_factory.mktemp("bad-inputs")
    return {
        "url": url, "server": pg_server,
        "no_login": url.replace("postgres:@", "bad_no_login:@", 1),
        "no_select": url.replace("postgres:@", "bad_no_select:@", 1),
        "recent_catalog": str(catalog_starting(work, (dt.date.today() - dt.timedelta(days=5)).isoformat()).path),
        "s3_env": {"AWS_ENDPOINT_URL": s3_server["endpoint_url"], "AWS_REGION": s3_server["region"],
                   "AWS_ACCESS_KEY_ID": s3_server["access_key_id"],
                   "AWS_SECRET_ACCESS_KEY": s3_server["secret_access_key"]},
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_input_is_one_line_and_an_exit_code(case, world, tmp_path):
    result = cli(case.args, tmp_path, case.setup(tmp_path, world))
    if case.code == 2:  # click's own usage errors: its usage line and one "Error:" line
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert sum(line.startswith("Error:") for line in result.stderr.splitlines()) == 1, result.stderr
        return
    assert_one_line(result, case.code, case.parts)
    assert "hunter2" not in result.stdout + result.stderr


# --- hostile rows: cleaned and flagged, never a stop -------------------------------------------------------

HOSTILE_USERS = {  # one user each: what the source holds, what silver must make of it
    "extra_courses as objects": ("""data = jsonb_build_object('extra_courses', '[{"name": "ML", "year": 2020}]'::jsonb)""",
                                 {"extra_courses": None, "dq_data_extra_courses_invalid": True}),
    "data a JSON string": ("""data = '"just a string"'""", {"goals": None, "dq_data_goals_missing": True}),
    "data JSON null": ("data = 'null'", {"goals": None, "dq_data_goals_missing": True}),
    "data a JSON array": ("data = '[1, 2]'", {"goals": None, "dq_data_goals_missing": True}),
    "goals not a list": ("""data = '{"goals": "all of them"}'""", {"goals": None, "dq_data_goals_invalid": True}),
    "skills of mixed types": ("""data = '{"hard_skills": [1, {"a": 1}, "sql"]}'""",
                              {"hard_skills": None, "dq_data_hard_skills_invalid": True}),
    "deeply nested goals": ("""data = '{"goals": [[[["deep"]]]]}'""", {"goals": None, "dq_data_goals_invalid": True}),
    "permission not a boolean": ("""permissions = '{"crm": "yes"}'""",
                                 {"permissions_crm": None, "dq_permissions_crm_invalid": True}),
    "e-mail in capitals with spaces": ("email = '  MiXeD@Example.COM  '",
                                       {"email_clean": "mixed@example.com", "dq_email_invalid": False}),
    "e-mail that is not one": ("email = 'call me at +7 701'", {"email_clean": None, "dq_email_invalid": True}),
    "last login at infinity": ("last_login = 'infinity'",
                               {"last_login": None, "dq_last_login_out_of_range": True}),
    "created in year 1": ("created_at = '0001-01-01 00:00:00+00'",
                          {"created_at": dt.datetime(1, 1, 1, tzinfo=dt.UTC)}),
    "names in four scripts and a megabyte of JSON": (
        "first_name = 'Әлия 🚀 שלום Zoë', data = jsonb_build_object('note', repeat('ж', 1000000))",
        {"first_name": "Әлия 🚀 שלום Zoë"}),
}
HOSTILE_COMPANIES = {
    "TIN empty": ("tin = ''", {"tin": None, "tin_raw": "", "dq_tin_invalid": True}),
    "TIN of 11 digits": ("tin = '12345678901'", {"tin": None, "tin_raw": "12345678901", "dq_tin_invalid": True}),
    "rating NaN": ("rating = 'NaN'", {"rating": None}),
    "company type with spaces": ("company_type = '  ТОО  '", {"company_type_clean": "ТОО"}),
    "startup tag a JSON string": ("""tag_startup = '"weird"'""", {"startup_status": None}),
}


@pytest.fixture(scope="module")
def hostile_lake(new_database, tmp_path_factory):
    """A source whose rows were written by something other than our generator, loaded by one refresh."""
    url = new_database()
    init_source(url, scale=0.002, seed=19)
    work = tmp_path_factory.mktemp("hostile")
    ids: dict[str, int] = {}
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        for table, cases in (("account_user", HOSTILE_USERS), ("account_company", HOSTILE_COMPANIES)):
            cur.execute(f"SELECT id FROM {table} ORDER BY id LIMIT %s", (len(cases),))
            for (name, (assignment, _)), (row_id,) in zip(cases.items(), cur.fetchall(), strict=True):
                cur.execute(f"UPDATE {table} SET {assignment}, updated_at = now() WHERE id = %s", (row_id,))
                ids[name] = row_id
    conn.close()
    catalog = str(catalog_starting(work, "2019-01-01").path)
    result = cli(["refresh", "--skip-checks", "--select",
                  "key:bronze/account/user or key:silver/account/user or key:bronze/account/company or "
                  "key:silver/account/company"], work, {"TECHHUB_SOURCE_URL": url, "TECHHUB_CATALOG": catalog})
    return url, work, ids, result


@pytest.mark.parametrize("name", [*HOSTILE_USERS, *HOSTILE_COMPANIES])
def test_a_hostile_row_is_cleaned_and_flagged_never_a_stop(hostile_lake, name):
    from techhub_lake.catalog import load_catalog

    url, work, ids, result = hostile_lake
    assert result.returncode == 0, result.stderr[-3000:]
    table_name = "account_user" if name in HOSTILE_USERS else "account_company"
    _, expected = (HOSTILE_USERS | HOSTILE_COMPANIES)[name]
    table = load_catalog().table(table_name)
    silver = read_delta(LakeFiles(str(work / "lake")), silver_table_path(table)).filter(pl.col("id") == ids[name])
    assert silver.height == 1
    row = silver.select(list(expected)).row(0, named=True)
    assert row == expected, (name, row)


def test_a_reversed_partition_range_names_itself_not_an_index_error(world, tmp_path):
    """Dagster's own CLI accepts FIRST...LAST with FIRST after LAST; the asset says what is wrong."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TECHHUB_", "DAGSTER_", "AWS_"))}
    (tmp_path / "home").mkdir()
    env = clean | {"TECHHUB_STATE_DIR": str(tmp_path / "state"), "TECHHUB_LAKE_ROOT": str(tmp_path / "lake"),
                   "DAGSTER_HOME": str(tmp_path / "home"), "TECHHUB_SOURCE_URL": world["url"]}
    dagster = str(Path(sys.executable).with_name("dagster"))
    result = subprocess.run([dagster, "asset", "materialize", "-m", "techhub_lake.definitions", "--select",
                             "bronze/core/actionlog", "--partition-range", "2026-11-10...2026-11-01"],
                            env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "the partition range 2026-11-10...2026-11-01 holds no day" in output and "IndexError" not in output
