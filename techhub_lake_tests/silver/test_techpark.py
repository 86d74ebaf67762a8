"""Techpark report parsing: the signed XML read by a real parser, odd JSON, typed fields."""

from __future__ import annotations

import polars as pl
import pytest

from techhub_lake.silver.techpark import (
    export_array_valid,
    export_rows,
    service_report_v2,
)
from techhub_lake.silver.transforms.signed_xml import parse_signed_xml

NS = "urn:astanahub:techpark:report"


@pytest.mark.parametrize(("document", "expected"), [
    (f'<?xml version="1.0" encoding="UTF-8"?><Report xmlns="{NS}"><Header><BIN>123456789012</BIN></Header></Report>',
     {"bin": "123456789012", "malformed": False}),
    ('<Report><Header><BIN> 123456789012 </BIN></Header><Body>ТОО «Альфа» &amp; Ко 🚀</Body></Report>',
     {"bin": "123456789012", "malformed": False}),
    ("<r:Report xmlns:r='urn:x'><r:Header><r:BIN>1</r:BIN></r:Header></r:Report>", {"bin": "1", "malformed": False}),
    ("<Report><Header><BIN></BIN></Header></Report>", {"bin": None, "malformed": False}),  # empty element
    ("<Report><Header/></Report>", {"bin": None, "malformed": False}),  # no BIN element
    ("<Report><Header><BIN>123456789012</BIN></Header><Unclosed>", {"bin": None, "malformed": True}),
    ("<Report><BIN>1</Report>", {"bin": None, "malformed": True}),  # mismatched tags
    ("not xml at all", {"bin": None, "malformed": True}),
    ("", {"bin": None, "malformed": True}),
    ('<!DOCTYPE r [<!ENTITY x "123456789012">]><Report><BIN>&x;</BIN></Report>', {"bin": None, "malformed": True}),
    (None, {"bin": None, "malformed": False}),  # no document is not a broken one
])
def test_signed_xml(document, expected):
    assert parse_signed_xml(document) == expected


def test_export_arrays_valid_and_exploded():
    values = ['[{"amount": 1.5, "country": "Казахстан"}, {"amount": 20, "country": "UZ"}]', "[]",
              '[{"country": "Грузия"}, {"amount": "много"}]', '"Узбекистан: 100%"', "[1, 2]",
              '[{"amount": 3, "country": ""}]', None, '{"country": "KZ", "amount": 1}']
    frame = pl.DataFrame({"report_id": range(len(values)), "export_by_country": values})
    frame = frame.with_columns(export_array_valid(pl.col("export_by_country")).alias("export_by_country_valid"))
    assert frame["export_by_country_valid"].to_list() == [True, True, False, False, False, False, False, False]
    rows = export_rows(frame.lazy()).collect()
    assert rows.rows() == [(0, 0, "Казахстан", 1.5), (0, 1, "UZ", 20.0)]


def test_report_fields_are_typed_and_the_bin_falls_back_to_the_xml():
    reports = pl.DataFrame({
        "id": [1, 2, 3], "company_id": [10, 11, 12], "request_id": [None, 5, None], "status": ["accepted"] * 3,
        "data": ['{"report_year": 2022, "bin": "111111111111", "revenue": 12.5, "employees_residents": 7, "loans": "много"}',
                 '{"report_year": "2020", "revenue": 3, "employees_residents": 2.5, "certificate_number": ""}',
                 '{"report_year": null, "bin": ""}'],
        "signed_xml": ["<Report><BIN>999999999999</BIN></Report>", "<Report><BIN>222222222222</BIN></Report>",
                       "<Report><BIN>333333333333</BIN>"],
        "created_at": [None, None, None], "updated_at": [None, None, None],
    })
    typed = service_report_v2(reports)
    assert typed["report_year"].to_list() == [2022, 2020, None]
    assert typed["revenue"].to_list() == [12.5, 3.0, None]
    assert typed["employees_residents"].to_list() == [7, None, None]  # 2.5 is not a head count
    assert typed["loans"].to_list() == [None, None, None]  # "много" is not a number
    assert typed["certificate_number"].to_list() == [None, None, None]
    assert typed["bin"].to_list() == ["111111111111", "222222222222", None]
    assert typed["bin_source"].to_list() == ["report", "signed_xml", None]
    assert typed["dq_signed_xml_malformed"].to_list() == [False, False, True]
    assert len([c for c in typed.columns if c not in ("report_id", "company_id", "request_id", "status")]) > 30
