"""Reading and writing DigitaleFactuur's XML, safely, in one pass.

Every answer is read by `read` against the `Shape` its action must have: the
root element, the record element, the elements each record must hold, and a
depth limit. Anything else (an HTML maintenance page, ``<klant><id></id>``, a
wrong root, XML nested thousands deep, a body that is not XML) is a
`MalformedAnswer` naming what was wrong; the client turns it into a
`crmconnect.errors.MalformedResponseError`.

The reading is one expat pass that keeps only the text of the leaf elements
of each record: no tree and no model is built, so the fingerprint path
(`DigitaleFactuurClient.relations_snapshot`) pays little more than expat's own
parse. It refuses what defusedxml refuses (a DTD, entity declarations,
external references), with defusedxml's own exceptions, so no entity is ever
expanded (billion laughs) and nothing external is fetched. `parse` (the tree,
for showing a record's raw XML) goes through defusedxml itself.

Requests are built with the standard library's ElementTree, which escapes
``&``, ``<`` and ``>`` in text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any, NamedTuple
from xml.parsers import expat

import attrs
import defusedxml
import defusedxml.ElementTree

__all__ = ["MAX_DEPTH", "MAX_KEY_LENGTH", "MalformedAnswer", "Record", "Shape", "build", "read"]

MAX_DEPTH = 8
"""Deepest element nesting accepted in an answer (an invoice line's text is at depth 5)."""

MAX_KEY_LENGTH = 64
"""Longest value accepted for a required element (an ID, a number)."""


class MalformedAnswer(ValueError):
    """The body is not the answer its action must give; the text says why."""


@attrs.frozen
class Shape:
    """What the answer of one action must look like.

    Attributes:
        record: The record element, e.g. ``"klant"``.
        roots: The list elements that may hold the records, e.g. ``{"klanten"}``;
            a root that is the record element itself is one record.
        required: Elements every record must hold, with text.
        lines: A nested record element collected inside each record (invoice lines).
    """

    record: str
    roots: frozenset[str] = frozenset()
    required: tuple[str, ...] = ("id",)
    lines: str | None = None

    def describe(self) -> str:
        """The expected root, in words."""
        names = [*sorted(self.roots), self.record]
        return " or ".join(f"<{name}>" for name in names)


class Record(NamedTuple):
    """One record of an answer: the text of its leaf children (the first of repeated tags).

    Attributes:
        elements: Element name → text, stripped.
        lines: The nested records (`Shape.lines`), each as element name → text.
    """

    elements: dict[str, str]
    lines: list[dict[str, str]]


def read(body: bytes | str, shape: Shape) -> list[Record]:
    """The records of an answer, checked against ``shape``.

    Raises:
        MalformedAnswer: The body is not XML, declares a DTD or entities, has
            another root or record element, nests deeper than `MAX_DEPTH`, or
            a record lacks a required element.
    """
    reader = _Reader(shape)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text.append
    _forbid_dtd(parser)
    try:
        parser.Parse(body, True)
    except expat.ExpatError as error:
        reason = f"not well-formed XML ({expat.ErrorString(error.code)})"
    except defusedxml.DefusedXmlException as error:
        reason = f"refused: it declares a DTD or entities ({type(error).__name__})"
    else:
        return reader.found
    raise MalformedAnswer(reason)


def _forbid_dtd(parser: Any) -> None:
    """Refuse what defusedxml refuses (a DTD, entities, external references), on expat."""

    def doctype(name: str, sysid: str | None, pubid: str | None, internal: bool) -> None:
        raise defusedxml.DTDForbidden(name, sysid, pubid)

    def entity(name: str, *args: Any) -> None:
        raise defusedxml.EntitiesForbidden(name, None, None, None, None, None)

    def external(context: str, base: str | None, sysid: str, pubid: str | None) -> None:
        raise defusedxml.ExternalReferenceForbidden(context, base, sysid, pubid)

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = entity
    parser.ExternalEntityRefHandler = external


class _Reader:
    """expat handlers that keep each record's leaf texts (and its lines) and check the shape.

    ``owner`` is the dict that takes the leaf texts of its children (a record,
    or a line inside one), ``owner_depth`` its depth.
    """

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.found: list[Record] = []
        self.text: list[str] = []
        self.depth = 0
        self.leaf = False
        self.record_depth = 2
        self.owner: dict[str, str] | None = None
        self.owner_depth = -2
        self.record: Record | None = None

    def start(self, name: str, attributes: object) -> None:
        self.depth += 1
        self.leaf = True
        self.text.clear()
        depth, shape = self.depth, self.shape
        if depth == self.record_depth or (depth == 1 and name == shape.record):
            if name != shape.record:
                raise MalformedAnswer(f"<{name}> where a <{shape.record}> belongs")
            self.record_depth = depth
            self.record = Record({}, [])
            self.owner, self.owner_depth = self.record.elements, depth
        elif depth == 1:
            if name not in shape.roots:
                raise MalformedAnswer(f"the root element is <{name}>, not {shape.describe()}")
        elif depth > MAX_DEPTH:
            raise MalformedAnswer(f"nested deeper than {MAX_DEPTH} levels")
        elif name == shape.lines and self.record is not None:
            self.owner, self.owner_depth = {}, depth

    def end(self, name: str) -> None:
        depth = self.depth
        if self.leaf and depth == self.owner_depth + 1:
            owner = self.owner
            if owner is not None and name not in owner:  # the first of repeated tags
                owner[name] = "".join(self.text).strip()
        elif depth == self.owner_depth:
            self._close(depth)
        self.depth = depth - 1
        self.leaf = False
        self.text.clear()

    def _close(self, depth: int) -> None:
        record, owner = self.record, self.owner
        if record is None or owner is None:  # set together in start(); never apart
            return
        if depth != self.record_depth:  # a line
            record.lines.append(owner)
            self.owner, self.owner_depth = record.elements, self.record_depth
            return
        for name in self.shape.required:
            value = record.elements.get(name)
            if not value:
                raise MalformedAnswer(f"a <{self.shape.record}> without <{name}>")
            if len(value) > MAX_KEY_LENGTH:
                raise MalformedAnswer(f"<{name}> is {len(value)} characters long")
        self.found.append(record)
        self.record, self.owner, self.owner_depth = None, None, -2


def parse(text: bytes | str) -> ET.Element:
    """The element tree of an answer already checked by `read` (defusedxml, DTDs refused)."""
    return defusedxml.ElementTree.fromstring(
        text, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )


def build(
    record: str, elements: Iterable[tuple[str, str]], *, children: Iterable[ET.Element] = ()
) -> str:
    """An XML document ``<record><name>text</name>...</record>``, escaped."""
    root = ET.Element(record)
    for name, text in elements:
        ET.SubElement(root, name).text = text
    root.extend(children)
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")
