"""The answer loop: placeholder → context → model stream → debounced updates → final text.

Knows nothing of HTTP, Flask or Pub/Sub: it takes an ``Ask`` and the services
it needs, so every adapter (Cloud Functions, a local server, later Socket
Mode) runs the same answer.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from threadwise import logs
from threadwise.answering import metering
from threadwise.answering.metering import AnswerEnd, Meter, Spending
from threadwise.answering.outcomes import AnswerStatus
from threadwise.answering.signals import RunningAnswer, StopBoard
from threadwise.config import AnsweringSettings, ModelSettings
from threadwise.answering.model_input import QuestionTooLong, drop_older_half, earlier_files, history_turns, trim_to_budget
from threadwise.model.client import open_stream
from threadwise.model.deadline import FirstTokenDeadline
from threadwise.model.errors import ModelError, ModelErrorKind, as_model_error, timeout_error
from threadwise.model.types import ModelInput
from threadwise.slack.events import ABORTED_EVENT_TYPE, Ask
from threadwise.knowledge.toolbox import Asker, KnowledgeTool, ToolBox
from threadwise.answering import audience
from threadwise.answering.links import channel_canvas, read_links
from threadwise.slack.reply_format import (PLACEHOLDER_TEXT, STATUS_STREAMING, THINKING_STATUS, ReplyTag, error_marker,
                          reply_metadata, sources_section, streaming_blocks)
from threadwise.answering.supersede import supersede
from threadwise.answering.turns import wait_for_earlier_answers
from slack_client import SlackGateway
from threadwise.slack.messages import SlackMessage
from threadwise.slack.refusals import MissingScope
from threadwise.answering.replies.native import NativeStreamingReply
from threadwise.answering.replies.streaming import FinalReport, StreamingReply
from threadwise.answering.files import FileLimits, FilesRead, read_files
from threadwise.state.usage_records import UTC, UsageOutcome

if TYPE_CHECKING:
    from threadwise.usage.spending_rules import SpendingRules

log = logs.get(__name__)


@dataclass(frozen=True)
class Services:
    """What an answer uses. Its own settings and the model's come as their groups; the few values it needs
    from other groups are named one by one, never the whole Settings (``runtime.answer_services``)."""

    answering: AnsweringSettings
    model: ModelSettings
    slack: SlackGateway
    system_prompt: str
    bot_token: str  # the Slack group's: shared files download with it
    slack_api_url: str  # the Slack group's: the bot token goes only to this host
    tool_result_chars: int  # the knowledge group's bounds on the model's tool calls
    tool_max_rounds: int
    tools: dict[str, KnowledgeTool] = field(default_factory=dict)  # knowledge tools switched on
    stops: StopBoard = field(default_factory=StopBoard)  # the answers this process runs, for Stop to reach
    meter: Meter | None = None  # the usage ledger and its prices; None: the usage is only logged
    spending_rules: SpendingRules | None = None  # allowlists, budgets, alerts (usage/spending_rules.py); None: none
    admin_users: frozenset[str] = frozenset()  # the usage group's ADMIN_USERS: whom a quota error addresses
    reach: audience.ReachRules = audience.ReachRules()  # the knowledge group's: who may read what (audience.py)


@dataclass(frozen=True)
class Outcome:
    marker: str | None
    status: AnswerStatus  # DONE or ERROR (STOPPED is read from the reply)
    ledger_outcome: UsageOutcome | None = None  # set: the ledger records this outcome (a budget's refusal)


@dataclass(frozen=True)
class OpenedAnswer:
    """A question shown as being answered (its placeholder posted, or its thread status set), waiting
    for a model stream slot."""

    ask: Ask
    tag: ReplyTag
    placeholder_ts: str | None  # None: no room in the update budget, the thread status shows it instead
    thread: list[SlackMessage] | None  # read already (participation check), or None
    budget_key: int  # the answer in the write budget (its reserved final)
    running: RunningAnswer  # where Stop, Delete and a newer question reach it
    started: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(UTC))  # (the ledger's)


def answer(ask: Ask, services: Services) -> None:
    opened = open_answer(ask, services)
    if opened is not None:
        complete_answer(opened, services)


def open_answer(ask: Ask, services: Services) -> OpenedAnswer | None:
    """Post the placeholder (with its Stop button) at once; None when the bot should stay quiet."""
    slack = services.slack
    thread: list[SlackMessage] | None = None
    if ask.needs_participation:
        # A channel thread without a mention: answer only where the bot already takes part.
        try:
            thread = slack.thread(ask.channel, ask.thread_ts)
        except MissingScope:  # (logged with the scope) without the thread, whether it takes part is unknown
            return None
        if not any(slack.is_own(m) for m in thread):
            log.info("not part of this thread", channel=ask.channel, event_id=ask.event_id)
            return None
    if services.spending_rules is not None and services.spending_rules.turned_away(ask):  # (it said so, once per thread)
        return None
    tag = ReplyTag(asker=ask.user, question_ts=ask.ts)
    key = slack.budget.stream_started()
    running = services.stops.start(ask.channel, ask.ts, ask.thread_ts, ask.user)
    if services.answering.stream_mode != "native" and not slack.budget.reserve_streaming(key):
        # Many answers at once: chat.update's workspace-wide budget is kept for final texts. The thread
        # status shows the answer is coming; its text is posted when it has some (chat.postMessage).
        shown = slack.set_thread_status(ask.channel, ask.thread_ts, THINKING_STATUS)
        log.info("answering", event_id=ask.event_id, channel=ask.channel, reply_ts=None,
                 shown="thread status" if shown else "nothing yet")
        return OpenedAnswer(ask, tag, None, thread, key, running)
    placeholder = slack.post_until_landed(
        ask.channel, ask.thread_ts, PLACEHOLDER_TEXT, streaming_blocks(""), reply_metadata(tag, STATUS_STREAMING)
    )
    if not placeholder.ts:
        log.error("could not post the placeholder", event_id=ask.event_id, channel=ask.channel,
                  error=placeholder.error)
        slack.budget.stream_ended(key)
        services.stops.end(running)
        return None
    log.info("answering", event_id=ask.event_id, channel=ask.channel, reply_ts=placeholder.ts)
    return OpenedAnswer(ask, tag, placeholder.ts, thread, key, running)


def resume_answer(ask: Ask, services: Services, reply_ts: str) -> OpenedAnswer | None:
    """A job redelivered after its worker died: reuse the reply it had already posted.

    Continuation parts of the interrupted answer are deleted and the first
    message goes back to a placeholder, so the answer is written again, whole,
    in the same place. None when the person deleted the reply meanwhile.
    """
    slack = services.slack
    thread = slack.thread(ask.channel, ask.thread_ts)
    reply = next((m for m in thread if m.ts == reply_ts), None)
    if reply is None:
        log.info("reply gone; nothing to resume", event_id=ask.event_id)
        return None
    continuations = [m for m in thread if slack.is_own(m) and m.metadata is not None
                     and m.metadata.payload.get("answer") == reply_ts]
    for part in continuations:
        slack.delete(ask.channel, part.ts)
    tag = ReplyTag(asker=ask.user, question_ts=ask.ts)
    if reply.metadata is None or reply.metadata.event_type != ABORTED_EVENT_TYPE:
        # (A reply the asker stopped keeps its flag: the loop will end it at once.)
        slack.update_until_landed(ask.channel, reply_ts, PLACEHOLDER_TEXT, streaming_blocks(""),
                                  reply_metadata(tag, STATUS_STREAMING))
    log.info("resuming answer", event_id=ask.event_id, reply_ts=reply_ts, removed_parts=len(continuations))
    gone = {m.ts for m in continuations}
    key = slack.budget.stream_started()
    slack.budget.reserve_final(key)  # (best effort: the reply exists whatever the budget says)
    running = services.stops.start(ask.channel, ask.ts, ask.thread_ts, ask.user)
    return OpenedAnswer(ask, tag, reply_ts, [m for m in thread if m.ts not in gone], key, running)


def complete_answer(opened: OpenedAnswer, services: Services, still_owner=lambda: True,
                    on_first_message=None) -> FinalReport:
    """Stream the answer into the placeholder (or post it) and always end it with a final text.
    ``on_first_message(ts)``: an answer begun without a placeholder has posted its first message."""
    ask, slack = opened.ask, services.slack
    common = dict(still_owner=still_owner, running=opened.running, budget_key=opened.budget_key)
    if services.answering.stream_mode == "native":
        reply = NativeStreamingReply(slack, ask.channel, ask.thread_ts, opened.tag, opened.placeholder_ts,
                                     services.answering.stream_update_interval, **common,
                                     recipient_user=ask.user, recipient_team=ask.team_id or None)
    else:
        reply = StreamingReply(slack, ask.channel, ask.thread_ts, opened.tag, opened.placeholder_ts,
                               services.answering.stream_update_interval, on_first_message=on_first_message,
                               **common)
    outcome = Outcome(error_marker("Something went wrong on my side; please try again."), AnswerStatus.ERROR)
    spending = Spending()  # every model stream the answer opens, for the ledger
    try:
        if opened.running.stop is not None:  # stopped while it waited for a slot: no model request at all
            outcome = Outcome(None, AnswerStatus.DONE)
        else:
            thread = opened.thread
            if thread is None:
                thread = slack.thread(ask.channel, ask.thread_ts) if ask.in_thread else []
            supersede(ask, thread, slack, services.stops)  # the asker's own earlier answers stop
            thread = wait_for_earlier_answers(ask, thread, slack, services.stops, opened.running, reply.set_status)
            if opened.running.stop is None:  # (stopped while it waited: no model request at all)
                outcome = _generate(ask, thread, reply, services, spending)
            else:
                outcome = Outcome(None, AnswerStatus.DONE)
    except MissingScope as missing:  # (logged with the scope) the admin's to fix: the asker is told so
        outcome = Outcome(error_marker(missing.sentence), AnswerStatus.ERROR)
    except Exception:
        log.error("answer loop failed", event_id=ask.event_id, exc_info=True)
    finally:
        report = reply.finish(outcome.marker, outcome.status)
        services.stops.end(opened.running)
    # After the final text, so the ledger costs the asker nothing they wait for.
    metering.record(ask, services.model, services.meter, spending,
                    AnswerEnd(outcome.status, report.stop, outcome.ledger_outcome), opened.started)
    if services.spending_rules is not None:  # after the final text and the ledger: settles, maybe alerts the admins
        services.spending_rules.after_answer(ask)
    return report


def _generate(ask: Ask, thread: list[SlackMessage], reply: StreamingReply, services: Services,
              spending: Spending) -> Outcome:
    slack = services.slack
    me = slack.identity()
    private_answer = ask.channel_type == "im"
    canvas = channel_canvas(ask, slack)
    reach = audience.gate(ask, slack, services.tools, canvas is not None, services.reach)  # who reads the answer
    if canvas is not None and reach.canvas:
        ask = replace(ask, files=ask.files + (canvas,))  # read like a file shared with the question
    files = read_thread_files(ask, thread, services)
    linked = read_links(ask, slack, private_answer) if reach.links else None
    turns = history_turns(thread, ask, me.user_id, slack.is_own, files.texts, files.images)
    if linked and linked.texts:
        question = turns[-1]
        turns[-1] = replace(question, text="\n\n".join([question.text, *linked.texts]))
    budget = services.answering.context_token_budget
    try:
        model_input = trim_to_budget(services.system_prompt, turns, budget)
    except QuestionTooLong as too_long:
        return Outcome(error_marker(
            f"Your message is too long for me: about {too_long.tokens:,} tokens, and the limit is "
            f"{too_long.budget:,}. Please shorten it or split it into parts."), AnswerStatus.ERROR)
    refused = (services.spending_rules.refusal(ask, model_input.estimated_tokens)
               if services.spending_rules else None)
    if refused is not None:  # a budget has no room for this answer's worst case: no model request
        return Outcome(error_marker(refused), AnswerStatus.ERROR, ledger_outcome=UsageOutcome.BUDGET_REFUSED)
    toolbox = None
    if reach.tools:
        toolbox = ToolBox(reach.tools, Asker(ask.user, ask.channel, ask.team_id, private_answer, ask.thread_ts),
                          services.tool_result_chars, services.tool_max_rounds)
    try:
        notice = _stream_once(model_input, reply, services.model, spending, toolbox)
    except ModelError as error:
        smaller = drop_older_half(model_input) if error.kind is ModelErrorKind.CONTEXT_LENGTH_EXCEEDED else None
        if smaller is None or reply.text:
            return Outcome(error_marker(error.sentence_for(services.admin_users)), AnswerStatus.ERROR)
        # Our estimate fitted, the model's real count did not: keep the newer half, once.
        try:
            notice = _stream_once(smaller, reply, services.model, spending, toolbox)
        except ModelError as again:
            return Outcome(error_marker(again.sentence_for(services.admin_users)), AnswerStatus.ERROR)
    notes = [n for n in (notice, files.notice(), *(linked.notes if linked else []), reach.notice) if n]
    return Outcome(error_marker(" ".join(notes)) if notes else None, AnswerStatus.DONE)


def read_thread_files(ask: Ask, thread: list[SlackMessage], services: Services) -> FilesRead:
    """Every file shared in the thread, downloaded once for this answer."""
    settings = services.answering
    files = earlier_files(thread, ask, services.slack.is_own)
    if not files:
        return FilesRead({}, [])
    limits = FileLimits(settings.file_max_count, settings.file_max_bytes, settings.file_max_chars)
    slack_hosts = {urlsplit(services.slack_api_url).hostname or "slack.com"}
    return read_files(files, services.bot_token, slack_hosts, limits,
                      images_allowed=settings.model_accepts_images)


def _stream_once(model_input: ModelInput, reply: StreamingReply, settings: ModelSettings, spending: Spending,
                 toolbox: ToolBox | None = None) -> str | None:
    """Stream one model answer into the reply; its notice, if any."""
    if reply.stop:  # stopped while the input was being built: no model request at all
        return None
    stream = open_stream(settings, model_input, toolbox)
    spending.add(stream)
    reply.set_on_stop(stream.close)
    deadline = FirstTokenDeadline(stream, settings.first_token_timeout)

    def on_status(status: str) -> None:
        deadline.restart()  # a tool or another model round is progress, not silence
        reply.set_status(status)

    def may_continue(status: str) -> bool:
        deadline.restart()
        return reply.check_stop(status) is None

    stream.on_status = on_status
    stream.may_continue = may_continue
    got_text = False
    try:
        for delta in stream:
            if not got_text:
                deadline.got_text()
                got_text = True
            reply.append(delta)
            if reply.stop:
                break
    except Exception as error:
        if reply.stop:
            pass  # we closed the stream ourselves
        elif deadline.fired and not got_text:
            raise timeout_error(settings.first_token_timeout) from None
        else:
            raise as_model_error(error, settings, got_text) from None
    finally:
        deadline.cancel()
        reply.set_on_stop(None)
        _close_quietly(stream)
    if deadline.fired and not got_text and not reply.stop:
        raise timeout_error(settings.first_token_timeout)
    if stream.citations and not reply.stop:
        reply.append(sources_section(stream.citations))
    return stream.notice


def _close_quietly(stream) -> None:
    try:
        stream.close()  # closing the HTTP response is what stops the billing
    except Exception:
        pass

