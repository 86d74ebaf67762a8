"""The lake's sensors: source changes start bronze runs, changed months start funnel runs, and
failed runs are recorded (and posted to a webhook when one is configured)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pyarrow as pa

from techhub_lake.alerts import alert
from techhub_lake.automation.refresh import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    range_tags,
    root_cause,
)
from techhub_lake.automation.source_changes import (
    changed_days,
    decode_cursor,
    encode_cursor,
    read_activity,
    watched_tables,
)
from techhub_lake.bronze.specs import bronze_key
from techhub_lake.bronze.stream import stream_needs_drain
from techhub_lake.bronze.stream_asset import retained_wal_alert
from techhub_lake.catalog import Catalog
from techhub_lake.gold.funnel import (
    FUNNEL_SENSOR,
    contiguous_ranges,
    funnel_partitions_to_refresh,
    monthly_partitions,
)
from techhub_lake.lake.delta import scan_delta, write_delta
from techhub_lake.messages import first_line
from techhub_lake.registry import LakeTable
from techhub_lake.resources import LakeStorage, SourceDatabase
from techhub_lake.silver.assets import silver_key
from techhub_lake.source import cdc
from techhub_lake.source.connection import SourceUnavailable

FUNNEL_HEARTBEAT = dt.timedelta(minutes=30)  # the funnel's tightest upstream target
RUN_FAILURES = "_ops/run_failures"
RUN_FAILURE_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("job", pa.string()), ("assets", pa.string()), ("partition", pa.string()),
    ("step", pa.string()), ("error", pa.string()), ("failed_at", pa.timestamp("us", tz="UTC")),
])


def heartbeat_due(instance: dg.DagsterInstance, key: dg.AssetKey, window: dt.timedelta) -> bool:
    """Whether an asset that saw no change has gone half its freshness window without a
    materialization: a quiet table is re-read (today's partition only) so that its freshness keeps
    saying how old the lake's view of the source is, not how long since the source last changed."""
    event = instance.get_latest_materialization_event(key)
    if event is None:
        return False  # never loaded: that is the refresh's or a backfill's job, not a heartbeat's
    return dt.datetime.now(dt.UTC).timestamp() - event.timestamp >= window.total_seconds() / 2


def build_source_change_sensor(catalog: Catalog) -> dg.SensorDefinition:
    """On each tick: which incremental and append tables moved since the cursor, and a run for
    exactly their changed daily partitions (tables with the same range share a run)."""
    tables = watched_tables(catalog)

    @dg.sensor(name="source_change_sensor", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
               asset_selection=[bronze_key(t) for t in tables],
               description=("Reads pg_stat_user_tables (free) and, for tables that moved, max(watermark); "
                            "requests the changed bronze partitions of each."))
    def source_change_sensor(context: dg.SensorEvaluationContext, source: SourceDatabase) -> dg.SensorResult | dg.SkipReason:
        previous = decode_cursor(context.cursor)
        try:
            now = read_activity(source.resolved_url(), tables, previous, source.statement_timeout_ms)
        except SourceUnavailable as exc:
            raise dg.Failure(f"source-change sensor: {exc}") from None
        except Exception as exc:  # a timeout or a lost connection: one line naming what failed
            first = first_line(exc)
            raise dg.Failure(f"source-change sensor: reading table activity failed: {first}") from None
        if not previous:  # the first tick has nothing to compare with: it records where the source is
            return dg.SensorResult(cursor=encode_cursor(now), skip_reason=(
                f"first tick: recorded the activity of {len(now)} tables; changes from now on start runs "
                "(load history with `techhub-lake refresh` or a backfill)"))
        today = dt.datetime.now(ZoneInfo(catalog.defaults.timezone)).date()
        ranges: dict[tuple[str, str], list[dg.AssetKey]] = {}
        quiet_but_due = []
        for table in tables:
            if table.name not in now:
                continue
            span = changed_days(table, previous.get(table.name), now[table.name], catalog, today)
            if span is None and heartbeat_due(context.instance, bronze_key(table), table.freshness):
                span = (today.isoformat(), today.isoformat())  # unchanged, but its freshness says "still current"
                quiet_but_due.append(table.name)
            if span is not None:
                ranges.setdefault(span, []).append(bronze_key(table))
        if not ranges:
            return dg.SkipReason(f"no incremental or append table changed since the last tick ({len(now)} watched)")
        if quiet_but_due:
            context.log.info(f"unchanged but due for freshness: {', '.join(quiet_but_due)}")
        requests = [
            dg.RunRequest(
                run_key=f"source-change:{first}:{last}:{':'.join(k.to_user_string() for k in keys)}:{context.cursor or ''}"[:512],
                asset_selection=keys, tags=range_tags(first, last) | {"techhub/trigger": "source_change_sensor"})
            for (first, last), keys in sorted(ranges.items())
        ]
        moved = sorted(k.path[-1] for keys in ranges.values() for k in keys)
        context.log.info(f"{len(moved)} table(s) moved: {', '.join(moved)}")
        return dg.SensorResult(run_requests=requests, cursor=encode_cursor(now))

    return source_change_sensor


CDC_SENSOR = "cdc_sensor"


def build_cdc_sensor(catalog: Catalog) -> dg.SensorDefinition | None:
    """Drains the replication slot whenever it holds a change of a captured table (``strategy:
    cdc``): one run through the stream's bronze step and the captured tables' silver, so a change
    is in silver within about a minute. Also when a snapshot is due, and at half the freshness
    window when nothing changed, so the assets' freshness says how current the lake's view is.
    Alerts once when the slot retains more WAL than ``$TECHHUB_CDC_WAL_ALERT_MB``."""
    captured = catalog.captured_tables
    if not captured:
        return None
    bronze = [bronze_key(t) for t in captured]
    selection = [*bronze, *(silver_key(t) for t in captured)]
    window = min((t.freshness for t in captured if t.freshness), default=None)

    @dg.sensor(name=CDC_SENSOR, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
               asset_selection=selection,
               description=("Looks at the lake's replication slot (pg_replication_slots, one peeked change) and "
                            "drains it into bronze and silver when it holds changes of the captured tables."))
    def cdc_sensor(context: dg.SensorEvaluationContext, source: SourceDatabase, lake: LakeStorage) -> dg.SensorResult | dg.SkipReason:
        active = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]
        if context.instance.get_run_records(filters=dg.RunsFilter(statuses=active, tags={"techhub/trigger": CDC_SENSOR}),
                                            limit=1):
            return dg.SkipReason("a drain started by this sensor is still running")
        url = source.resolved_url()
        try:
            reason = stream_needs_drain(url, lake.files(), [t.name for t in captured])
            slot = cdc.slot_state(url)
        except SourceUnavailable as exc:
            raise dg.Failure(f"{CDC_SENSOR}: {exc}") from None
        except Exception as exc:  # a timeout, a lost connection, a slot busy elsewhere: one line
            raise dg.Failure(f"{CDC_SENSOR}: looking at the replication slot failed: {first_line(exc)}") from None
        alerted = context.cursor == "alerted"
        warning = retained_wal_alert(slot, cdc.slot_name(url))
        if warning and not alerted:
            context.log.warning(warning)
            alert(f"techhub-lake: {warning}", {"slot": cdc.slot_name(url), "retained_wal_bytes": slot.retained_wal_bytes})
        cursor = "alerted" if warning else ""
        if reason is None and window is not None and heartbeat_due(context.instance, bronze[0], window):
            reason = "nothing changed; drained to stay fresh"
        if reason is None:
            return dg.SensorResult(cursor=cursor, skip_reason="the replication slot holds no change of a captured table")
        context.log.info(reason)
        return dg.SensorResult(cursor=cursor, run_requests=[dg.RunRequest(
            asset_selection=selection, tags={"techhub/trigger": CDC_SENSOR, "techhub/reason": reason[:200]})])

    return cdc_sensor


def build_funnel_sensor(catalog: Catalog, funnel: dg.AssetKey, inputs: dict[str, LakeTable]) -> dg.SensorDefinition:
    """Requests the months of the funnel mart (asset ``funnel``, reading the tables ``inputs``) whose
    requests changed in silver (one run per block of months)."""
    requests = inputs["service_servicerequest"]
    partitions_def = monthly_partitions(catalog)

    @dg.sensor(name=FUNNEL_SENSOR, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
               asset_selection=[funnel],
               description="Re-materializes only the months of dm_service_funnel whose requests changed in silver.")
    def funnel_months_sensor(context: dg.SensorEvaluationContext, lake: LakeStorage) -> dg.SensorResult | dg.SkipReason:
        active = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]
        for trigger in (FUNNEL_SENSOR, "refresh"):  # those that write the funnel's months
            if context.instance.get_run_records(filters=dg.RunsFilter(statuses=active, tags={"techhub/trigger": trigger}),
                                                limit=1):
                return dg.SkipReason(f"a {trigger} run is in progress; the funnel waits for it")
        files = lake.files()
        if scan_delta(files, requests.path) is None:
            return dg.SkipReason(f"{requests.key.to_user_string()} has not been built yet")
        done = context.instance.get_materialized_partitions(funnel)
        months = funnel_partitions_to_refresh(files, catalog, done, inputs)
        if not months and heartbeat_due(context.instance, funnel, FUNNEL_HEARTBEAT):
            months = [partitions_def.get_last_partition_key()]  # the current month, to stay fresh
        if not months:
            return dg.SkipReason("no month's requests changed")
        spans = contiguous_ranges(months, partitions_def.get_partition_keys())
        return dg.SensorResult(run_requests=[
            dg.RunRequest(asset_selection=[funnel], tags=range_tags(first, last) | {"techhub/trigger": FUNNEL_SENSOR})
            for first, last in spans])

    return funnel_months_sensor


def planned_assets(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[dg.AssetKey]:
    """The assets a run set out to materialize (from its planning events: every kind of run has them)."""
    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED).records
    keys = {r.event_log_entry.dagster_event.asset_key for r in records if r.event_log_entry.dagster_event}
    return sorted(keys | set(run.asset_selection or []), key=lambda k: k.to_user_string())


def failure_record(run: dg.DagsterRun, assets: list[dg.AssetKey], error: str, step: str | None,
                   at: dt.datetime) -> dict[str, object]:
    """What is kept of a failed run: its assets, partition (or range), failing step and error."""
    tags = run.tags
    partition = tags.get("dagster/partition") or (
        f"{tags[RANGE_START_TAG]}..{tags[RANGE_END_TAG]}" if RANGE_START_TAG in tags else None)
    return {"run_id": run.run_id, "job": run.job_name, "assets": ", ".join(k.to_user_string() for k in assets),
            "partition": partition,
            "step": step, "error": error, "failed_at": at}


def alert_text(record: dict[str, object]) -> str:
    """The one line a failed run's alert says."""
    return (f"techhub-lake run failed: {record['assets'] or record['job']} "
            f"{record['partition'] or ''}: {record['error']}").strip()


@dg.run_failure_sensor(name="run_failure_sensor", default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Records every failed run (assets, partition, error) in the lake's _ops/run_failures; "
                                   "posts it to $TECHHUB_ALERT_WEBHOOK when set.")
def run_failure_sensor(context: dg.RunFailureSensorContext, lake: LakeStorage) -> None:
    """Keeps every failure in the lake and, with a webhook configured, tells a human."""
    steps = context.get_step_failure_events()
    step = steps[0].step_key if steps else None
    error = (root_cause(steps[0].step_failure_data.error) if steps and steps[0].step_failure_data.error
             else context.failure_event.message or "run failed")
    run = context.dagster_run
    record = failure_record(run, planned_assets(context.instance, run), first_line(error)[:1000], step,
                            dt.datetime.now(dt.UTC))
    files = lake.files()
    write_delta(files, RUN_FAILURES, pa.Table.from_pylist([record], schema=RUN_FAILURE_SCHEMA), "append")
    context.log.info(f"recorded failure of run {record['run_id']}: {record['error']}")
    alert(alert_text(record), record)
