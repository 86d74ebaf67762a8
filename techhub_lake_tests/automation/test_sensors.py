"""The sensors against a real source and a real Dagster instance: the source-change sensor after
churn, with no change, and with the database down; the funnel sensor; the run-failure sensor."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from deltalake import DeltaTable

from techhub_lake.automation.sensors import (
    RUN_FAILURES,
    build_source_change_sensor,
    run_failure_sensor,
)
from techhub_lake.automation.source_changes import decode_cursor
from techhub_lake.catalog import load_catalog
from techhub_lake.definitions import build_definitions
from techhub_lake.registry import tables_read_by
from techhub_lake.resources import LakeStorage, SourceDatabase
from techhub_lake.source.churn import churn_source
from techhub_lake.source.generator import init_source
from techhub_lake_tests.conftest import execute, query

pytestmark = pytest.mark.slow  # an end-to-end run of the lake: the full suite, not the fast tier

CATALOG = load_catalog()
ALMATY = ZoneInfo("Asia/Almaty")


def tick(sensor: dg.SensorDefinition, instance, cursor: str | None, url: str):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"source": SourceDatabase(url=url)})
    return sensor(context)


@pytest.fixture
def source(new_database):
    url = new_database()
    init_source(url, scale=0.005, seed=17)
    query(url, "SELECT pg_stat_force_next_flush()")
    return url


def test_churn_requests_exactly_the_changed_partitions_and_the_cursor_advances(source, dagster_instance):
    sensor = build_source_change_sensor(CATALOG)
    first = tick(sensor, dagster_instance, None, source)  # first tick: a baseline, no runs
    assert isinstance(first, dg.SensorResult) and not first.run_requests and "first tick" in first.skip_reason.skip_message
    cursor = first.cursor
    assert set(decode_cursor(cursor)) == {t.name for t in CATALOG.lake_tables if t.partitioning.value == "daily"}

    quiet = tick(sensor, dagster_instance, cursor, source)
    assert isinstance(quiet, dg.SkipReason) and "no incremental or append table changed" in quiet.skip_message

    report = churn_source(source, seed=5)
    query(source, "SELECT pg_stat_force_next_flush()")
    moved = tick(sensor, dagster_instance, cursor, source)
    assert isinstance(moved, dg.SensorResult)
    requested = {key.path[-1]: (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
                 for r in moved.run_requests for key in r.asset_selection}
    changed = {name for name, change in report.tables.items() if change.total
               and CATALOG.table(name).in_lake and CATALOG.table(name).partitioning.value == "daily"}
    assert {CATALOG.table(n).short_name for n in changed} == set(requested)
    today = dt.datetime.now(ALMATY).date()
    for name in changed:
        table = CATALOG.table(name)
        first_day, last_day = requested[table.short_name]
        assert last_day == today.isoformat()  # the churn stamps its rows now
        assert dt.date.fromisoformat(first_day) >= today - dt.timedelta(days=table.lookback.days)  # only the window
    assert moved.cursor != cursor
    # the new cursor holds the newest watermark the source has now
    newest = query(source, "SELECT max(updated_at) FROM account_user")[0][0]
    assert dt.datetime.fromisoformat(decode_cursor(moved.cursor)["account_user"].max_watermark) == newest

    again = tick(sensor, dagster_instance, moved.cursor, source)  # nothing since: skip
    assert isinstance(again, dg.SkipReason)


def test_a_dead_database_fails_the_tick_clearly_and_the_next_tick_recovers(source, dagster_instance):
    sensor = build_source_change_sensor(CATALOG)
    cursor = tick(sensor, dagster_instance, None, source).cursor
    dead = "postgresql://nobody@127.0.0.1:1/techhub"
    with pytest.raises(dg.Failure) as failure:
        tick(sensor, dagster_instance, cursor, dead)
    message = str(failure.value.description)
    assert message.startswith("source-change sensor:") and "127.0.0.1" in message and "\n" not in message
    assert isinstance(tick(sensor, dagster_instance, cursor, source), dg.SkipReason)  # back, nothing lost


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # the http.server API names it so
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_failed_run_is_recorded_in_the_lake_and_posted_to_the_webhook(tmp_path, dagster_instance, monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("TECHHUB_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/hook")
    lake = LakeStorage(root=str(tmp_path / "lake"))
    defs = build_definitions(CATALOG, {"source": SourceDatabase(url="postgresql://nobody@127.0.0.1:1/techhub"), "lake": lake})
    result = dg.materialize([defs.resolve_assets_def(dg.AssetKey(["bronze", "core", "city"]))],
                            instance=dagster_instance, raise_on_error=False)
    assert not result.success
    run = dagster_instance.get_run_by_id(result.run_id)
    failure = dagster_instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records[0].event_log_entry
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_sensor", dagster_event=failure.dagster_event, dagster_instance=dagster_instance,
        dagster_run=run, resources={"lake": lake}).for_run_failure()
    run_failure_sensor(context)
    server.shutdown()

    rows = DeltaTable(str(tmp_path / "lake" / RUN_FAILURES)).to_pyarrow_table().to_pylist()
    assert len(rows) == 1 and rows[0]["run_id"] == result.run_id
    assert rows[0]["assets"] == "bronze/core/city" and rows[0]["step"] == "bronze_core_city"
    assert "127.0.0.1" in rows[0]["error"]
    assert _Hook.received and _Hook.received[0]["run_id"] == result.run_id
    assert _Hook.received[0]["text"].startswith("techhub-lake run failed: bronze/core/city")


def test_the_funnel_sensor_waits_for_silver(tmp_path, dagster_instance, lake_defs):
    from techhub_lake.automation.sensors import build_funnel_sensor

    context = dg.build_sensor_context(instance=dagster_instance, resources={"lake": LakeStorage(root=str(tmp_path / "lake"))})
    funnel = dg.AssetKey(["gold", "techhub", "dm_service_funnel"])
    result = build_funnel_sensor(CATALOG, funnel, tables_read_by(lake_defs.resolve_all_asset_specs(), funnel))(context)
    assert isinstance(result, dg.SkipReason) and "silver/service/servicerequest has not been built yet" in result.skip_message


def test_the_cdc_sensor_drains_when_the_slot_holds_changes_and_alerts_once(new_database, tmp_path, dagster_instance,
                                                                            monkeypatch):
    from techhub_lake.automation.sensors import CDC_SENSOR, build_cdc_sensor
    from techhub_lake.bronze.stream import one_drain_at_a_time
    from techhub_lake.source import cdc

    url = new_database()
    init_source(url, scale=0.002, seed=81)
    lake = LakeStorage(root=str(tmp_path / "lake"))
    resources = {"source": SourceDatabase(url=url), "lake": lake}
    defs = build_definitions(CATALOG, resources)
    sensor = build_cdc_sensor(CATALOG)

    def evaluate(cursor: str | None = None):
        return sensor(dg.build_sensor_context(instance=dagster_instance, cursor=cursor, resources=resources))

    def run(request: dg.RunRequest) -> None:
        keys = request.asset_selection
        result = dg.materialize([defs.resolve_assets_def(k) for k in keys], selection=keys, instance=dagster_instance,
                                tags=request.tags)
        assert result.success

    try:
        first = evaluate()  # no snapshot yet: a run takes it
        (request,) = first.run_requests
        assert "first load" in request.tags["techhub/reason"] and request.tags["techhub/trigger"] == CDC_SENSOR
        assert {k.path[0] for k in request.asset_selection} == {"bronze", "silver"}
        run(request)
        execute(url, "UPDATE account_user SET role = role")  # a table nobody captures: WAL, no change
        quiet = evaluate()
        assert not quiet.run_requests and "no change" in quiet.skip_reason.skip_message
        assert cdc.slot_state(url).lag_bytes < 1024 * 1024  # the unrelated WAL was released
        execute(url, "UPDATE service_report SET status = 'seen' WHERE id = (SELECT min(id) FROM service_report)")
        with one_drain_at_a_time(url):  # a drain under way: the sensor leaves it alone
            assert not evaluate().run_requests
        (again,) = evaluate().run_requests
        run(again)
        silver = DeltaTable(str(tmp_path / "lake/silver/techhub/service/report")).to_pyarrow_table().to_pylist()
        assert "seen" in {row["status"] for row in silver}

        # the slot holds back more WAL than the limit: one alert, not one per tick
        server = HTTPServer(("127.0.0.1", 0), _Hook)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        _Hook.received.clear()
        monkeypatch.setenv("TECHHUB_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/hook")
        monkeypatch.setenv("TECHHUB_CDC_WAL_ALERT_MB", "1")
        # a change waits in the slot, so the WAL written after it is kept too
        execute(url, "UPDATE service_report SET status = 'waiting' WHERE id = (SELECT max(id) FROM service_report)")
        execute(url, "CREATE TABLE ballast AS SELECT md5(i::text) AS v FROM generate_series(1, 100000) i")
        alerted = evaluate()
        assert alerted.cursor == "alerted" and len(_Hook.received) == 1
        assert "retains" in _Hook.received[0]["text"] and _Hook.received[0]["retained_wal_bytes"] > 2**20
        evaluate(alerted.cursor)
        assert len(_Hook.received) == 1
        server.shutdown()
    finally:
        cdc.drop(url)
