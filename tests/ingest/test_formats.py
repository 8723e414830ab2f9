"""ingest.formats on real files the tests write: html, docx, pdf, txt, md.

The autouse `no_network` fixture (tests/conftest.py) makes any non-loopback connect raise, so
every html/docx test here also fails if unstructured tries to download its spaCy model.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import docx
import pypdf
import pytest

from ingest import formats
from ingest.decoding import decode
from ingest.formats import SUFFIXES, FormatError, Parsed, parse

ROOT = Path(__file__).resolve().parents[2]


def parse_file(path: Path) -> Parsed:
    return parse(path.read_bytes(), path.suffix)


# -- html ------------------------------------------------------------------------------------

HTML = """<!DOCTYPE html>
<html><head>
<meta charset="{charset}">
<title>{title}</title>
<style>body {{ color: red; }} .secret-style {{}}</style>
<script>var secretScript = "do not index";</script>
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/about">About us</a></li></ul></nav>
<h1>{heading}</h1>
<p>Claims are paid within&nbsp;15 days &amp; receipts are required.</p>
<h2>Hotels</h2>
<ul><li>{item1}</li><li>Shanghai: 450</li></ul>
<p>{para}</p>
</body></html>
"""


def test_html_utf8_keeps_structure_and_drops_code(tmp_path: Path) -> None:
    page = HTML.format(
        charset="utf-8",
        title="Travel &amp; Expense Policy",
        heading="Travel policy",
        item1="Beijing: 500",
        para="差旅费用须在出差结束后15天内提交。",
    )
    path = tmp_path / "policy.html"
    path.write_text(page, encoding="utf-8")

    parsed = parse_file(path)

    # Headings and list items are lines of their own; &nbsp; and &amp; are decoded; the nav
    # menu (boilerplate), <script> and <style> are gone.
    assert parsed.text.split("\n") == [
        "Travel policy",
        "Claims are paid within 15 days & receipts are required.",
        "Hotels",
        "Beijing: 500",
        "Shanghai: 450",
        "差旅费用须在出差结束后15天内提交。",
    ]
    assert parsed.title == "Travel & Expense Policy"
    assert parsed.pages == ()


def test_html_title_falls_back_to_first_heading() -> None:
    page = b"<html><body><h1>Holiday calendar</h1><p>Offices close on 1 May.</p></body></html>"
    assert parse(page, ".htm").title == "Holiday calendar"


def test_html_declared_gb2312_is_decoded(tmp_path: Path) -> None:
    page = HTML.format(
        charset="gb2312",
        title="星河科技差旅制度",
        heading="差旅标准",
        item1="北京：500元",
        para="住宿费用按城市等级报销，超出部分由个人承担。",
    )
    path = tmp_path / "policy-gbk.html"
    path.write_bytes(page.encode("gbk"))

    parsed = parse_file(path)

    assert parsed.title == "星河科技差旅制度"
    lines = parsed.text.split("\n")
    assert lines[0] == "差旅标准"
    assert "北京：500元" in lines
    assert "住宿费用按城市等级报销，超出部分由个人承担。" in lines


@pytest.mark.parametrize(
    "meta",
    [
        '<meta charset="gb2312">',
        '<meta http-equiv="Content-Type" content="text/html; charset=GBK">',
    ],
)
def test_html_declared_charset_beats_detection(meta: str) -> None:
    # Detection alone reads these few GBK bytes as a Latin charset ("֪ͨ"): the declaration wins.
    page = f"<html><head>{meta}<title>通知</title></head><body><p>通知</p></body></html>"
    assert parse(page.encode("gbk"), ".html") == Parsed("通知", "通知")


def test_html_mislabelled_charset_falls_back_to_detection() -> None:
    text = "差旅费用须在出差结束后十五天内提交报销，逾期不予受理。住宿标准按城市等级执行。"
    page = f'<meta charset="utf-8"><p>{text}</p>'.encode("gbk")  # says utf-8, is GBK
    assert parse(page, ".html").text == text


def test_html_without_text_is_an_error() -> None:
    with pytest.raises(FormatError, match="no text"):
        parse(b"<html><head><script>x()</script></head><body> </body></html>", ".html")


# -- docx ------------------------------------------------------------------------------------


def make_docx(path: Path, title: str = "") -> Path:
    document = docx.Document()
    document.core_properties.title = title
    document.add_heading("Leave policy", level=1)
    document.add_paragraph("Employees receive 15 days of annual leave.")
    document.add_paragraph("Unused days expire at the end of March.")
    document.add_paragraph("Apply in the HR portal", style="List Bullet")
    document.add_paragraph("Ask your manager to approve", style="List Bullet")
    document.sections[0].header.paragraphs[0].text = "Confidential"
    document.save(str(path))
    return path


def test_docx_paragraphs_headings_and_list_items_are_lines(tmp_path: Path) -> None:
    parsed = parse_file(make_docx(tmp_path / "leave.docx", title="HR handbook"))

    assert parsed.text.split("\n") == [
        "Leave policy",
        "Employees receive 15 days of annual leave.",
        "Unused days expire at the end of March.",
        "Apply in the HR portal",
        "Ask your manager to approve",
    ]
    assert "Confidential" not in parsed.text  # page header: repeated boilerplate
    assert parsed.title == "HR handbook"


def test_docx_title_falls_back_to_first_heading(tmp_path: Path) -> None:
    assert parse_file(make_docx(tmp_path / "leave.docx")).title == "Leave policy"


def test_corrupt_docx_says_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(random.Random(7).randbytes(2048))
    with pytest.raises(FormatError, match=r"corrupt docx \(not a zip"):
        parse_file(path)


def test_ole_file_is_not_a_docx() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024)  # .doc, or a docx with a password
    with pytest.raises(FormatError, match="legacy .doc or password-protected docx"):
        parse(ole, ".docx")


def test_zip_that_is_not_a_docx(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(FormatError, match="without word/document.xml"):
        parse(buf.getvalue(), ".docx")


# -- pdf -------------------------------------------------------------------------------------


def minimal_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A valid PDF with a Helvetica text layer: one line per string, one page per list."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", b"<< /Type /Font /Subtype /Type1 "]
    objects[2] += b"/BaseFont /Helvetica >>"
    kids = []
    for lines in pages:
        escaped = (s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for s in lines)
        ops = "BT /F1 12 Tf 72 720 Td 14 TL\n" + "".join(f"({s}) Tj T*\n" for s in escaped) + "ET"
        stream = ops.encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % len(objects)
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    trailer = b"<< /Size %d /Root 1 0 R" % (len(objects) + 1)
    if title:
        objects.append(b"<< /Title (%s) >>" % title.encode("latin-1"))
        trailer += b" /Info %d 0 R" % len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n%s >>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref)
    return bytes(out)


PAGES = [
    ["Expense policy (2024)", "Submit claims within 15 days."],
    ["Page two: hotels", "The Beijing cap is 500 yuan."],
]


def test_pdf_text_and_page_offsets(tmp_path: Path) -> None:
    path = tmp_path / "policy.pdf"
    path.write_bytes(minimal_pdf(PAGES, title="Expense policy"))

    parsed = parse_file(path)

    assert parsed.title == "Expense policy"
    assert "\r" not in parsed.text
    assert len(parsed.pages) == 2 and parsed.pages[0] == 0
    first, second = parsed.text[: parsed.pages[1]], parsed.text[parsed.pages[1] :]
    assert first == "Expense policy (2024)\nSubmit claims within 15 days.\n\n"
    assert second == "Page two: hotels\nThe Beijing cap is 500 yuan."


def test_pdf_without_metadata_has_no_title() -> None:
    assert parse(minimal_pdf(PAGES), ".PDF").title is None


def test_encrypted_pdf_is_refused() -> None:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(minimal_pdf(PAGES))))
    writer.encrypt("s3cret", algorithm="RC4-128")  # RC4 needs no crypto library
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(FormatError, match="encrypted PDF"):
        parse(buf.getvalue(), ".pdf")


def test_pdf_with_owner_password_only_still_opens() -> None:
    # Restrictions without a user password do not stop reading: the text is extracted.
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(minimal_pdf(PAGES))))
    writer.encrypt("", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    assert parse(buf.getvalue(), ".pdf").text.startswith("Expense policy (2024)")


def test_pdf_without_text_layer_is_refused() -> None:
    with pytest.raises(FormatError, match=r"no text layer \(scanned PDF\?\)"):
        parse(minimal_pdf([[], []]), ".pdf")


def test_corrupt_pdf_is_refused() -> None:
    with pytest.raises(FormatError, match="corrupt PDF"):
        parse(b"%PDF-1.4\nnot really a pdf", ".pdf")


# -- txt and md ------------------------------------------------------------------------------


def test_txt_stray_tags_and_entities_are_cleaned(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(
        "<p>Budget&nbsp;owner: R&amp;D</p>\n"
        'Line one<br/>line two, see <a href="https://intranet/x">the form</a>.\n'
        "If a < b > c then x<y; List<String> and AT&T stay, &copy without ; too.\n",
        encoding="utf-8",
    )

    assert parse_file(path).text.splitlines() == [
        "Budget owner: R&D",
        "Line one",
        "line two, see the form.",
        "If a < b > c then x<y; List<String> and AT&T stay, &copy without ; too.",
    ]


def test_txt_without_markup_is_exactly_what_decode_gives() -> None:
    # Text ingested before this module existed must keep its fingerprint (no re-embedding).
    data = "\ufeffTitle\r\n\r\n\r\nBody line \u200bwith a zero-width space.\n\n".encode()
    assert (
        parse(data, ".txt").text
        == decode(data)
        == "Title\n\n\nBody line with a zero-width space.\n\n"
    )


def test_txt_with_escaped_markup_keeps_it_as_text() -> None:
    # Entities are decoded after tags are removed: an escaped tag is text the author wrote.
    assert parse(b"Write &lt;br&gt; for a break", ".text").text == "Write <br> for a break"


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("gbk", "差旅费用须在出差结束后15天内提交报销，逾期不予受理。"),
        ("big5", "差旅費用須在出差結束後15天內提交報銷，逾期不予受理。"),
    ],
)
def test_txt_legacy_chinese_encodings(tmp_path: Path, encoding: str, text: str) -> None:
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    assert parse_file(path) == Parsed(text, None)


def test_markdown_is_kept_as_written_with_heading_title() -> None:
    source = "Intro line\n\n# Expense policy\n\n- item one\n- item two\n\n## Hotels\n"
    parsed = parse(source.encode(), ".md")
    assert parsed.text == source
    assert parsed.title == "Expense policy"


def test_empty_and_unsupported_inputs() -> None:
    assert {".txt", ".text", ".md", ".markdown", ".html", ".htm", ".docx", ".pdf"} == SUFFIXES
    with pytest.raises(FormatError, match="empty file"):
        parse(b"  \n", ".txt")
    with pytest.raises(FormatError, match=r"unsupported file type '\.pptx'"):
        parse(b"x", ".pptx")


# -- offline ---------------------------------------------------------------------------------

OFFLINE_PROBE = textwrap.dedent(
    """
    import socket, sys
    attempts = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if host not in ("localhost", "127.0.0.1", "::1"):
            attempts.append(host)
            raise OSError("network disabled by test")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
            raise OSError("network disabled by test")
        return real_connect(self, address)

    socket.getaddrinfo, socket.socket.connect = getaddrinfo, connect
    from ingest.formats import parse
    parse(sys.stdin.buffer.read(), ".docx")
    html = b"<title>T</title><h1>Policy</h1><p>Claims are paid within fifteen days.</p>"
    text = parse(html, ".html").text
    assert text == "Policy\\nClaims are paid within fifteen days.", text
    print("attempts:", attempts)
    """
)


def test_unstructured_parsing_makes_no_network_attempt(tmp_path: Path) -> None:
    """In a fresh process without DO_NOT_TRACK: import, telemetry and spaCy stay offline.

    unstructured swallows telemetry failures, so the in-process fixture alone would not see a
    ping; the probe records every lookup and connect, even those that fail quietly.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("DO_NOT_TRACK", "SCARF_NO_ANALYTICS")}
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_PROBE],
        input=make_docx(tmp_path / "probe.docx").read_bytes(),
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == "attempts: []"
    assert b"Unstructured Open Source" not in result.stderr  # the advert is switched off


# -- tables ----------------------------------------------------------------------------------

TABLE_ROWS = ["Device: Monitor; Budget: 300 USD.", "Device: Laptop; Budget: 1500 USD."]


def test_html_table_rows_keep_their_header() -> None:
    page = (
        "<html><body><p>IT equipment budget for 2024.</p><table>"
        "<tr><th>Device</th><th>Budget</th></tr><tr><td>Monitor</td><td>300 USD</td></tr>"
        "<tr><td>Laptop</td><td>1500 USD</td></tr></table></body></html>"
    )
    text = parse(page.encode(), ".html").text
    assert text.splitlines()[1:] == TABLE_ROWS  # was one line: "Device Budget Monitor 300 USD…"


def test_docx_table_rows_keep_their_header(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("IT equipment budget for 2024.")
    table = document.add_table(rows=3, cols=2)
    for r, row in enumerate([("Device", "Budget"), ("Monitor", "300 USD"), ("Laptop", "1500 USD")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.save(tmp_path / "budget.docx")
    text = parse_file(tmp_path / "budget.docx").text
    assert text.splitlines()[1:] == TABLE_ROWS


def test_markdown_table_rows_keep_their_header() -> None:
    md = "# IT budget\n\nFor 2024.\n\n| Device | Budget |\n|---|---:|\n| Monitor | 300 USD |\n| Laptop | 1500 USD |\n\nAsk IT.\n"
    text = parse(md.encode(), ".md").text
    assert text.splitlines() == ["# IT budget", "", "For 2024.", "", *TABLE_ROWS, "", "Ask IT."]


def zip_bomb(path: Path, unzipped_mib: int) -> Path:
    """A docx whose word/document.xml inflates to `unzipped_mib` MiB (small on disk)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(b'<w:document xmlns:w="urn:w"><w:body><w:p><w:r><w:t>')
            block = b" " * 2**20
            for _ in range(unzipped_mib):
                member.write(block)
            member.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return path


def test_a_docx_zip_bomb_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    # It used to be handed to python-docx whole (a 2 GiB bomb: 3.4 GB of memory, minutes).
    bomb = zip_bomb(tmp_path / "bomb.docx", formats.MAX_DOCX_XML_BYTES // 2**20 + 8)
    assert bomb.stat().st_size < 200_000
    with pytest.raises(formats.FormatError, match=r"unzips to 40 MiB of XML, over the 32 MiB"):
        parse_file(bomb)
