"""The docs run: every ```python block of every page under docs/, offline, against the sandboxes.

The blocks of a page run in order in one namespace, as a reader would paste
them. Two HTML comments (invisible on the site) steer this:

- ``<!-- docs-test: skip: why -->`` right before a block skips that block
  (for blocks that need the network or real credentials: say which);
- ``<!-- docs-test: file NAME -->`` right before a block (python, toml, csv,
  ...) writes it to the file NAME (in the temporary working directory)
  instead of running it, before any block of the page runs, e.g. a
  ``conftest.py`` that a later step runs pytest on, or the TOML file a page
  shows after the code that reads it;
- ``<!-- docs-test: setup`` ... ``-->`` holds code that runs at that point
  without being shown, e.g. a sandbox behind a reference page's ``books``.

Only loopback connections are allowed, so a block that would reach a real
service fails instead of silently depending on the network.
"""

from __future__ import annotations

import re
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\n]*)$")
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\b:?\s*(?P<reason>.*?)\s*-->\s*$")
FILE = re.compile(r"<!--\s*docs-test:\s*file\s+(?P<name>[\w./-]+)\s*-->\s*$")
SETUP_START = re.compile(r"^\s*<!--\s*docs-test:\s*setup\s*$")
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@attrs.frozen
class Block:
    """One piece of code of a page: shown (a python block) or hidden (a setup comment)."""

    page: str
    line: int
    """1-based line of the code's first line in the page."""
    code: str
    skip: str | None = None
    """Why it is not run, when it is marked so."""
    file: str | None = None
    """Where it is written instead of being run, when it is marked so."""


def blocks(text: str, page: str) -> list[Block]:
    """The python blocks and setup comments of a markdown page, in order."""
    lines = text.splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if SETUP_START.match(line):
            end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "-->")
            found.append(Block(page, index + 2, "\n".join(lines[index + 1 : end])))
            index = end + 1
            continue
        opening = FENCE.match(line)
        if opening is None:
            index += 1
            continue
        fence, indent = opening["fence"], opening["indent"]
        end = next(
            (i for i in range(index + 1, len(lines)) if lines[i].strip() == fence),
            len(lines),
        )
        body = "\n".join(row.removeprefix(indent) for row in lines[index + 1 : end])
        skip, file = _marks(lines, index)
        if file is not None or opening["info"].split(" ")[0].strip("{}.") == "python":
            found.append(Block(page, index + 2, textwrap.dedent(body), skip, file))
        index = end + 1
    return found


def _marks(lines: list[str], fence_index: int) -> tuple[str | None, str | None]:
    """The skip reason and the file name marked on the line before a block."""
    previous = next((lines[i] for i in range(fence_index - 1, -1, -1) if lines[i].strip()), "")
    file = FILE.search(previous)
    skip = SKIP.search(previous)
    if skip is not None and not skip["reason"]:
        raise ValueError(f"a docs-test skip needs a reason: {previous.strip()!r}")
    return (skip["reason"] if skip else None), (file["name"] if file else None)


def run_page(page_blocks: list[Block]) -> list[Block]:
    """Run the blocks in one namespace; return those skipped. Errors name page and line."""
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    skipped = []
    for block in page_blocks:
        if block.file is not None and block.skip is None:
            Path(block.file).write_text(block.code + "\n", encoding="utf-8")
    for block in page_blocks:
        if block.skip is not None:
            skipped.append(block)
            continue
        if block.file is not None:
            continue
        # Leading blank lines make tracebacks show the page's own line numbers.
        code = compile("\n" * (block.line - 1) + block.code, block.page, "exec")
        try:
            exec(code, namespace)
        except BaseException as exc:
            exc.add_note(f"in the python block at {block.page}:{block.line}")
            raise
    return skipped


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "```python" in p.read_text(encoding="utf-8"))


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Loopback only, no CRMCONNECT_* settings from the machine, files written to a temp dir."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK:
            raise OSError(f"docs examples run offline: no connection to {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[0] not in LOOPBACK:
            raise OSError(f"docs examples run offline: no connection to {address[0]!r}")
        real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    for name in [n for n in __import__("os").environ if n.startswith("CRMCONNECT_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_page_examples_run(page: Path) -> None:
    page_blocks = blocks(page.read_text(encoding="utf-8"), f"docs/{page.relative_to(DOCS)}")
    assert page_blocks, "a page with ```python has blocks"
    run_page(page_blocks)


# --- the collector itself ------------------------------------------------------------------

PAGE = """\
# A page

```python
x = 1
```

<!-- docs-test: skip: needs KvK's real test environment -->

```python
import httpx
httpx.get("https://api.kvk.nl")
```

<!-- docs-test: setup
y = x + 1
-->

!!! note
    ```python
    assert y == 2
    ```

<!-- docs-test: file helper.py -->
```python
VALUE = 3
```

```python
import pathlib
assert pathlib.Path("helper.py").read_text().strip() == "VALUE = 3"
```

```bash
exit 1
```
"""


@pytest.mark.usefixtures("offline")
def test_blocks_are_found_with_their_lines_marks_and_indentation() -> None:
    found = blocks(PAGE, "page.md")
    assert [(b.line, b.skip) for b in found] == [
        (4, None),
        (10, "needs KvK's real test environment"),
        (15, None),
        (20, None),
        (25, None),
        (29, None),
    ]
    assert found[3].code == "assert y == 2"
    assert found[4].file == "helper.py"
    assert run_page(found) == [found[1]]


def test_a_failing_block_names_its_page_and_line() -> None:
    page = "Intro\n\n```python\nx = 1\nx.lookup('NL_HIGH')\n```\n"
    with pytest.raises(AttributeError) as failure:
        run_page(blocks(page, "docs/mapping.md"))
    assert "in the python block at docs/mapping.md:4" in failure.value.__notes__
    assert failure.traceback[-1].lineno + 1 == 5, "the traceback shows the page's line"


def test_a_skip_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        blocks("<!-- docs-test: skip -->\n```python\npass\n```\n", "page.md")


@pytest.mark.usefixtures("offline")
def test_offline_means_offline() -> None:
    import httpx

    with pytest.raises(httpx.ConnectError, match="offline"):
        httpx.get("https://api.kvk.nl/test/api/v2/zoeken", timeout=1)


# --- the sample export of `crmconnect kvk match` --------------------------------------------

MATCH_GUIDE = DOCS / "guides" / "kvk-match.md"
SAMPLE = DOCS / "examples" / "kvk-match.csv"


def test_the_guide_shows_the_sample_as_committed() -> None:
    guide = MATCH_GUIDE.read_text(encoding="utf-8")
    assert SAMPLE.read_text(encoding="utf-8") in guide
    assert "(../examples/kvk-match.csv)" in guide


def test_kvk_match_on_the_sample_gives_the_documented_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import csv
    import shlex

    from typer.testing import CliRunner

    from crmconnect._cli_app import app

    guide = MATCH_GUIDE.read_text(encoding="utf-8")
    (command,) = re.findall(r"^crmconnect (kvk match docs/examples/\S+ --sandbox.*)$", guide, re.M)
    (tmp_path / "docs" / "examples").mkdir(parents=True)
    (tmp_path / "docs" / "examples" / SAMPLE.name).write_bytes(SAMPLE.read_bytes())
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(app, shlex.split(command))
    assert done.exit_code == 5, done.output  # as the guide says: row 1007 has no name

    documented = [
        [cell.strip() for cell in row.strip("|").split("|")][:4]
        for row in re.findall(r"^\| \d{4} \|.*$", guide, re.M)
    ]
    with (tmp_path / "matches.csv").open(encoding="utf-8") as output:
        rows = [
            [r["id"], r["status"], r["kvk_number"], r["strategy"]] for r in csv.DictReader(output)
        ]
    assert rows == documented
    summary = re.search(r"^\d+ records: .*(?= →)", done.output, re.M)
    assert summary is not None and summary[0] in guide
