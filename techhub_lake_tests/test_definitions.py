"""The Dagster definitions: load without the database, one bronze asset per catalog table, and
the graph matches the reviewed snapshot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from techhub_lake.catalog import load_catalog

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_specs.json"


def describe_graph(definitions: dg.Definitions) -> dict[str, dict]:
    """Keys, groups, partitions, kinds, dependencies and checks of every asset: the reviewed shape of
    the graph."""
    checks: dict[str, list[str]] = {}
    for assets_def in definitions.resolve_asset_graph().assets_defs:
        for check in assets_def.check_specs:
            checks.setdefault(check.asset_key.to_user_string(), []).append(
                check.name + (" (blocking)" if check.blocking else ""))
    shape = {}
    for spec in definitions.resolve_all_asset_specs():
        partitions = spec.partitions_def
        if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
            described = {"cron": partitions.cron_schedule, "timezone": partitions.timezone,
                         "start": partitions.start.isoformat(), "end_offset": partitions.end_offset}
        else:
            described = None if partitions is None else type(partitions).__name__
        shape[spec.key.to_user_string()] = {
            "group": spec.group_name,
            "partitions": described,
            "kinds": sorted(spec.kinds),
            "deps": sorted(dep.asset_key.to_user_string() for dep in spec.deps),
            "tags": dict(sorted(spec.tags.items())),
            "checks": sorted(checks.get(spec.key.to_user_string(), [])),
        }
    return dict(sorted(shape.items()))


def test_graph_matches_the_reviewed_snapshot(lake_defs):
    shape = describe_graph(lake_defs)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(shape, indent=2, ensure_ascii=False) + "\n")
    assert shape == json.loads(SNAPSHOT.read_text()), "graph changed: review it, then rerun with UPDATE_SNAPSHOTS=1"


def test_one_bronze_asset_per_lake_table(lake_defs):
    catalog = load_catalog()
    specs = {spec.key: spec for spec in lake_defs.resolve_all_asset_specs()}
    for table in catalog:
        key = dg.AssetKey(["bronze", table.module, table.name.removeprefix(f"{table.module}_")])
        if not table.in_lake:
            assert key not in specs, table.name
            continue
        spec = specs[key]
        assert spec.group_name == f"bronze_{table.module}"  # one group per app in the UI
        assert spec.metadata["source_table"].value == f"public.{table.name}"
        if table.strategy.value in ("incremental", "append"):
            assert isinstance(spec.partitions_def, dg.DailyPartitionsDefinition)
            assert spec.partitions_def.timezone == "Asia/Almaty"
            assert spec.partitions_def.start.date().isoformat() == "2019-01-01"
        else:
            assert spec.partitions_def is None
    assert dg.AssetKey(["bronze", "account", "user"]) in specs
    assert dg.AssetKey(["bronze", "service", "servicerequest"]) in specs


def test_definitions_load_without_touching_the_database(tmp_path):
    # A source URL nobody listens on: loading must still succeed, since it never connects.
    env = {**os.environ, "TECHHUB_SOURCE_URL": "postgresql://reader@127.0.0.1:9/nowhere",
           "TECHHUB_LAKE_ROOT": str(tmp_path / "lake"), "DAGSTER_HOME": str(tmp_path)}
    code = ("from techhub_lake.definitions import defs; "
            "print(len(list(defs().resolve_all_asset_specs())))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # bronze and silver per table; child tables, dims, fact, techpark silver; 5 + 6 marts, dq_metrics
    # and the quality report; each of those 13 gold tables published to the warehouse
    assert int(out.stdout.strip()) == 2 * len(load_catalog().lake_tables) + 8 + 13 + 13


def test_importing_the_definitions_builds_nothing_until_dagster_loads_them(tmp_path):
    # Settings that cannot work: importing the module must not read them, loading must.
    env = {**os.environ, "TECHHUB_CATALOG": str(tmp_path / "missing.yaml"), "TECHHUB_AUTOMATION_INTERVAL_MINUTES": "often"}
    code = "import techhub_lake.definitions as d; print('imported', flush=True); d.defs()"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "imported"
    assert out.returncode != 0 and "missing.yaml" in out.stderr


def test_dagster_definitions_validate_passes(tmp_path):
    dagster = Path(sys.executable).with_name("dagster")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    out = subprocess.run([str(dagster), "definitions", "validate", "-m", "techhub_lake.definitions"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Validation successful" in out.stdout + out.stderr


def test_a_bad_catalog_fails_loading_with_a_one_line_error(tmp_path):
    bad = tmp_path / "tables.yaml"
    bad.write_text("tables:\n  - name: account_user\n    module: account\n    strategy: sometimes\n")
    env = {**os.environ, "TECHHUB_CATALOG": str(bad), "DAGSTER_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", "import techhub_lake.definitions as d; d.defs()"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert f"CatalogError: {bad}: table 'account_user', field 'strategy': unknown value 'sometimes'" in out.stderr


@pytest.mark.parametrize("name", ["source", "lake"])
def test_resources_are_configured(lake_defs, name):
    assert name in lake_defs.resources
