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
PRIMARY_KEY_METADATA = "primary_key"  # the columns that identify a row, comma-separated
WATERMARK_METADATA = "lake/watermark"  # the column a daily table is partitioned on
VERSIONS_OF_METADATA = "lake/versions_of"  # an SCD2 dimension: the business key its versions belong to
MASKED_METADATA = "lake/masked"  # "<BIN column>, <report-year column>" the bin_mask resource masks
COLUMN_SCHEMA_METADATA = "dagster/column_schema"  # a mart's documented columns
REFRESHED_BY_METADATA = "lake/refreshed_by"
PART_COLUMN_METADATA = "lake/part_column"  # a table replaced part by part: the column whose value names the part


def lake_table_metadata(path: str, name: str | None = None, *, primary_key: tuple[str, ...] = (),
                        watermark: str | None = None, versions_of: str | None = None,
                        masked: tuple[str, str] | None = None, part_column: str | None = None) -> dict[str, str]:
    """The spec metadata of an asset that writes the lake table at ``path`` (relative to the lake
    root; its first part is the layer), named ``name`` inside its layer (the path's last part when
    not given), with what identifies its rows and, where they apply, its watermark, the business key
    of its versions, its masked column and the column whose values its runs replace part by part
    (the funnel's month)."""
    layer, _, _ = path.partition("/")
    metadata = {TABLE_PATH_METADATA: path, TABLE_NAME_METADATA: f"{layer}.{name or path.rsplit('/', 1)[-1]}"}
    optional = {PRIMARY_KEY_METADATA: ", ".join(primary_key), WATERMARK_METADATA: watermark,
                VERSIONS_OF_METADATA: versions_of, MASKED_METADATA: ", ".join(masked) if masked else None,
                PART_COLUMN_METADATA: part_column}
    return metadata | {key: value for key, value in optional.items() if value}


def layer_of(key: dg.AssetKey) -> str:
    """The layer an asset belongs to (bronze, silver, gold, serve): the first part of its key. Select a
    layer with ``key:<layer>/*`` (its groups are per module, see ``asset_group``)."""
    return key.path[0]


def asset_group(layer: str, module: str) -> str:
    """The asset group of a bronze or silver table: its layer and its Django app (``bronze_account``),
    so the UI's graph of a database of many tables shows one box per app and layer."""
    return f"{layer}_{module}"


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

    def _text(self, name: str) -> str | None:
        value = self.metadata.get(name)
        return None if value is None else str(_value(value))

    def _columns(self, name: str) -> tuple[str, ...]:
        text = self._text(name)
        return tuple(c.strip() for c in text.split(",")) if text else ()

    @property
    def primary_key(self) -> tuple[str, ...]:
        return self._columns(PRIMARY_KEY_METADATA)

    @property
    def watermark(self) -> str | None:
        return self._text(WATERMARK_METADATA)

    @property
    def versions_of(self) -> str | None:
        return self._text(VERSIONS_OF_METADATA)

    @property
    def masked(self) -> tuple[str, str] | None:
        columns = self._columns(MASKED_METADATA)
        return (columns[0], columns[1]) if len(columns) == 2 else None

    @property
    def part_column(self) -> str | None:
        return self._text(PART_COLUMN_METADATA)

    @property
    def documented_columns(self) -> tuple[str, ...]:
        """The columns the spec documents (``dagster/column_schema``), in order; () when it documents none."""
        return tuple(self.column_descriptions)

    @property
    def column_descriptions(self) -> dict[str, str]:
        """Each documented column's description ('' where it has none), in the spec's order."""
        schema = self.metadata.get(COLUMN_SCHEMA_METADATA)
        return {c.name: c.description or "" for c in _value(schema).columns} if schema is not None else {}


def declared_specs(definitions: dg.Definitions) -> list[dg.AssetSpec]:
    """The specs of ``definitions``' assets as declared: unlike ``resolve_all_asset_specs`` this needs
    no resources, so a layer's definitions can be read before they are merged with them."""
    return [spec for assets_def in definitions.assets or [] for spec in assets_def.specs]


def lake_tables(specs: Iterable[dg.AssetSpec]) -> list[LakeTable]:
    """Every lake table among ``specs`` (``declared_specs`` or ``resolve_all_asset_specs``)."""
    tables = []
    for spec in specs:
        if TABLE_PATH_METADATA in spec.metadata:
            layer, _, name = str(_value(spec.metadata[TABLE_NAME_METADATA])).partition(".")
            tables.append(LakeTable(spec.key, layer, name, str(_value(spec.metadata[TABLE_PATH_METADATA])),
                                    dict(spec.metadata)))
    return tables


def tables_read_by(specs: Iterable[dg.AssetSpec], key: dg.AssetKey) -> dict[str, LakeTable]:
    """The lake tables asset ``key`` depends on, by their name inside their layer."""
    specs = list(specs)
    parents = {dep.asset_key for spec in specs if spec.key == key for dep in spec.deps}
    return {table.name: table for table in lake_tables(spec for spec in specs if spec.key in parents)}


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
