"""FakeNotion: an in-process stand-in for the Notion API (version 2022-06-28), for tests.

Serves ``POST /v1/search`` and ``GET /v1/blocks/{id}/children`` with Notion's
shapes: list objects with ``next_cursor``/``has_more``, page objects whose
title is the property of type "title", blocks with ``rich_text``, and error
objects ``{"object": "error", "status", "code", "message"}``.

It refuses what Notion refuses: no ``Notion-Version`` (400 missing_version),
``page_size`` outside 1..100, a filter value other than page/database or a
block id that is not a UUID (400 validation_error), and more requests than
Notion's rate limit -- "an average of three requests per second, some bursts
beyond the average rate are allowed" -- with 429 rate_limited and a
``Retry-After`` of whole seconds (developers.notion.com/reference/request-limits).

Assumptions where Notion's behaviour is not documented precisely: search
matches when every word of the query is in the title (case-insensitive);
Authorization is checked before the rate limit and Notion-Version; the burst
is a bucket of ``burst`` requests (10) refilled at ``rate_per_second`` (3).
Standard library only.
"""
from __future__ import annotations

import copy
import math
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote

from .http_server import Request, StandinServer, read_request, send_json

NOTION_VERSIONS = ("2021-08-16", "2022-02-22", "2022-06-28", "2025-09-03")
RICH_TEXT_BLOCKS = ("paragraph", "heading_1", "heading_2", "heading_3", "bulleted_list_item",
                    "numbered_list_item", "to_do", "quote", "callout", "code", "toggle")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_USER = {"object": "user", "id": "9a3b5ae0-c6e6-482d-b0e1-ed315ee6dc57"}
_TIME = "2024-05-01T10:00:00.000Z"


def rich_text(text: str) -> list[dict]:
    return [{"type": "text", "text": {"content": text, "link": None},
             "annotations": {"bold": False, "italic": False, "strikethrough": False, "underline": False,
                             "code": False, "color": "default"},
             "plain_text": text, "href": None}]


def error(status: int, code: str, message: str) -> dict:
    return {"object": "error", "status": status, "code": code, "message": message,
            "request_id": str(uuid.uuid4())}


class FakeNotion(StandinServer):
    rate_per_second = 3.0  # Notion's documented average
    burst = 10  # requests a quiet integration may send at once (Notion: "some bursts"; how many is not said)

    def __init__(self, token: str = "secret_notion_test"):
        self.token = token
        self.requests: list[Request] = []
        self.delay = 0.0  # seconds before every answer, for timeout tests
        self._lock = threading.RLock()
        self._tokens: float | None = None  # the rate limit's bucket; full until the first request
        self._filled_at = 0.0
        self._pages: list[dict] = []
        self._blocks: dict[str, list[dict]] = {}  # page id -> its child blocks
        self._failures: list[tuple[str | None, int, dict, dict]] = []  # (path prefix, status, body, headers)

    # ------------------------------------------------------ test-side helpers
    def add_page(self, title: str, blocks: list[tuple[str, str]] = (), *, title_property: str = "title",
                 archived: bool = False) -> dict:
        """A page shared with the integration. ``blocks`` are (type, text); types without
        rich text ("divider", "image", "child_page") get their own shapes. A title property
        other than "title" makes it a database row, as in Notion."""
        page_id = str(uuid.uuid4())
        parent = ({"type": "workspace", "workspace": True} if title_property == "title"
                  else {"type": "database_id", "database_id": str(uuid.uuid4())})
        page = {
            "object": "page", "id": page_id, "created_time": _TIME, "last_edited_time": _TIME,
            "created_by": _USER, "last_edited_by": _USER, "cover": None, "icon": None,
            "parent": parent, "archived": archived, "in_trash": archived,
            "properties": {title_property: {"id": "title", "type": "title", "title": rich_text(title)}},
            "url": f"https://www.notion.so/{'-'.join(title.split()) or 'Untitled'}-{page_id.replace('-', '')}",
            "public_url": None,
        }
        with self._lock:
            self._pages.append(page)
            self._blocks[page_id] = [self._block(page_id, kind, text) for kind, text in blocks]
            return copy.deepcopy(page)

    def fail_next(self, status: int, code: str = "internal_server_error", message: str = "Unexpected error.",
                  path: str | None = None, headers: dict | None = None) -> None:
        """Answer the next request (whose path starts with ``path``, if given) with this error."""
        with self._lock:
            self._failures.append((path, status, error(status, code, message), dict(headers or {})))

    def redirect_next(self, location: str, path: str | None = None, status: int = 302) -> None:
        with self._lock:
            self._failures.append((path, status, {}, {"Location": location}))

    def reset_limits(self) -> None:
        """A full bucket again (the tests' stand-in for a quiet while)."""
        with self._lock:
            self._tokens = None

    def requests_to(self, prefix: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    # ------------------------------------------------------------- internals
    @staticmethod
    def _block(page_id: str, kind: str, text: str) -> dict:
        block = {"object": "block", "id": str(uuid.uuid4()), "parent": {"type": "page_id", "page_id": page_id},
                 "created_time": _TIME, "last_edited_time": _TIME, "created_by": _USER,
                 "last_edited_by": _USER, "has_children": False, "archived": False, "in_trash": False,
                 "type": kind}
        if kind in RICH_TEXT_BLOCKS:
            content: dict = {"rich_text": rich_text(text), "color": "default"}
            if kind.startswith("heading_"):
                content["is_toggleable"] = False
            elif kind == "to_do":
                content["checked"] = text.startswith("done:")
                if content["checked"]:
                    content["rich_text"] = rich_text(text[len("done:"):].lstrip())
            elif kind == "code":
                content = {"caption": [], "rich_text": rich_text(text), "language": "plain text"}
            elif kind == "callout":
                content["icon"] = {"type": "emoji", "emoji": "💡"}
        elif kind == "child_page":
            content = {"title": text}
            block["has_children"] = True
        elif kind == "image":
            content = {"caption": rich_text(text), "type": "external", "external": {"url": "https://example.com/i.png"}}
        else:  # divider, breadcrumb, …
            content = {}
        block[kind] = content
        return block

    def _serve(self, req: BaseHTTPRequestHandler) -> None:
        record, raw = read_request(req)
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.requests.append(record)
            status, payload, headers = self._answer(req, record, raw)
            record.status = status
        send_json(req, status, payload, headers)

    def _answer(self, req, record: Request, raw: bytes) -> tuple[int, dict | None, dict]:
        for i, (prefix, status, payload, headers) in enumerate(self._failures):
            if prefix is None or record.path.startswith(prefix):
                del self._failures[i]
                return status, (payload or None), headers
        auth = req.headers.get("Authorization", "")
        if auth != f"Bearer {self.token}":
            return 401, error(401, "unauthorized", "API token is invalid."), {}
        wait = self._take_token()
        if wait:
            return 429, error(429, "rate_limited", "You have been rate limited. Please try again in a few "
                              "minutes."), {"Retry-After": str(wait)}
        version = req.headers.get("Notion-Version")
        if not version:
            return 400, error(400, "missing_version", "Notion-Version header failed validation: "
                              "Notion-Version header should be defined, instead was `undefined`."), {}
        if version not in NOTION_VERSIONS:
            return 400, error(400, "validation_error", f"Notion-Version header failed validation: "
                              f"unsupported version {version}."), {}
        parts = record.path.strip("/").split("/")
        if record.method == "POST" and parts == ["v1", "search"]:
            if raw and not isinstance(record.body, dict):
                return 400, error(400, "invalid_json", "Error parsing JSON body."), {}
            return self._search(record.body or {})
        if record.method == "GET" and len(parts) == 4 and parts[:2] == ["v1", "blocks"] and parts[3] == "children":
            block_id = unquote(parts[2])
            if not _UUID.fullmatch(block_id):
                return 400, error(400, "validation_error", "path failed validation: path.block_id should be a "
                                  f"valid uuid, instead was `\"{block_id}\"`."), {}
            return self._children(block_id, record.query)
        return 400, error(400, "invalid_request_url", "Invalid request URL."), {}

    def _take_token(self) -> int:
        """0 when the request is within the rate limit, else the seconds to wait (Retry-After)."""
        now = time.monotonic()
        if self._tokens is None:
            self._tokens = float(self.burst)
        else:
            self._tokens = min(float(self.burst), self._tokens + (now - self._filled_at) * self.rate_per_second)
        self._filled_at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0
        return max(1, math.ceil((1 - self._tokens) / self.rate_per_second))

    def _search(self, body: dict) -> tuple[int, dict, dict]:
        size, err = _page_size(body.get("page_size"))
        if err:
            return 400, err, {}
        query = body.get("query") or ""
        if not isinstance(query, str):
            return 400, error(400, "validation_error", "body failed validation: body.query should be a string."), {}
        wanted = (body.get("filter") or {}).get("value")
        if wanted not in (None, "page", "database"):
            return 400, error(400, "validation_error", 'body failed validation: body.filter.value should be '
                              f'`"page"` or `"database"`, instead was `{wanted!r}`.'), {}
        words = query.lower().split()
        hits = [p for p in self._pages
                if not p["archived"] and wanted in (None, "page")
                and all(w in _title_of(p).lower() for w in words)]
        return _list_page(hits, size, body.get("start_cursor"), "page_or_database",
                          "body failed validation: start_cursor is invalid.")

    def _children(self, block_id: str, query: dict) -> tuple[int, dict, dict]:
        blocks = self._blocks.get(block_id)
        if blocks is None:
            return 404, error(404, "object_not_found", f"Could not find block with ID: {block_id}. Make sure "
                              "the relevant pages and databases are shared with your integration."), {}
        size, err = _page_size(query.get("page_size"))
        if err:
            return 400, err, {}
        return _list_page(blocks, size, query.get("start_cursor"), "block", "start_cursor should be a valid uuid.")


def _list_page(items: list[dict], size: int, cursor: str | None, kind: str,
               bad_cursor: str) -> tuple[int, dict, dict]:
    """A Notion list object: ``size`` items from the one whose id is ``cursor`` (the first if none)."""
    start = 0
    if cursor:
        ids = [item["id"] for item in items]
        if cursor not in ids:
            return 400, error(400, "validation_error", bad_cursor), {}
        start = ids.index(cursor)
    more = start + size < len(items)
    return 200, {"object": "list", "results": copy.deepcopy(items[start:start + size]),
                 "next_cursor": items[start + size]["id"] if more else None, "has_more": more,
                 "type": kind, kind: {}, "request_id": str(uuid.uuid4())}, {}


def _page_size(value) -> tuple[int, dict | None]:
    if value is None:
        return 100, None
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = 0
    if not 1 <= size <= 100:
        return 0, error(400, "validation_error", "page_size should be a number between 1 and 100.")
    return size, None


def _title_of(page: dict) -> str:
    for prop in page["properties"].values():
        if prop.get("type") == "title":
            return "".join(t["plain_text"] for t in prop["title"])
    return ""
