"""The table catalog: which source tables the lake loads, and how."""

from techhub_lake.catalog.model import (
    Catalog,
    CatalogError,
    CatalogTable,
    Partitioning,
    Strategy,
    load_catalog,
)

__all__ = ["Catalog", "CatalogError", "CatalogTable", "Partitioning", "Strategy", "load_catalog"]
