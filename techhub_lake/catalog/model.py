"""The table catalog: one YAML file that says, per source table, how the lake loads it.

Validated on load with pydantic; every error names the file, the table and the field in one
line, so a typo in the YAML never surfaces later as a confusing run failure.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from techhub_lake.messages import UserError

IDENTIFIER = r"^[a-z_][a-z0-9_]*$"
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class CatalogError(UserError):
    """A catalog that cannot be used; the message names the file, the table and the field."""


class Strategy(StrEnum):
    """How a table is loaded (the data-lake plan's load strategies)."""

    FULL = "full"
    INCREMENTAL = "incremental"
    APPEND = "append"
    CDC = "cdc"  # every change from the source's logical replication slot (``source.cdc``)
    EXCLUDE = "exclude"


class Partitioning(StrEnum):
    """How a table's bronze files are cut."""

    DAILY = "daily"  # one partition per calendar day of the watermark
    SNAPSHOT = "snapshot"  # one full copy per run day; the latest is the table
    STREAM = "stream"  # a first snapshot, then change files in commit order (``strategy: cdc``)
    NONE = "none"  # not in the lake


_PARTITIONING_FOR = {
    Strategy.INCREMENTAL: Partitioning.DAILY,
    Strategy.APPEND: Partitioning.DAILY,
    Strategy.FULL: Partitioning.SNAPSHOT,
    Strategy.CDC: Partitioning.STREAM,
    Strategy.EXCLUDE: Partitioning.NONE,
}


def parse_duration(value: Any) -> dt.timedelta:
    """Parse ``15m``, ``30m``, ``2h``, ``1d`` (or a number of seconds) into a timedelta."""
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (expected e.g. 15m, 2h, 1d)")
    amount, unit = match.groups()
    return dt.timedelta(**{_DURATION_UNITS[unit]: int(amount)})


def format_duration(value: dt.timedelta) -> str:
    """The inverse of :func:`parse_duration`, for messages and the UI."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class CatalogDefaults(BaseModel):
    """Lake-wide settings and the per-strategy defaults of table fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "Asia/Almaty"
    start_date: dt.date = dt.date(2019, 1, 1)
    freshness: dict[Strategy, dt.timedelta] = Field(default_factory=dict)
    lookback: dict[Strategy, dt.timedelta] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("freshness", "lookback", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: parse_duration(v) for k, v in value.items()}
        return value

    @field_validator("start_date")
    @classmethod
    def _history_starts_in_the_past(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        # daily partitions run from start_date to today: a later start would give no partition at all
        today = dt.datetime.now(ZoneInfo(info.data.get("timezone") or "UTC")).date()
        if value > today:
            raise ValueError(f"{value} is after today ({today}): no daily partition would exist and no row "
                             "would be loaded; give the first day of the history to keep")
        return value


class TableEntry(BaseModel):
    """One source table as the YAML describes it."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=IDENTIFIER)
    source_schema: str = Field("public", alias="schema", pattern=IDENTIFIER)
    module: str = Field(pattern=IDENTIFIER)
    strategy: Strategy
    primary_key: tuple[str, ...] = ("id",)
    watermark: str | None = Field(None, pattern=IDENTIFIER)
    partitioning: Partitioning | None = None
    json_columns: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    pii: tuple[str, ...] = ()
    freshness: dt.timedelta | None = None
    lookback: dt.timedelta | None = None
    priority: Literal["critical", "important", "reference", "normal"] = "normal"
    description: str = ""
    columns: dict[str, str] = Field(default_factory=dict)  # column -> its description in the UI

    @field_validator("freshness", "lookback", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @field_validator("primary_key", mode="before")
    @classmethod
    def _key_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("json_columns", mode="before")
    @classmethod
    def _json_keys(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: (v or []) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TableEntry:
        if not self.primary_key:
            raise ValueError("primary_key: at least one column is needed")
        if self.strategy in (Strategy.INCREMENTAL, Strategy.APPEND) and not self.watermark:
            raise ValueError(f"watermark: strategy '{self.strategy}' needs a watermark column")
        expected = _PARTITIONING_FOR[self.strategy]
        if self.partitioning is not None and self.partitioning != expected:
            raise ValueError(
                f"partitioning: '{self.partitioning}' does not fit strategy '{self.strategy}' (expected '{expected}')"
            )
        if self.strategy != Strategy.EXCLUDE and not self.name.startswith(f"{self.module}_") and self.module != self.name:
            raise ValueError(f"module: table name '{self.name}' does not start with '{self.module}_' (Django naming; a "
                             "table without an app prefix is a module of its own: module is its name)")
        return self


class CatalogTable(BaseModel):
    """A catalog entry with every default resolved: what the rest of the lake works with."""

    model_config = ConfigDict(frozen=True)

    name: str
    source_schema: str
    module: str
    strategy: Strategy
    primary_key: tuple[str, ...]
    watermark: str | None
    partitioning: Partitioning
    json_columns: dict[str, tuple[str, ...]]
    pii: tuple[str, ...]
    freshness: dt.timedelta | None
    lookback: dt.timedelta
    priority: str
    description: str
    columns: dict[str, str] = {}  # column -> description

    @property
    def short_name(self) -> str:
        """The table's name without its Django app prefix: ``account_user`` -> ``user``."""
        return self.name.removeprefix(f"{self.module}_")

    @property
    def qualified_name(self) -> str:
        """``schema.table``, quoted for SQL."""
        return f'"{self.source_schema}"."{self.name}"'

    @property
    def in_lake(self) -> bool:
        """Whether the table has bronze (and later) assets at all."""
        return self.strategy != Strategy.EXCLUDE

    def referenced_columns(self) -> dict[str, list[str]]:
        """Catalog field -> the source columns it names, for checking against a live schema."""
        fields = {
            "primary_key": list(self.primary_key),
            "watermark": [self.watermark] if self.watermark else [],
            "json_columns": list(self.json_columns),
            "pii": list(self.pii),
            "columns": list(self.columns),
        }
        return {k: v for k, v in fields.items() if v}


class Catalog(BaseModel):
    """Every source table, in YAML order, plus the lake-wide defaults."""

    model_config = ConfigDict(frozen=True)

    path: str
    defaults: CatalogDefaults
    tables: tuple[CatalogTable, ...]

    def __iter__(self) -> Iterator[CatalogTable]:  # type: ignore[override]
        return iter(self.tables)

    @cached_property
    def _by_name(self) -> dict[str, CatalogTable]:
        return {t.name: t for t in self.tables}

    def table(self, name: str) -> CatalogTable:
        """The entry for source table ``name``; a clear error if the catalog has none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise CatalogError(f"{self.path}: no table '{name}' in the catalog") from None

    @property
    def lake_tables(self) -> tuple[CatalogTable, ...]:
        """The tables that are loaded into the lake (every strategy but ``exclude``)."""
        return tuple(t for t in self.tables if t.in_lake)

    def loads(self, *names: str) -> bool:
        """Whether the lake loads every one of the source tables ``names``: the assets derived from
        TechHub's own tables (child tables, dimensions, the fact, techpark, the marts) exist only for
        a catalog that loads what they read, so any database's catalog builds a graph."""
        loaded = {t.name for t in self.lake_tables}
        return all(name in loaded for name in names)

    @property
    def pii_columns(self) -> frozenset[str]:
        """Every column name the catalog marks as personal data in any table: what derived tables
        (silver, the marts) must keep out of Dagster's metadata under the same name."""
        return frozenset(column for t in self.tables for column in t.pii)

    @property
    def captured_tables(self) -> tuple[CatalogTable, ...]:
        """The tables the lake captures from the source's replication slot (``strategy: cdc``)."""
        return tuple(t for t in self.tables if t.partitioning == Partitioning.STREAM)


def _field_of(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
    message = str(error.get("msg", ""))
    if not loc and ":" in message:  # model-level checks say "field: message"
        return message.split(":", 1)[0].removeprefix("Value error, ").strip()
    return loc[0] if loc else "?"


def _message_of(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    if not error.get("loc") and ":" in message:
        message = message.split(":", 1)[1].strip()
    if error.get("type") == "extra_forbidden":
        return "unknown field"
    if error.get("type") == "enum":
        return f"unknown value {error.get('input')!r}; {message[0].lower()}{message[1:]}"
    return message


def _describe(path: str, where: str, exc: ValidationError) -> CatalogError:
    problems = [f"field '{_field_of(e)}': {_message_of(e)}" for e in exc.errors()]
    return CatalogError(f"{path}: {where}, " + "; ".join(problems))


def _resolve(entry: TableEntry, defaults: CatalogDefaults) -> CatalogTable:
    strategy = entry.strategy
    return CatalogTable(
        name=entry.name,
        source_schema=entry.source_schema,
        module=entry.module,
        strategy=strategy,
        primary_key=entry.primary_key,
        watermark=entry.watermark,
        partitioning=entry.partitioning or _PARTITIONING_FOR[strategy],
        json_columns=entry.json_columns,
        pii=entry.pii,
        freshness=entry.freshness if entry.freshness is not None else defaults.freshness.get(strategy),
        lookback=entry.lookback if entry.lookback is not None else defaults.lookback.get(strategy, dt.timedelta(0)),
        priority=entry.priority,
        description=entry.description,
        columns=entry.columns,
    )


DEFAULT_CATALOG_PATH = Path(__file__).with_name("tables.yaml")


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate the catalog YAML (the packaged one unless ``path`` is given).

    Raises :class:`CatalogError` with one line naming the file, the table and the field.
    """
    path = Path(path) if path is not None else DEFAULT_CATALOG_PATH
    label = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"{label}: cannot read the catalog ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise CatalogError(f"{label}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("tables"), list):
        raise CatalogError(f"{label}: expected a mapping with a 'tables' list")
    unknown = set(raw) - {"defaults", "tables"}
    if unknown:
        raise CatalogError(f"{label}: unknown top-level field(s) {sorted(unknown)}; expected 'defaults' and 'tables'")

    try:
        defaults = CatalogDefaults.model_validate(raw.get("defaults") or {})
    except ValidationError as exc:
        raise _describe(label, "defaults", exc) from None

    tables: list[CatalogTable] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw["tables"]):
        name = item.get("name") if isinstance(item, dict) else None
        where = f"table '{name}'" if name else f"table #{index + 1}"
        if not isinstance(item, dict):
            raise CatalogError(f"{label}: {where}: expected a mapping, got {type(item).__name__}")
        try:
            entry = TableEntry.model_validate(item)
        except ValidationError as exc:
            raise _describe(label, where, exc) from None
        if entry.name in seen:
            raise CatalogError(
                f"{label}: table '{entry.name}', field 'name': duplicate table (also entry #{seen[entry.name] + 1})"
            )
        seen[entry.name] = index
        tables.append(_resolve(entry, defaults))
    return Catalog(path=label, defaults=defaults, tables=tuple(tables))
