"""`techhub-lake rebuild <asset>`: rewrite a broken or obsolete lake table from what is upstream of it.

A silver or gold table can stop being readable (a Delta commit deleted by hand, a disk that lost
files) or hold a type the source abandoned (``schema_drift``). Everything in the lake is derived
from bronze, so the remedy is the same each time: delete the table and materialize its asset
again, through the Dagster instance like any refresh run (it shows in the UI). A silver current
state then merges every bronze file, not only the new ones; a partitioned asset is rebuilt over
its whole range. With ``reextract``, the table's bronze history is extracted again first (every
daily partition in one run), e.g. so every bronze file has a column's new type.
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from techhub_lake.automation.instance import hold_storage_connections
from techhub_lake.automation.interrupts import stop_requested, watch_stop_signals
from techhub_lake.automation.recovery import fail_dead_runs
from techhub_lake.automation.refresh import RefreshRun, execute_run, lake_files
from techhub_lake.messages import UserError
from techhub_lake.registry import layer_of, table_path


def rebuild_target(defs: dg.Definitions, name: str) -> dg.AssetKey:
    """The asset a user names by its key (``silver/account/user``) or by its table's path under the
    lake root (``silver/techhub/account/user``, as errors print it); a one-line error otherwise."""
    graph = defs.resolve_asset_graph()
    wanted = name.strip().strip("/")
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        if key.to_user_string() == wanted or table_path(node.metadata) == wanted:
            return key
    raise UserError(f"rebuild {name!r}: no asset of this lake has that key or table path; "
                     "give an asset key as the UI shows it, e.g. silver/account/user or gold/techhub/dm_users")


def _whole_range(assets_def: dg.AssetsDefinition) -> tuple[str, str] | None:
    partitions_def = assets_def.partitions_def
    if partitions_def is None:
        return None
    return partitions_def.get_first_partition_key(), partitions_def.get_last_partition_key()


def plan_rebuild(defs: dg.Definitions, key: dg.AssetKey, reextract: bool) -> list[RefreshRun]:
    """The runs of a rebuild: the bronze assets it reads over their whole range (with ``reextract``,
    or when the asset is bronze itself), then the asset over its whole range."""
    graph = defs.resolve_asset_graph()
    node = graph.get(key)
    if layer_of(key) == "bronze":
        return [RefreshRun((key,), _whole_range(defs.resolve_assets_def(key)))]
    runs = []
    if reextract:
        bronze = [p for p in sorted(node.parent_keys) if layer_of(p) == "bronze"]
        if not bronze:
            raise UserError(f"rebuild {key.to_user_string()} --reextract: it reads no bronze asset directly; "
                             "rebuild the silver table it is built from with --reextract instead")
        runs += [RefreshRun((b,), _whole_range(defs.resolve_assets_def(b))) for b in bronze]
    return [*runs, RefreshRun((key,), _whole_range(defs.resolve_assets_def(key)))]


def rebuild_asset(name: str, *, reextract: bool = False, echo: Callable[[str], None] = print,
                  defs: dg.Definitions, instance: dg.DagsterInstance | None = None) -> list[RefreshRun]:
    """Rebuild one lake table: re-extract its bronze (``reextract``), delete the table, and
    materialize its asset over every partition. Bronze is never deleted: re-extracting a day
    replaces that day's file."""
    instance = hold_storage_connections(instance or dg.DagsterInstance.get())
    key = rebuild_target(defs, name)
    runs = plan_rebuild(defs, key, reextract)
    watch_stop_signals()
    fail_dead_runs(instance, echo)
    lake = lake_files(defs)
    path = table_path(defs.resolve_asset_graph().get(key).metadata)
    for number, run in enumerate(runs, start=1):
        if run.keys == (key,) and not path.startswith("bronze/") and lake.delete_dir(path):
            echo(f"deleted {lake.uri(path)}: {key.to_user_string()} is rebuilt from what is upstream of it")
        execute_run(run, defs, instance, echo, number)
        if stop_requested():
            raise KeyboardInterrupt("stopped by Ctrl-C or SIGTERM")
    echo(f"{key.to_user_string()} rebuilt; the assets built from it catch up on their next refresh")
    return runs
