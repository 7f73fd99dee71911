"""Who someone is to the workspace (``users.info``) and who is in a conversation (``conversations.members``).

A mixin of ``slack_client.SlackGateway`` (its WebClient and budget). What an answer may draw on depends
on who will read it (``answering/audience.py``); these are the Slack facts it decides from.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from threadwise import logs
from threadwise.slack.refusals import retry_after

log = logs.get(__name__)

# users.info is Tier 4 (about 100 calls a minute for the whole workspace) and an answer in a channel asks
# it for the asker and for every member. Whether someone is a guest, or of another organisation, changes
# rarely: a person is looked up at most once in this many seconds per process, so a busy channel costs
# a handful of calls a few minutes, and a change of status is seen within them.
PERSON_TTL = 300.0
# Members listed at most (one conversations.members page, Tier 4). A bigger channel is not checked member
# by member: the answer treats it as one where not everyone is known to belong to the workspace.
MAX_MEMBERS = 200


@dataclass(frozen=True)
class Person:
    user_id: str
    team_id: str  # users.info ``team_id``: the person's own workspace (another organisation's in Slack Connect)
    guest: bool  # ``is_restricted`` (multi-channel guest) or ``is_ultra_restricted`` (single-channel guest)


class PeopleCalls:
    def person(self, user_id: str) -> Person | None:
        """The person as users.info describes them (scope ``users:read``); None when Slack would not say."""
        now = time.monotonic()
        known = self._people.get(user_id)
        if known is not None and now - known[0] < PERSON_TTL:
            return known[1]
        if not self.budget.try_take("users.info"):  # (unbudgeted: False only while a 429's Retry-After runs)
            return None
        try:
            user = self._client.users_info(user=user_id).get("user") or {}
        except SlackApiError as error:
            if error.response.status_code == 429:
                self.budget.pause("users.info", retry_after(error.response))
            log.info("person not known", user=user_id, error=error.response.get("error"))
            return None
        team = user.get("team_id")
        if not isinstance(team, str) or not team:
            return None
        person = Person(user_id, team, user.get("is_restricted") is True or user.get("is_ultra_restricted") is True)
        self._people[user_id] = (now, person)
        return person

    def channel_members(self, channel: str) -> list[str] | None:
        """Everyone in the conversation; None when there are more than MAX_MEMBERS or Slack would not say."""
        try:
            page = self._client.conversations_members(channel=channel, limit=MAX_MEMBERS)
        except SlackApiError as error:
            log.info("members not known", channel=channel, error=error.response.get("error"))
            return None
        members = page.get("members")
        if not isinstance(members, list) or (page.get("response_metadata") or {}).get("next_cursor"):
            return None
        return [m for m in members if isinstance(m, str)]
