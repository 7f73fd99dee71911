"""The asker's own newer question in a thread stops their answers still being written there.

Part of the answer loop (the responder calls it before asking the model), not a
person's interaction: the earlier answers are signalled wherever they run, and
each writes its own "superseded" marker. Only the asker's own: another person's
question never stops someone else's answer; it waits for it (``turns.py``).
"""
from __future__ import annotations

from slack_client import SlackGateway

from threadwise.slack.messages import SlackMessage
from threadwise.answering.signals import StopBoard
from threadwise.state.stop_records import StopReason, StopSignal
from threadwise.slack.events import REPLY_EVENT_TYPE, Ask
from threadwise.slack.reply_format import STATUS_STREAMING


def supersede(ask: Ask, thread: list[SlackMessage], slack: SlackGateway, stops: StopBoard) -> int:
    """The asker's newer question stops their answers still being written in the thread (signalled,
    wherever they run; this process's answers with no reply shown yet too). Returns how many."""
    signal = StopSignal(StopReason.SUPERSEDED, ask.user)
    stopped = stops.supersede_here(ask.channel, ask.thread_ts, ask.ts, signal, asker=ask.user)
    for message in thread:
        meta = message.metadata
        if (meta and meta.event_type == REPLY_EVENT_TYPE and meta.payload.get("status") == STATUS_STREAMING
                and meta.payload.get("asker") == ask.user
                and float(message.ts) < float(ask.ts) and slack.is_own(message) and meta.payload.get("question")
                and not stops.runs_here(ask.channel, str(meta.payload["question"]))):  # (signalled above)
            # (no wait: the newer answer does not wait for the older one to acknowledge)
            stops.request_elsewhere(ask.channel, str(meta.payload["question"]), signal, wait=0.0)
            stopped += 1
    return stopped
