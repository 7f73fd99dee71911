"""The Slack calls of the App Home: publish a person's Home view, open a DM, upload a file into it.

A mixin of ``slack_client.SlackGateway`` (its WebClient and write budget). Each call returns a
``CallResult`` with Slack's error code, never raises: a Home tab that could not be published or a
CSV Slack refused is a sentence for someone, not a traceback. A 429 is waited out (its Retry-After)
within ``PATIENCE`` seconds; the methods (all Tier 4, AI_SURFACE_FACTS.md C and G) are budgeted
like every other write (``config/slack_limits.py``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from slack_sdk.errors import SlackApiError

from threadwise import logs
from threadwise.slack.rate_budget import USER_ACTION
from threadwise.slack.refusals import log_missing_scope, retry_after as _retry_after

log = logs.get(__name__)

PATIENCE = 10.0  # seconds a Home call waits out Slack's 429s before it gives up
UPLOAD_METHODS = ("files.getUploadURLExternal", "files.completeUploadExternal")


@dataclass(frozen=True)
class CallResult:
    ok: bool
    error: str | None = None  # Slack's error code ("view_too_large", "missing_scope", …), or "transient"
    data: dict = field(default_factory=dict)
    needed: str | None = None  # the scope Slack said is missing (missing_scope)


class HomeCalls:
    def publish_home(self, user_id: str, view: dict, view_hash: str | None = None) -> CallResult:
        """``views.publish``: the person's Home tab shows ``view`` (``hash``: only over that version)."""
        arguments = {"user_id": user_id, "view": view}
        if view_hash:
            arguments["hash"] = view_hash
        return self._home_call(("views.publish",), lambda: self._client.views_publish(**arguments))

    def open_dm_result(self, user_id: str) -> CallResult:
        """``conversations.open`` (``im:write``) with Slack's refusal kept, for the sentence an admin reads
        (``SlackGateway.open_dm`` is the plain form the budget alerts use)."""
        return self._home_call(("conversations.open",), lambda: self._client.conversations_open(users=user_id))

    def upload_file(self, channel: str, filename: str, content: str, title: str,
                    initial_comment: str | None = None) -> CallResult:
        """``files_upload_v2`` (``files:write``): the file as a message in ``channel``."""
        return self._home_call(UPLOAD_METHODS, lambda: self._client.files_upload_v2(
            channel=channel, filename=filename, content=content, title=title, initial_comment=initial_comment))

    def _home_call(self, methods: tuple[str, ...], call: Callable) -> CallResult:
        deadline = time.monotonic() + PATIENCE
        while True:
            for method in methods:
                self.budget.acquire(method, USER_ACTION)  # a person is looking at the tab or waiting for the file
            try:
                return CallResult(True, data=dict(call().data))
            except SlackApiError as error:
                response = error.response
                code = response.get("error") if isinstance(response.data, dict) else None
                if response.status_code == 429:
                    wait = _retry_after(response)
                    for method in methods:
                        self.budget.pause(method, wait)
                    if time.monotonic() + wait <= deadline:
                        time.sleep(wait)
                        continue
                    code = "ratelimited"
                needed = log_missing_scope(methods[0], response) if code == "missing_scope" else None
                if response.status_code >= 500:
                    code = "transient"
                log.warning("slack call refused", method=methods[0], error=code)
                return CallResult(False, error=code or f"http_{response.status_code}", needed=needed)
            except Exception as error:  # network trouble after the SDK's retries; an upload URL that failed
                log.warning("slack call failed", method=methods[0], error=type(error).__name__)
                return CallResult(False, error="transient")
