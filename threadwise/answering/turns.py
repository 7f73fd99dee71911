"""Another person's question in a thread waits for the answers still being written there.

Only the asker's own newer question stops their running answer (``supersede.py``).
Someone else's question is answered after it: before its input is built, the
answer waits while an answer to an earlier question in the thread is still being
written, then reads the thread again, so the finished answer is part of what the
model reads. Its placeholder (or the thread status) says it is waiting; no model
request is made while it waits, and Stop on it ends it there.

Wherever the earlier answer runs: in this process the stop board knows it (and
when it ends); in another process (Pub/Sub workers, several instances) its reply
in the thread says so, by its metadata status, read again every ``POLL_INTERVAL``.
Only answers to *earlier* questions are waited for, so no two answers wait for
each other; and never longer than ``WAIT_LIMIT`` (a reply left "streaming" by a
worker that died is resumed by its redelivery, but should not hold a question up
for long). The claim's lease is renewed meanwhile by its own thread (handoff/claims.py).
A waiting answer holds its stream slot (``DISPATCH_WORKERS``); an earlier answer still
queued for one gets the next slot any other answer frees.
"""
from __future__ import annotations

import time
from typing import Callable

from slack_client import SlackGateway

from threadwise import logs
from threadwise.answering.signals import RunningAnswer, StopBoard
from threadwise.slack.events import ABORTED_EVENT_TYPE, REPLY_EVENT_TYPE, Ask
from threadwise.slack.messages import SlackMessage
from threadwise.slack.reply_format import STATUS_STOPPING, STATUS_STREAMING

log = logs.get(__name__)

# Three minutes: longer than most answers take, and short enough that the waiting answer itself still
# fits a Pub/Sub job's deadline (JOB_DEADLINE_SECONDS, 540 by default) after it.
WAIT_LIMIT = 180.0
POLL_INTERVAL = 2.0  # seconds between reads of the thread while an answer elsewhere is written (Tier 3)
_TICK = 0.05  # how soon an answer ending here, or a Stop, is noticed
WAITING_STATUS = "Waiting for the answer above…"
RESUMED_STATUS = "Thinking…"


def wait_for_earlier_answers(ask: Ask, thread: list[SlackMessage], slack: SlackGateway, stops: StopBoard,
                             running: RunningAnswer, show: Callable[[str], None],
                             limit: float = WAIT_LIMIT) -> list[SlackMessage]:
    """Wait while other people's earlier answers in the thread are written; the thread to answer from
    (read again when it waited). Returns early when ``running`` is stopped: the caller then asks nothing."""
    deadline = time.monotonic() + limit
    waited = False
    while True:
        here = [a for a in stops.earlier_here(ask.channel, ask.thread_ts, ask.ts)
                if a.asker != ask.user]  # (the asker's own were superseded)
        elsewhere = _written_elsewhere(ask, thread, slack, stops)
        if not here and not elsewhere:
            if waited:
                log.info("earlier answer ended; answering", channel=ask.channel, event_id=ask.event_id)
                show(RESUMED_STATUS)
            return thread
        if not waited:
            log.info("waiting for an earlier answer in the thread", channel=ask.channel, event_id=ask.event_id,
                     here=len(here), elsewhere=len(elsewhere))
            show(WAITING_STATUS)
            waited = True
        if running.stop is not None or time.monotonic() >= deadline:
            if running.stop is None:
                log.warning("earlier answer still running; answering anyway", channel=ask.channel,
                            event_id=ask.event_id, waited_s=limit)
            return thread
        until = min(deadline, time.monotonic() + POLL_INTERVAL) if elsewhere else deadline
        while (time.monotonic() < until and running.stop is None
               and not (here and all(a.ended.is_set() for a in here))):
            time.sleep(_TICK)
        if running.stop is None:
            thread = slack.thread(ask.channel, ask.thread_ts)


def _written_elsewhere(ask: Ask, thread: list[SlackMessage], slack: SlackGateway, stops: StopBoard) -> list[str]:
    """The questions (ts) of other people's earlier answers whose replies in the thread are still being
    written by another process (streaming, or flagged by a Stop that has not ended them yet)."""
    questions = []
    for message in thread:
        meta = message.metadata
        if meta is None or not slack.is_own(message):
            continue
        status, question = meta.payload.get("status"), str(meta.payload.get("question") or "")
        writing = ((meta.event_type == REPLY_EVENT_TYPE and status == STATUS_STREAMING)
                   or (meta.event_type == ABORTED_EVENT_TYPE and status == STATUS_STOPPING))
        if (writing and question and meta.payload.get("asker") != ask.user and _before(question, ask.ts)
                and not stops.runs_here(ask.channel, question)):
            questions.append(question)
    return questions


def _before(question_ts: str, ts: str) -> bool:
    try:
        return float(question_ts) < float(ts)
    except ValueError:  # (metadata another app wrote) not a question of ours
        return False
