"""PDFs, Word documents and HTML shared in a thread are read as text (document_text, thread_files)."""
import io
import logging
import zipfile

import pytest
from pypdf import PageObject, PdfReader

from threadwise.answering.documents import DocumentUnreadable, docx_text, html_to_text, pdf_text
from fenced_text import fenced
from flows import wait_answer
from standins.openai_api import Script
from test_files import downloads, share

# ------------------------------------------------------------------ building documents


from document_samples import CONTENT_TYPES, W_NS, encrypted, make_docx, make_pdf, para, table, text_page  # noqa: F401


def reason(read, *args) -> str:
    with pytest.raises(DocumentUnreadable) as raised:
        read(*args)
    return raised.value.reason


# ------------------------------------------------------------------ PDF


def test_pdf_text_is_extracted():
    assert pdf_text(make_pdf([text_page("Hello from the PDF")]), 1000) == "Hello from the PDF"


def test_pdf_pages_are_apart_by_a_blank_line():
    pdf = make_pdf([text_page("Page one text"), text_page("Page two text")])
    assert pdf_text(pdf, 1000) == "Page one text\n\nPage two text"


def test_pdf_reading_stops_soon_after_max_chars(monkeypatch):
    pdf = make_pdf([text_page(f"This is page number {n}") for n in range(1, 41)])
    calls = []
    original = PageObject.extract_text
    monkeypatch.setattr(PageObject, "extract_text", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    text = pdf_text(pdf, 50)
    assert len(text) > 50  # longer than asked: the caller knows there was more
    assert text.startswith("This is page number 1\n\nThis is page number 2\n\nThis is page number 3")
    assert len(calls) == 3  # not 40
    calls.clear()
    assert pdf_text(pdf, 100_000).endswith("This is page number 40")
    assert len(calls) == 40


def test_pdf_text_is_longer_than_max_chars_exactly_when_there_is_more():
    pdf = make_pdf([text_page("abc"), text_page("def")])
    assert pdf_text(pdf, 3) == "abc\n\ndef"  # page one fills max_chars; page two shows there was more
    assert pdf_text(pdf, 8) == "abc\n\ndef"


def test_a_pdf_with_a_user_password_is_password_protected():
    pdf = encrypted(make_pdf([text_page("Secret plans")]), user_password="hunter2")
    assert reason(pdf_text, pdf, 1000) == "password-protected PDF"


def test_a_pdf_encrypted_with_only_an_owner_password_is_read():
    pdf = encrypted(make_pdf([text_page("Open to all")]), user_password="", algorithm="AES-128")
    assert PdfReader(io.BytesIO(pdf)).is_encrypted
    assert pdf_text(pdf, 1000) == "Open to all"


@pytest.mark.parametrize("data", [b"", b"%PDF-1.4", b"not a pdf at all " * 50, b"PK\x03\x04" + b"\x00" * 100])
def test_garbage_is_not_a_pdf(data):
    assert reason(pdf_text, data, 1000) == "could not be read as a PDF"


def test_a_truncated_pdf_is_not_a_pdf():
    pdf = make_pdf([text_page("Hello")])
    assert reason(pdf_text, pdf[: len(pdf) // 3], 1000) == "could not be read as a PDF"


def test_a_pdf_with_only_an_image_has_no_text_layer():
    pdf = make_pdf([b"q 200 0 0 200 72 500 cm /Im1 Do Q"], image=True)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1  # a valid PDF, just without text
    assert reason(pdf_text, pdf, 1000) == "no text layer (a scanned PDF?)"


def test_an_odd_pdf_is_read_and_pypdf_warnings_stay_out_of_the_logs(caplog):
    pdf = make_pdf([text_page("Recovered")])
    odd = pdf.replace(b"0000000009 00000 n", b"0000000019 00000 n")  # a wrong xref offset: pypdf warns, recovers
    assert odd != pdf
    with caplog.at_level(logging.DEBUG):
        assert pdf_text(odd, 1000) == "Recovered"
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]


# ------------------------------------------------------------------ Word


def test_docx_paragraphs_tabs_breaks_and_tables():
    body = (para("Quarterly ", "report") + para("Name\tScore", tabs_defined=True) + para("line one\nline two")
            + table([["Who", "What"], ["Ada", "Engines"]]) + para("The end"))
    assert docx_text(make_docx(body), 1000) == (
        "Quarterly report\nName\tScore\nline one\nline two\nWho | What\nAda | Engines\nThe end")


def test_docx_skips_deleted_text_and_reads_hyperlinks():
    body = (f'<w:p><w:hyperlink><w:r><w:t>linked</w:t></w:r></w:hyperlink>'
            f'<w:del><w:r><w:delText>gone</w:delText></w:r></w:del><w:r><w:t> text</w:t></w:r></w:p>')
    assert docx_text(make_docx(body), 1000) == "linked text"


def test_docx_reading_stops_soon_after_max_chars():
    body = "".join(para(f"Paragraph {n} " + "x" * 80) for n in range(5000))
    text = docx_text(make_docx(body), 1000)
    assert 1000 < len(text) < 1000 + 70_000  # stopped within a chunk or so, not 450,000 chars
    assert text.startswith("Paragraph 0 x")


def test_a_docx_that_unpacks_to_more_than_20_mb_is_refused(monkeypatch):
    filler = ("<w:p><w:r><w:t>" + "a" * 1000 + "</w:t></w:r></w:p>") * 21_000  # ~21 MB, compresses to ~60 KB
    data = make_docx(filler)
    assert len(data) < 1_000_000

    def never(*args, **kwargs):
        raise AssertionError("unpacked anyway")

    monkeypatch.setattr(zipfile.ZipFile, "open", never)  # refused from the declared size, before unpacking
    assert reason(docx_text, data, 20_000) == "too large when unpacked"


@pytest.mark.parametrize("data", [b"", b"just some text", make_pdf([text_page("pdf")])])
def test_not_a_zip_is_not_a_word_document(data):
    assert reason(docx_text, data, 1000) == "could not be read as a Word document"


def test_a_zip_without_document_xml_is_not_a_word_document():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
    assert reason(docx_text, out.getvalue(), 1000) == "could not be read as a Word document"


def test_broken_xml_is_not_a_word_document():
    assert reason(docx_text, make_docx("", b"<w:document><w:body><w:p>"), 1000) == (
        "could not be read as a Word document")


def test_an_ole_file_is_an_encrypted_or_old_word_document():
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    assert reason(docx_text, ole, 1000) == "password-protected or old-format Word document"


def test_docx_external_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    xml = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
           f'<w:document xmlns:w="{W_NS}"><w:body><w:p><w:r><w:t>a&x;b</w:t></w:r></w:p></w:body></w:document>')
    try:
        text = docx_text(make_docx("", xml.encode()), 1000)
    except DocumentUnreadable:
        return  # refusing is fine too
    assert "TOP SECRET" not in text


# ------------------------------------------------------------------ HTML


def test_html_blocks_become_lines_and_script_and_style_are_dropped():
    html = """<html><head><title>Launch plan</title><style>p { color: red }</style>
      <script>alert("hi")</script></head><body>
      <h1>Launch   plan</h1><p>We ship
      on <b>Friday</b>.</p><div>Owner: Ada</div>line<br>break
      </body></html>"""
    assert html_to_text(html) == "Launch plan\nLaunch plan\nWe ship on Friday.\nOwner: Ada\nline\nbreak"


def test_html_lists_tables_and_entities():
    html = ("<ul><li>one &amp; two</li><li><p>three</p><ul><li>nested</li></ul></li></ul>"
            "<table><tr><th>Name</th><th>Score</th></tr><tr><td>Ada</td><td>3 &lt; 4&nbsp;!</td></tr></table>"
            "<p>caf&eacute; &#8217;quoted&#8217;</p>")
    assert html_to_text(html) == ("- one & two\n- three\n  - nested\nName | Score\nAda | 3 < 4 !\n"
                                  "café \u2019quoted\u2019")


def test_html_empty_list_items_leave_no_marks():
    assert html_to_text("<ul><li></li></ul><p>After</p>") == "After"


def test_html_pre_keeps_its_spacing():
    html = "<p>Code:</p><pre>def f():\n    return 1\n</pre><p>after</p>"
    assert html_to_text(html) == "Code:\ndef f():\n    return 1\nafter"


def test_html_of_plain_text_is_the_text():
    assert html_to_text("just   words") == "just words"
    assert html_to_text("") == ""


# ------------------------------------------------------------------ which files are read how


@pytest.mark.parametrize("mimetype, filetype, kind", [
    ("application/pdf", "pdf", "pdf"), ("application/octet-stream", "pdf", "pdf"), ("application/pdf", "", "pdf"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", "docx"),
    ("application/octet-stream", "docx", "docx"), ("application/msword", "doc", "doc"), ("", "doc", "doc"),
    ("text/html", "html", "html"), ("text/html", "", "html"), ("text/plain", "html", "html"),
    ("text/plain", "text", "text"), ("image/png", "png", "image"), ("application/zip", "zip", None),
])
def test_kind_of_a_file(mimetype, filetype, kind):
    from threadwise.slack.events import SlackFile
    from threadwise.answering.files import kind_of

    assert kind_of(SlackFile("F1", "f", mimetype, filetype, 10, "https://files.slack.com/f")) == kind


# ------------------------------------------------------------------ end to end

PDF_MIME = "application/pdf"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_a_pdf_in_the_question_is_read(bot, slack, openai_server, channel):
    report = slack.add_file("report.pdf", make_pdf([text_page("Revenue grew 12 percent"), text_page("Costs fell")]),
                            PDF_MIME, "pdf")
    openai_server.reply = Script(text="It grew 12%.")
    ts = share(bot, slack, channel, "how much did revenue grow?", [report])
    final = wait_answer(slack, channel, ts)[-1]
    assert final["text"] == "It grew 12%."  # no note: the file was read in full
    question = openai_server.requests[-1].body["input"][-1]["content"]
    assert question.startswith("how much did revenue grow?")
    assert fenced(question, "Content of the file report.pdf") == "Revenue grew 12 percent\n\nCosts fell"
    assert len(downloads(slack, report)) == 1


def test_a_word_document_in_the_question_is_read(bot, slack, openai_server, channel):
    body = para("Meeting notes") + table([["Item", "Owner"], ["Budget", "Ada"]])
    notes = slack.add_file("notes.docx", make_docx(body), DOCX_MIME, "docx")
    openai_server.reply = Script(text="Ada owns the budget.")
    ts = share(bot, slack, channel, "who owns the budget?", [notes])
    wait_answer(slack, channel, ts)
    question = openai_server.requests[-1].body["input"][-1]["content"]
    assert fenced(question, "Content of the file notes.docx") == "Meeting notes\nItem | Owner\nBudget | Ada"


def test_an_html_file_is_read_as_text_not_markup(bot, slack, openai_server, channel):
    page = slack.add_file("page.html", b"<html><body><h2>Menu</h2><script>x()</script><ul><li>Soup</li></ul>"
                                       b"</body></html>", "text/html", "html")
    openai_server.reply = Script(text="Soup.")
    ts = share(bot, slack, channel, "what is on the menu?", [page])
    wait_answer(slack, channel, ts)
    question = openai_server.requests[-1].body["input"][-1]["content"]
    assert fenced(question, "Content of the file page.html") == "Menu\n- Soup"


def test_unreadable_documents_are_named_under_the_answer_and_the_model_still_answers(bot, slack, openai_server,
                                                                                     channel):
    locked = slack.add_file("locked.pdf", encrypted(make_pdf([text_page("Secret")]), "pw"), PDF_MIME, "pdf")
    scan = slack.add_file("scan.pdf", make_pdf([b"q 100 0 0 100 0 0 cm /Im1 Do Q"], image=True), PDF_MIME, "pdf")
    old = slack.add_file("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "application/msword", "doc")
    openai_server.reply = Script(text="I could not open them.")
    before = len(openai_server.requests)
    ts = share(bot, slack, channel, "summarise these", [locked, scan, old])
    final = wait_answer(slack, channel, ts)[-1]
    assert final["text"].startswith("I could not open them.")
    note = final["text"].splitlines()[-1]
    assert "locked.pdf (password-protected PDF)" in note
    assert "scan.pdf (no text layer (a scanned PDF?))" in note
    assert "old.doc (old .doc format; save as .docx)" in note
    assert len(openai_server.requests) == before + 1
    assert openai_server.requests[-1].body["input"][-1]["content"] == "summarise these"
    assert not downloads(slack, old)  # known unreadable: not even downloaded


def test_a_long_pdf_is_cut_and_the_user_told(bots, slack, openai_server, channel):
    bot = bots.get(FILE_MAX_CHARS="100")
    pdf = make_pdf([text_page(f"Chapter {n} begins here with some words") for n in range(1, 30)])
    book = slack.add_file("book.pdf", pdf, PDF_MIME, "pdf")
    openai_server.reply = Script(text="Chapters.")
    ts = share(bot, slack, channel, "what is this?", [book])
    final = wait_answer(slack, channel, ts)[-1]
    assert "book.pdf (only the first part)" in final["text"].splitlines()[-1]
    question = openai_server.requests[-1].body["input"][-1]["content"]
    sent = fenced(question, "Content of the file book.pdf")
    assert sent.startswith("Chapter 1 begins here") and len(sent) == 100


def test_practice_mode_names_a_pdf_it_would_read(bots, slack, openai_server, channel):
    bot = bots.get(practice=True)
    report = slack.add_file("q3.pdf", make_pdf([text_page("Q3 numbers")]), PDF_MIME, "pdf")
    ts = share(bot, slack, channel, "summarise the report", [report])
    final = wait_answer(slack, channel, ts)[-1]
    assert "Practice mode" in final["text"]
    assert "Files the model would read: q3.pdf." in final["text"]
