"""Alerts on changes of state, posted to a real HTTP receiver: quality rules newly failing or warning
(from the quality report's history), freshness newly failing and recovering (as Dagster's own
freshness daemon records it); an unchanged state is never posted twice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
from dagster._core.test_utils import freeze_time

from techhub_lake.automation.alert_sensors import freshness_alert_sensor, rule_changes
from techhub_lake.quality.report import REPORT_SCHEMA
from techhub_lake_tests.automation.test_policies import USER_SILVER, freshness_states
from techhub_lake_tests.helpers import webhook_receiver


def _report(*runs: dict[tuple[str, str], str]) -> pl.LazyFrame:
    """A quality report history: one run per mapping of (table, rule) -> outcome, an hour apart."""
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    rows = [(start + dt.timedelta(hours=n), f"run{n}", "silver", table, "asset", rule, f"{rule} holds", "warn", 0.5, outcome)
            for n, outcomes in enumerate(runs) for (table, rule), outcome in outcomes.items()]
    return pl.DataFrame(rows, schema=REPORT_SCHEMA, orient="row").lazy()


def test_only_rules_newly_failing_or_warning_are_changes():
    history = _report(
        {("silver.a", "key"): "pass", ("silver.a", "rows"): "warn", ("silver.b", "fresh"): "fail"},
        {("silver.a", "key"): "fail", ("silver.a", "rows"): "warn", ("silver.b", "fresh"): "pass",
         ("silver.c", "new_rule"): "warn"},
        {("silver.a", "key"): "warn", ("silver.a", "rows"): "warn", ("silver.b", "fresh"): "pass",
         ("silver.c", "new_rule"): "warn"},
    )
    changes = {(c.table_name, c.rule): (c.before, c.outcome) for c in rule_changes(history, "run1")}
    assert changes == {("silver.a", "key"): ("pass", "fail"), ("silver.c", "new_rule"): (None, "warn")}
    assert {(c.table_name, c.rule): (c.before, c.outcome) for c in rule_changes(history, "run2")} == {
        ("silver.a", "key"): ("fail", "warn")}
    first = rule_changes(history, "run0")  # the first run: every rule not passing is news
    assert [(c.rule, c.before, c.outcome) for c in first] == [("fresh", None, "fail"), ("rows", None, "warn")]
    assert first[0].text().startswith("techhub-lake quality: silver.b rule fresh is now FAIL (new rule, measured 0.5)")
    assert rule_changes(history, "no-such-run") == []


def test_freshness_failing_and_recovering_are_posted_once_each(dagster_instance, lake_defs, monkeypatch):
    module_dir = Path(__file__).parents[2]
    dagster_instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=USER_SILVER))
    with webhook_receiver() as (url, received):
        monkeypatch.setenv("TECHHUB_ALERT_WEBHOOK", url)

        def tick(cursor: str | None, at: dt.datetime):
            context = dg.build_sensor_context(instance=dagster_instance, cursor=cursor, definitions=lake_defs)
            with freeze_time(at):
                result = freshness_alert_sensor(context)
            return context.cursor, result

        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)  # silver users allow 1 h
        with freeze_time(later):
            assert freshness_states(dagster_instance, [USER_SILVER], module_dir) == {USER_SILVER: "FAIL"}
        cursor, result = tick(None, later)
        assert "silver/account/user unseen -> FAIL" in result.skip_message
        assert [(m["asset"], m["state"]) for m in received] == [("silver/account/user", "FAIL")]
        assert received[0]["text"] == "techhub-lake freshness: silver/account/user is no longer fresh (its freshness policy FAILS)"
        cursor, result = tick(cursor, later)  # still failing: nothing new
        assert len(received) == 1 and result.skip_message.startswith("0 freshness change(s)")

        dagster_instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=USER_SILVER))
        assert freshness_states(dagster_instance, [USER_SILVER], module_dir) == {USER_SILVER: "PASS"}
        cursor, _ = tick(cursor, dt.datetime.now(dt.UTC))
        assert [(m["asset"], m["before"], m["state"]) for m in received[1:]] == [("silver/account/user", "FAIL", "PASS")]
        assert received[1]["text"] == "techhub-lake freshness: silver/account/user is fresh again (pass)"
        tick(cursor, dt.datetime.now(dt.UTC))
        assert len(received) == 2


def test_every_report_run_not_seen_yet_is_compared_with_the_one_before_it():
    from techhub_lake.automation.alert_sensors import new_runs

    history = _report({("silver.a", "key"): "pass"}, {("silver.a", "key"): "fail"}, {("silver.a", "key"): "pass"},
                      {("silver.a", "key"): "fail"})
    runs = new_runs(history, None)
    assert [run_id for run_id, _ in runs] == ["run0", "run1", "run2", "run3"]
    assert [run_id for run_id, _ in new_runs(history, runs[1][1])] == ["run2", "run3"]
    # two ticks apart or in one: the same two changes to fail, each once
    assert [(c.run_id, c.before) for run_id, _ in new_runs(history, runs[0][1]) for c in rule_changes(history, run_id)] == [
        ("run1", "pass"), ("run3", "pass")]
