"""File downloads in-process: thread_files.read_files against FakeSlack's url_private.

The bot token goes only to Slack's own hosts (here 127.0.0.1, FakeSlack's, named as a Slack host),
what is read is cut to the limits, and what is skipped says why."""
from __future__ import annotations

import base64

import pytest

import thread_files
from events import SlackFile, parse_files
from inprocess import BOT_TOKEN
from test_documents import make_docx, make_pdf, para, text_page
from thread_files import FileImage, FileLimits, FilesRead, FileText, is_text, kind_of, read_files

HOSTS = {"127.0.0.1"}
LIMITS = FileLimits(max_files=10, max_bytes=1000, max_chars=100)


def shared(slack, name="notes.txt", content=b"hello", mimetype="text/plain", filetype="text") -> SlackFile:
    [file] = parse_files([slack.add_file(name, content, mimetype=mimetype, filetype=filetype)])
    return file


def _downloads(slack, file: SlackFile) -> list[bool]:
    """Whether each download of ``file`` carried the bot token."""
    return [authorized for path, authorized in slack.file_downloads if file.url.split("?")[0].endswith(path)]


def test_a_text_file_is_read_with_the_bot_token(slack):
    file = shared(slack, content="héllo wörld".encode())
    read = read_files([file, file], BOT_TOKEN, HOSTS, LIMITS)
    assert read.texts == {file.id: FileText(file.id, "notes.txt", "héllo wörld", cut=False)}
    assert (read.skipped, read.images, read.notice()) == ([], {}, None)
    assert _downloads(slack, file) == [True], "once, though shared twice"


def test_each_skip_moves_on_to_the_next_file(slack):
    first, png, later = shared(slack, "a.txt", b"a"), shared(slack, "p.png", b"png", "image/png", "png"), \
        shared(slack, "b.txt", b"b")
    read = read_files([first, first, png, later], BOT_TOKEN, HOSTS, LIMITS)
    assert list(read.texts) == [first.id, later.id]
    assert read.skipped == ["p.png (the configured model is not set to take images: MODEL_ACCEPTS_IMAGES)"]
    many = [shared(slack, f"m{n}.txt", b"m") for n in range(4)]
    assert read_files(many, BOT_TOKEN, HOSTS, FileLimits(2, 1000, 100)).skipped == [
        "m2.txt (more than 2 files)", "m3.txt (more than 2 files)"]


def test_text_is_read_as_utf8_verbatim(slack):
    file = shared(slack, "odd.txt", b"caf\xe9 <b>bold</b> a &amp; b")
    assert read_files([file], BOT_TOKEN, HOSTS, LIMITS).texts[file.id].text == "caf\ufffd <b>bold</b> a &amp; b"


def test_text_longer_than_the_limit_is_cut_and_said_so(slack):
    exact = shared(slack, "exact.txt", b"x" * 100)
    longer = shared(slack, "long.md", b"y" * 101, "text/markdown", "markdown")
    read = read_files([exact, longer], BOT_TOKEN, HOSTS, LIMITS)
    assert read.texts[exact.id].cut is False and read.texts[exact.id].text == "x" * 100
    assert read.texts[longer.id] == FileText(longer.id, "long.md", "y" * 100, cut=True)
    assert read.notice() == "Files not fully read: long.md (only the first part)."


def test_bytes_past_the_limit_are_never_read(slack):
    file = shared(slack, content=b"z" * 1500)
    small = FileLimits(max_files=10, max_bytes=2000, max_chars=5000)
    assert read_files([file], BOT_TOKEN, HOSTS, small).texts[file.id].text == "z" * 1500
    exactly = read_files([file], BOT_TOKEN, HOSTS, FileLimits(max_files=10, max_bytes=1500, max_chars=5000))
    assert exactly.texts[file.id].text == "z" * 1500, "a file of exactly max_bytes is read"
    too_big = read_files([file], BOT_TOKEN, HOSTS, LIMITS)
    assert too_big.skipped == ["notes.txt (larger than 1,000 bytes)"] and too_big.texts == {}
    assert _downloads(slack, file) == [True, True], "the size Slack gives is checked before downloading"
    lying = SlackFile(file.id, "lying.txt", "text/plain", "text", 10, file.url)  # says 10 bytes, has 1500
    cut = read_files([lying], BOT_TOKEN, HOSTS, FileLimits(10, 1000, 5000)).texts[file.id]
    assert cut.text == "z" * 1000


def test_at_most_max_files_are_read(slack):
    files = [shared(slack, f"f{n}.txt", b"n") for n in range(3)]
    read = read_files(files, BOT_TOKEN, HOSTS, FileLimits(max_files=2, max_bytes=1000, max_chars=100))
    assert list(read.texts) == [files[0].id, files[1].id]
    assert read.skipped == ["f2.txt (more than 2 files)"]
    assert read.notice() == "Files not fully read: f2.txt (more than 2 files)."


def test_images_only_for_a_model_that_takes_them(slack):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
    file = shared(slack, "chart.png", png, "image/png", "png")
    read = read_files([file], BOT_TOKEN, HOSTS, LIMITS, images_allowed=True)
    encoded = base64.b64encode(png).decode("ascii")
    assert read.images == {file.id: FileImage(file.id, "chart.png", f"data:image/png;base64,{encoded}")}
    assert read.texts == {} and read.skipped == []
    refused = read_files([file], BOT_TOKEN, HOSTS, LIMITS)
    assert refused.images == {} and refused.skipped == [
        "chart.png (the configured model is not set to take images: MODEL_ACCEPTS_IMAGES)"]
    limited = read_files([file, shared(slack)], BOT_TOKEN, HOSTS, FileLimits(1, 1000, 100), images_allowed=True)
    assert limited.skipped == ["notes.txt (more than 1 files)"], "an image counts as a file"


def test_documents_become_text(slack):
    pdf = shared(slack, "report.pdf", make_pdf([text_page("Quarterly numbers")]), "application/pdf", "pdf")
    docx = shared(slack, "memo.docx", make_docx(para("Dear team")),
                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx")
    page = shared(slack, "page.html", b"<html><body><p>A</p><p>B &amp; C</p></body></html>", "text/html", "html")
    read = read_files([pdf, docx, page], BOT_TOKEN, HOSTS, FileLimits(10, 100_000, 1000))
    assert "Quarterly numbers" in read.texts[pdf.id].text
    assert read.texts[docx.id].text.strip() == "Dear team"
    assert read.texts[page.id].text.split() == ["A", "B", "&", "C"]


def test_unreadable_and_unknown_files_are_skipped_with_the_reason(slack):
    broken = shared(slack, "broken.pdf", b"%PDF-1.4 not really", "application/pdf", "pdf")
    old = shared(slack, "old.doc", b"\xd0\xcf\x11\xe0", "application/msword", "doc")
    binary = shared(slack, "tool.bin", b"\x00\x01", "application/octet-stream", "binary")
    nameless = SlackFile("FX", "mystery", "", "", 3, binary.url)
    read = read_files([broken, old, binary, nameless], BOT_TOKEN, HOSTS, LIMITS)
    assert read.texts == {}
    assert read.skipped[0].startswith("broken.pdf (") and read.skipped[0] != "broken.pdf ()"
    assert read.skipped[1:] == ["old.doc (old .doc format; save as .docx)", "tool.bin (binary files are not read yet)",
                                "mystery (this type files are not read yet)"]
    assert _downloads(slack, old) == [] and _downloads(slack, binary) == []


def test_a_sign_in_page_instead_of_the_file_is_not_read(slack):
    file = shared(slack)
    read = read_files([file], "xoxb-not-the-bot", HOSTS, LIMITS)
    assert read.skipped == ["notes.txt (could not be downloaded)"] and read.texts == {}
    canvas = shared(slack, "Plan", b"<p>the plan</p>", "text/html", "quip")
    assert read_files([canvas], BOT_TOKEN, HOSTS, LIMITS).texts[canvas.id].text.strip() == "the plan", \
        "a canvas is HTML by nature"


def test_the_token_never_leaves_slacks_hosts(slack):
    file = shared(slack)
    elsewhere = SlackFile(file.id, "notes.txt", "text/plain", "text", 5, file.url.replace("127.0.0.1", "localhost"))
    read = read_files([elsewhere], BOT_TOKEN, HOSTS, LIMITS)
    assert read.skipped == ["notes.txt (could not be downloaded)"]
    assert _downloads(slack, file) == [], "not even asked"


def test_redirects_are_followed_only_within_slack(slack):
    target = shared(slack, "target.txt", b"the content")
    hop = shared(slack, "hop.txt", b"unused")
    slack.redirect_file({"url_private": hop.url.split("?")[0]}, target.url)
    assert read_files([hop], BOT_TOKEN, HOSTS, LIMITS).texts[hop.id].text == "the content"
    away = shared(slack, "away.txt", b"unused")
    slack.redirect_file({"url_private": away.url.split("?")[0]}, target.url.replace("127.0.0.1", "localhost"))
    assert read_files([away], BOT_TOKEN, HOSTS, LIMITS).skipped == ["away.txt (could not be downloaded)"]
    assert _downloads(slack, target) == [True], "the redirect outside Slack was not followed"


def test_nothing_listening_is_could_not_be_downloaded():
    gone = SlackFile("F1", "gone.txt", "text/plain", "text", 5, "http://127.0.0.1:9/files-pri/T1-F1/gone.txt")
    assert read_files([gone], BOT_TOKEN, HOSTS, LIMITS).skipped == ["gone.txt (could not be downloaded)"]


@pytest.mark.parametrize("url, slack_host", [
    ("https://files.slack.com/files-pri/x", True), ("https://slack.com/x", True),
    ("https://a.b.slack.com/x", True), ("https://evilslack.com/x", False), ("https://slack.com.evil.io/x", False),
    ("https://files.slack.com.evil.io/x", False), ("http://127.0.0.1:1/x", True), ("not a url", False),
])
def test_which_hosts_are_slacks(url, slack_host):
    assert thread_files._is_slack_host(url, HOSTS) is slack_host


@pytest.mark.parametrize("mimetype, filetype, kind", [
    ("image/png", "png", "image"), ("image/jpeg", "jpg", "image"), ("image/gif", "gif", "image"),
    ("image/webp", "webp", "image"), ("image/svg+xml", "svg", None),
    ("application/pdf", "", "pdf"), ("", "pdf", "pdf"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "", "docx"), ("", "docx", "docx"),
    ("application/msword", "", "doc"), ("", "doc", "doc"),
    ("", "quip", "canvas"), ("", "canvas", "canvas"), ("application/vnd.slack-docs", "", "canvas"),
    ("text/html", "", "html"), ("", "html", "html"), ("", "htm", "html"),
    ("text/csv", "", "text"), ("application/json", "", "text"), ("application/x-yaml", "", "text"),
    ("application/sql", "", "text"), ("", "python", "text"), ("", "log", "text"),
    ("application/zip", "zip", None), ("", "", None),
])
def test_how_each_kind_of_file_is_read(mimetype, filetype, kind):
    assert kind_of(SlackFile("F1", "f", mimetype, filetype, 1, "https://files.slack.com/f")) == kind


def test_text_files_by_mimetype_or_filetype():
    def text(mimetype, filetype):
        return is_text(SlackFile("F1", "f", mimetype, filetype, 1, "u"))

    assert text("text/x-rust", "") and text("application/xml", "") and text("", "toml")
    assert not text("application/octet-stream", "binary") and not text("", "")


def test_the_notice_lists_skipped_then_cut_files():
    read = FilesRead({"F1": FileText("F1", "a.txt", "x", cut=True), "F2": FileText("F2", "b.txt", "y", cut=False)},
                     ["c.bin (binary files are not read yet)"])
    assert read.notice() == "Files not fully read: c.bin (binary files are not read yet), a.txt (only the first part)."
    assert FilesRead({}, []).notice() is None
