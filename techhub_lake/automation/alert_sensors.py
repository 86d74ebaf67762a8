"""Alerts on changes of state, to ``$TECHHUB_ALERT_WEBHOOK`` (the channel failed runs go to): a quality
rule that is newly failing or newly warning in the quality report, an asset whose freshness policy
newly fails (and, once, its recovery). One message per change; a state that stays as it was is never
posted again, because each sensor keeps what it last saw (the report's previous run, its cursor)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import dagster as dg
import polars as pl

from techhub_lake.alerts import alert
from techhub_lake.lake.delta import scan_delta
from techhub_lake.resources import LakeStorage

QUALITY_ALERT_SENSOR = "quality_alert_sensor"
FRESHNESS_ALERT_SENSOR = "freshness_alert_sensor"
ALERTING_OUTCOMES = ("fail", "warn")
FAILED = "FAIL"


@dataclass(frozen=True)
class RuleChange:
    """A rule of the quality report whose outcome became fail or warn in a run."""

    table_name: str
    rule: str
    level: str
    description: str
    outcome: str
    before: str | None  # its outcome in the previous run; None when it was not measured then
    measured_value: float | None
    run_id: str

    def text(self) -> str:
        was = f"was {self.before}" if self.before else "new rule"
        value = "" if self.measured_value is None else f", measured {self.measured_value:g}"
        return (f"techhub-lake quality: {self.table_name} rule {self.rule} is now {self.outcome.upper()} ({was}{value}): "
                f"{self.description}")


def rule_changes(report: pl.LazyFrame, run_id: str) -> list[RuleChange]:
    """The rules that are fail or warn in run ``run_id`` of the quality report and were not in that
    state in the report's run before it (the first run: every fail and warn)."""
    runs = report.select("run_id", "checked_at").unique().sort("checked_at").collect()
    if run_id not in runs["run_id"].to_list():
        return []
    at = runs.filter(pl.col("run_id") == run_id)["checked_at"].max()
    earlier = runs.filter(pl.col("checked_at") < at)
    current = report.filter(pl.col("run_id") == run_id)
    if earlier.height:
        previous = report.filter(pl.col("checked_at") == earlier["checked_at"].max()) \
            .select("table_name", "rule", pl.col("outcome").alias("before"))
        current = current.join(previous, on=["table_name", "rule"], how="left")
    else:
        current = current.with_columns(pl.lit(None, pl.String).alias("before"))
    changed = current.filter(pl.col("outcome").is_in(ALERTING_OUTCOMES) & (pl.col("outcome") != pl.col("before").fill_null("")))
    rows = changed.sort("outcome", "table_name", "rule").collect()
    return [RuleChange(r["table_name"], r["rule"], r["level"], r["description"], r["outcome"], r["before"],
                       r["measured_value"], run_id) for r in rows.iter_rows(named=True)]


def _post_all(messages: list[tuple[str, dict]]) -> int:
    """Post each message; the number posted (0 when no webhook is configured)."""
    return sum(alert(text, fields) for text, fields in messages)


def new_runs(report: pl.LazyFrame, after: dt.datetime | None) -> list[tuple[str, dt.datetime]]:
    """The report's runs checked after ``after`` (all of them for None), oldest first."""
    runs = report.select("run_id", "checked_at").unique()
    if after is not None:
        runs = runs.filter(pl.col("checked_at") > after)
    return list(runs.sort("checked_at").collect().iter_rows())


def build_quality_alert_sensor(report_key: dg.AssetKey, report_path: str) -> dg.SensorDefinition:
    """The sensor that reads the runs of the quality report (``report_key``, a Delta history at
    ``report_path``) it has not seen yet, oldest first, and posts their rules' changes to fail or warn.
    It reads the lake only when the report has a materialization it has not seen."""

    @dg.sensor(name=QUALITY_ALERT_SENSOR, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
               description="Posts each quality rule that is newly failing or newly warning in the quality report "
                           "to $TECHHUB_ALERT_WEBHOOK, once per change.")
    def _quality_alerts(context: dg.SensorEvaluationContext, lake: LakeStorage) -> dg.SkipReason:
        seen = json.loads(context.cursor) if context.cursor else {}
        latest = context.instance.get_latest_materialization_event(report_key)
        if latest is None or latest.timestamp == seen.get("event"):
            return dg.SkipReason("no new quality report")
        report = scan_delta(lake.files(), report_path)
        after = dt.datetime.fromisoformat(seen["checked_at"]) if seen.get("checked_at") else None
        runs = new_runs(report, after) if report is not None else []
        changes = [change for run_id, _ in runs for change in rule_changes(report, run_id)]
        posted = _post_all([(c.text(), {"kind": "quality", "table_name": c.table_name, "rule": c.rule, "level": c.level,
                                        "outcome": c.outcome, "before": c.before, "measured_value": c.measured_value,
                                        "run_id": c.run_id}) for c in changes])
        context.update_cursor(json.dumps({"event": latest.timestamp,
                                          "checked_at": runs[-1][1].isoformat() if runs else seen.get("checked_at")}))
        listed = "; ".join(f"{c.table_name} {c.rule} {c.before or 'new'} -> {c.outcome}" for c in changes)
        return dg.SkipReason(f"{len(runs)} new report run(s): {len(changes)} rule(s) newly failing or warning, "
                             f"{posted} posted" + (f": {listed}" if listed else ""))

    return _quality_alerts


def freshness_changes(states: dict[str, str], seen: dict[str, str]) -> list[tuple[str, str | None, str]]:
    """(asset, state before, state now) for each asset whose freshness newly failed or stopped failing;
    ``seen`` is what the previous tick recorded (an asset not in it: never seen, so a failure is new)."""
    return sorted((key, seen.get(key), state) for key, state in states.items()
                  if state != seen.get(key) and FAILED in (state, seen.get(key)))


@dg.sensor(name=FRESHNESS_ALERT_SENSOR, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Posts each asset whose freshness policy newly fails, and its recovery, to $TECHHUB_ALERT_WEBHOOK, "
                       "once per change (the freshness daemon evaluates the policies).")
def freshness_alert_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Compare every asset's freshness state with what the previous tick saw; post the changes."""
    graph = context.repository_def.asset_graph
    keys = [key for key in graph.get_all_asset_keys() if graph.get(key).freshness_policy is not None]
    records = context.instance.get_freshness_state_records(keys)
    states = {key.to_user_string(): record.freshness_state.value for key, record in records.items()}
    seen = json.loads(context.cursor) if context.cursor else {}
    changes = freshness_changes(states, seen)
    messages = [(f"techhub-lake freshness: {key} is " + ("no longer fresh (its freshness policy FAILS)" if now == FAILED
                                                         else f"fresh again ({now.lower()})"),
                 {"kind": "freshness", "asset": key, "before": before, "state": now}) for key, before, now in changes]
    posted = _post_all(messages)
    context.update_cursor(json.dumps(seen | states, sort_keys=True))
    listed = "; ".join(f"{key} {before or 'unseen'} -> {now}" for key, before, now in changes)
    return dg.SkipReason(f"{len(changes)} freshness change(s), {posted} posted" + (f": {listed}" if listed else ""))
