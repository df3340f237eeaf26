"""Reading and writing DigitaleFactuur's XML, safely, in one pass.

Every answer is read by `read` against the `Shape` its action must have: the
root element, the record element, the elements each record must hold, and a
depth limit. Anything else (an HTML maintenance page, ``<klant><id></id>``, a
wrong root, XML nested thousands deep, a body that is not XML) is a
`MalformedAnswer` naming what was wrong; the client turns it into a
`crmconnect.errors.MalformedResponseError`.

The reading is one expat pass that keeps only the text of the leaf elements
of each record: no tree and no model is built. It refuses what defusedxml
refuses (a DTD, entity declarations, external references), with defusedxml's
own exceptions, so no entity is ever expanded (billion laughs) and nothing
external is fetched. `parse` (the tree, for showing a record's raw XML) goes
through defusedxml itself.

A relation listing is read by `split_plain` first: when the page is plain
(UTF-8, no DTD, comment, CDATA or processing instruction, records without
attributes directly under the root), expat checks it is well-formed with
handlers that fire only on what a plain page lacks, and the records are cut
out as bytes with their ID and number. That is what a snapshot or a sync run
needs of the thousands of records that did not change (a digest of their
bytes); only the few that did are read element by element (`read_record`),
and that exact read must give the same ID and number. Any other page is read
by `read` whole.

Requests are built with the standard library's ElementTree, which escapes
``&``, ``<`` and ``>`` in text.
"""

from __future__ import annotations

import functools
import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple
from xml.parsers import expat

import attrs
import defusedxml
import defusedxml.ElementTree
import xxhash

__all__ = [
    "MAX_DEPTH",
    "MAX_KEY_LENGTH",
    "MalformedAnswer",
    "PlainListing",
    "Record",
    "Shape",
    "build",
    "read",
    "read_record",
    "split_plain",
]

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


class PlainListing(NamedTuple):
    """The records of a plain listing (`split_plain`), in order.

    Attributes:
        keys: Per key element asked for, its text in each record, stripped
            (``None`` where a record has none); the first key (the ID) is in
            every record, not empty and at most `MAX_KEY_LENGTH` characters.
        digests: Per record a digest of its bytes after its ID element (all
            its bytes when the ID is not its first child), up to and with its
            closing tag: any change to the record but to its ID changes it.
            Change detection, not integrity: not meant to resist a forger.
        raws: Each record's bytes from its opening tag up to its closing tag
            (left out), for `read_record`; ``None`` when not asked for.
    """

    keys: list[list[str | None]]
    digests: list[str]
    raws: list[bytes] | None


_UTF8_BOM = b"\xef\xbb\xbf"


def split_plain(
    body: bytes | str, shape: Shape, keys: Sequence[str], *, raws: bool = True
) -> PlainListing | None:
    """The records of a plain list answer, or ``None`` where only `read` can tell.

    Plain: bytes in UTF-8 (declared or not), no ``<!`` (DTD, comment, CDATA)
    and no processing instruction but the XML declaration, well-formed (expat
    with handlers only for those: the floor of any reading), the root one of
    ``shape.roots`` without attributes, and under it only ``<record>``
    elements without attributes, none nested in another. A key element's
    text must hold no markup or reference. The first key is the ID.

    Such a record is not checked further here: `read_record` reads it exactly
    when its values are needed, and the caller holds the keys to what that
    read gives (a key that was in a nested element is refused then).
    """
    if not isinstance(body, bytes) or shape.lines is not None or not _plain_xml(body):
        return None
    start = len(_UTF8_BOM) if body.startswith(_UTF8_BOM) else 0
    if body.startswith(b"<?xml", start):
        start = body.find(b"?>", start) + 2
    inner = _inner(body, start, shape.roots)
    if inner is None:
        return None
    record, names = shape.record.encode(), [name.encode() for name in keys]
    found = _id_first(inner, record, names, raws) or _any_layout(inner, record, names, raws)
    if found is None or not _usable_keys(found.keys[0]):
        return None
    return found


class _NotPlain(Exception):
    """Raised from an expat handler: the document holds what only `read` reads right."""


def _not_plain(*args: object) -> None:
    raise _NotPlain


def _utf8_declaration(version: str, encoding: str | None, standalone: int) -> None:
    if encoding is not None and encoding.lower() not in ("utf-8", "utf8"):
        raise _NotPlain


def _plain_xml(body: bytes) -> bool:
    """Well-formed UTF-8 without DTD, comment, CDATA or processing instruction.

    One expat parse whose handlers fire only on those (none in a plain page),
    so it costs what expat's own parse costs.
    """
    parser = expat.ParserCreate()
    parser.XmlDeclHandler = _utf8_declaration
    parser.StartDoctypeDeclHandler = parser.ProcessingInstructionHandler = _not_plain
    parser.CommentHandler = parser.StartCdataSectionHandler = _not_plain
    try:
        parser.Parse(body, True)
    except (expat.ExpatError, _NotPlain):
        return False
    return True


def _inner(body: bytes, start: int, roots: frozenset[str]) -> bytes | None:
    """What the root element holds, for a root without attributes; ``None`` for another."""
    end = len(body.rstrip())
    start += len(body) - start - len(body[start:].lstrip())
    for root in roots:
        name = root.encode()
        opening, closing = b"<" + name + b">", b"</" + name + b">"
        if body.startswith(opening, start) and body.endswith(closing, start, end):
            return body[start + len(opening) : end - len(closing)]
        if body[start:end] == b"<" + name + b"/>":
            return b""
    return None


def _id_first(
    inner: bytes, record: bytes, names: list[bytes], with_raws: bool
) -> PlainListing | None:
    """The common layout, in one regex pass: every record starts with its ID element.

    ``<record><id>…</id>…</record>``, white space allowed around the tags.
    ``None`` when a record does not, or the records are not plain.
    """
    parts = _id_first_pattern(record, names[0]).split(inner)
    lead, ids, rests = parts[0], parts[1::2], parts[2::2]
    closing = b"</" + record + b">"
    if lead.strip() or not ids or inner.count(closing) != len(rests):
        return None  # text before the first record, no record, or a record nested or odd
    ends = list(map(bytes.rstrip, rests))  # each up to and with its closing tag
    if not all(map(bytes.endswith, ends, itertools.repeat(closing))):
        return None
    whole = _whole(record, names[0], ids, ends) if with_raws or len(names) > 1 else []
    texts = _texts([ids, *(_key_column(inner, whole, name) for name in names[1:])])
    if texts is None:
        return None
    digests = list(map(xxhash.xxh3_128_hexdigest, ends))
    return PlainListing(texts, digests, whole if with_raws else None)


def _whole(record: bytes, name: bytes, ids: list[bytes], ends: list[bytes]) -> list[bytes]:
    """The records' bytes again, from their opening tags (left out: their closing ones)."""
    opening, closing = b"<" + record + b"><" + name + b">", b"</" + name + b">"
    cut = len(record) + 3
    return [opening + key + closing + end[:-cut] for key, end in zip(ids, ends, strict=True)]


@functools.cache
def _id_first_pattern(record: bytes, name: bytes) -> re.Pattern[bytes]:
    """``<record><name>ID</name>``, white space between, the ID captured (no ``<`` in it)."""
    opening, key = b"<" + re.escape(record) + b">", re.escape(name)
    return re.compile(opening + rb"\s*<" + key + rb">([^<]*)</" + key + b">")


def _any_layout(
    inner: bytes, record: bytes, names: list[bytes], with_raws: bool
) -> PlainListing | None:
    """Records whose keys may be anywhere in them: cut at their closing tags, then searched."""
    raws = _split(inner, record)
    if raws is None:
        return None
    texts = _texts([_key_column(inner, raws, name) for name in names])
    if texts is None:
        return None
    closing, first = b"</" + record + b">", _id_first_pattern(record, names[0])
    digests = [_digest(raw, closing, first) for raw in raws]
    return PlainListing(texts, digests, raws if with_raws else None)


def _digest(raw: bytes, closing: bytes, first: re.Pattern[bytes]) -> str:
    """`PlainListing.digests` of one record, cut out whole: as `_id_first` digests it."""
    found = first.match(raw)
    rest = raw[found.end() :] if found else raw
    return xxhash.xxh3_128_hexdigest(rest + closing)


def _split(inner: bytes, record: bytes) -> list[bytes] | None:
    """Each record's bytes without its closing tag; ``None`` when one is not a plain record.

    No record is nested in another, and none has attributes: every part
    before a closing tag starts with the opening tag, after white space (a
    nested or attributed record leaves a part without it). A self-closing
    record inside a record stays in its bytes, as `read` keeps it as a leaf.
    """
    opening = b"<" + record + b">"
    parts = inner.split(b"</" + record + b">")
    if parts.pop().strip():
        return None  # text (or a self-closing record) after the last record
    raws = []
    for part in parts:
        at = part.find(opening)
        if at < 0 or part[:at].strip():
            return None
        raws.append(part[at:])
    return raws


def _key_column(inner: bytes, raws: list[bytes], name: bytes) -> list[bytes | None]:
    """One key element's text in each record, raw: the first occurrence in each.

    One scan of the whole content when every record holds the element once
    (the common case), else record by record.
    """
    pattern = _key_pattern(name)
    found: list[bytes | None] = list(pattern.findall(inner))
    if len(found) != len(raws):
        found = [_first(pattern, raw) for raw in raws]
    return found


def _texts(columns: list[list[bytes]] | list[list[bytes | None]]) -> list[list[str | None]] | None:
    """The key columns as stripped texts; ``None`` when one holds a reference (``&``)."""
    present = [value for column in columns for value in column if value is not None]
    joined = b"\x00".join(present)  # expat refuses NUL in a document: a safe separator
    if b"&" in joined:
        return None  # a reference: only expat reads it right
    texts: list[str | None] = list(map(str.strip, joined.decode("utf-8", "replace").split("\x00")))
    if len(present) == sum(map(len, columns)):  # no key missing: cut the texts by column
        bounds = itertools.accumulate(map(len, columns), initial=0)
        starts = list(bounds)
        return [texts[begin:end] for begin, end in itertools.pairwise(starts)]
    flat = iter(texts)
    return [[None if value is None else next(flat) for value in column] for column in columns]


def _first(pattern: re.Pattern[bytes], raw: bytes) -> bytes | None:
    match = pattern.search(raw)
    return None if match is None else match.group(1)


@functools.cache
def _key_pattern(name: bytes) -> re.Pattern[bytes]:
    """``<name>text</name>`` where the text holds no ``<`` (a leaf)."""
    escaped = re.escape(name)
    return re.compile(b"<" + escaped + b">([^<]*)</" + escaped + b">")


def _usable_keys(texts: list[str | None]) -> bool:
    """Every text present, not empty and at most `MAX_KEY_LENGTH` characters (C loops only)."""
    if None in texts or "" in texts:
        return False
    return not texts or max(map(len, texts)) <= MAX_KEY_LENGTH  # type: ignore[arg-type]


def read_record(raw: bytes, shape: Shape) -> Record:
    """One record cut out by `split_plain`, read exactly as `read` reads it in its page.

    Raises:
        MalformedAnswer: As `read`.
    """
    root = next(iter(shape.roots)).encode()
    closing = b"</" + shape.record.encode() + b">"
    records = read(b"<" + root + b">" + raw + closing + b"</" + root + b">", shape)
    if len(records) != 1:  # pragma: no cover - split_plain cut out one record
        raise MalformedAnswer(f"{len(records)} records where one was cut out")
    return records[0]


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
