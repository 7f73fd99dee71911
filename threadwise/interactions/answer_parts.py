"""The answer an interaction was used on, read back fresh from Slack, with the asker check.

Only the person who asked may stop or delete an answer; the asker is read
from the reply's metadata, fresh from Slack, never from the click itself (a
shortcut's payload may carry no metadata, or an old one). Long answers span
several messages, and a Slack-native stream is named by its control message:
``AnswerParts`` gathers every message of one answer, whichever was clicked.
"""
from __future__ import annotations

from dataclasses import dataclass

from slack_client import SlackGateway

from threadwise.slack.messages import SlackMessage
from threadwise.interactions.notices import NOT_A_REPLY, tell
from threadwise.slack.events import (ABORTED_EVENT_TYPE, BOT_REPLY_EVENT_TYPES, REPLY_EVENT_TYPE, MessageAction,
                                     TargetMessage)
from threadwise.slack.rate_budget import USER_ACTION
from threadwise.slack.reply_format import STATUS_STREAMING


@dataclass(frozen=True)
class AnswerParts:
    """Every message of one answer (long answers span several), in order."""

    messages: list[SlackMessage]

    @property
    def streaming(self) -> list[SlackMessage]:
        return [
            m for m in self.messages
            if m.metadata and m.metadata.event_type == REPLY_EVENT_TYPE
            and m.metadata.payload.get("status") == STATUS_STREAMING
        ]

    @property
    def stopped(self) -> bool:
        return any(m.metadata and m.metadata.event_type == ABORTED_EVENT_TYPE for m in self.messages)


def by_the_bot(target: TargetMessage, slack: SlackGateway) -> bool:
    me = slack.identity()
    return target.user == me.user_id or (target.bot_id is not None and target.bot_id == me.bot_id)


def asked_answer(action: MessageAction, slack: SlackGateway, verb: str) -> AnswerParts | None:
    """The answer ``action`` was used on, when the person who used it asked its question. Otherwise
    the person is told why nothing happens (``verb``: what they tried, for that sentence) and None."""
    target = action.message
    if not by_the_bot(target, slack):
        tell(slack, action, NOT_A_REPLY)
        return None
    # A person is waiting (and Slack's 3-second acknowledgement): these calls never queue behind answers.
    thread = slack.thread(action.channel, target.thread_ts or target.ts, priority=USER_ACTION)
    fresh = next((m for m in thread if m.ts == target.ts), None)
    if fresh is None:
        tell(slack, action, "That message no longer exists.")
        return None
    if fresh.metadata is None:
        # A Slack-native stream still being written carries no metadata yet: the
        # answer's control message (the placeholder above it) names it.
        fresh = next((m for m in thread if slack.is_own(m) and m.metadata is not None
                      and m.metadata.payload.get("stream") == fresh.ts), None) or _starting_control(thread, fresh, slack)
    if fresh.metadata is None or fresh.metadata.event_type not in BOT_REPLY_EVENT_TYPES:
        tell(slack, action, NOT_A_REPLY)
        return None
    asker = fresh.metadata.asker
    if asker != action.user:
        who = f"<@{asker}>" if asker else "the person who asked"
        tell(slack, action, f"Only {who}, who asked the question, can {verb} this answer; nothing was changed.")
        return None
    return answer_parts(thread, fresh, slack)


def answer_parts(thread: list[SlackMessage], target: SlackMessage, slack: SlackGateway) -> AnswerParts:
    answer_id = target.metadata.payload.get("answer") or target.ts if target.metadata else target.ts
    parts = [
        m for m in thread
        if slack.is_own(m) and m.metadata is not None
        and (m.ts == answer_id or m.metadata.payload.get("answer") == answer_id)
    ]
    streams = {m.metadata.payload.get("stream") for m in parts} - {None}
    parts += [m for m in thread if m.ts in streams]  # native streams named by their control message
    return AnswerParts(parts or [target])


def _starting_control(thread: list[SlackMessage], stream: SlackMessage, slack: SlackGateway) -> SlackMessage:
    """A stream so new that its control message does not name it yet: the streaming placeholder just
    before it. (Its writer reads the Stop from that placeholder when it names the stream.)"""
    earlier = [m for m in thread if float(m.ts) < float(stream.ts) and slack.is_own(m) and m.metadata is not None
               and m.metadata.payload.get("status") == STATUS_STREAMING and "stream" not in m.metadata.payload]
    return earlier[-1] if earlier else stream
