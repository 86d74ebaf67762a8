"""The BIN inside a techpark report's signed XML document, read with a real XML parser.

The document is untrusted input, so it is parsed with ``defusedxml`` (no entity expansion, no
external entities). A document that does not parse is a counted data-quality problem, never a
failed run.
"""

from __future__ import annotations

from xml.etree.ElementTree import ParseError

import polars as pl
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

BIN_ELEMENT = "BIN"  # matched by local name, whatever the namespace


def parse_signed_xml(document: str | None) -> dict[str, object]:
    """``{"bin": the first BIN element's text or None, "malformed": whether the document fails to parse}``;
    a NULL document is neither."""
    if document is None:
        return {"bin": None, "malformed": False}
    try:
        root = ElementTree.fromstring(document)
    except (ParseError, DefusedXmlException, ValueError):
        return {"bin": None, "malformed": True}
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.rsplit("}", 1)[-1] == BIN_ELEMENT:
            text = (element.text or "").strip()
            return {"bin": text or None, "malformed": False}
    return {"bin": None, "malformed": False}


def signed_xml_fields(column: str) -> pl.Expr:
    """:func:`parse_signed_xml` of every row, as a struct (``bin``, ``malformed``).

    A Python function per row: polars has no XML reader, and a regular expression is not a parser
    (the techpark plan's SQL used ``regexp_extract`` and silently took BINs out of broken documents)."""
    return pl.col(column).map_elements(parse_signed_xml, return_dtype=pl.Struct({"bin": pl.String, "malformed": pl.Boolean}),
                                       skip_nulls=False)
