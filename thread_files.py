"""Files shared in the thread, read as context for the model.

Each file is downloaded once per answer through its ``url_private`` with the
bot token (scope ``files:read``). The token goes only to Slack's own hosts: a
file URL anywhere else is not fetched. Text-like files (txt, md, csv, json,
code…) become text; what is skipped or cut is reported, so the answer can say
so instead of dropping it silently.
"""
from __future__ import annotations

import base64
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import logs
from events import SlackFile

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


def is_text(file: SlackFile) -> bool:
    return file.mimetype.startswith("text/") or file.mimetype in TEXT_MIMETYPES or file.filetype in TEXT_FILETYPES


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
        is_image = file.mimetype in IMAGE_MIMETYPES
        if is_image and not images_allowed:
            skipped.append(f"{file.name} (the configured model is not set to take images: MODEL_ACCEPTS_IMAGES)")
            continue
        if not is_image and not is_text(file):
            skipped.append(f"{file.name} ({file.filetype or file.mimetype or 'this type'} files are not read yet)")
            continue
        body = _fetch(file, token, slack_hosts, limits.max_bytes)
        if isinstance(body, str):
            skipped.append(f"{file.name} ({body})")
        elif is_image:
            encoded = base64.b64encode(body).decode("ascii")
            images[file.id] = FileImage(file.id, file.name, f"data:{file.mimetype};base64,{encoded}")
        else:
            text = body.decode("utf-8", errors="replace")
            texts[file.id] = FileText(file.id, file.name, text[: limits.max_chars], cut=len(text) > limits.max_chars)
    return FilesRead(texts, skipped, images)


def _fetch(file: SlackFile, token: str, slack_hosts: set[str], max_bytes: int) -> bytes | str:
    """The file's bytes, or why it was not read."""
    if file.size > max_bytes:
        return f"larger than {max_bytes:,} bytes"
    body = _download(file, token, slack_hosts, max_bytes)
    return "could not be downloaded" if body is None else body


def _download(file: SlackFile, token: str, slack_hosts: set[str], max_bytes: int) -> bytes | None:
    host = urlsplit(file.url).hostname or ""
    if not (host in slack_hosts or host == "slack.com" or host.endswith(".slack.com")):
        log.warning("file URL outside Slack not fetched", file=file.id, host=host)
        return None
    request = urllib.request.Request(file.url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            # Without access Slack answers a sign-in page, not an error status.
            if response.headers.get_content_type() == "text/html" and file.filetype not in ("html", "htm"):
                log.warning("file download returned a web page (missing files:read?)", file=file.id)
                return None
            body = response.read(max_bytes + 1)
    except OSError as error:
        log.warning("file download failed", file=file.id, error=type(error).__name__)
        return None
    return body[:max_bytes]
