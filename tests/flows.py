"""Small steps the end-to-end tests share: a person writes, the bot answers."""
from __future__ import annotations

import itertools

from harness import message_event

ASKER = "UASKER"
FINAL_STATUSES = ("done", "error", "stopped")
_shared = itertools.count(1)


def say(bot, slack, channel: str, text: str, *, user: str = ASKER, thread_ts: str | None = None,
        channel_type: str = "im", event_type: str = "message", **extra):
    """A person posts in Slack; Slack delivers the event to the bot. Returns (ts, HTTP response)."""
    slack.invite(channel, slack.bot_user_id)  # Slack delivers a conversation's messages to its members only
    ts = slack.add_message(channel, user, text, thread_ts=thread_ts)
    event = message_event(channel, user, text, ts, channel_type=channel_type, thread_ts=thread_ts,
                          event_type=event_type, **extra)
    return ts, bot.send_event(event)


def shared_channel(slack, *people: str) -> str:
    """A public channel of the test's own with the bot and ``people`` in it (mention the bot there)."""
    channel = f"C{next(_shared):06d}"
    slack.add_channel(channel, members=[slack.bot_user_id, *people])
    return channel


def bot_replies(slack, channel: str, thread_ts: str) -> list[dict]:
    return [m for m in slack.thread(channel, thread_ts) if m.get("bot_id") == slack.bot_id and m["ts"] != thread_ts]


def replies_to(slack, channel: str, question_ts: str) -> list[dict]:
    """The bot's messages answering one question (all parts), oldest first."""
    return [m for m in slack.messages(channel)
            if m.get("bot_id") == slack.bot_id
            and (m.get("metadata") or {}).get("event_payload", {}).get("question") == question_ts]


def is_final(message: dict) -> bool:
    payload = (message.get("metadata") or {}).get("event_payload", {})
    return payload.get("status") in FINAL_STATUSES


def wait_answer(slack, channel: str, question_ts: str, timeout: float = 20) -> list[dict]:
    """Wait until the answer to ``question_ts`` is final; returns its parts."""
    def finished(fake):
        parts = replies_to(fake, channel, question_ts)
        return parts if parts and is_final(parts[-1]) else None

    return slack.wait_for(finished, timeout=timeout)


def answer_text(parts: list[dict]) -> str:
    return "".join(p["text"] for p in parts)


def markdown_of(message: dict) -> str:
    return "".join(b.get("text", "") for b in message.get("blocks") or [] if b.get("type") == "markdown")


def updates_of(slack, channel: str, ts: str):
    return [c for c in slack.calls_of("chat.update") if c.params.get("channel") == channel and c.params.get("ts") == ts]


def wait_settled(process, event_id: str, deliveries: int = 1, since: int = 0, timeout: float = 20) -> list[dict]:
    """Until every delivery of ``event_id`` that ``process`` took (since the log mark ``since``) has
    ended, whatever it decided: the dispatcher (or the Pub/Sub worker) logs "job ended" once the job
    returns, after which that delivery writes nothing more. The positive signal before checking that
    nothing more was written."""
    return process.wait_for_log(timeout, since, deliveries, message="job ended", event_id=event_id)


def handed_off(process, since: int = 0) -> list[str]:
    """The event ids ``process`` handed to an answer job since the log mark ``since``, in order."""
    return [e["event_id"] for e in process.logged(since, message="handed off")]
