"""The Slack calls the knowledge features make: people, channel membership, channel info, files.

A mixin of ``slack_client.SlackGateway`` (it uses its WebClient, budget and
``thread``), kept apart so the gateway's writing and reading stay readable.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from threadwise import logs
from threadwise.slack.events import SlackFile, parse_files
from threadwise.slack.rate_budget import PLACEHOLDER
from threadwise.slack.refusals import retry_after as _retry_after

if TYPE_CHECKING:
    from threadwise.slack.messages import SlackMessage

log = logs.get(__name__)

CHANNEL_INFO_TTL = 300.0  # seconds a channel's conversations.info is reused (its canvas id, privacy)
CHANNEL_INFO_WAIT = 1.0  # seconds a question waits for conversations.info's budget before going on without it


class KnowledgeCalls:
    def email_of(self, user_id: str) -> str | None:
        """The person's Slack profile email (scope ``users:read.email``), or None when hidden."""
        try:
            response = self._client.users_info(user=user_id)
        except SlackApiError as error:
            log.info("email not available", user=user_id, error=error.response.get("error"))
            return None
        email = ((response.get("user") or {}).get("profile") or {}).get("email")
        return email if isinstance(email, str) and "@" in email else None

    def is_member(self, channel: str, user_id: str) -> bool:
        """Whether the person is in the conversation (``conversations.members``); False when we cannot tell."""
        cursor = None
        try:
            for _ in range(20):
                page = self._client.conversations_members(channel=channel, limit=1000, cursor=cursor)
                if user_id in (page.get("members") or []):
                    return True
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return False
        except SlackApiError as error:
            log.info("membership not confirmed", channel=channel, error=error.response.get("error"))
        return False

    def conversation(self, channel: str, reuse_within: float = 0.0) -> dict | None:
        """``conversations.info`` of a channel, or None when the bot cannot see it.

        Asked for every question in a channel (does it have a canvas? is it shared?), and Tier 3
        like ``chat.update``: budgeted, and remembered for a few minutes per channel
        for when the budget has no room. ``reuse_within``: a read that recent is used as it is
        (the same answer read it a moment ago).
        """
        now = time.monotonic()
        cached = self._channels.get(channel)
        if cached is not None and now - cached[0] < reuse_within:
            return cached[1]
        if cached is not None and now - cached[0] < CHANNEL_INFO_TTL:
            # Fresh when the budget has room (a canvas added a minute ago is seen); the
            # remembered answer when it has not (under load a question does not wait for it).
            if not self.budget.try_take("conversations.info"):
                return cached[1]
        elif not self.budget.acquire("conversations.info", PLACEHOLDER, channel, timeout=CHANNEL_INFO_WAIT):
            # Tier 3 for the whole workspace: past a burst of new channels, an answer goes on without the
            # channel's canvas (and a link there stays unread) rather than wait minutes for it.
            log.info("channel info skipped: Slack's budget for it is spent", channel=channel)
            return None
        try:
            info = self._client.conversations_info(channel=channel).get("channel")
        except SlackApiError as error:
            if error.response.status_code == 429:
                self.budget.pause("conversations.info", _retry_after(error.response))
            log.info("channel info not available", channel=channel, error=error.response.get("error"))
            return None
        self._channels[channel] = (now, info)
        return info

    def file_info(self, file_id: str) -> SlackFile | None:
        try:
            raw = self._client.files_info(file=file_id).get("file")
        except SlackApiError as error:
            log.info("file info not available", file=file_id, error=error.response.get("error"))
            return None
        files = parse_files([raw]) if raw else ()
        return files[0] if files else None

    def message_with_thread(self, channel: str, ts: str) -> list[SlackMessage] | None:
        """The linked message and, when it has one, its thread; None when it cannot be read."""
        try:
            messages = self.thread(channel, ts)
        except SlackApiError as error:
            log.info("linked message not readable", channel=channel, error=error.response.get("error"))
            return None
        return messages or None
