"""The PostgreSQL -> Arrow/Parquet type map of bronze, stated once and applied to every batch.

| PostgreSQL                          | bronze (Arrow / Parquet)                      |
| ----------------------------------- | --------------------------------------------- |
| smallint, integer, bigint           | int16, int32, int64                           |
| real, double precision              | float32, float64                              |
| numeric(p, s)                       | decimal128(p, s)                              |
| numeric (no precision)              | string (exact text; no scale to keep)         |
| boolean                             | bool                                          |
| text, varchar, char, name           | string                                        |
| json, jsonb                         | string (the JSON text, unparsed)              |
| timestamptz                         | timestamp[us, UTC]                            |
| timestamp                           | timestamp[us] (naive, as stored)              |
| date / time                         | date32 / time64[us]                           |
| bytea                               | binary                                        |
| arrays of the types above           | list<element>                                 |
| uuid, inet, cidr, interval, money, enums, anything else, and arrays of them | string / list<string> (cast to text in SQL) |

The target schema comes from the catalog of the source (``information_schema``), not from the
data, so an all-NULL first batch or an empty partition has the same schema as any other.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

_SCALARS: dict[str, pa.DataType] = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "bool": pa.bool_(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
    "json": pa.string(),
    "jsonb": pa.string(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "bytea": pa.binary(),
}
# Element types the driver reads natively inside arrays; other arrays are cast to text[].
_ARRAY_ELEMENTS = {"int2", "int4", "int8", "float4", "float8", "bool", "text", "varchar", "bpchar"}
_MAX_DECIMAL_PRECISION = 38


@dataclass(frozen=True)
class SourceColumn:
    """One column of a source table as ``information_schema.columns`` describes it."""

    name: str
    data_type: str  # e.g. "timestamp with time zone", "ARRAY", "USER-DEFINED"
    udt_name: str  # e.g. "timestamptz", "_text", "jsonb"
    numeric_precision: int | None = None
    numeric_scale: int | None = None
    comment: str | None = None  # the source's own description of the column (COMMENT ON COLUMN, Django's db_comment)

    @property
    def is_array(self) -> bool:
        return self.data_type == "ARRAY"

    @property
    def element(self) -> str:
        return self.udt_name.removeprefix("_") if self.is_array else self.udt_name

    @property
    def quoted(self) -> str:
        return '"' + self.name.replace('"', '""') + '"'

    def _is_decimal(self) -> bool:
        return (
            self.udt_name == "numeric"
            and self.numeric_precision is not None
            and self.numeric_scale is not None
            and self.numeric_precision <= _MAX_DECIMAL_PRECISION
        )

    def arrow_type(self) -> pa.DataType:
        """The column's type in bronze."""
        if self.is_array:
            element = self.element
            return pa.list_(_SCALARS[element] if element in _ARRAY_ELEMENTS else pa.string())
        if self._is_decimal():
            return pa.decimal128(self.numeric_precision, self.numeric_scale)
        return _SCALARS.get(self.udt_name, pa.string())

    def select_expression(self) -> str:
        """How the column is selected: as is where the driver maps it, else cast to text."""
        if self.is_array:
            return self.quoted if self.element in _ARRAY_ELEMENTS else f"{self.quoted}::text[] AS {self.quoted}"
        if self.udt_name in _SCALARS or self._is_decimal():
            return self.quoted
        if self.udt_name == "inet":  # the value as the server prints it (10.0.0.1): a cast to text adds /32
            return f"abbrev({self.quoted}) AS {self.quoted}"
        return f"{self.quoted}::text AS {self.quoted}"

    def describe(self) -> str:
        """``pg type -> arrow type``, for the UI's column schema."""
        pg = self.udt_name.removeprefix("_") + "[]" if self.is_array else self.udt_name
        if self._is_decimal():
            pg = f"numeric({self.numeric_precision},{self.numeric_scale})"
        return f"{pg} -> {self.arrow_type()}"


COLUMNS_QUERY = """
SELECT column_name, data_type, udt_name, numeric_precision, numeric_scale,
       col_description(format('%I.%I', table_schema, table_name)::regclass, ordinal_position::int)
FROM information_schema.columns
WHERE table_schema = '{schema}' AND table_name = '{table}'
ORDER BY ordinal_position
"""


# Free text, JSON documents and binaries rarely repeat: trying to dictionary-encode them costs
# about a third of the Parquet write time (measured on core_actionlog) and saves nothing.
_NO_DICTIONARY = {"text", "json", "jsonb", "bytea", "xml"}


def dictionary_columns(columns: list[SourceColumn]) -> list[str]:
    """The columns worth dictionary-encoding in Parquet: everything but free text, JSON and binaries."""
    return [c.name for c in columns if c.element not in _NO_DICTIONARY]


def bronze_schema(columns: list[SourceColumn]) -> pa.Schema:
    """The Arrow schema of a table in bronze."""
    return pa.schema([pa.field(c.name, c.arrow_type()) for c in columns])


def _plain(array: pa.Array) -> pa.Array:
    # The driver tags json, numeric and uuid with extension types; bronze stores their storage.
    if isinstance(array, pa.ChunkedArray):
        return pa.chunked_array([_plain(chunk) for chunk in array.chunks], type=_plain_type(array.type))
    if isinstance(array.type, pa.BaseExtensionType):
        return _plain(array.storage)
    if pa.types.is_list(array.type) and isinstance(array.type.value_type, pa.BaseExtensionType):
        return pa.ListArray.from_arrays(array.offsets, _plain(array.values), mask=array.is_null())
    return array


def _plain_type(data_type: pa.DataType) -> pa.DataType:
    return data_type.storage_type if isinstance(data_type, pa.BaseExtensionType) else data_type


# PostgreSQL's numeric also holds NaN and ±Infinity, which no decimal can: bronze stores them as NULL.
_NOT_DECIMAL = pa.array(["nan", "infinity", "-infinity", "inf", "-inf"])


def text_to_decimal(text: pa.Array, decimal: pa.DataType) -> pa.Array:
    """Decimal text as a decimal array (NaN and ±Infinity, which no decimal holds, as NULL)."""
    special = pc.is_in(pc.utf8_lower(text), value_set=_NOT_DECIMAL)
    if pc.any(special).as_py():
        text = pc.if_else(special, pa.scalar(None, text.type), text)
    return text.cast(decimal)


def normalize_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Cast a driver batch to the bronze schema (strip extension types, text -> decimal)."""
    arrays = []
    for field, array in zip(schema, batch.columns, strict=True):
        plain = _plain(array)
        if plain.type == field.type:
            arrays.append(plain)
        elif pa.types.is_decimal(field.type) and (pa.types.is_string(plain.type) or pa.types.is_large_string(plain.type)):
            arrays.append(text_to_decimal(plain, field.type))
        else:
            arrays.append(plain.cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
