"""The registry of what the lake holds: the asset graph itself.

Every asset that writes a lake table says where in its spec metadata (``lake/table_path``, relative
to the lake root, and ``dagster/table_name``, ``<layer>.<name>`` with a name unique inside its
layer: ``silver.account_user``, ``gold.dm_users``, the name SQL over the lake uses). An
asset whose partitions a sensor picks (the months whose inputs changed) says so
(``lake/refreshed_by``). Whatever needs "which tables exist, where, written by which asset" reads it
back from the graph with the functions below, never by spelling another module's keys or paths.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

TABLE_PATH_METADATA = "lake/table_path"
TABLE_NAME_METADATA = "dagster/table_name"
REFRESHED_BY_METADATA = "lake/refreshed_by"


def lake_table_metadata(path: str, name: str | None = None) -> dict[str, str]:
    """The spec metadata of an asset that writes the lake table at ``path`` (relative to the lake
    root; its first part is the layer), named ``name`` inside its layer (the path's last part when
    not given)."""
    return {TABLE_PATH_METADATA: path, TABLE_NAME_METADATA: f"{path.split('/', 1)[0]}.{name or path.rsplit('/', 1)[-1]}"}


def refreshed_by_metadata(sensor: str) -> dict[str, str]:
    """The spec metadata of an asset whose partitions ``sensor`` (and the refresh) pick by what changed:
    declarative automation leaves it alone."""
    return {REFRESHED_BY_METADATA: sensor}


@dataclass(frozen=True)
class LakeTable:
    """One table of the lake, as the asset graph records it."""

    key: dg.AssetKey
    layer: str  # bronze, silver, gold
    name: str  # unique inside the layer
    path: str  # relative to the lake root
    metadata: dict


def lake_tables(specs: Iterable[dg.AssetSpec]) -> list[LakeTable]:
    """Every lake table among ``specs`` (``Definitions.resolve_all_asset_specs()``)."""
    tables = []
    for spec in specs:
        if TABLE_PATH_METADATA in spec.metadata:
            layer, _, name = str(_value(spec.metadata[TABLE_NAME_METADATA])).partition(".")
            tables.append(LakeTable(spec.key, layer, name, str(_value(spec.metadata[TABLE_PATH_METADATA])),
                                    dict(spec.metadata)))
    return tables


def table_path(metadata: dict) -> str | None:
    """Where an asset's table lives (relative to the lake root), from its spec metadata."""
    value = metadata.get(TABLE_PATH_METADATA)
    return None if value is None else str(_value(value))


def refreshed_by(metadata: dict) -> str | None:
    """The sensor that picks an asset's partitions, from its spec metadata, or None."""
    value = metadata.get(REFRESHED_BY_METADATA)
    return None if value is None else str(_value(value))


def _value(value: object) -> object:
    return value.value if isinstance(value, dg.MetadataValue) else value
