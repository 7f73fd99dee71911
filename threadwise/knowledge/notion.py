"""search_notion: the model searches the workspace's Notion pages and reads their text.

Who may read what: Notion's API cannot tell what a given Slack user may open.
The integration (NOTION_TOKEN) sees exactly the pages shared with it, and
every asker gets the same view, so operators share with the integration only
pages that everyone in the Slack workspace may read.

The token is sent only to NOTION_API_URL: every URL is built from it, ids from
responses go in as quoted path segments, and redirects are never followed
(knowledge/http.py).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import quote

import requests

from threadwise.knowledge import toolbox as knowledge
from threadwise import logs
from threadwise.config import KnowledgeSettings
from slack_client import SlackGateway
from threadwise.knowledge.toolbox import Asker, Found, ToolFailed, ToolOutput
from threadwise.knowledge.http import HostBearer, NotOK, request_json

log = logs.get(__name__)

NOTION_VERSION = "2022-06-28"
PAGE_TEXT_CHARS = 8_000  # per page; the answer's budget cuts further, this bounds the reading
BLOCK_REQUESTS_PER_PAGE = 5  # 100 blocks each: enough text, and a bound on time per page
# Notion allows about 3 requests a second and answers more with 429 and Retry-After. A search
# (up to 1 + 5 x 5 requests) waits that out, up to this many seconds in all; beyond, the model
# is told Notion is rate limited rather than the answer waiting on.
RATE_LIMIT_PATIENCE = 5.0
_LINE_BLOCKS = ("paragraph", "heading_1", "heading_2", "heading_3", "quote", "callout", "code", "toggle")
_LIST_BLOCKS = ("bulleted_list_item", "numbered_list_item")
# Notion ids are UUIDs, with or without dashes; anything else is not put in a URL.
_NOTION_ID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


def build(knowledge: KnowledgeSettings, slack: SlackGateway) -> NotionSearch:
    """The registry's factory (knowledge/registry.py): on when NOTION_TOKEN is set."""
    return NotionSearch(knowledge.notion_token, knowledge.notion_api_url)


@dataclass
class _Reading:
    """One search's requests: one connection pool, and how long it may still wait out rate limits."""

    session: requests.Session
    patience: float = RATE_LIMIT_PATIENCE  # seconds of Retry-After


class NotionSearch:
    """Searches page titles shared with the integration; returns each page's text and link."""

    name = "search_notion"
    description = ("Search the team's Notion pages by title and read their text. "
                   "Use a few keywords likely to be in a page title.")
    status = "Searching Notion…"
    parameters = knowledge.QUERY_PARAMETERS

    def __init__(self, token: str, api_url: str, max_pages: int = 5, timeout: float = 10.0):
        self._api = api_url.rstrip("/")
        self._auth = HostBearer(token, self._api)
        self._max_pages = max(1, min(100, max_pages))  # Notion's page_size is 1..100
        self._timeout = timeout

    def run(self, arguments: dict, asker: Asker) -> ToolOutput:
        query = knowledge.query_of(arguments)
        # A session per call: connections are reused within one search, and no state
        # is shared between answers running on other threads.
        with requests.Session() as session:
            reading = _Reading(session)
            listing = self._call(reading, "POST", "/v1/search", json={
                "query": query,
                "filter": {"property": "object", "value": "page"},
                "page_size": self._max_pages,
            })
            pages = [p for p in _list(listing.get("results")) if _is_live_page(p)][: self._max_pages]
            found: list[Found] = []
            unread: list[str] = []
            for page in pages:
                title = _title(page)
                try:
                    text = self._page_text(reading, page["id"])
                except ToolFailed as failed:
                    # Keep the title and link: the page matched, only its text is missing.
                    text = ""
                    unread.append(f"{title} ({failed.sentence})")
                found.append(Found(title=title, url=_web_url(page.get("url")), text=text, source="Notion"))
        log.info("notion search", results=len(found), unread=len(unread), user=asker.user_id)
        note = ("The text of these pages could not be read: " + "; ".join(unread)) if unread else None
        return ToolOutput(found, note)

    def _page_text(self, reading: _Reading, page_id: str) -> str:
        lines: list[str] = []
        size = 0
        cursor: str | None = None
        path = f"/v1/blocks/{quote(page_id, safe='')}/children"
        for _ in range(BLOCK_REQUESTS_PER_PAGE):
            params = {"page_size": 100}
            if cursor:
                params["start_cursor"] = cursor
            listing = self._call(reading, "GET", path, params=params)
            for block in _list(listing.get("results")):
                line = _block_line(block)
                if line:
                    lines.append(line)
                    size += len(line) + 1
            cursor = listing.get("next_cursor")
            if size >= PAGE_TEXT_CHARS or not listing.get("has_more") or not isinstance(cursor, str):
                break
        return "\n".join(lines)[:PAGE_TEXT_CHARS]

    def _call(self, reading: _Reading, method: str, path: str, *, json: dict | None = None,
              params: dict | None = None) -> dict:
        headers = {"Notion-Version": NOTION_VERSION}
        if json is not None:
            headers["Content-Type"] = "application/json"
        while True:
            try:
                return request_json(reading.session, method, self._api + path, provider="Notion", auth=self._auth,
                                    timeout=self._timeout, log=log, headers=headers, params=params, json=json)
            except NotOK as refused:
                wait = _retry_after(refused.response)
                if wait is None or wait > reading.patience:
                    raise ToolFailed(_refusal(refused.response, path)) from None
                reading.patience -= wait
                log.info("notion rate limited, waiting", seconds=wait, path=path.split("/")[2])
                time.sleep(wait)


def _refusal(response: requests.Response, path: str) -> str:
    """What to tell the model about an answer other than 200."""
    status = response.status_code
    code = _error_code(response)
    log.warning("notion error", status=status, code=code, path=path.split("/")[2])
    if status == 401:
        return "Notion rejected the integration token (NOTION_TOKEN)."
    if status == 429:
        wait = response.headers.get("Retry-After", "")
        later = f" in {wait} seconds" if wait.isdigit() else " later"
        return f"Notion's rate limit was reached; try again{later}."
    if status == 404 and path.startswith("/v1/blocks/"):
        return "the page is not shared with the integration"
    return f"Notion search failed (HTTP {status})."


def _retry_after(response: requests.Response) -> int | None:
    """Seconds Notion asks us to wait before asking again, when it rate limited us."""
    wait = response.headers.get("Retry-After", "")
    return int(wait) if response.status_code == 429 and wait.isdigit() else None


def _list(value: object) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _is_live_page(page: dict) -> bool:
    return (page.get("object") == "page" and isinstance(page.get("id"), str)
            and bool(_NOTION_ID.fullmatch(page["id"]))
            and not page.get("archived") and not page.get("in_trash"))


def _plain(rich_text: object) -> str:
    return "".join(part.get("plain_text") or "" for part in _list(rich_text))


def _title(page: dict) -> str:
    # The title property is named "title" on plain pages but anything ("Name"…) in databases.
    properties = page.get("properties")
    for prop in (properties.values() if isinstance(properties, dict) else ()):
        if isinstance(prop, dict) and prop.get("type") == "title":
            return _plain(prop.get("title")).strip() or "Untitled"
    return "Untitled"


def _web_url(url: object) -> str:
    # Shown as a link under the answer: only web links, nothing else a response might carry.
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else ""


def _block_line(block: dict) -> str | None:
    kind = block.get("type")
    content = block.get(kind) if isinstance(kind, str) else None
    if not isinstance(content, dict):
        return None
    text = _plain(content.get("rich_text"))
    if not text.strip():
        return None
    if kind in _LIST_BLOCKS:
        return "- " + text
    if kind == "to_do":
        return ("- [x] " if content.get("checked") else "- [ ] ") + text
    if kind in _LINE_BLOCKS:
        return text
    return None


def _error_code(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None
