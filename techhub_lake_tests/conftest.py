"""Real resources shared by the tests: an embedded PostgreSQL the tests start themselves, and
generated TechHub sources on it."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

import psycopg2
import pytest

from techhub_lake.automation.instance import postgres_storage_config
from techhub_lake.settings import EVENT_SWITCHES
from techhub_lake.source.embedded import EmbeddedPostgres
from techhub_lake.source.generator import init_source

# Small scales keep the suite fast; scale 1 belongs to the benchmarks.
SOURCE_SCALE = 0.05
SOURCE_SEED = 42


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the tests away from a developer's own source, lake and Dagster instance."""
    saved = {k: os.environ.get(k) for k in ("TECHHUB_SOURCE_URL", "TECHHUB_LAKE_ROOT", "TECHHUB_STATE_DIR", "DAGSTER_HOME",
                                            "TECHHUB_CATALOG", "DAGSTER_POSTGRES_URL", *EVENT_SWITCHES)}
    for key in saved:
        os.environ.pop(key, None)
    os.environ["TECHHUB_STATE_DIR"] = str(tmp_path_factory.mktemp("state"))
    os.environ.update(EVENT_SWITCHES)  # as in production: runs created and executed in this process
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def lake_defs():
    """The whole graph as Dagster loads it in this (isolated) environment: the packaged catalog and
    the environment's resources. Built once per session."""
    from techhub_lake.definitions import lake_definitions

    return lake_definitions()[0]


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """One embedded PostgreSQL for the whole session (started as whatever user runs the tests)."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data")
    server.start()
    yield server
    server.destroy()


_database_names = (f"techhub_test_{n}" for n in itertools.count(1))


@pytest.fixture(scope="session")
def new_database(pg_server: EmbeddedPostgres) -> Callable[[], str]:
    """Create an empty database on the session server and return its URL."""

    def create() -> str:
        name = next(_database_names)
        conn = psycopg2.connect(pg_server.url("postgres"))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return pg_server.url(name)

    return create


@pytest.fixture(scope="session")
def generated_source(new_database: Callable[[], str]) -> str:
    """A TechHub source generated at SOURCE_SCALE / SOURCE_SEED; tests must not modify it."""
    url = new_database()
    init_source(url, scale=SOURCE_SCALE, seed=SOURCE_SEED)
    return url


def query(url: str, sql: str, params: tuple | dict | None = None) -> list[tuple]:
    """Run one query on ``url`` and return all rows."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.rollback()
        conn.close()


def execute(url: str, *statements: str) -> None:
    """Run statements on ``url``, each committed on its own."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real S3-compatible server (moto in server mode) on loopback with a `datalake` bucket, in a
    process of its own, as MinIO would be: a server thread in the test process would stall whenever
    delta-rs holds the GIL while it waits for that server. The keys are throwaway values that only
    this loopback server accepts."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    import boto3

    from techhub_lake_tests.dagster_services import free_port

    port = free_port()
    log = (tmp_path_factory.mktemp("s3") / "moto.log").open("w")
    server = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=log, stderr=subprocess.STDOUT)
    access = {"endpoint_url": f"http://127.0.0.1:{port}", "region": "us-east-1",
              "access_key_id": "loopback-test", "secret_access_key": "loopback-test"}
    client = boto3.client("s3", endpoint_url=access["endpoint_url"], region_name=access["region"],
                          aws_access_key_id=access["access_key_id"], aws_secret_access_key=access["secret_access_key"])
    deadline = time.monotonic() + 60
    while True:
        try:
            client.create_bucket(Bucket="datalake")
            break
        except Exception:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    yield access
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture
def dagster_instance(tmp_path, new_database) -> Iterator:
    """A real Dagster instance in a temporary DAGSTER_HOME with its storage in PostgreSQL (a database
    of its own on the session's server), like the lake's."""
    import dagster as dg

    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home), overrides=postgres_storage_config(new_database())) as instance:
        yield instance


def catalog_starting(tmp_path, start_date: str, path: str | None = None, strategies: dict[str, str] | None = None):
    """The packaged catalog with history starting at ``start_date`` (fewer partitions for fast tests),
    and the tables named in ``strategies`` switched to the strategy given."""
    import yaml

    from techhub_lake.catalog import load_catalog
    from techhub_lake.catalog.model import DEFAULT_CATALOG_PATH

    doc = yaml.safe_load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))
    doc["defaults"]["start_date"] = start_date
    for entry in doc["tables"]:
        if entry["name"] in (strategies or {}):
            entry["strategy"] = strategies[entry["name"]]
            if strategies[entry["name"]] not in ("incremental", "append"):
                entry.pop("partitioning", None)
    target = tmp_path / (path or "tables.yaml")
    target.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_catalog(target)
