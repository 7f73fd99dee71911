"""search_github: the model searches GitHub issues, pull requests and code.

Who may read what: results are whatever the token (GITHUB_TOKEN) can read,
limited to GITHUB_ORG when it is set. GitHub cannot tell what the Slack user
asking may read, so every asker gets the token's view: give the bot a token
that reads only what everyone in the Slack workspace may read.

The token is sent only to GITHUB_API_URL: every URL is built from it and
redirects are never followed (knowledge/http.py). Links in results are only
shown, never fetched.
"""
from __future__ import annotations

import re
import time
from urllib.parse import unquote, urlsplit

import requests

from threadwise.knowledge import toolbox as knowledge
from threadwise import logs
from threadwise.config import KnowledgeSettings
from slack_client import SlackGateway
from threadwise.knowledge.toolbox import Asker, Found, ToolFailed, ToolOutput
from threadwise.knowledge.github_scope import scoped
from threadwise.knowledge.http import HostBearer, NotOK, request_json

log = logs.get(__name__)

API_VERSION = "2022-11-28"
USER_AGENT = "threadwise-slack-bot"  # GitHub refuses requests without a User-Agent
BODY_CHARS = 6_000
KINDS = ("issues", "code")
PARAMETERS = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": (
            "GitHub search keywords. Qualifiers work, e.g. is:pr, is:open, label:bug, repo:owner/name, "
            "language:python.")},
        "kind": {"type": "string", "enum": list(KINDS), "description": (
            "issues (the default: issues and pull requests) or code (file contents).")},
    },
    "required": ["query"],
    "additionalProperties": False,
}
MAX_QUERY_CHARS = 256  # GitHub refuses a longer q: 422 "The search is longer than 256 characters."
_TERM = re.compile(r'\S*"[^"]*"\S*|\S+')  # a word, a qualifier or a "quoted phrase", kept whole
_QUALIFIER = re.compile(r"-?[A-Za-z_]+:")


def build(knowledge: KnowledgeSettings, slack: SlackGateway) -> GitHubSearch:
    """The registry's factory (knowledge/registry.py): on when GITHUB_TOKEN is set."""
    return GitHubSearch(knowledge.github_token, knowledge.github_api_url, org=knowledge.github_org)


class GitHubSearch:
    """Searches issues and pull requests (default) or code; returns text and links."""

    name = "search_github"
    description = ("Search the team's GitHub: issues and pull requests (kind=issues, the default) "
                   "or code (kind=code). Returns titles, state, text and links.")
    status = "Searching GitHub…"
    parameters = PARAMETERS

    def __init__(self, token: str, api_url: str, org: str | None = None, max_results: int = 5,
                 timeout: float = 10.0):
        self._api = api_url.rstrip("/")
        self._auth = HostBearer(token, self._api)
        self._org = org or None
        self._max_results = max(1, min(100, max_results))  # GitHub's per_page is 1..100
        self._timeout = timeout

    def run(self, arguments: dict, asker: Asker) -> ToolOutput:
        query = knowledge.query_of(arguments)
        kind = arguments.get("kind") or "issues"
        if kind not in KINDS:
            raise ToolFailed('`kind` must be "issues" or "code".')
        scope = scoped(query, self._org)  # kept inside GITHUB_ORG, whatever the query says (github_scope.py)
        q, cut = _within_limit(scope.q)
        data = self._search(kind, q)
        items = [item for item in data.get("items") or [] if isinstance(item, dict)][: self._max_results]
        found = [_issue(item) if kind == "issues" else _code(item) for item in items]
        log.info("github search", kind=kind, results=len(found), total=data.get("total_count"),
                 user=asker.user_id)
        notes = []
        if scope.dropped or scope.operators_dropped:
            left_out = [*scope.dropped, *(["OR/AND/NOT and parentheses"] if scope.operators_dropped else [])]
            notes.append(f"Searched only {self._org}: left out {', '.join(left_out)}.")
        if cut:
            notes.append(f"The query was longer than GitHub's {MAX_QUERY_CHARS} characters; searched for: {q}")
        if data.get("incomplete_results"):
            notes.append("GitHub's search timed out before finishing; there may be more results.")
        return ToolOutput(found, " ".join(notes) or None)

    def _search(self, kind: str, q: str) -> dict:
        headers = {
            # text-match returns the matched fragments of code, the only text a code result has.
            "Accept": "application/vnd.github.text-match+json" if kind == "code" else "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
        }
        try:
            with requests.Session() as session:
                return request_json(session, "GET", f"{self._api}/search/{kind}", provider="GitHub",
                                    auth=self._auth, timeout=self._timeout, log=log, headers=headers,
                                    params={"q": q, "per_page": self._max_results})
        except NotOK as refused:
            raise ToolFailed(_refusal(refused.response, kind)) from None


def _within_limit(q: str) -> tuple[str, bool]:
    """q cut to GitHub's length limit by dropping search words from the end (qualifiers, which keep
    the search inside GITHUB_ORG, stay), and whether it was cut."""
    if len(q) <= MAX_QUERY_CHARS:
        return q, False
    terms = _TERM.findall(q)
    words = [i for i, term in enumerate(terms) if not _QUALIFIER.match(term)]
    while len(words) > 1:  # keep one word at least: qualifiers alone would search for anything
        del terms[words.pop()]
        if len(" ".join(terms)) <= MAX_QUERY_CHARS:
            return " ".join(terms), True
    raise ToolFailed(f"The search is too long for GitHub (at most {MAX_QUERY_CHARS} characters, qualifiers "
                     "included); use fewer and shorter words or qualifiers.")


def _refusal(response: requests.Response, kind: str) -> str:
    """What to tell the model about an answer other than 200."""
    status = response.status_code
    log.warning("github error", status=status, kind=kind,
                ratelimit_remaining=response.headers.get("x-ratelimit-remaining"))
    if status == 401:
        return "GitHub rejected the token (GITHUB_TOKEN)."
    limited = _rate_limit_sentence(response)
    if limited:
        return limited
    if status == 403:
        return "GitHub refused the search (HTTP 403): the token may lack access."
    if status == 422:
        detail = _validation_detail(response)
        return ("The query was not valid for GitHub search" + (f": {detail}" if detail else ".")
                + " Try plain keywords with fewer qualifiers.")
    return f"GitHub search failed (HTTP {status})."


def _rate_limit_sentence(response: requests.Response) -> str | None:
    """Why GitHub limited us and when to try again, or None when it did not."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = headers.get("retry-after", "")
    if retry_after.isdigit():  # secondary limit: GitHub says how long to wait
        return f"GitHub's rate limit was reached; try again in {retry_after} seconds."
    if headers.get("x-ratelimit-remaining") == "0":
        reset = headers.get("x-ratelimit-reset", "")
        if reset.isdigit():
            wait = max(0, int(reset) - int(time.time()))
            at = time.strftime("%H:%M:%S UTC", time.gmtime(int(reset)))
            return f"GitHub's rate limit was reached; it resets at {at} (in {wait} seconds)."
        return "GitHub's rate limit was reached; try again in a minute."
    if response.status_code == 429:
        return "GitHub's rate limit was reached; try again in a minute."
    return None


def _validation_detail(response: requests.Response) -> str:
    # GitHub's own words about the query help the model fix it; they carry no secret.
    try:
        body = response.json()
    except ValueError:
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    messages = [e.get("message") for e in errors or [] if isinstance(e, dict) and isinstance(e.get("message"), str)]
    return " ".join(messages)[:300]


def _repo_of(item: dict) -> str:
    # repository_url is ".../repos/OWNER/NAME"; only read, never requested.
    path = urlsplit(str(item.get("repository_url") or "")).path
    if "/repos/" in path:
        return unquote(path.split("/repos/", 1)[1].strip("/"))
    parts = urlsplit(str(item.get("html_url") or "")).path.strip("/").split("/")
    return "/".join(parts[:2]) if len(parts) >= 2 else "?"


def _web_url(url: object) -> str:
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else ""


def _issue(item: dict) -> Found:
    is_pr = "pull_request" in item
    title = f"{_repo_of(item)}#{item.get('number')}: {item.get('title') or ''}" + (" (pull request)" if is_pr else "")
    state = str(item.get("state") or "unknown")
    pr = item.get("pull_request")
    if is_pr and isinstance(pr, dict) and pr.get("merged_at"):
        state = "merged"
    user = item.get("user")
    lines = [f"State: {state}"]
    if isinstance(user, dict) and user.get("login"):
        lines.append(f"Author: {user['login']}")
    labels = [label.get("name") for label in item.get("labels") or [] if isinstance(label, dict)]
    if any(labels):
        lines.append("Labels: " + ", ".join(name for name in labels if name))
    body = str(item.get("body") or "")
    text = "\n".join(lines) + ("\n\n" + body[:BODY_CHARS] if body else "")
    return Found(title=title, url=_web_url(item.get("html_url")), text=text, source="GitHub")


def _code(item: dict) -> Found:
    repository = item.get("repository")
    repo = repository.get("full_name") if isinstance(repository, dict) else None
    fragments = [m.get("fragment") for m in item.get("text_matches") or []
                 if isinstance(m, dict) and isinstance(m.get("fragment"), str)]
    return Found(title=f"{repo or '?'}/{item.get('path') or item.get('name') or ''}",
                 url=_web_url(item.get("html_url")), text="\n…\n".join(fragments), source="GitHub")
