"""FakeGitHub: an in-process stand-in for GitHub's REST search API, for tests.

Serves ``GET /search/issues`` and ``GET /search/code`` with GitHub's shapes:
``{"total_count", "incomplete_results", "items"}``, issue items with
``repository_url`` and (for pull requests) a ``pull_request`` object, code
items with ``repository`` and, only when the Accept header asks for
``application/vnd.github.text-match+json``, ``text_matches``. Errors are
``{"message", "documentation_url"}`` with GitHub's status codes and headers.

It refuses what GitHub refuses: a ``q`` over 256 characters (422 "The search
is longer than 256 characters."), and more searches than the search rate
limit allows in a minute -- 30 a minute with a token, 10 without, 10 for code
search -- answered 403 with ``x-ratelimit-remaining: 0`` and the reset time
(``x-ratelimit-*`` headers on every search answer, per resource "search" /
"code_search"). More requests in flight at once than ``max_concurrent`` (100)
is GitHub's secondary rate limit: 403 with ``retry-after``.

Search syntax kept to what the tests need: free words (all must match,
case-insensitive; "quoted phrases" kept whole), the scope qualifiers
``org:``/``user:``/``owner:``/``repo:`` (several are ORed, as GitHub does),
``is:issue``/``is:pr``/``type:``, ``is:open``/``is:closed``/``state:``, and a
leading ``-`` to exclude; other ``key:value`` qualifiers are ignored.
Standard library only.
"""
from __future__ import annotations

import copy
import hashlib
import re
import threading
import time
from http.server import BaseHTTPRequestHandler

from .http_server import Request, StandinServer, read_request, send_json

DOCS = "https://docs.github.com/rest"
TEXT_MATCH = "application/vnd.github.text-match+json"
API_VERSIONS = ("2022-11-28",)
_TOKEN = re.compile(r'(-?)(?:([A-Za-z_]+):)?("[^"]*"|\S+)')


MAX_QUERY_CHARS = 256
SECONDARY_LIMIT_MESSAGE = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try "
                           "again. If you reach out to GitHub Support for help, please include the request ID "
                           "0000:1111:2222:3333:44444444.")


class FakeGitHub(StandinServer):
    # Search requests a minute (GitHub's "search" and "code_search" resources); tests may lower them.
    search_limit = 30
    anonymous_search_limit = 10
    code_search_limit = 10
    max_concurrent = 100  # requests in flight at once, beyond which the secondary rate limit answers
    limited_status = 403  # GitHub answers an exhausted rate limit with 403 (sometimes 429)

    def __init__(self, token: str = "ghp_testtoken"):
        self.token = token
        self.requests: list[Request] = []
        self.delay = 0.0
        self._lock = threading.RLock()
        self._issues: list[dict] = []
        self._code: list[dict] = []
        self._failures: list[tuple[int, dict | None, dict]] = []
        self._windows: dict[str, tuple[int, int]] = {}  # rate-limit resource -> (reset epoch, used)
        self._in_flight = 0
        # Open by default; a test clears it to hold requests in flight (the secondary limit's trigger).
        self.gate = threading.Event()
        self.gate.set()

    # ------------------------------------------------------ test-side helpers
    def add_issue(self, repo: str, number: int, title: str, body: str | None, state: str = "open",
                  pull_request: bool = False, labels: tuple[str, ...] = (), user: str = "octocat") -> dict:
        api = self.base_url if self._server else "https://api.github.com"
        kind = "pull" if pull_request else "issues"
        item = {
            "url": f"{api}/repos/{repo}/issues/{number}",
            "repository_url": f"{api}/repos/{repo}",
            "labels_url": f"{api}/repos/{repo}/issues/{number}/labels{{/name}}",
            "comments_url": f"{api}/repos/{repo}/issues/{number}/comments",
            "events_url": f"{api}/repos/{repo}/issues/{number}/events",
            "html_url": f"https://github.com/{repo}/{kind}/{number}",
            "id": 1000 + len(self._issues), "node_id": f"I_kwDO{len(self._issues):06d}",
            "number": number, "title": title,
            "user": {"login": user, "id": 1, "type": "User", "site_admin": False},
            "labels": [{"id": i, "name": name, "color": "ededed", "default": False} for i, name in enumerate(labels)],
            "state": state, "locked": False, "assignee": None, "assignees": [], "milestone": None,
            "comments": 0, "created_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-02T10:00:00Z",
            "closed_at": "2024-05-03T10:00:00Z" if state == "closed" else None,
            "author_association": "MEMBER", "active_lock_reason": None, "body": body,
            "performed_via_github_app": None, "state_reason": "completed" if state == "closed" else None,
            "score": 1.0,
        }
        if pull_request:
            item["draft"] = False
            item["pull_request"] = {"url": f"{api}/repos/{repo}/pulls/{number}",
                                    "html_url": f"https://github.com/{repo}/pull/{number}",
                                    "diff_url": f"https://github.com/{repo}/pull/{number}.diff",
                                    "patch_url": f"https://github.com/{repo}/pull/{number}.patch",
                                    "merged_at": None}
        with self._lock:
            self._issues.append(item)
        return copy.deepcopy(item)

    def add_code(self, repo: str, path: str, text: str) -> dict:
        api = self.base_url if self._server else "https://api.github.com"
        owner, name = repo.split("/", 1)
        sha = hashlib.sha1(text.encode()).hexdigest()
        item = {
            "name": path.rsplit("/", 1)[-1], "path": path, "sha": sha,
            "url": f"{api}/repos/{repo}/contents/{path}?ref={sha}",
            "git_url": f"{api}/repos/{repo}/git/blobs/{sha}",
            "html_url": f"https://github.com/{repo}/blob/{sha}/{path}",
            "repository": {"id": 2000 + len(self._code), "node_id": "R_kgDO", "name": name, "full_name": repo,
                           "private": True, "owner": {"login": owner, "id": 3, "type": "Organization"},
                           "html_url": f"https://github.com/{repo}", "description": None, "fork": False,
                           "url": f"{api}/repos/{repo}"},
            "score": 1.0,
            "_content": text,  # not part of GitHub's item; removed before answering
        }
        with self._lock:
            self._code.append(item)
        return {k: v for k, v in copy.deepcopy(item).items() if k != "_content"}

    def fail_next(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        with self._lock:
            self._failures.append((status, body or {"message": "Server Error"}, dict(headers or {})))

    def rate_limit_next(self, reset_in: int = 42, status: int = 403) -> int:
        """The next request is over the primary rate limit; returns the reset epoch."""
        reset = int(time.time()) + reset_in
        self.fail_next(status, {"message": "API rate limit exceeded for user ID 1. If you reach out to GitHub "
                                "Support for help, please include the request ID.",
                                "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                                "status": str(status)},
                       {"x-ratelimit-limit": str(self.search_limit), "x-ratelimit-remaining": "0",
                        "x-ratelimit-reset": str(reset), "x-ratelimit-used": str(self.search_limit),
                        "x-ratelimit-resource": "search"})
        return reset

    def secondary_rate_limit_next(self, retry_after: int = 60) -> None:
        self.fail_next(403, {"message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                             "before you try again.", "documentation_url": f"{DOCS}/overview/rate-limits",
                             "status": "403"}, {"retry-after": str(retry_after)})

    def redirect_next(self, location: str, status: int = 302) -> None:
        with self._lock:
            self._failures.append((status, None, {"Location": location}))

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def reset_limits(self) -> None:
        """Start every rate-limit window afresh (the tests' stand-in for waiting a minute)."""
        with self._lock:
            self._windows.clear()

    # ------------------------------------------------------------- internals
    def _serve(self, req: BaseHTTPRequestHandler) -> None:
        record, _ = read_request(req)
        with self._lock:
            self._in_flight += 1
            crowded = self._in_flight > self.max_concurrent
        try:
            if not crowded:
                self.gate.wait(10)
            if self.delay:
                time.sleep(self.delay)
            with self._lock:
                self.requests.append(record)
                if crowded:
                    status, payload, headers = self.limited_status, {
                        "message": SECONDARY_LIMIT_MESSAGE, "documentation_url": f"{DOCS}/overview/rate-limits",
                        "status": str(self.limited_status)}, {"retry-after": "60"}
                else:
                    status, payload, headers = self._answer(req, record)
                record.status = status
        finally:
            with self._lock:
                self._in_flight -= 1
        send_json(req, status, payload, {"X-GitHub-Media-Type": "github.v3; format=json", **headers})

    def _spend(self, resource: str, limit: int) -> tuple[bool, dict]:
        """Count one request against ``resource``'s window: (allowed, its x-ratelimit headers)."""
        now = int(time.time())
        reset, used = self._windows.get(resource, (0, 0))
        if now >= reset:
            reset, used = now + 60, 0
        allowed = used < limit
        used += allowed
        self._windows[resource] = (reset, used)
        return allowed, {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(limit - used),
                         "x-ratelimit-reset": str(reset), "x-ratelimit-used": str(used),
                         "x-ratelimit-resource": resource}

    def _answer(self, req, record: Request) -> tuple[int, dict | None, dict]:
        if self._failures:
            return self._failures.pop(0)
        if not req.headers.get("User-Agent"):
            return 403, {"message": "Request forbidden by administrative rules. Please make sure your request "
                         "has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api"
                         "#user-agent-required)."}, {}
        auth = req.headers.get("Authorization")
        if auth is not None and auth not in (f"Bearer {self.token}", f"token {self.token}"):
            return 401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}, {}
        version = req.headers.get("X-GitHub-Api-Version")
        if version is not None and version not in API_VERSIONS:
            return 400, {"message": f"API version {version} is not supported.", "documentation_url": DOCS}, {}
        if record.method != "GET" or record.path not in ("/search/issues", "/search/code"):
            return 404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, {}
        if record.path == "/search/code" and auth is None:
            return 401, {"message": "Requires authentication", "documentation_url": DOCS, "status": "401"}, {}
        resource = "code_search" if record.path == "/search/code" else "search"
        limit = (self.code_search_limit if resource == "code_search"
                 else self.search_limit if auth else self.anonymous_search_limit)
        allowed, limits = self._spend(resource, limit)
        if not allowed:
            who = "user ID 1" if auth else "127.0.0.1"
            return self.limited_status, {
                "message": f"API rate limit exceeded for {who}. If you reach out to GitHub Support for help, "
                           "please include the request ID 0000:1111:2222:3333:44444444.",
                "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                "status": str(self.limited_status)}, limits
        status, payload = self._search(req, record)
        return status, payload, limits

    def _search(self, req, record: Request) -> tuple[int, dict]:
        try:
            per_page = int(record.query.get("per_page", 30))
            page = int(record.query.get("page", 1))
        except ValueError:
            per_page = page = 0
        if not (1 <= per_page <= 100 and page >= 1):
            return 422, _invalid("per_page", "invalid")
        q = (record.query.get("q") or "").strip()
        if not q:
            return 422, _invalid("q", "missing")
        if len(q) > MAX_QUERY_CHARS:
            return 422, _invalid("q", "invalid", f"The search is longer than {MAX_QUERY_CHARS} characters.")
        words, filters = _parse(q)
        if record.path == "/search/issues":
            items = [i for i in self._issues if _issue_matches(i, words, filters)]
        else:
            if not words:  # GitHub needs something to look for in the files
                return 422, _invalid("q", "invalid", "The search contains only qualifiers; add search terms.")
            items = [c for c in self._code if _code_matches(c, words, filters)]
        total = len(items)
        items = copy.deepcopy(items[(page - 1) * per_page: page * per_page])
        text_match = TEXT_MATCH in (req.headers.get("Accept") or "")
        for item in items:
            content = item.pop("_content", None)
            if text_match:
                field = "content" if content is not None else "body"
                item["text_matches"] = _text_matches(item["url"], content if content is not None
                                                     else item.get("body") or "", words, field)
        return 200, {"total_count": total, "incomplete_results": False, "items": items}


def _invalid(field: str, code: str, message: str | None = None) -> dict:
    error = {"resource": "Search", "field": field, "code": code}
    if message:
        error = {"message": message, **error}
    return {"message": "Validation Failed", "errors": [error], "documentation_url": f"{DOCS}/search/search",
            "status": "422"}


def _parse(q: str) -> tuple[list[str], list[tuple[bool, str, str]]]:
    """(free words, [(negated, qualifier, value)])."""
    words, filters = [], []
    for negated, key, value in _TOKEN.findall(q):
        value = value.strip('"')
        if key:
            filters.append((bool(negated), key.lower(), value.lower()))
        elif value and not negated:
            words.append(value.lower())
    return words, filters


def _scope_ok(repo: str, filters) -> bool:
    owner = repo.split("/")[0].lower()
    scopes = [(neg, key, value) for neg, key, value in filters if key in ("org", "user", "owner", "repo")]

    def hit(key, value):
        return value == repo.lower() if key == "repo" else value == owner

    if any(hit(key, value) for neg, key, value in scopes if neg):
        return False
    wanted = [(key, value) for neg, key, value in scopes if not neg]
    return not wanted or any(hit(key, value) for key, value in wanted)  # ORed, as on GitHub


def _repo_of(issue: dict) -> str:
    return issue["repository_url"].split("/repos/", 1)[1]


def _issue_matches(issue: dict, words, filters) -> bool:
    if not _scope_ok(_repo_of(issue), filters):
        return False
    is_pr = "pull_request" in issue
    for negated, key, value in filters:
        result = None
        if (key == "is" and value in ("pr", "issue")) or key == "type":
            result = is_pr == (value in ("pr", "pull-request"))
        elif (key == "is" and value in ("open", "closed")) or key == "state":
            result = issue["state"] == value
        if result is not None and result == negated:
            return False
    haystack = f"{issue['title']}\n{issue.get('body') or ''}".lower()
    return all(w in haystack for w in words)


def _code_matches(item: dict, words, filters) -> bool:
    if not _scope_ok(item["repository"]["full_name"], filters):
        return False
    haystack = f"{item['path']}\n{item['_content']}".lower()
    return all(w in haystack for w in words)


def _text_matches(object_url: str, text: str, words, field: str) -> list[dict]:
    """One fragment per word found in the text, with the matches' indices in the fragment."""
    out = []
    lowered = text.lower()
    for word in words:
        at = lowered.find(word)
        if at < 0:
            continue
        start, end = max(0, at - 40), min(len(text), at + len(word) + 40)
        fragment = text[start:end]
        out.append({"object_url": object_url, "object_type": "FileContent" if field == "content" else "Issue",
                    "property": field, "fragment": fragment,
                    "matches": [{"text": text[at:at + len(word)], "indices": [at - start, at - start + len(word)]}]})
    return out
