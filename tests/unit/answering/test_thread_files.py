"""Files shared in a thread, read in-process: thread_files.read_files downloading from FakeSlack's
url_private (on 127.0.0.1, named as a Slack host here) with the bot token, and what it skips and why."""
from __future__ import annotations

import base64
import socket

import pytest

from threadwise.answering.documents import OLD_DOC_REASON
from threadwise.slack.events import SlackFile
from inprocess import BOT_TOKEN
from document_samples import make_docx, make_pdf, para, text_page
from threadwise.answering.files import FileLimits, FileText, _is_slack_host, kind_of, read_files

pytestmark = pytest.mark.in_process

SLACK_HOSTS = {"127.0.0.1"}
LIMITS = FileLimits(max_files=5, max_bytes=1000, max_chars=500)


def shared(meta: dict, **changed) -> SlackFile:
    """The file as a message's ``files`` describes it (``changed``: what the message says otherwise)."""
    fields = dict(id=meta["id"], name=meta["name"], mimetype=meta["mimetype"], filetype=meta["filetype"],
                  size=meta["size"], url=meta["url_private"])
    return SlackFile(**{**fields, **changed})


def read(*files: SlackFile, limits: FileLimits = LIMITS, token: str = BOT_TOKEN, **options):
    return read_files(list(files), token, SLACK_HOSTS, limits, **options)


def downloads(slack, meta: dict) -> list[bool]:
    """Whether each download of the file carried the bot token."""
    path = meta["url_private"].split(str(slack.port), 1)[1]
    return [authorized for got, authorized in slack.file_downloads if got == path]


def test_a_text_file_is_downloaded_once_with_the_token(slack):
    notes = slack.add_file("notes.md", b"# Plan\n- ship on Friday\n", "text/markdown", "markdown")
    got = read(shared(notes), shared(notes))
    assert got.texts == {notes["id"]: FileText(notes["id"], "notes.md", "# Plan\n- ship on Friday\n", cut=False)}
    assert got.skipped == [] and got.images == {} and got.notice() is None
    assert downloads(slack, notes) == [True]


def test_text_past_max_chars_is_cut_and_said_to_be(slack):
    exact = slack.add_file("exact.txt", b"e" * 500)
    longer = slack.add_file("longer.txt", b"l" * 501)
    got = read(shared(exact), shared(longer))
    assert got.texts[exact["id"]] == FileText(exact["id"], "exact.txt", "e" * 500, cut=False)
    assert got.texts[longer["id"]] == FileText(longer["id"], "longer.txt", "l" * 500, cut=True)
    assert got.notice() == "Files not fully read: longer.txt (only the first part)."


def test_a_file_declared_larger_than_max_bytes_is_not_downloaded(slack):
    fits = slack.add_file("fits.txt", b"f" * 1000)
    big = slack.add_file("big.txt", b"b" * 1001)
    got = read(shared(fits), shared(big), limits=FileLimits(5, 1000, 5000))
    assert got.texts[fits["id"]].text == "f" * 1000
    assert got.skipped == ["big.txt (larger than 1,000 bytes)"]
    assert downloads(slack, big) == []
    assert got.notice() == "Files not fully read: big.txt (larger than 1,000 bytes)."


def test_a_body_larger_than_declared_is_read_only_up_to_max_bytes(slack):
    liar = slack.add_file("liar.txt", b"x" * 1500)
    got = read(shared(liar, size=10), limits=FileLimits(5, 1000, 5000))
    assert got.texts[liar["id"]].text == "x" * 1000


def test_at_most_max_files_are_read_and_the_rest_named(slack):
    files = [slack.add_file(f"f{n}.txt", b"text") for n in range(3)]
    picture = slack.add_file("p.png", b"\x89PNG", "image/png", "png")
    got = read(*map(shared, files), shared(picture), limits=FileLimits(2, 1000, 500), images_allowed=True)
    assert list(got.texts) == [files[0]["id"], files[1]["id"]]
    assert got.skipped == ["f2.txt (more than 2 files)", "p.png (more than 2 files)"]
    assert downloads(slack, files[2]) == []
    # An image counts as a file too.
    got = read(shared(picture), shared(files[0]), limits=FileLimits(1, 1000, 500), images_allowed=True)
    assert list(got.images) == [picture["id"]] and got.skipped == ["f0.txt (more than 1 files)"]


def test_an_image_goes_to_the_model_only_when_it_takes_images(slack):
    png = b"\x89PNG\r\n\x1a\nnot really"
    picture = slack.add_file("chart.png", png, "image/png", "png")
    got = read(shared(picture), images_allowed=True)
    [image] = got.images.values()
    assert (image.file_id, image.name) == (picture["id"], "chart.png")
    assert image.data_url == "data:image/png;base64," + base64.b64encode(png).decode()
    assert got.texts == {} and got.skipped == []
    before = len(downloads(slack, picture))
    refused = read(shared(picture))
    assert refused.images == {} and refused.skipped == [
        "chart.png (the configured model is not set to take images: MODEL_ACCEPTS_IMAGES)"]
    assert len(downloads(slack, picture)) == before


def test_files_of_other_kinds_are_named_with_why(slack):
    archive = slack.add_file("a.zip", b"PK", "application/zip", "zip")
    odd = slack.add_file("odd", b"?", "application/x-odd", "")
    nameless = slack.add_file("nothing", b"?", "", "")
    old = slack.add_file("old.doc", b"\xd0\xcf", "application/msword", "doc")
    got = read(*map(shared, (archive, odd, nameless, old)))
    assert got.skipped == ["a.zip (zip files are not read yet)", "odd (application/x-odd files are not read yet)",
                           "nothing (this type files are not read yet)", f"old.doc ({OLD_DOC_REASON})"]
    assert got.texts == {} and all(downloads(slack, f) == [] for f in (archive, odd, nameless, old))


def test_documents_and_web_pages_become_text(slack):
    pdf = slack.add_file("r.pdf", make_pdf([text_page("Quarterly report")]), "application/pdf", "pdf")
    docx = slack.add_file("m.docx", make_docx(para("Minutes of the meeting")),
                          "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx")
    page = slack.add_file("p.html", b"<html><body><p>On a page</p><script>x()</script></body></html>",
                          "text/html", "html")
    canvas = slack.add_canvas("C9", "Plan", "<h1>Canvas plan</h1><p>Step one</p>")
    got = read(*map(shared, (pdf, docx, page, canvas)))
    texts = {file_id: text.text.strip() for file_id, text in got.texts.items()}
    assert texts == {pdf["id"]: "Quarterly report", docx["id"]: "Minutes of the meeting",
                     page["id"]: "On a page", canvas["id"]: "Canvas plan\nStep one"}
    assert got.skipped == []


def test_a_document_that_cannot_be_read_is_named_with_why(slack):
    broken = slack.add_file("broken.pdf", b"%PDF-1.4 not really", "application/pdf", "pdf")
    got = read(shared(broken))
    [skipped] = got.skipped
    assert skipped.startswith("broken.pdf (") and got.texts == {}


def test_a_file_skipped_for_any_reason_does_not_stop_the_next(slack):
    notes = slack.add_file("notes.txt", b"first")
    picture = slack.add_file("p.png", b"\x89PNG", "image/png", "png")
    old = slack.add_file("old.doc", b"\xd0\xcf", "application/msword", "doc")
    broken = slack.add_file("broken.pdf", b"%PDF-1.4 not really", "application/pdf", "pdf")
    latin = slack.add_file("latin.txt", "café".encode("latin-1"))  # not UTF-8: read all the same
    got = read(*map(shared, (notes, notes, picture, old, broken, latin)), limits=FileLimits(9, 1000, 3))
    assert {text.name: text.text for text in got.texts.values()} == {"notes.txt": "fir", "latin.txt": "caf"}
    assert got.skipped[:2] == ["p.png (the configured model is not set to take images: MODEL_ACCEPTS_IMAGES)",
                               f"old.doc ({OLD_DOC_REASON})"]
    assert got.skipped[2].startswith("broken.pdf (") and len(got.skipped) == 3
    assert got.notice() == f"Files not fully read: {', '.join(got.skipped)}, notes.txt (only the first part), " \
                           "latin.txt (only the first part)."
    assert read(shared(latin)).texts[latin["id"]].text == "caf\ufffd"


def test_a_sign_in_page_instead_of_the_file_is_not_read_as_its_text(slack):
    notes = slack.add_file("n.txt", b"secret plan")
    got = read(shared(notes), token="xoxb-not-the-bots")
    assert got.skipped == ["n.txt (could not be downloaded)"] and got.texts == {}
    assert downloads(slack, notes) == [False]


def test_the_token_goes_to_no_host_but_slacks(slack):
    notes = slack.add_file("n.txt", b"plan")
    elsewhere = notes["url_private"].replace("127.0.0.1", "localhost")  # the same server, by another name
    got = read(shared(notes, url=elsewhere))
    assert got.skipped == ["n.txt (could not be downloaded)"]
    assert downloads(slack, notes) == []


def test_a_redirect_is_followed_only_to_slack(slack):
    real = slack.add_file("real.txt", b"the content")
    moved = slack.add_file("moved.txt", b"old")
    slack.redirect_file(moved, real["url_private"])
    got = read(shared(moved))
    assert got.texts[moved["id"]].text == "the content"
    assert downloads(slack, real) == [True]

    away = slack.add_file("away.txt", b"old")
    slack.redirect_file(away, real["url_private"].replace("127.0.0.1", "localhost"))
    got = read(shared(away))
    assert got.skipped == ["away.txt (could not be downloaded)"]
    assert downloads(slack, away) == [True] and downloads(slack, real) == [True]  # not fetched again


def test_a_download_that_fails_is_named(slack):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    gone = SlackFile("F9", "gone.txt", "text/plain", "text", 4, f"http://127.0.0.1:{port}/files-pri/gone.txt")
    assert read(gone).skipped == ["gone.txt (could not be downloaded)"]


@pytest.mark.parametrize("url, hosts, ours", [
    ("https://files.slack.com/files-pri/T1-F1/a.txt", set(), True),
    ("https://slack.com/files/a.txt", set(), True),
    ("https://files.slack-edge.com/a.txt", {"files.slack-edge.com"}, True),
    ("https://files.slack-edge.com/a.txt", set(), False),
    ("https://evilslack.com/a.txt", set(), False),
    ("https://slack.com.evil.example/a.txt", set(), False),
    ("not a url", {""}, True),  # (an empty host only where "" is named: never in practice)
    ("not a url", set(), False),
])
def test_which_hosts_are_slacks(url, hosts, ours):
    assert _is_slack_host(url, hosts) is ours


@pytest.mark.parametrize("mimetype, filetype, kind", [
    ("image/jpeg", "jpg", "image"), ("image/svg+xml", "svg", None), ("application/octet-stream", "doc", "doc"),
    ("application/vnd.slack-docs", "", "canvas"), ("text/html", "quip", "canvas"), ("", "canvas", "canvas"),
    ("application/octet-stream", "htm", "html"), ("text/x-python", "", "text"), ("application/json", "", "text"),
    ("application/octet-stream", "python", "text"), ("application/octet-stream", "binary", None),
    ("text/html", "", "html"), ("text/plain", "html", "html"),
])
def test_how_a_file_is_read(mimetype, filetype, kind):
    assert kind_of(SlackFile("F1", "f", mimetype, filetype, 1, "https://files.slack.com/f")) == kind
