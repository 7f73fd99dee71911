"""Quick actions done inline, within Slack's 3 seconds: stop an answer, delete one.

Only the person who asked may stop or delete an answer; the asker is read
from the reply's metadata, fresh from Slack, never from the click itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import logs
from events import ABORTED_EVENT_TYPE, BOT_REPLY_EVENT_TYPES, REPLY_EVENT_TYPE, MessageAction
from reply_format import STATUS_STREAMING, aborted_metadata, fallback_text, streaming_blocks
from slack_budget import USER_ACTION
from slack_client import SlackGateway, SlackMessage
from slack_refusals import MissingScope

log = logs.get(__name__)

NOT_A_REPLY = "This works only on Threadwise's answers; nothing was changed."


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


def handle(action: MessageAction, slack: SlackGateway) -> None:
    try:
        _handle(action, slack)
    except MissingScope as missing:  # (logged with the scope) the person who clicked learns why nothing happened
        _tell(slack, action, missing.sentence)


def _handle(action: MessageAction, slack: SlackGateway) -> None:
    me = slack.identity()
    target = action.message
    thread_ts = target.thread_ts
    if target.user != me.user_id and (target.bot_id is None or target.bot_id != me.bot_id):
        return _tell(slack, action, NOT_A_REPLY)
    # A person is waiting (and Slack's 3-second acknowledgement): these calls never queue behind answers.
    thread = slack.thread(action.channel, thread_ts or target.ts, priority=USER_ACTION)
    fresh = next((m for m in thread if m.ts == target.ts), None)
    if fresh is None:
        return _tell(slack, action, "That message no longer exists.")
    if fresh.metadata is None:
        # A Slack-native stream still being written carries no metadata yet: the
        # answer's control message (the placeholder above it) names it.
        fresh = next((m for m in thread if slack.is_own(m) and m.metadata is not None
                      and m.metadata.payload.get("stream") == fresh.ts), None) or _starting_control(thread, fresh, slack)
    if fresh.metadata is None or fresh.metadata.event_type not in BOT_REPLY_EVENT_TYPES:
        return _tell(slack, action, NOT_A_REPLY)
    asker = fresh.metadata.asker
    if asker != action.user:
        verb = "stop" if action.kind == "stop" else "delete"
        who = f"<@{asker}>" if asker else "the person who asked"
        return _tell(slack, action, f"Only {who}, who asked the question, can {verb} this answer; nothing was changed.")
    parts = answer_parts(thread, fresh, slack)
    if action.kind == "stop":
        stop(action, parts, slack)
    else:
        delete(action, parts, slack)


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


def stop(action: MessageAction, parts: AnswerParts, slack: SlackGateway, reason: str = "stopped") -> None:
    streaming = parts.streaming
    if not streaming:
        message = "This answer was already stopped." if parts.stopped else "This answer has already finished."
        return _tell(slack, action, message)
    for message in streaming:
        # The streaming loop reads this flag back from its next chat.update and
        # ends the answer; the text written here is what the message already shows.
        slack.update(
            action.channel, message.ts, fallback_text(message.text), streaming_blocks(message.text),
            aborted_metadata(message.metadata.payload, action.user, reason), priority=USER_ACTION,
        )
        stop_native_stream(action.channel, message, action.user, reason, slack)
    log.info("answer stopped", channel=action.channel, ts=streaming[-1].ts, via=action.via)
    if action.via == "shortcut":
        slack.open_notice(action.trigger_id, "Stopped", "Generating stopped. The answer ends where it was.")


def delete(action: MessageAction, parts: AnswerParts, slack: SlackGateway) -> None:
    for message in parts.messages:
        slack.delete(action.channel, message.ts)
    log.info("answer deleted", channel=action.channel, parts=len(parts.messages))
    slack.open_notice(action.trigger_id, "Deleted", "The answer was deleted.")


def supersede(channel: str, thread: list[SlackMessage], before_ts: str, by_user: str, slack: SlackGateway) -> int:
    """A newer question in a thread stops the answers still streaming there."""
    stopped = 0
    for message in thread:
        meta = message.metadata
        if (meta and meta.event_type == REPLY_EVENT_TYPE and meta.payload.get("status") == STATUS_STREAMING
                and float(message.ts) < float(before_ts) and slack.is_own(message)):
            slack.update(
                channel, message.ts, fallback_text(message.text), streaming_blocks(message.text),
                aborted_metadata(meta.payload, by_user, "superseded"),
            )
            stop_native_stream(channel, message, by_user, "superseded", slack)
            stopped += 1
    return stopped


def _starting_control(thread: list[SlackMessage], stream: SlackMessage, slack: SlackGateway) -> SlackMessage:
    """A stream so new that its control message does not name it yet: the streaming placeholder just
    before it. (Its writer reads the Stop from that placeholder when it names the stream.)"""
    earlier = [m for m in thread if float(m.ts) < float(stream.ts) and slack.is_own(m) and m.metadata is not None
               and m.metadata.payload.get("status") == STATUS_STREAMING and "stream" not in m.metadata.payload]
    return earlier[-1] if earlier else stream


def stop_native_stream(channel: str, control: SlackMessage, by_user: str, reason: str, slack: SlackGateway) -> None:
    """STREAM_MODE=native: end the stream the control message names; the writer sees it on its next append."""
    stream_ts = control.metadata.payload.get("stream") if control.metadata else None
    if not stream_ts:
        return
    payload = {k: v for k, v in control.metadata.payload.items() if k != "stream"}
    slack.stop_stream(channel, stream_ts, None, aborted_metadata(payload, by_user, reason), priority=USER_ACTION)


def _tell(slack: SlackGateway, action: MessageAction, text: str) -> None:
    slack.post_ephemeral(action.channel, action.user, text, thread_ts=action.message.thread_ts)
