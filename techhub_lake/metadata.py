"""What every materialization tells the Dagster UI about a lake table: its columns, typed and, where
known, described."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dagster as dg


def column_schema(columns: Iterable[tuple[str, object]], descriptions: Mapping[str, str] | None = None) -> dg.MetadataValue:
    """``dagster/column_schema`` from (name, type) pairs: a polars schema's items, a pyarrow schema's
    fields as (name, type), with each column's description when given."""
    descriptions = descriptions or {}
    return dg.MetadataValue.table_schema(dg.TableSchema(columns=[
        dg.TableColumn(name, str(dtype), description=descriptions.get(name)) for name, dtype in columns]))


def markdown_table(names: list[str], rows: Iterable[Iterable[object]], max_chars: int = 60) -> str:
    """Rows as a markdown table for the UI, long values cut short; ``_no rows_`` when empty."""
    def cell(value: object) -> str:
        text = "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= max_chars else text[: max_chars - 1] + "…"

    lines = [" | ".join(cell(v) for v in row) for row in rows]
    if not lines:
        return "_no rows_"
    header = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    return "\n".join(header + [f"| {line} |" for line in lines])
