"""`techhub-lake refresh`: bring the lake up to date through the Dagster instance, so runs show in the UI."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg


def selected_materializable_keys(defs: dg.Definitions, selection: str | None) -> list[dg.AssetKey]:
    """The materializable assets matching a Dagster selection string (all of them for None), in
    dependency order."""
    graph = defs.resolve_asset_graph()
    keys = graph.materializable_asset_keys
    if selection:
        keys = dg.AssetSelection.from_string(selection).resolve(graph) & keys
    return [key for key in graph.toposorted_asset_keys if key in keys]


def refresh_lake(selection: str | None, echo: Callable[[str], None] = print) -> list[dg.AssetKey]:
    """Materialize what the selection covers; returns the asset keys it ran."""
    from techhub_lake.definitions import defs

    keys = selected_materializable_keys(defs, selection)
    if not keys:
        echo("nothing to materialize: the selection has no materializable assets "
             "(the bronze assets are declared; their extraction is not built yet)")
        return []
    instance = dg.DagsterInstance.get()
    result = dg.materialize(
        [defs.resolve_assets_def(key) for key in keys],
        instance=instance,
        resources=defs.resources,
        selection=keys,
    )
    if not result.success:
        raise RuntimeError("refresh failed; see the run in the Dagster UI")
    return keys
