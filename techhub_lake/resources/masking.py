"""How BINs are masked in gold: which report years, and how much of the number stays visible."""

from __future__ import annotations

import dagster as dg
import polars as pl
from pydantic import Field


class BinMask(dg.ConfigurableResource):
    """Masks a BIN (the company's 12-digit taxpayer number) for reports of ``from_year`` and later.

    The masked value keeps ``keep_first`` and ``keep_last`` characters and replaces the rest with
    ``mask_char``; a value too short to keep anything is masked whole, so the raw BIN of a masked
    year never reaches gold. Set from ``$TECHHUB_BIN_MASK_FROM_YEAR`` / ``$TECHHUB_BIN_MASK_KEEP_LAST``.
    """

    from_year: int = Field(default=2021, description="Reports of this year and later have their BIN masked")
    keep_first: int = Field(default=0, ge=0, description="Leading characters left visible")
    keep_last: int = Field(default=4, ge=0, description="Trailing characters left visible")
    mask_char: str = Field(default="*", min_length=1, max_length=1, description="The masking character")

    def masked(self, value: pl.Expr) -> pl.Expr:
        """``value`` with all but its first ``keep_first`` and last ``keep_last`` characters masked."""
        length = value.str.len_chars()
        visible = self.keep_first + self.keep_last
        stars = pl.lit(self.mask_char).repeat_by(length - visible).list.join("")
        partly = pl.concat_str(value.str.head(self.keep_first), stars, value.str.tail(self.keep_last))
        whole = pl.lit(self.mask_char).repeat_by(length).list.join("")
        return pl.when(value.is_null()).then(None).when(length > visible).then(partly).otherwise(whole)

    def apply(self, value: pl.Expr, year: pl.Expr) -> pl.Expr:
        """``value`` masked where ``year`` is ``from_year`` or later, or unknown."""
        return pl.when(year.is_null() | (year >= self.from_year)).then(self.masked(value)).otherwise(value)
