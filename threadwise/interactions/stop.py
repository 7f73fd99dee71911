"""*Stop generating*: the message shortcut and the Stop button under an answer being written.

Stop reaches the running answer as a signal (``answering.signals``): the answer
closes its model stream and writes its own stop marker. Only when no process
acknowledges it (nobody runs the answer any more) does the handler write the
stopped state itself. Every write a person waits for is checked: Slack's 429
is waited out for a bounded time, and the person is told what really happened.
"""
from __future__ import annotations

import enum
import time

from slack_client import SlackGateway

from threadwise.slack.messages import SlackMessage, WriteStatus
from threadwise import logs
from threadwise.answering.signals import StopBoard
from threadwise.state.stop_records import StopReason, StopSignal
from threadwise.interactions.answer_parts import AnswerParts, asked_answer, by_the_bot
from threadwise.interactions.notices import PERSON_WAITS, SLACK_BUSY, tell
from threadwise.interactions.services import Services
from threadwise.slack.events import REPLY_EVENT_TYPE, MessageAction, Via
from threadwise.slack.rate_budget import USER_ACTION
from threadwise.slack.reply_format import (PLACEHOLDER_TEXT, STATUS_STOPPED, STATUS_STREAMING, aborted_metadata,
                                           fallback_text, final_blocks, stopped_marker, with_marker)

log = logs.get(__name__)


def handle(action: MessageAction, services: Services) -> None:
    slack, stops = services.slack, services.stops
    if not by_the_bot(action.message, slack) and action.message.user == action.user:
        return stop_question(action, slack, stops)
    parts = asked_answer(action, slack, verb="stop")
    if parts is not None:
        stop(action, parts, slack, stops)


def stop(action: MessageAction, parts: AnswerParts, slack: SlackGateway, stops: StopBoard) -> None:
    streaming = parts.streaming
    if not streaming:
        message = "This answer was already stopped." if parts.stopped else "This answer has already finished."
        return tell(slack, action, message)
    question = streaming[0].metadata.payload.get("question")
    signal = StopSignal(StopReason.STOPPED, action.user)
    if question and stops.reach(action.channel, str(question), signal):
        log.info("answer stopped", channel=action.channel, ts=streaming[-1].ts, via=action.via.value,
                 reached="signal")
    else:
        ended = _stop_unattended(action.channel, streaming, action.user, slack)
        if ended is Unattended.REFUSED:
            return tell(slack, action, SLACK_BUSY.format(verb="stop"))
        if ended is Unattended.ALREADY_OVER:
            return tell(slack, action, "This answer has already finished.")
    if action.via is Via.SHORTCUT:  # (the button needs no modal: the answer changes under it)
        slack.open_notice(action.trigger_id, "Stopped", "Generating stopped. The answer ends where it was.")


def stop_question(action: MessageAction, slack: SlackGateway, stops: StopBoard) -> None:
    """*Stop generating* on one's own question: for an answer that has no reply to press it on yet."""
    question = action.message
    if stops.reach(action.channel, question.ts, StopSignal(StopReason.STOPPED, action.user)):
        log.info("answer stopped", channel=action.channel, question=question.ts, via=action.via.value,
                 reached="signal")
        return slack.open_notice(action.trigger_id, "Stopped", "Generating stopped. The answer ends where it was.")
    thread = slack.thread(action.channel, question.thread_ts or question.ts, priority=USER_ACTION)
    replies = [m for m in thread if slack.is_own(m) and m.metadata is not None
               and m.metadata.payload.get("question") == question.ts]
    if replies:
        return stop(action, AnswerParts(replies), slack, stops)
    tell(slack, action, "No answer to this message is being written.")


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
        shown = "" if fresh.text == PLACEHOLDER_TEXT else fresh.text
        text = with_marker(shown, stopped_marker(by_user, StopReason.STOPPED.value))
        while True:
            outcome = slack.update(channel, fresh.ts, fallback_text(text), final_blocks(text),
                                   aborted_metadata(meta.payload, by_user, StopReason.STOPPED.value, STATUS_STOPPED),
                                   priority=USER_ACTION)
            if outcome.status is not WriteStatus.RATE_LIMITED or time.monotonic() + outcome.retry_after > deadline:
                break
            time.sleep(outcome.retry_after)
        if outcome.refused_for_now:  # a 429 past the person's wait, or a transient failure
            log.warning("stop not written: Slack refused", channel=channel, ts=fresh.ts, status=outcome.status)
            return Unattended.REFUSED
        stop_native_stream(channel, fresh, by_user, StopReason.STOPPED, slack)
        ended = Unattended.STOPPED
    if ended is Unattended.STOPPED:
        log.info("answer stopped", channel=channel, ts=streaming[-1].ts, reached="unattended reply ended here")
    return ended


def stop_native_stream(channel: str, control: SlackMessage, by_user: str, reason: StopReason,
                       slack: SlackGateway) -> None:
    """STREAM_MODE=native: end the stream the control message names; the writer sees it on its next append."""
    stream_ts = control.metadata.payload.get("stream") if control.metadata else None
    if not stream_ts:
        return
    payload = {k: v for k, v in control.metadata.payload.items() if k != "stream"}
    slack.stop_stream(channel, stream_ts, None, aborted_metadata(payload, by_user, reason.value),
                     priority=USER_ACTION)
