"""Reading and writing DigitaleFactuur's XML, safely.

Answers are parsed with defusedxml: a DTD is refused outright, so no entity
is ever expanded (billion laughs) and nothing external is fetched. Requests are
built with the standard library's ElementTree, which escapes ``&``, ``<`` and
``>`` in text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

import defusedxml
import defusedxml.ElementTree

__all__ = ["UnsafeXMLError", "build", "leaves", "parse", "records"]


class UnsafeXMLError(ValueError):
    """The answer holds a DTD, an entity or an external reference: refused."""


def parse(text: str) -> ET.Element | None:
    """The root element, or ``None`` when the text is not XML.

    Raises:
        UnsafeXMLError: The text declares a DTD or entities.
    """
    try:
        return defusedxml.ElementTree.fromstring(
            text, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException as error:
        raise UnsafeXMLError(type(error).__name__) from None
    except ET.ParseError:
        return None


def records(root: ET.Element) -> list[ET.Element]:
    """The records in an answer: the root's children that have children of their own.

    Assumption: the root element names of ``klanten`` and ``facturen`` are not
    public (products come as repeated ``<producten>`` children), so any root and
    any record name is taken. A root with only leaf children is one record.
    """
    nested = [child for child in root if len(child)]
    if nested:
        return nested
    return [root] if len(root) else []


def leaves(element: ET.Element) -> dict[str, str]:
    """The text of an element's leaf children by tag (the first of repeated tags)."""
    found: dict[str, str] = {}
    for child in element:
        if not len(child):
            found.setdefault(child.tag, (child.text or "").strip())
    return found


def build(
    record: str, elements: Iterable[tuple[str, str]], *, children: Iterable[ET.Element] = ()
) -> str:
    """An XML document ``<record><name>text</name>...</record>``, escaped."""
    root = ET.Element(record)
    for name, text in elements:
        ET.SubElement(root, name).text = text
    root.extend(children)
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")
