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
from collections.abc import Callable, Iterable
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
    found: list[Record] = []
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.ordered_attributes = True  # attributes unused: a list is cheaper than a dict
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = _handlers(
        shape, found
    )
    _forbid_dtd(parser)
    try:
        parser.Parse(body, True)
    except expat.ExpatError as error:
        reason = f"not well-formed XML ({expat.ErrorString(error.code)})"
    except LookupError as error:  # expat asks Python for the declared encoding
        reason = f"an encoding Python does not know ({error})"
    except defusedxml.DefusedXmlException as error:
        reason = f"refused: it declares a DTD or entities ({type(error).__name__})"
    else:
        return found
    raise MalformedAnswer(reason)


def _handlers(
    shape: Shape, found: list[Record]
) -> tuple[Callable[[str, Any], None], Callable[[str], None], Callable[[str], None]]:
    """The start, end and text handlers for expat, keeping each record's leaf texts.

    Closures over plain variables, and the text handler a bound ``list.append``:
    these run for every element, the cost the snapshot path is made of.
    ``owner`` is the dict that takes the leaf texts of its children (the
    record, or a line inside it), ``owner_depth`` its depth.
    """
    record_name, roots, lines_name = shape.record, shape.roots, shape.lines
    text: list[str] = []
    clear, join = text.clear, "".join
    # ``opened``: the depth of the last element started; an element that ends at
    # that depth had no child (a leaf). ``leaf_depth``: where the owner's leaves are.
    depth, opened, record_depth, owner_depth, leaf_depth = 0, 0, 2, -2, -1
    owner: dict[str, str] = {}
    record = Record({}, [])

    def start(name: str, attributes: Any) -> None:
        nonlocal depth, opened, record_depth, owner, owner_depth, leaf_depth, record
        depth += 1
        opened = depth
        clear()
        if depth > record_depth:  # inside a record: the common case first
            if depth > MAX_DEPTH:
                raise MalformedAnswer(f"nested deeper than {MAX_DEPTH} levels")
            if name == lines_name and owner_depth == record_depth:
                owner, owner_depth, leaf_depth = {}, depth, depth + 1
        elif depth == record_depth or name == record_name:  # a record (or a lone one as root)
            if name != record_name:
                raise MalformedAnswer(f"<{name}> where a <{record_name}> belongs")
            record_depth = depth
            record = Record({}, [])
            owner, owner_depth, leaf_depth = record.elements, depth, depth + 1
        elif name not in roots:  # the root
            raise MalformedAnswer(f"the root element is <{name}>, not {shape.describe()}")

    def end(name: str) -> None:
        nonlocal depth, owner, owner_depth, leaf_depth
        if depth == leaf_depth and opened == depth:
            if name not in owner:  # the first of repeated tags
                owner[name] = join(text).strip()
        elif depth == owner_depth:
            if depth != record_depth:  # a line ends
                record.lines.append(owner)
                owner, owner_depth, leaf_depth = record.elements, record_depth, record_depth + 1
            else:
                found.append(_checked(record, shape))
                owner_depth = leaf_depth = -2
        depth -= 1

    return start, end, text.append


def _checked(record: Record, shape: Shape) -> Record:
    for name in shape.required:
        value = record.elements.get(name)
        if not value:
            raise MalformedAnswer(f"a <{shape.record}> without <{name}>")
        if len(value) > MAX_KEY_LENGTH:
            raise MalformedAnswer(f"<{name}> is {len(value)} characters long")
    return record


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
