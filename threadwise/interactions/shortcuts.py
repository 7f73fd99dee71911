"""Quick actions done inline, within Slack's 3 seconds: stop an answer, delete one.

Only the person who asked may stop or delete an answer; the asker is read
from the reply's metadata, fresh from Slack, never from the click itself.
Stop reaches the running answer as a signal (``answer_signals``): the answer
closes its model stream and writes its own stop marker. Only when no process
acknowledges it (nobody runs the answer any more) does the handler write the
stopped state itself. Every write a person waits for is checked: Slack's 429
is waited out for a bounded time, and the person is told what really happened.
"""
from __future__ import annotations

from dataclasses import dataclass

import enum
import time

from threadwise import logs
from threadwise.answering.signals import StopBoard
from threadwise.state.stop_records import StopSignal
from threadwise.slack.events import ABORTED_EVENT_TYPE, BOT_REPLY_EVENT_TYPES, REPLY_EVENT_TYPE, MessageAction
from threadwise.slack.reply_format import (PLACEHOLDER_TEXT, STATUS_STOPPED, STATUS_STREAMING, aborted_metadata, fallback_text,
                          final_blocks, stopped_marker, with_marker)
from threadwise.slack.rate_budget import USER_ACTION
from slack_client import SlackGateway, SlackMessage, StillRateLimited
from threadwise.slack.refusals import MissingScope

log = logs.get(__name__)

NOT_A_REPLY = "This works only on Threadwise's answers; nothing was changed."
SLACK_BUSY = "Slack is too busy to {verb} the answer right now; nothing was changed. Please try again in a moment."
# A person's own writes wait out Slack's 429 for at most this long (Slack wants its 200 within 3 s).
PERSON_WAITS = 2.0


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


def handle(action: MessageAction, slack: SlackGateway, stops: StopBoard) -> None:
    try:
        _handle(action, slack, stops)
    except MissingScope as missing:  # (logged with the scope) the person who clicked learns why nothing happened
        _tell(slack, action, missing.sentence)


def _handle(action: MessageAction, slack: SlackGateway, stops: StopBoard) -> None:
    me = slack.identity()
    target = action.message
    thread_ts = target.thread_ts
    if target.user != me.user_id and (target.bot_id is None or target.bot_id != me.bot_id):
        if action.kind == "stop" and target.user == action.user:
            return stop_question(action, slack, stops)
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
        stop(action, parts, slack, stops)
    else:
        delete(action, parts, slack, stops)


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


def stop(action: MessageAction, parts: AnswerParts, slack: SlackGateway, stops: StopBoard) -> None:
    streaming = parts.streaming
    if not streaming:
        message = "This answer was already stopped." if parts.stopped else "This answer has already finished."
        return _tell(slack, action, message)
    question = streaming[0].metadata.payload.get("question")
    signal = StopSignal("stopped", action.user)
    if question and stops.reach(action.channel, str(question), signal):
        log.info("answer stopped", channel=action.channel, ts=streaming[-1].ts, via=action.via, reached="signal")
    else:
        ended = _stop_unattended(action.channel, streaming, action.user, slack)
        if ended is Unattended.REFUSED:
            return _tell(slack, action, SLACK_BUSY.format(verb="stop"))
        if ended is Unattended.ALREADY_OVER:
            return _tell(slack, action, "This answer has already finished.")
    if action.via == "shortcut":
        slack.open_notice(action.trigger_id, "Stopped", "Generating stopped. The answer ends where it was.")


def stop_question(action: MessageAction, slack: SlackGateway, stops: StopBoard) -> None:
    """*Stop generating* on one's own question: for an answer that has no reply to press it on yet."""
    question = action.message
    if stops.reach(action.channel, question.ts, StopSignal("stopped", action.user)):
        log.info("answer stopped", channel=action.channel, question=question.ts, via=action.via, reached="signal")
        return slack.open_notice(action.trigger_id, "Stopped", "Generating stopped. The answer ends where it was.")
    thread = slack.thread(action.channel, question.thread_ts or question.ts, priority=USER_ACTION)
    replies = [m for m in thread if slack.is_own(m) and m.metadata is not None
               and m.metadata.payload.get("question") == question.ts]
    if replies:
        return stop(action, AnswerParts(replies), slack, stops)
    _tell(slack, action, "No answer to this message is being written.")


class Unattended(enum.Enum):
    """How ending a reply nobody runs went."""

    STOPPED = "stopped"
    ALREADY_OVER = "already over"  # finished, stopped or gone meanwhile: nothing was left to stop
    REFUSED = "refused"  # Slack refused the write past the person's wait


def _stop_unattended(channel: str, streaming: list[SlackMessage], by_user: str, slack: SlackGateway) -> Unattended:
    """Nobody acknowledged the stop: no process runs this answer (it died, or its store is not ours).
    The reply is ended here, as it stands, re-read first so a final that landed meanwhile is kept."""
    deadline = time.monotonic() + PERSON_WAITS
    ended = Unattended.ALREADY_OVER
    for message in streaming:
        fresh = slack.find(channel, message.ts, message.thread_ts, priority=USER_ACTION)
        meta = fresh.metadata if fresh else None
        if meta is None or meta.event_type != REPLY_EVENT_TYPE or meta.payload.get("status") != STATUS_STREAMING:
            continue  # gone, finished or stopped meanwhile
        text = with_marker("" if fresh.text == PLACEHOLDER_TEXT else fresh.text, stopped_marker(by_user, "stopped"))
        while True:
            outcome = slack.update(channel, fresh.ts, fallback_text(text), final_blocks(text),
                                   aborted_metadata(meta.payload, by_user, "stopped", STATUS_STOPPED),
                                   priority=USER_ACTION)
            if outcome.status != "rate_limited" or time.monotonic() + outcome.retry_after > deadline:
                break
            time.sleep(outcome.retry_after)
        if outcome.status == "rate_limited" or (outcome.status == "failed" and outcome.error == "transient"):
            log.warning("stop not written: Slack refused", channel=channel, ts=fresh.ts, status=outcome.status)
            return Unattended.REFUSED
        stop_native_stream(channel, fresh, by_user, "stopped", slack)
        ended = Unattended.STOPPED
    if ended is Unattended.STOPPED:
        log.info("answer stopped", channel=channel, ts=streaming[-1].ts, reached="unattended reply ended here")
    return ended


def delete(action: MessageAction, parts: AnswerParts, slack: SlackGateway, stops: StopBoard) -> None:
    question = next((m.metadata.payload.get("question") for m in parts.messages if m.metadata), None)
    deadline = time.monotonic() + PERSON_WAITS
    left = []
    for message in parts.messages:
        try:
            slack.delete(action.channel, message.ts, give_up_after=max(0.0, deadline - time.monotonic()))
        except StillRateLimited:
            left.append(message)
    if question and parts.streaming and len(left) < len(parts.messages):
        # The answer stops at once (its next write would only find the message gone); while Slack refused
        # every deletion it goes on, so that no half answer is left without its final text.
        stops.reach(action.channel, str(question), StopSignal("deleted", action.user), wait=0.0)
    if left:
        log.warning("answer not deleted: Slack refused", channel=action.channel, parts=len(parts.messages),
                    left=len(left))
        return _tell(slack, action, SLACK_BUSY.format(verb="delete") if len(left) == len(parts.messages) else
                     f"Slack is too busy right now: {len(left)} of the answer's {len(parts.messages)} messages "
                     "are still there. Please delete them again in a moment.")
    log.info("answer deleted", channel=action.channel, parts=len(parts.messages))
    slack.open_notice(action.trigger_id, "Deleted", "The answer was deleted.")


def supersede(ask, thread: list[SlackMessage], slack: SlackGateway, stops: StopBoard) -> int:
    """A newer question in a thread stops the answers still being written there (signalled, wherever
    they run; this process's answers with no reply shown yet too)."""
    signal = StopSignal("superseded", ask.user)
    stopped = stops.supersede_here(ask.channel, ask.thread_ts, ask.ts, signal)
    for message in thread:
        meta = message.metadata
        if (meta and meta.event_type == REPLY_EVENT_TYPE and meta.payload.get("status") == STATUS_STREAMING
                and float(message.ts) < float(ask.ts) and slack.is_own(message) and meta.payload.get("question")
                and not stops.runs_here(ask.channel, str(meta.payload["question"]))):  # (signalled above)
            # (no wait: the newer answer does not wait for the older one to acknowledge)
            stops.request_elsewhere(ask.channel, str(meta.payload["question"]), signal, wait=0.0)
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
