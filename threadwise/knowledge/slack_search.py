"""Slack message search for the model (``search.messages``, user token with ``search:read``).

``search.messages`` only works with a user token, and it searches everything
that user can see — often more than the person asking. So every match is
checked: it is kept only when the asker is a member of the match's
conversation (``conversations.members`` with the same token). And because the
answer is posted where others may read it, matches from private conversations
(private channels, DMs, group DMs) are kept only when the answer is private
too (a DM with the bot) or the match comes from the very conversation the
question was asked in.
"""
from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from threadwise import logs
from threadwise.config import KnowledgeSettings
from threadwise.knowledge.toolbox import QUERY_PARAMETERS, Asker, Found, ToolFailed, ToolOutput, query_of
from slack_client import SlackGateway

log = logs.get(__name__)

MAX_MATCHES = 20  # asked of Slack; fewer survive the visibility checks
MAX_KEPT = 8


def build(knowledge: KnowledgeSettings, slack: SlackGateway) -> SlackSearch:
    """The registry's factory (knowledge/registry.py): on when SLACK_USER_TOKEN is set."""
    return SlackSearch(knowledge.slack_user_token, knowledge.slack_api_url)


class SlackSearch:
    name = "search_slack"
    description = ("Search the Slack workspace's messages (past discussions, decisions, announcements). "
                   "Supports Slack search syntax such as in:#channel, from:@name, before:/after:YYYY-MM-DD.")
    status = "Searching Slack…"
    parameters = QUERY_PARAMETERS

    def __init__(self, user_token: str, api_url: str, timeout: float = 10.0):
        self._client = WebClient(token=user_token, base_url=api_url, timeout=int(timeout))
        # Membership is read with the same user token: it sees the conversations its search found.
        self._members = SlackGateway(user_token, api_url, timeout=timeout)

    def run(self, arguments: dict, asker: Asker) -> ToolOutput:
        query = query_of(arguments)
        try:
            response = self._client.search_messages(query=query, count=MAX_MATCHES, sort="score",
                                                    highlight=False)
        except SlackApiError as error:
            raise ToolFailed(_sentence(error.response.get("error"))) from None
        except OSError:
            raise ToolFailed("Slack search could not be reached; try again later.") from None
        matches = ((response.get("messages") or {}).get("matches")) or []
        membership: dict[str, bool] = {}
        found: list[Found] = []
        hidden = private = 0
        for match in matches:
            channel = match.get("channel") or {}
            channel_id = channel.get("id")
            if not channel_id or not match.get("text") or _in_this_thread(match, channel_id, asker):
                continue
            if not self._is_member(channel_id, asker.user_id, membership):
                hidden += 1
                continue
            if _is_private(channel) and not asker.private_answer and channel_id != asker.channel:
                private += 1
                continue
            if len(found) < MAX_KEPT:
                found.append(_found(match, channel))
        return ToolOutput(found, _note(hidden, private))

    def _is_member(self, channel_id: str, user_id: str, cache: dict[str, bool]) -> bool:
        if channel_id not in cache:
            # Not confirmed (missing scope, channel gone, too many members) counts as not a member.
            cache[channel_id] = self._members.is_member(channel_id, user_id)
        return cache[channel_id]


def _in_this_thread(match: dict, channel_id: str, asker: Asker) -> bool:
    # The thread being answered is in the model's context already (the question too).
    if channel_id != asker.channel or not asker.thread_ts:
        return False
    return match.get("ts") == asker.thread_ts or f"thread_ts={asker.thread_ts}" in (match.get("permalink") or "")


def _is_private(channel: dict) -> bool:
    return bool(channel.get("is_private") or channel.get("is_im") or channel.get("is_mpim")
                or channel.get("is_group"))


def _found(match: dict, channel: dict) -> Found:
    where = f"#{channel['name']}" if channel.get("name") and not channel.get("is_im") else "a direct message"
    author = match.get("username") or match.get("user") or "someone"
    return Found(title=f"{author} in {where}", url=match.get("permalink") or "", text=match.get("text", ""),
                 source="Slack")


def _note(hidden: int, private: int) -> str | None:
    parts = []
    if hidden:
        parts.append(f"{hidden} matches were left out because the asker is not a member of their conversation")
    if private:
        parts.append(f"{private} matches from private conversations were left out because this answer is "
                     "posted where others can read it (the asker can ask in a DM with the bot to include them)")
    return ("; ".join(parts) + ".") if parts else None


def _sentence(code: str | None) -> str:
    if code in ("invalid_auth", "not_authed", "token_revoked", "account_inactive"):
        return "Slack rejected the search token; ask the operator to check SLACK_USER_TOKEN."
    if code in ("missing_scope", "not_allowed_token_type"):
        return "The search token cannot search messages: it needs to be a user token with the search:read scope."
    if code == "ratelimited":
        return "Slack search is rate limited right now; try again in a minute."
    return f"Slack search failed ({code or 'unknown error'})."
