"""Multilingual ``{"ru", "kk", "en"}`` fields -> ``<field>_ru``, ``<field>_kk``, ``<field>_en`` and
``<field>``, the first present of ru, kk, en. The JSON itself stays as ``<field>_json``."""

from __future__ import annotations

import polars as pl

from techhub_lake.silver.transforms.json_fields import json_text

LANGUAGES = ("ru", "kk", "en")


def is_multilingual(expected_keys: tuple[str, ...]) -> bool:
    """Whether the catalog declares a JSON column as a ru/kk/en text."""
    return set(LANGUAGES) <= set(expected_keys)


def first_present(*values: pl.Expr) -> pl.Expr:
    """The first non-empty text among ``values``."""
    return pl.coalesce([pl.when(v.str.len_chars() > 0).then(v) for v in values])


def multilingual(column: str, path: str = "$") -> list[pl.Expr]:
    """The per-language columns and the preferred text of a multilingual JSON value at ``path``.

    A value that is a plain JSON string instead of an object counts as that text in every language
    it is asked for (as ``service_service.data.name`` sometimes is).
    """
    prefix = "$" if path == "$" else path
    by_language = [json_text(column, f"{prefix}.{lang}").alias(f"{column}_{lang}") for lang in LANGUAGES]
    return by_language


def expand_multilingual(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Replace a multilingual JSON column by its language columns and its preferred text."""
    expanded = frame.with_columns(multilingual(column)).rename({column: f"{column}_json"})
    return expanded.with_columns(first_present(*(pl.col(f"{column}_{lang}") for lang in LANGUAGES)).alias(column))
