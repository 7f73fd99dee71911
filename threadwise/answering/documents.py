"""Documents as plain text: the bytes of a PDF, a Word (.docx) file or an HTML page in, text out.

Readers of possibly long documents stop soon after ``max_chars``: the text they
return is longer than ``max_chars`` exactly when the document had more to give,
so the caller can cut it and say so. A document that cannot be read raises
``DocumentUnreadable`` with a short reason meant for the user.
"""
from __future__ import annotations

import io
import logging
import re
import zipfile
import zlib
from html.parser import HTMLParser
from xml.etree import ElementTree

# pypdf warns (through logging) about every oddity of real-world PDFs; only its errors are worth a log line.
logging.getLogger("pypdf").setLevel(logging.ERROR)

OLD_DOC_REASON = "old .doc format; save as .docx"
DOCX_XML_MAX_BYTES = 20_000_000  # word/document.xml unpacked; beyond it a zip bomb, not a document
_CHUNK = 64 * 1024
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Office's older container: .doc, and encrypted .docx


class DocumentUnreadable(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------ PDF

def pdf_text(data: bytes, max_chars: int) -> str:
    """The PDF's text, page by page (pages apart by a blank line), up to just past ``max_chars``."""
    from pypdf import PasswordType, PdfReader  # here, not at the top: most answers have no PDF (cold starts)

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise DocumentUnreadable("password-protected PDF")
        pages = reader.pages
        page_count = len(pages)
    except DocumentUnreadable:
        raise
    except Exception:  # pypdf raises many kinds on broken files; any of them means the same to the user
        raise DocumentUnreadable("could not be read as a PDF") from None
    parts: list[str] = []
    length, failed = 0, 0
    for number in range(page_count):
        try:
            text = (pages[number].extract_text() or "").strip()
        except Exception:
            failed += 1  # one broken page does not lose the others
            continue
        if text:
            length += len(text) + (2 if parts else 0)  # the length of the text returned
            parts.append(text)
            if length > max_chars:
                break
    if not parts:
        raise DocumentUnreadable("could not be read as a PDF" if failed and failed == page_count
                                 else "no text layer (a scanned PDF?)")
    return "\n\n".join(parts)


# ------------------------------------------------------------------ Word (.docx)

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def docx_text(data: bytes, max_chars: int) -> str:
    """The text of word/document.xml: a paragraph a line, table rows as ``cell | cell``."""
    if data.startswith(_OLE_MAGIC):
        raise DocumentUnreadable("password-protected or old-format Word document")
    reader = _DocxReader()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > DOCX_XML_MAX_BYTES:
                raise DocumentUnreadable("too large when unpacked")
            # zipfile never unpacks more than that declared size (and checks the CRC), so it is a
            # real bound; the XML is fed to the parser in chunks, and only until max_chars is passed.
            # ElementTree (expat) never fetches external entities, and expat >= 2.4 (bundled
            # with Python 3.11+) refuses entity expansion that blows up ("billion laughs").
            parser = ElementTree.XMLPullParser(events=("start", "end"))
            with archive.open(info) as xml:
                while chunk := xml.read(_CHUNK):
                    parser.feed(chunk)
                    reader.take(parser.read_events())
                    if reader.length > max_chars + 1:  # more than asked even without a last blank line
                        break
                else:
                    parser.close()
                    reader.take(parser.read_events())
    except DocumentUnreadable:
        raise
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, zlib.error, EOFError, RuntimeError,
            NotImplementedError, ValueError, OSError):
        raise DocumentUnreadable("could not be read as a Word document") from None
    return reader.text()


class _DocxReader:
    """Turns ElementTree pull events of word/document.xml into lines, as they arrive."""

    def __init__(self):
        self.lines: list[str] = []
        self.length = 0
        self._path: list[str] = []  # tags from the root to the current element
        self._paragraphs: list[list[str]] = []  # open w:p (a text box's paragraphs sit inside another)
        self._tables: list[list[list[list[str]]]] = []  # open w:tbl → rows → cells → paragraph texts
        self._skip = 0  # inside mc:Fallback, which repeats the mc:Choice just read

    def take(self, events) -> None:
        for event, element in events:
            if event == "start":
                self._start(element.tag)
                self._path.append(element.tag)
            else:
                self._path.pop()
                self._end(element)
                element.clear()  # read: let the parsed tree stay small

    def _start(self, tag: str) -> None:
        if tag == _FALLBACK:
            self._skip += 1
        elif self._skip:
            return
        elif tag == _W + "p":
            self._paragraphs.append([])
        elif tag == _W + "tbl":
            self._tables.append([])
        elif tag == _W + "tr" and self._tables:
            self._tables[-1].append([])
        elif tag == _W + "tc" and self._tables and self._tables[-1]:
            self._tables[-1][-1].append([])

    def _end(self, element) -> None:
        tag = element.tag
        if tag == _FALLBACK:
            self._skip -= 1
            return
        if self._skip:
            return
        in_run = bool(self._path) and self._path[-1] == _W + "r"  # w:tab also defines tab stops in w:pPr
        if tag == _W + "t" and self._paragraphs:
            self._paragraphs[-1].append(element.text or "")
        elif tag == _W + "tab" and in_run and self._paragraphs:
            self._paragraphs[-1].append("\t")
        elif tag in (_W + "br", _W + "cr") and in_run and self._paragraphs:
            self._paragraphs[-1].append("\n")
        elif tag == _W + "p" and self._paragraphs:
            self._emit("".join(self._paragraphs.pop()))
        elif tag == _W + "tbl" and self._tables:
            rows = [" | ".join(" ".join(p for p in cell if p) for cell in row) for row in self._tables.pop()]
            if self._tables:  # a table inside a cell: its rows join that cell's text
                self._emit(" / ".join(rows))
            else:
                for row in rows:
                    self._emit(row)

    def _emit(self, text: str) -> None:
        row = self._tables[-1][-1] if self._tables and self._tables[-1] else None
        if row and _W + "tc" in self._path:  # a paragraph in a table cell: part of that cell
            row[-1].append(text.replace("\n", " "))
            return
        if not text.strip() and (not self.lines or not self.lines[-1]):
            return  # no blank line first, nor two in a row
        self.length += len(text) + (1 if self.lines else 0)  # the length of "\n".join(lines)
        self.lines.append(text if text.strip() else "")

    def text(self) -> str:
        return "\n".join(self.lines).removesuffix("\n")


# ------------------------------------------------------------------ HTML (web pages, Slack canvases)

_DROPPED = {"script", "style", "noscript", "template", "svg"}
_BLOCKS = {"p", "div", "section", "article", "header", "footer", "nav", "aside", "main", "h1", "h2", "h3", "h4",
           "h5", "h6", "ul", "ol", "li", "table", "tr", "blockquote", "pre", "hr", "dl", "dt", "dd", "figure",
           "figcaption", "address", "form", "fieldset", "details", "summary", "title", "body", "html"}


def html_to_text(html: str) -> str:
    """Readable text of an HTML page: a block a line, list items as ``- item``, entities unescaped."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    return parser.text()


class _HTMLText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)  # &amp; &#8217; … arrive unescaped in handle_data
        self._lines: list[str] = []
        self._line: list[str] = []
        self._prefix = ""  # "- " (indented when nested) before a list item's first line
        self._raw = False  # the current line holds <pre> text: keep its spacing
        self._dropped = 0
        self._pre = 0
        self._lists = 0
        self._cells = 0  # cells so far in the current table row

    def handle_starttag(self, tag, attrs):
        if tag in _DROPPED:
            self._dropped += 1
        if self._dropped:
            return
        if tag in _BLOCKS:
            self._flush()
        if tag in ("ul", "ol"):
            self._lists += 1
        elif tag == "li":
            self._prefix = "  " * max(self._lists - 1, 0) + "- "
        elif tag == "br":
            self._flush(keep_empty=self._raw)
        elif tag == "pre":
            self._pre += 1
        elif tag == "tr":
            self._cells = 0
        elif tag in ("td", "th"):
            if self._cells:
                self._line.append(" | ")
            self._cells += 1

    def handle_endtag(self, tag):
        if tag in _DROPPED:
            self._dropped = max(self._dropped - 1, 0)
            return
        if self._dropped:
            return
        if tag in _BLOCKS:
            self._flush()
        if tag == "li":
            self._prefix = ""  # an empty item: its "- " does not move on to the next line
        elif tag in ("ul", "ol"):
            self._lists = max(self._lists - 1, 0)
        elif tag == "pre":
            self._pre = max(self._pre - 1, 0)

    def handle_data(self, data):
        if self._dropped:
            return
        if not self._pre:
            self._line.append(data)
            return
        first, *rest = data.split("\n")
        self._raw = True
        self._line.append(first)
        for piece in rest:
            self._flush(keep_empty=True)
            self._raw = True
            self._line.append(piece)

    def _flush(self, keep_empty: bool = False) -> None:
        line = "".join(self._line)
        self._line = []
        line = line.rstrip() if self._raw else " ".join(line.split())
        if line or keep_empty:
            self._lines.append(self._prefix + line if line else line)
            if line:
                self._prefix = ""
        self._raw = False

    def text(self) -> str:
        self._flush()
        return re.sub(r"\n{3,}", "\n\n", "\n".join(self._lines)).strip("\n")
