"""A file's bytes -> the clean text that is stored and quoted, per format (txt, md, html, docx, pdf).

`parse(data, suffix)` is the one entry point. Heavy parsers are imported on first use only:
unstructured (with spaCy) takes over a second to import, which a folder of text files should not pay.

unstructured is used offline. Its import pings a telemetry endpoint unless `DO_NOT_TRACK` or
`SCARF_NO_ANALYTICS` is set, each partition call logs an advert unless
`UNSTRUCTURED_DISABLE_NOTICE=1`, and `partition_html`/`partition_docx` classify every unstyled
paragraph with `is_possible_narrative_text`, which runs spaCy's `en_core_web_sm`: when that model
is missing, unstructured downloads its wheel from GitHub and installs it into site-packages
(`unstructured.nlp.tokenize._install_spacy_model`). No argument turns that check off (the html
parser calls it with its defaults), so `_unstructured()` replaces it, in the two modules that call
it, with a check that answers "not narrative": the element then becomes a plain `Text`, whose
text is the same. We only join element texts, so the element class does not matter here, and
skipping spaCy is also what keeps html/docx fast.
"""

from __future__ import annotations

import html
import io
import logging
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

from ingest.decoding import JUNK, decode

if TYPE_CHECKING:
    from unstructured.documents.elements import Element

log = logging.getLogger(__name__)

SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".text", ".md", ".markdown", ".html", ".htm", ".docx", ".pdf"}
)


@dataclass(frozen=True)
class Parsed:
    """The text of one file, its title if the file names one, and PDF page starts."""

    text: str
    title: str | None
    pages: tuple[int, ...] = ()


class FormatError(ValueError):
    """The file cannot be turned into text; the message says why (for the ingest report)."""


def parse(data: bytes, suffix: str) -> Parsed:
    """Turn a file's bytes into clean text.

    Args:
        data: the file's content.
        suffix: its suffix with the dot, any case (".pdf", ".HTML").

    Returns:
        The text to store (citations index into it), the title the file declares, if any, and
        for PDFs the offset in `text` where each page starts.

    Raises:
        FormatError: unsupported suffix, empty, binary or undecodable data, a corrupt or
            encrypted file, or a file with no text.
    """
    parser = _PARSERS.get(suffix.lower())
    if parser is None:
        raise FormatError(
            f"unsupported file type {suffix or '(none)'!r} (supported: {', '.join(sorted(SUFFIXES))})"
        )
    return parser(data)


# -- plain text ------------------------------------------------------------------------------

# Only well-formed tags of real HTML elements: `a < b > c`, `List<String>` or `x <= y` stay.
_TAG_NAMES = (
    "a|abbr|article|aside|b|big|blockquote|body|br|caption|center|cite|code|col|colgroup|dd|del|"
    "div|dl|dt|em|figcaption|figure|font|footer|h[1-6]|head|header|hr|html|i|img|ins|kbd|label|li|"
    "link|main|mark|meta|nav|ol|p|pre|q|s|section|small|span|strike|strong|sub|sup|table|tbody|"
    "td|tfoot|th|thead|title|tr|tt|u|ul"
)
_ATTR = r"""\s+[a-zA-Z_:][-\w:.]*(?:\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|[^\s"'=<>`]+))?"""
_TAG = re.compile(rf"<!--.*?-->|</?(?:{_TAG_NAMES})(?:{_ATTR})*\s*/?>", re.IGNORECASE | re.DOTALL)
# Tags that start a new line when rendered; inline ones (a, b, span...) just disappear.
_BLOCK = re.compile(
    r"</?(?:blockquote|br|div|dd|dl|dt|h[1-6]|hr|li|ol|p|pre|section|table|tr|ul)\b", re.I
)
# Entities with their semicolon only: html.unescape alone also turns "&copy" or "a&ltb" into
# symbols, which plain text like "R&D&copy" does not mean.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")


def _parse_text(data: bytes) -> Parsed:
    return Parsed(_clean_stray_markup(_decode(data)), None)


def _clean_stray_markup(text: str) -> str:
    """Remove HTML tags and decode entities that leaked into a plain-text file.

    Text without either comes back unchanged, so documents ingested before keep their
    fingerprints.
    """
    if "<" not in text and "&" not in text:
        return text
    return _ENTITY.sub(_entity_replacement, _TAG.sub(_tag_replacement, text))


def _entity_replacement(match: re.Match[str]) -> str:
    # A no-break space from `&nbsp;` is layout, not content: quotes and search want a space.
    return JUNK.sub("", html.unescape(match.group()).replace("\xa0", " "))


def _tag_replacement(match: re.Match[str]) -> str:
    """A block tag becomes a line break unless it already stands at one; others vanish."""
    if not _BLOCK.match(match.group()):
        return ""
    text, start, end = match.string, match.start(), match.end()
    at_break = start == 0 or text[start - 1] == "\n" or end == len(text) or text[end] == "\n"
    return "" if at_break else "\n"


# -- markdown --------------------------------------------------------------------------------

_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def _parse_markdown(data: bytes) -> Parsed:
    """Markdown is kept as written.

    `partition_md` renders it to HTML (with the `markdown` package, not installed by default)
    and drops `#`, list markers and link targets; headings and list items come out on their own
    lines either way, the markers are what `core.sentences` and the evidence heading rule
    already read, and keeping the source text means quotes match what the author wrote and
    existing markdown documents keep their fingerprints.
    """
    text = _markdown_tables_as_rows(_decode(data))
    heading = _ATX_HEADING.search(text)
    return Parsed(text, heading.group(1).strip() if heading else None)


def _markdown_tables_as_rows(text: str) -> str:
    """The text with each pipe table (found by markdown-it) written as `_table_rows` lines, so a
    row reads "Device: Monitor; Budget: 300 USD." instead of "| Monitor | 300 USD |"."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    lines = text.split("\n")
    tables: list[tuple[int, int, list[list[str]]]] = []
    for i, token in enumerate(tokens):
        if token.type == "table_open" and token.map:
            grid: list[list[str]] = []
            for t in tokens[i + 1 :]:
                if t.type == "table_close":
                    break
                if t.type == "tr_open":
                    grid.append([])
                elif t.type == "inline" and grid:
                    grid[-1].append(t.content.strip())
            tables.append((token.map[0], token.map[1], grid))
    for start, end, grid in reversed(tables):  # from the end: earlier line numbers stay right
        lines[start:end] = _grid_rows(grid)
    return "\n".join(lines)


# -- html ------------------------------------------------------------------------------------

# The HTML spec's prescan looks at the first 1024 bytes; pages in the wild put it later.
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([-\w.:]+)", re.IGNORECASE)
# Declared legacy charsets mean their supersets in practice (browsers do the same).
_CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "big5": "big5hkscs", "x-gbk": "gb18030"}
_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _parse_html(data: bytes) -> Parsed:
    text = _decode_html(data)
    try:
        elements = _unstructured().partition_html(text=text, languages=[""])
    except Exception as exc:  # lxml and unstructured raise many types on odd markup
        raise FormatError(f"unparseable HTML ({type(exc).__name__}: {exc})") from exc
    body = _join(elements)
    if not body:
        raise FormatError("no text in HTML page")
    title = _html_title(text) or _first_title(elements)
    return Parsed(body, title)


def _decode_html(data: bytes) -> str:
    """Decode with the `<meta charset>` the page declares, else detect; a BOM wins over both.

    A page that mostly decodes with its declared charset keeps it, a few bad bytes becoming
    U+FFFD as in a browser; one that does not is mislabelled and its encoding is detected.
    """
    found = _META_CHARSET.search(data[:4096])
    if found is None or data.startswith(_BOMS):
        return _decode(data)
    declared = found.group(1).decode("ascii").lower()
    try:
        text = data.decode(_CHARSET_ALIASES.get(declared, declared), errors="replace")
    except LookupError:
        log.debug("unknown declared charset %r; detecting", declared)
        return _decode(data)
    if text.count("\ufffd") > max(3, len(text) // 1000):
        log.debug("page does not decode as its declared %r; detecting", declared)
        return _decode(data)
    # Through decode() again for its cleaning (junk characters, line ends, empty checks).
    return _decode(text.encode("utf-8"))


def _html_title(text: str) -> str | None:
    found = _TITLE_TAG.search(text)
    title = " ".join(html.unescape(found.group(1)).split()) if found else ""
    return title or None


# -- docx ------------------------------------------------------------------------------------

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
# Page headers and footers repeat on every page (company name, "Confidential"): not content.
_DOCX_SKIPPED = frozenset({"Header", "Footer", "PageBreak"})


def _parse_docx(data: bytes) -> Parsed:
    archive = _open_docx(data)
    try:
        elements = _unstructured().partition_docx(
            file=io.BytesIO(data),
            infer_table_structure=True,  # tables as HTML: `_table_rows` keeps rows readable
            include_page_breaks=False,
            languages=[""],  # no language detection: metadata we do not use
        )
    except Exception as exc:  # python-docx/lxml raise many types on a damaged part
        raise FormatError(f"corrupt docx ({type(exc).__name__}: {exc})") from exc
    body = _join(e for e in elements if e.category not in _DOCX_SKIPPED)
    if not body:
        raise FormatError("no text in docx")
    return Parsed(body, _docx_core_title(archive) or _first_title(elements))


def _open_docx(data: bytes) -> zipfile.ZipFile:
    """The docx package, checked to be one; FormatError says what it is instead."""
    if data.startswith(_OLE_MAGIC):
        raise FormatError("not a docx (legacy .doc or password-protected docx: an OLE file)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise FormatError(f"corrupt docx (not a zip: {exc})") from exc
    if "word/document.xml" not in archive.namelist():
        raise FormatError("corrupt docx (zip without word/document.xml)")
    _check_unzipped_size(archive)
    return archive


# A zip bomb (a few MB holding GiBs of XML) would cost GBs of memory and minutes of CPU in
# python-docx/lxml. The sizes checked are those the zip declares: zipfile never returns more
# than a member's declared size (a member that inflates past it fails its CRC check: a
# "corrupt docx"), so the declared sizes bound what the parser can be handed.
MAX_DOCX_XML_BYTES = 32 * 2**20  # the XML parts python-docx parses into trees
MAX_DOCX_UNZIPPED_BYTES = 256 * 2**20  # every part (images included) is loaded into memory


def _check_unzipped_size(archive: zipfile.ZipFile) -> None:
    members = archive.infolist()
    total = sum(m.file_size for m in members)
    xml = sum(m.file_size for m in members if m.filename.lower().endswith((".xml", ".rels")))
    for size, cap, what in (
        (xml, MAX_DOCX_XML_BYTES, "XML"),
        (total, MAX_DOCX_UNZIPPED_BYTES, "content"),
    ):
        if size > cap:
            raise FormatError(
                f"docx unzips to {size / 2**20:.0f} MiB of {what}, over the"
                f" {cap // 2**20} MiB limit (a zip bomb or not a document) - not parsed"
            )


def _docx_core_title(archive: zipfile.ZipFile) -> str | None:
    """The title in the core properties (File > Properties), which Word leaves empty by default."""
    try:
        title = ElementTree.fromstring(archive.read("docProps/core.xml")).findtext(_DC_TITLE)
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError):
        return None  # a missing or damaged properties part costs the title, not the document
    return (title or "").strip() or None


# -- pdf -------------------------------------------------------------------------------------


def _parse_pdf(data: bytes) -> Parsed:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise FormatError("encrypted PDF (a password is needed to open it)") from exc
        raise FormatError(f"corrupt PDF ({exc})") from exc
    try:
        page_texts = [_page_text(doc[i]) for i in range(len(doc))]
        title = (doc.get_metadata_dict().get("Title") or "").strip() or None
    except pdfium.PdfiumError as exc:
        raise FormatError(f"corrupt PDF ({exc})") from exc
    finally:
        doc.close()
    if not any(page_texts):
        raise FormatError(
            f"no text layer (scanned PDF?): none of its {len(page_texts)} pages has text"
        )
    return Parsed("\n\n".join(page_texts), title, _page_starts(page_texts, len("\n\n")))


def _page_text(page: Any) -> str:
    """The text layer of one page, line ends normalised and junk characters removed."""
    textpage = page.get_textpage()
    try:
        raw: str = textpage.get_text_range()
    finally:
        textpage.close()
        page.close()
    return JUNK.sub("", raw.replace("\r\n", "\n").replace("\r", "\n")).strip()


def _page_starts(page_texts: Sequence[str], separator: int) -> tuple[int, ...]:
    starts, offset = [], 0
    for text in page_texts:
        starts.append(offset)
        offset += len(text) + separator
    return tuple(starts)


# -- shared ----------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    try:
        return decode(data)
    except ValueError as exc:
        raise FormatError(str(exc)) from exc


def _join(elements: Iterable[Element]) -> str:
    """Element texts, one per line (titles and list items are elements of their own); a table
    one row per line, each cell with its header (`_table_rows`)."""
    texts = (JUNK.sub("", _element_text(e)).strip() for e in elements)
    return "\n".join(t for t in texts if t)


def _element_text(element: Element) -> str:
    html_table = getattr(element.metadata, "text_as_html", None)
    if element.category == "Table" and html_table:
        return "\n".join(_table_rows(html_table)) or element.text
    return element.text


def _table_rows(html_table: str) -> list[str]:
    """A table as readable rows: `Device: Monitor; Budget: 300 USD.` (the first row is the
    header), so a row can be retrieved and quoted on its own; unstructured flattens a table to
    one line of cells ("Device Budget Monitor 300 USD"). Rows without a header row, or longer
    than it, keep their cells joined by "; "."""
    soup = BeautifulSoup(html_table, "html.parser")
    return _grid_rows(
        [
            [" ".join(cell.get_text(" ").split()) for cell in row.find_all(["th", "td"])]
            for row in soup.find_all("tr")
        ]
    )


def _grid_rows(grid: list[list[str]]) -> list[str]:
    grid = [row for row in grid if any(row)]
    if len(grid) < 2:
        return ["; ".join(c for c in row if c) for row in grid]  # a lone row: no header to pair
    header, rows = grid[0], grid[1:]
    lines = []
    for row in rows:
        if len(row) > len(header) or not all(header):
            line = "; ".join(c for c in row if c)
        else:
            line = "; ".join(f"{h}: {c}" for h, c in zip(header, row, strict=False) if c)
        # a full stop makes the row a sentence: an unterminated short line reads as a heading
        lines.append(line if line.endswith(_SENTENCE_ENDS) else line + ".")
    return lines


_SENTENCE_ENDS = (".", "!", "?", "。", "！", "？")


def _first_title(elements: Sequence[Element]) -> str | None:
    return next((e.text.strip() for e in elements if e.category == "Title" and e.text), None)


def _never_narrative(text: str, *args: object, **kwargs: object) -> bool:
    """Stand-in for unstructured's spaCy-based narrative check (see the module docstring)."""
    return False


@dataclass(frozen=True)
class _Unstructured:
    partition_html: Callable[..., list[Element]]
    partition_docx: Callable[..., list[Element]]


@cache
def _unstructured() -> _Unstructured:
    """Import unstructured's html and docx partitioners offline, once (see module docstring)."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    import unstructured.partition.docx as docx_module
    import unstructured.partition.html.parser as html_parser
    from unstructured.partition.docx import partition_docx
    from unstructured.partition.html import partition_html

    for module in (html_parser, docx_module):
        if not hasattr(module, "is_possible_narrative_text"):
            # A newer unstructured moved the check: fail loudly rather than download spaCy.
            raise RuntimeError(
                f"{module.__name__} has no is_possible_narrative_text: check this unstructured "
                "version still works offline before raising its version range"
            )
        module.is_possible_narrative_text = _never_narrative  # type: ignore[attr-defined]

    return _Unstructured(partition_html, partition_docx)


_PARSERS: dict[str, Callable[[bytes], Parsed]] = {
    ".txt": _parse_text,
    ".text": _parse_text,
    ".md": _parse_markdown,
    ".markdown": _parse_markdown,
    ".html": _parse_html,
    ".htm": _parse_html,
    ".docx": _parse_docx,
    ".pdf": _parse_pdf,
}
