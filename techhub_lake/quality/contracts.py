"""The data contracts: Soda contract YAML under ``quality/contracts/<layer>/<table>.yaml``, added to
the checks every lake table gets from what the catalog and the mart specs already declare.

A contract file is a Soda v4 contract without ``dataset`` (the lake fills it in): ``columns`` with
their ``checks``, and dataset-level ``checks``. Each check becomes one Dagster asset check, named
by its ``qualifier`` (else ``<column>_<type>`` or ``<type>``); a check is an *error* unless its
threshold says ``level: warn``. A file's check with the same name as a generated one replaces it.

Generated for every silver and gold table: key columns present and unique (error); has rows (a
warning: a lake that starts from a recent date, or a source table nobody uses yet, is empty without
being wrong); the watermark no older than ``FRESHNESS_HOURS`` (warning); the documented columns and
no others (gold); SCD2 invariants (dimensions); BINs masked as the ``bin_mask`` resource says
(techpark marts).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from techhub_lake.messages import UserError, first_line
from techhub_lake.quality.targets import CheckedTable, lake_targets, source_targets
from techhub_lake.registry import LakeTable
from techhub_lake.silver.dimensions import IS_CURRENT, VALID_FROM, VALID_TO

CONTRACTS_DIR = Path(__file__).parent / "contracts"
FRESHNESS_HOURS = 48
CHECK_NAME = re.compile(r"^[A-Za-z0-9_]+$")
# another lake table a contract's SQL reads: `silver.dim_user` in a query, `lake/silver/dim_user` as a dataset
REFERENCE = re.compile(r"(?:\blake/|\b)(silver|gold)[./]([a-z0-9_]+)\b")
# Soda variables the lake passes at each verification (see verify.contract_variables)
VARIABLES = {"bin_mask_from_year": {"type": "number", "default": 2021}, "bin_mask_char": {"default": "*"}}


class ContractError(UserError):
    """A contract file that cannot be used; the message names the file and the check."""


@dataclass(frozen=True)
class ContractCheck:
    """One check of a contract, as Dagster shows it."""

    name: str
    description: str
    level: str  # "error" or "warn"
    column: str | None


@dataclass(frozen=True)
class Contract:
    """The whole contract of one table: the Soda document (without its dataset) and its checks."""

    target: CheckedTable
    document: dict
    checks: tuple[ContractCheck, ...]
    references: tuple[str, ...]  # other lake tables (layer.name) its checks read
    files: tuple[str, ...]  # the contract files it was composed from

    def to_yaml(self, dataset: str) -> str:
        """The Soda contract YAML for ``dataset`` (``<data source>/.../<table>``)."""
        return yaml.safe_dump({"dataset": dataset, **self.document}, allow_unicode=True, sort_keys=False)

    def check(self, name: str) -> ContractCheck:
        return next(c for c in self.checks if c.name == name)


def _check(kind: str, **body) -> dict:
    return {kind: body}


def generated_checks(target: CheckedTable) -> tuple[dict[str, list[dict]], list[dict]]:
    """The checks a lake table gets from its declarations: (column -> checks, dataset checks)."""
    columns: dict[str, list[dict]] = {}
    dataset: list[dict] = []
    for column in target.key:
        columns.setdefault(column, []).append(
            _check("missing", qualifier=f"{column}_present", name=f"Key column {column} is never NULL"))
    if len(target.key) == 1:
        columns[target.key[0]].append(
            _check("duplicate", qualifier=f"{target.key[0]}_unique", name=f"Key {target.key[0]} is unique"))
    elif target.key:
        dataset.append(_check("duplicate", qualifier="key_unique", columns=list(target.key),
                              name=f"Key ({', '.join(target.key)}) is unique"))
    dataset.append(_check("row_count", qualifier="has_rows", name="The table has rows",
                          threshold={"must_be_greater_than": 0, "level": "warn"}))
    if target.watermark:
        dataset.append(_check("freshness", qualifier="fresh", column=target.watermark,
                              name=f"Newest {target.watermark} is less than {FRESHNESS_HOURS} h old",
                              threshold={"must_be_less_than": FRESHNESS_HOURS, "unit": "hour", "level": "warn"}))
    for column in target.columns:
        columns.setdefault(column, [])
    if target.columns:
        dataset.append(_check("schema", qualifier="documented_columns", allow_other_column_order=True,
                              name="Exactly the documented columns"))
    if target.versions_of:
        dataset += scd2_checks(target.sql_name, target.versions_of)
    if target.masked:
        bin_column, year = target.masked
        dataset.append(_check(
            "failed_rows", qualifier="bin_masked", name=f"{bin_column} is masked for {year} >= the mask's first year",
            expression=(f"({year} >= ${{var.bin_mask_from_year}} OR {year} IS NULL) AND {bin_column} IS NOT NULL "
                        f"AND strpos({bin_column}, '${{var.bin_mask_char}}') = 0")))
    return columns, dataset


def scd2_checks(table: str, key: str) -> list[dict]:
    """An SCD2 dimension's invariants: at most one current version per business key, the current
    version is the open one, validity never runs backwards and versions of a key never overlap."""
    overlapping = (f"SELECT * FROM (SELECT {key}, {VALID_FROM}, {VALID_TO}, lead({VALID_FROM}) OVER "
                   f"(PARTITION BY {key} ORDER BY {VALID_FROM}, {VALID_TO} NULLS LAST) AS next_valid_from "
                   f"FROM {table}) AS versions WHERE next_valid_from IS NOT NULL "
                   f"AND ({VALID_TO} IS NULL OR {VALID_TO} > next_valid_from)")
    return [
        _check("duplicate", qualifier="one_current_version", columns=[key], filter=IS_CURRENT,
               name=f"At most one current version per {key}"),
        _check("failed_rows", qualifier="current_is_open", expression=f"{IS_CURRENT} <> ({VALID_TO} IS NULL)",
               name=f"{IS_CURRENT} exactly when {VALID_TO} is NULL"),
        _check("failed_rows", qualifier="validity_forward", expression=f"{VALID_TO} < {VALID_FROM}",
               name=f"{VALID_TO} is not before {VALID_FROM}"),
        _check("failed_rows", qualifier="no_overlapping_validity", query=overlapping,
               name=f"Versions of one {key} never overlap"),
    ]


def _name_of(kind: str, body: dict, column: str | None) -> str:
    return str(body.get("qualifier") or (f"{column}_{kind}" if column else kind))


def _merge(base: list[dict], extra: list[dict], column: str | None) -> list[dict]:
    """``base`` checks with ``extra``'s added; an extra check of the same name replaces the base one."""
    names = {_name_of(*next(iter(c.items())), column) for c in extra}
    return [c for c in base if _name_of(*next(iter(c.items())), column) not in names] + extra


def _read_file(path: Path) -> dict:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        first = first_line(exc)
        raise ContractError(f"{path}: not valid YAML: {first}") from None
    unknown = set(doc) - {"columns", "checks", "filter"}
    if unknown:
        raise ContractError(f"{path}: unknown top-level key(s) {sorted(unknown)} (a contract here has columns, "
                            "checks and filter; the dataset is filled in by the lake)")
    return doc


def compose_contract(target: CheckedTable, contracts_dir: Path = CONTRACTS_DIR) -> Contract:
    """The full contract of ``target``: its generated checks (lake tables) and its contract file."""
    column_checks, dataset_checks = generated_checks(target) if target.layer != "source" else ({}, [])
    path = contracts_dir / target.contract_file
    files = []
    extra_filter = None
    if path.exists():
        doc = _read_file(path)
        files.append(str(path))
        extra_filter = doc.get("filter")
        for column in doc.get("columns") or []:
            name = column.get("name") if isinstance(column, dict) else None
            if not name:
                raise ContractError(f"{path}: every entry of columns needs a name")
            column_checks[name] = _merge(column_checks.get(name, []), column.get("checks") or [], name)
        dataset_checks = _merge(dataset_checks, doc.get("checks") or [], None)
    checks: list[ContractCheck] = []
    document_columns = []
    for column, items in column_checks.items():
        document_columns.append({"name": column, **({"checks": _named(items, column, checks, path)} if items else {})})
    document = {"variables": copy.deepcopy(VARIABLES)} if target.masked else {}
    if extra_filter:
        document["filter"] = extra_filter
    if document_columns:
        document["columns"] = document_columns
    if dataset_checks:
        document["checks"] = _named(dataset_checks, None, checks, path)
    text = yaml.safe_dump(document)
    references = tuple(sorted({f"{layer}.{name}" for layer, name in REFERENCE.findall(text)} - {target.sql_name}))
    return Contract(target, document, tuple(checks), references, tuple(files))


def _named(items: list[dict], column: str | None, checks: list[ContractCheck], path: Path) -> list[dict]:
    """The checks with their qualifier set to their Dagster name, each recorded in ``checks``."""
    out = []
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            raise ContractError(f"{path}: a check is one mapping `<type>: {{...}}`, got {item!r}")
        kind, body = next(iter(item.items()))
        body = dict(body or {})
        name = _name_of(kind, body, column)
        where = f"{path}: check {name!r}" + (f" of column {column}" if column else "")
        if not CHECK_NAME.match(name):
            raise ContractError(f"{where}: a check's qualifier may hold only letters, digits and _")
        if any(c.name == name for c in checks):
            raise ContractError(f"{where}: two checks of the table are named {name!r}; give one a qualifier")
        threshold = body.get("threshold") or {}
        level = "warn" if str(threshold.get("level", "fail")).lower() == "warn" else "error"
        body["qualifier"] = name
        description = body.get("name") or f"{kind} check" + (f" on {column}" if column else "")
        body.setdefault("name", description)
        checks.append(ContractCheck(name, str(description), level, column))
        out.append({kind: body})
    return out


def source_contract_names(contracts_dir: Path = CONTRACTS_DIR) -> list[str]:
    """The source tables with a contract file."""
    return sorted(p.stem for p in (contracts_dir / "source").glob("*.yaml"))


def contracts_without_table(tables: Iterable[LakeTable], contracts_dir: Path = CONTRACTS_DIR) -> list[Path]:
    """The contract files that name no table of the lake ``tables`` hold: with the packaged catalog, a
    misnamed file (a test holds there to be none); with another database's catalog, TechHub's
    contracts, which do not apply to it."""
    tables = list(tables)
    known = {t.contract_file for t in [*source_targets(tables, source_contract_names(contracts_dir)), *lake_targets(tables)]}
    return [path for layer in ("source", "silver", "gold") for path in sorted((contracts_dir / layer).glob("*.yaml"))
            if f"{layer}/{path.name}" not in known]


def load_contracts(tables: Iterable[LakeTable], contracts_dir: Path = CONTRACTS_DIR) -> list[Contract]:
    """Every contract of the lake ``tables`` hold (``registry.lake_tables`` of the asset graph): the
    source tables with a contract file, every silver and gold table."""
    tables = list(tables)
    names = source_contract_names(contracts_dir)
    targets = [*source_targets(tables, names), *lake_targets(tables)]
    contracts = [compose_contract(t, contracts_dir) for t in targets]
    lake_names = {t.sql_name for t in targets if t.layer != "source"}
    for contract in contracts:
        unknown = [r for r in contract.references if r not in lake_names]
        if unknown:
            raise ContractError(f"{contract.files[0] if contract.files else contract.target.sql_name}: "
                                f"refers to {', '.join(unknown)}, which the lake does not have")
    return contracts
