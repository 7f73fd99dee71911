"""Files shared in the thread, read as context for the model.

Each file is downloaded once per answer through its ``url_private`` with the
bot token (scope ``files:read``). The token goes only to Slack's own hosts: a
file URL anywhere else is not fetched. Text-like files (txt, md, csv, json,
code…) become text, as do PDFs, Word documents and HTML (through
document_text); images go to the model as images. What is skipped or cut is
reported, so the answer can say so instead of dropping it silently.
"""
from __future__ import annotations

import base64
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from threadwise import logs
from threadwise.answering.documents import OLD_DOC_REASON, DocumentUnreadable, docx_text, html_to_text, pdf_text
from threadwise.slack.events import SlackFile

log = logs.get(__name__)

TEXT_MIMETYPES = ("application/json", "application/xml", "application/javascript", "application/x-yaml",
                  "application/x-sh", "application/sql", "application/csv")
TEXT_FILETYPES = {"text", "markdown", "post", "csv", "tsv", "json", "yaml", "xml", "html", "css", "javascript",
                  "typescript", "python", "java", "go", "rust", "ruby", "php", "c", "cpp", "csharp", "kotlin",
                  "swift", "shell", "sql", "diff", "toml", "ini", "log"}


@dataclass(frozen=True)
class FileLimits:
    max_files: int
    max_bytes: int
    max_chars: int


@dataclass(frozen=True)
class FileText:
    file_id: str
    name: str
    text: str
    cut: bool  # longer than max_chars: only the beginning is given


IMAGE_MIMETYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
PDF_MIMETYPE = "application/pdf"
DOCX_MIMETYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOC_MIMETYPE = "application/msword"


@dataclass(frozen=True)
class FileImage:
    file_id: str
    name: str
    data_url: str  # data:<mimetype>;base64,… — given to the model as image input


@dataclass(frozen=True)
class FilesRead:
    texts: dict[str, FileText]  # by file id
    skipped: list[str]  # "name (why)", for the note under the answer
    images: dict[str, FileImage] = field(default_factory=dict)

    def notice(self) -> str | None:
        cut = [f"{t.name} (only the first part)" for t in self.texts.values() if t.cut]
        items = self.skipped + cut
        return ("Files not fully read: " + ", ".join(items) + ".") if items else None


CANVAS_FILETYPES = ("quip", "canvas")
CANVAS_MIMETYPE = "application/vnd.slack-docs"


def is_text(file: SlackFile) -> bool:
    return file.mimetype.startswith("text/") or file.mimetype in TEXT_MIMETYPES or file.filetype in TEXT_FILETYPES


def kind_of(file: SlackFile) -> str | None:
    """How the file is read: image, pdf, docx, doc (not read), html, text; None when not read at all."""
    if file.mimetype in IMAGE_MIMETYPES:
        return "image"
    for kind, mimetype in (("pdf", PDF_MIMETYPE), ("docx", DOCX_MIMETYPE), ("doc", DOC_MIMETYPE)):
        if file.mimetype == mimetype or file.filetype == kind:
            return kind
    if file.filetype in CANVAS_FILETYPES or file.mimetype == CANVAS_MIMETYPE:
        return "canvas"  # a Slack canvas downloads as HTML
    if file.mimetype == "text/html" or file.filetype in ("html", "htm"):
        return "html"
    return "text" if is_text(file) else None


def read_files(files: list[SlackFile], token: str, slack_hosts: set[str], limits: FileLimits,
               images_allowed: bool = False) -> FilesRead:
    texts: dict[str, FileText] = {}
    images: dict[str, FileImage] = {}
    skipped: list[str] = []
    seen: set[str] = set()
    for file in files:
        if file.id in seen:
            continue
        seen.add(file.id)
        if len(texts) + len(images) >= limits.max_files:
            skipped.append(f"{file.name} (more than {limits.max_files} files)")
            continue
        kind = kind_of(file)
        if kind == "image" and not images_allowed:
            skipped.append(f"{file.name} (the configured model is not set to take images: MODEL_ACCEPTS_IMAGES)")
            continue
        if kind is None:
            skipped.append(f"{file.name} ({file.filetype or file.mimetype or 'this type'} files are not read yet)")
            continue
        if kind == "doc":
            skipped.append(f"{file.name} ({OLD_DOC_REASON})")
            continue
        body = _fetch(file, token, slack_hosts, limits.max_bytes, html_expected=kind in ("html", "canvas"))
        if isinstance(body, str):
            skipped.append(f"{file.name} ({body})")
        elif kind == "image":
            encoded = base64.b64encode(body).decode("ascii")
            images[file.id] = FileImage(file.id, file.name, f"data:{file.mimetype};base64,{encoded}")
        else:
            try:
                text = _as_text(kind, body, limits.max_chars)
            except DocumentUnreadable as unreadable:
                skipped.append(f"{file.name} ({unreadable.reason})")
                continue
            texts[file.id] = FileText(file.id, file.name, text[: limits.max_chars], cut=len(text) > limits.max_chars)
    return FilesRead(texts, skipped, images)


def _as_text(kind: str, body: bytes, max_chars: int) -> str:
    """The file's text; longer than max_chars when there was more (document readers stop soon after)."""
    if kind == "pdf":
        return pdf_text(body, max_chars)
    if kind == "docx":
        return docx_text(body, max_chars)
    text = body.decode("utf-8", errors="replace")
    return html_to_text(text) if kind in ("html", "canvas") else text


def _fetch(file: SlackFile, token: str, slack_hosts: set[str], max_bytes: int,
           html_expected: bool = False) -> bytes | str:
    """The file's bytes, or why it was not read."""
    if file.size > max_bytes:
        return f"larger than {max_bytes:,} bytes"
    body = _download(file, token, slack_hosts, max_bytes, html_expected)
    return "could not be downloaded" if body is None else body


def _is_slack_host(url: str, slack_hosts: set[str]) -> bool:
    host = urlsplit(url).hostname or ""
    return host in slack_hosts or host == "slack.com" or host.endswith(".slack.com")


def _download(file: SlackFile, token: str, slack_hosts: set[str], max_bytes: int,
              html_expected: bool = False) -> bytes | None:
    if not _is_slack_host(file.url, slack_hosts):
        log.warning("file URL outside Slack not fetched", file=file.id, host=urlsplit(file.url).hostname)
        return None
    request = urllib.request.Request(file.url, headers={"Authorization": f"Bearer {token}"})
    try:
        with _opener(slack_hosts).open(request, timeout=15) as response:
            # Without access Slack answers a sign-in page, not an error status.
            if response.headers.get_content_type() == "text/html" and not html_expected:
                log.warning("file download returned a web page (missing files:read?)", file=file.id)
                return None
            body = response.read(max_bytes + 1)
    except OSError as error:
        log.warning("file download failed", file=file.id, error=type(error).__name__)
        return None
    return body[:max_bytes]


class _SlackOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would carry the Authorization header along any redirect: follow only Slack's own."""

    def __init__(self, slack_hosts: set[str]):
        self._hosts = slack_hosts

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if not _is_slack_host(newurl, self._hosts):
            log.warning("file download redirected outside Slack; not followed", host=urlsplit(newurl).hostname)
            return None  # urllib then raises HTTPError for the 3xx: "could not be downloaded"
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(slack_hosts: set[str]) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_SlackOnlyRedirects(slack_hosts))
