"""The embedded PostgreSQL: starts (as root too), listens on no TCP port, and leaves nothing running."""

from __future__ import annotations

import os

import psutil
import psycopg2
import pytest

from techhub_lake.source.embedded import (
    EmbeddedPostgres,
    embedded_source,
    process_alive,
)


def _server_processes(data_dir) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["status"] != psutil.STATUS_ZOMBIE and any(str(data_dir) in part for part in cmdline):
            found.append(proc)
    return found


def test_starts_serves_and_stops_leaving_nothing_running(tmp_path):
    server = EmbeddedPostgres(tmp_path / "pg")
    url = server.start()
    pid = server.pid()
    try:
        conn = psycopg2.connect(url)
        with conn.cursor() as cur:
            cur.execute("SELECT current_database(), current_setting('listen_addresses'), current_setting('fsync')")
            assert cur.fetchone() == ("techhub", "", "off")  # Unix socket only; bulk-load tuning applied
        conn.close()
        owner = psutil.Process(pid).username()
        if os.geteuid() == 0:
            assert owner != "root", "PostgreSQL must run as an unprivileged user when started by root"
        assert server.start() == url  # idempotent: attaches to the running server
    finally:
        assert server.stop() is True
    assert not process_alive(pid)
    assert _server_processes(server.data_dir) == []
    assert server.url() is None and server.stop() is False


def test_context_manager_stops_the_server_even_on_error(tmp_path):
    data_dir = tmp_path / "pg"
    with pytest.raises(RuntimeError, match="boom"), embedded_source(data_dir) as url:
        pid = EmbeddedPostgres(data_dir).pid()
        psycopg2.connect(url).close()
        raise RuntimeError("boom")
    assert not process_alive(pid)
    assert not data_dir.exists()
    assert _server_processes(data_dir) == []


def test_restart_keeps_the_data(tmp_path):
    server = EmbeddedPostgres(tmp_path / "pg")
    url = server.start()
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('Қазақстан 🚀')")
    conn.close()
    server.stop()
    try:
        conn = psycopg2.connect(server.start())
        with conn.cursor() as cur:
            cur.execute("SELECT v FROM kept")
            assert cur.fetchone() == ("Қазақстан 🚀",)
        conn.close()
    finally:
        server.destroy()


def test_the_read_only_role_reads_every_table_and_writes_nothing(new_database, monkeypatch, tmp_path):
    """What the compose init service creates for the lake (`source init --reader lake_reader`)."""
    import psycopg2
    import pytest

    from techhub_lake.source.generator import init_source
    from techhub_lake.source.roles import ensure_read_only_role

    url = new_database()
    init_source(url, scale=0.002, seed=1)
    ensure_read_only_role(url, "lake_reader_test", "reader-secret")
    ensure_read_only_role(url, "lake_reader_test", "reader-secret")  # idempotent
    reader = url.replace("postgres:@", "lake_reader_test:reader-secret@", 1)
    conn = psycopg2.connect(reader)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM account_user")
            assert cur.fetchone()[0] > 0
            with pytest.raises(psycopg2.Error, match="read-only transaction|permission denied"):
                cur.execute("UPDATE account_user SET role = 'x'")
        conn.rollback()
        with conn.cursor() as cur, pytest.raises(psycopg2.Error, match="permission denied|read-only"):
            cur.execute("CREATE TABLE intruder (id int)")
    finally:
        conn.rollback()
        conn.close()
    with pytest.raises(ValueError, match="needs a password: set \\$TECHHUB_READER_PASSWORD"):
        ensure_read_only_role(url, "lake_reader_test", "")

    # it streams the captured tables' changes once the owner made the publication (`source init --reader`)
    from techhub_lake.bronze.stream import follow_stream
    from techhub_lake.catalog import load_catalog
    from techhub_lake.lake.storage import LakeFiles
    from techhub_lake.source import cdc

    catalog = load_catalog()
    captured = list(catalog.captured_tables)
    cdc.ensure_publication(url, [t.name for t in captured])
    try:
        run = follow_stream(reader, LakeFiles(str(tmp_path / "lake")), captured, catalog, run_id="reader")
        assert run.state.complete and set(run.snapshots) == {t.name for t in captured}
    finally:
        cdc.drop(url)
