"""*Delete message*: the message shortcut that deletes one of the bot's answers, every part of it.

Only the person who asked may delete (``answer_parts.asked_answer``). A
deletion Slack keeps refusing past the person's wait is reported with what is
still there; an answer still being written stops as soon as one part is gone.
"""
from __future__ import annotations

import time

from threadwise.slack.messages import StillRateLimited
from threadwise import logs
from threadwise.state.stop_records import StopReason, StopSignal
from threadwise.interactions.answer_parts import asked_answer
from threadwise.interactions.notices import PERSON_WAITS, SLACK_BUSY, tell
from threadwise.interactions.services import Services
from threadwise.slack.events import MessageAction

log = logs.get(__name__)


def handle(action: MessageAction, services: Services) -> None:
    slack, stops = services.slack, services.stops
    parts = asked_answer(action, slack, verb="delete")
    if parts is None:
        return
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
        stops.reach(action.channel, str(question), StopSignal(StopReason.DELETED, action.user), wait=0.0)
    if left:
        log.warning("answer not deleted: Slack refused", channel=action.channel, parts=len(parts.messages),
                    left=len(left))
        return tell(slack, action, SLACK_BUSY.format(verb="delete") if len(left) == len(parts.messages) else
                    f"Slack is too busy right now: {len(left)} of the answer's {len(parts.messages)} messages "
                    "are still there. Please delete them again in a moment.")
    log.info("answer deleted", channel=action.channel, parts=len(parts.messages))
    slack.open_notice(action.trigger_id, "Deleted", "The answer was deleted.")
