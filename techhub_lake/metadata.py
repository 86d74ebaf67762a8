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


PII_MASK = "***"


def markdown_table(names: list[str], rows: Iterable[Iterable[object]], max_chars: int = 60,
                   masked: Iterable[str] = ()) -> str:
    """Rows as a markdown table for the UI, long values cut short and the ``masked`` columns (personal
    data: the event log is no place for e-mails or password hashes) shown as ``***``; ``_no rows_``
    when empty."""
    hidden = [name in set(masked) for name in names]

    def cell(value: object, hide: bool) -> str:
        if hide and value is not None:
            return PII_MASK
        text = "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= max_chars else text[: max_chars - 1] + "…"

    lines = [" | ".join(cell(v, hide) for v, hide in zip(row, hidden, strict=False)) for row in rows]
    if not lines:
        return "_no rows_"
    header = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    return "\n".join(header + [f"| {line} |" for line in lines])
