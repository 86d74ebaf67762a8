"""The techpark marts on hand-made silver frames: each level of the certificate fallback, the BIN
mask and its configuration."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from techhub_lake.gold.techpark import certified_reports
from techhub_lake.resources.masking import BinMask

pytestmark = pytest.mark.slow  # an end-to-end run of the lake: the full suite, not the fast tier


def at(day: int) -> dt.datetime:
    return dt.datetime(2024, 1, day, tzinfo=dt.UTC)


def silver() -> dict[str, pl.LazyFrame]:
    reports = pl.DataFrame({
        "report_id": [1, 2, 3, 4], "company_id": [10, 20, 30, 40],
        "certificate_number": ["ТП-own", None, None, None],
    })
    participants = pl.DataFrame({"company_id": [10, 20, 30], "certificate_number": ["ТП-p10", "ТП-p20", None]})
    requests = pl.DataFrame({
        "id": [1, 2, 3, 4, 5], "service_id": ["techpark", "techpark", "techpark", "mat_pass", "techpark"],
        "company_id": [30, 30, 30, 40, 40], "status": ["signed", "approved", "draft", "signed", "approved"],
        "certificate_number": ["ТП-old", "ТП-new", None, "not-techpark", ""],
        "created_at": [at(1), at(5), at(9), at(2), at(3)],
    })
    return {"service_report_v2": reports.lazy(), "techpark_participants": participants.lazy(),
            "service_servicerequest": requests.lazy()}


def test_each_level_of_the_certificate_fallback():
    rows = certified_reports(silver()).collect().sort("report_id")
    assert rows.select("report_id", "certificate_number", "certificate_source").rows() == [
        (1, "ТП-own", "report"),  # the report's own wins over its participant's
        (2, "ТП-p20", "participant"),
        (3, "ТП-new", "request"),  # the latest techpark request that has one (not the later draft without)
        (4, None, None),  # another service's certificate and an empty one do not count
    ]


def test_the_bin_mask_and_its_configuration():
    frame = pl.DataFrame({"bin": ["123456789012", "123456789012", "123456789012", None],
                          "report_year": [2020, 2021, 2026, 2024]})
    default = frame.select(BinMask().apply(pl.col("bin"), pl.col("report_year"))).to_series().to_list()
    assert default == ["123456789012", "********9012", "********9012", None]
    stricter = BinMask(from_year=2019, keep_last=0, mask_char="#")
    assert frame.select(stricter.apply(pl.col("bin"), pl.col("report_year"))).to_series().to_list()[:2] == ["#" * 12] * 2
