"""HTTP for the knowledge tools that call a provider's API with a secret (Notion, GitHub, Google Drive).

The secret goes only to the provider's configured API host: ``HostBearer`` adds
it to requests for that scheme and host and to no other, and ``request_json``
never follows a redirect. ``request_json`` turns what every tool says alike —
no answer in time, host unreachable, an answer that is not a JSON object —
into a ``ToolFailed``; any other status than 200 is a ``NotOK`` that the tool
turns into its provider's own sentences.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import requests

from threadwise.knowledge.toolbox import ToolFailed


class HostBearer:
    """A requests ``auth``: ``Authorization: Bearer <token>`` only on requests to ``api_url``'s scheme and host.

    Passing ``auth`` also stops requests from taking credentials out of ~/.netrc.
    """

    def __init__(self, token: str, api_url: str):
        parts = urlsplit(api_url)
        self._token, self._origin = token, (parts.scheme, parts.netloc.lower())

    def __call__(self, request):
        parts = urlsplit(request.url)
        if (parts.scheme, parts.netloc.lower()) == self._origin:
            request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:  # never the token, even in a debugger or a traceback
        return "HostBearer([redacted])"


class NotOK(Exception):
    """The provider answered with a status other than 200."""

    def __init__(self, response: requests.Response):
        super().__init__(f"HTTP {response.status_code}")
        self.response, self.status = response, response.status_code


def request_json(session: requests.Session, method: str, url: str, *, provider: str, auth: HostBearer,
                 timeout: float, log, headers: dict | None = None, params: dict | None = None,
                 json: dict | None = None) -> dict:
    """The JSON object of a 200 answer. ToolFailed("<provider> search failed (…)") when there was
    none; NotOK for any other status. ``log`` is the tool's, so its lines keep the tool's logger."""
    try:
        response = session.request(method, url, json=json, params=params, headers=headers, auth=auth,
                                   timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        raise ToolFailed(f"{provider} search failed (no answer within {timeout:g} s).") from None
    except requests.RequestException as error:
        log.warning(f"{provider.lower()} unreachable", error=type(error).__name__)
        raise ToolFailed(f"{provider} search failed ({provider} could not be reached).") from None
    if response.status_code != 200:
        raise NotOK(response)
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        return data
    raise ToolFailed(f"{provider} search failed (the answer was not JSON).")
