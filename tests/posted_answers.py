"""Answers posted as the bot writes them, and clicks on them through the interactions registry
(the real SlackGateway against FakeSlack), for the Stop, Delete and supersede tests (fixtures)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from flows import shared_channel
from threadwise.answering.signals import StopBoard
from threadwise.interactions import registry
from threadwise.slack.events import MessageAction, TargetMessage, Via
from threadwise.slack.reply_format import ReplyTag, reply_metadata, streaming_blocks

ASKER = "U1"
# What a test clicks, by the registered ids (the Stop button's action_id is the Stop shortcut's callback_id).
CLICKS = {"stop": "abort_openai_api", "delete": "delete_message"}


class Answer:
    """One answer in a thread of ``channel``: the question, and the bot's parts."""

    def __init__(self, slack, gateway, channel: str, asker: str | None = ASKER, stops: StopBoard | None = None):
        self.slack, self.gateway, self.channel = slack, gateway, channel
        self.stops = stops or StopBoard()  # (no store: only answers started on it can be reached)
        self.question = slack.add_message(channel, asker or "U9", "a question")
        self.tag = ReplyTag(asker=asker, question_ts=self.question) if asker else None
        self.parts: list[str] = []

    def post(self, text: str, status: str = "streaming", event_type: str | None = None, blocks=None,
             **extra) -> str:
        if self.tag is None:
            metadata = {"event_type": "assistant_reply", "event_payload": {"status": status, **extra}}
        else:
            tag = self.tag if not self.parts else ReplyTag(self.tag.asker, self.question, self.parts[0],
                                                           len(self.parts) + 1)
            metadata = reply_metadata(tag, status, **extra)
        if event_type:
            metadata["event_type"] = event_type
        blocks = streaming_blocks(text) if blocks is None else blocks
        ts = self.gateway.post(self.channel, self.question, text, blocks, metadata).ts
        self.parts.append(ts)
        return ts

    def click(self, ts: str, kind: str = "stop", by: str = ASKER, via: str = "shortcut",
              trigger_id: str | None = "fresh", **target) -> None:
        """``kind`` stop or delete, ``via`` shortcut or button: dispatched as the bot dispatches a click."""
        if trigger_id == "fresh":  # as Slack issues one with the interaction: valid for 3 s, once
            trigger_id = self.slack.new_trigger_id()
        self.last_trigger = trigger_id
        message = self.slack.get(self.channel, ts) or {}
        fields = dict(ts=ts, thread_ts=self.question, user=message.get("user"), bot_id=message.get("bot_id"),
                      text=message.get("text", ""), blocks=None, metadata=None)
        fields.update(target)
        action = MessageAction(CLICKS[kind], Via(via), self.channel, by, trigger_id, TargetMessage(**fields))
        assert registry.registered(action.via, action.id), f"no {kind} {via} is registered"
        registry.dispatch(action, SimpleNamespace(slack=self.gateway, stops=self.stops))

    def metadata(self, ts: str) -> dict | None:
        return (self.slack.get(self.channel, ts) or {}).get("metadata")

    def exists(self, ts: str) -> bool:
        message = self.slack.get(self.channel, ts)
        return message is not None and message.get("subtype") != "tombstone"


@pytest.fixture
def channel(slack) -> str:
    """A channel where the asker, other people (U2, U9) and the bot all are: only there can someone
    other than the asker see an answer and click on it."""
    return shared_channel(slack, ASKER, "U2", "U9")


@pytest.fixture
def answer(slack, gateway, channel) -> Answer:
    return Answer(slack, gateway, channel)


def ephemerals(slack, channel) -> list[dict]:
    return [e for e in slack.ephemerals if e["channel"] == channel]


def writes(slack, since: int) -> list[str]:
    return [c.method for c in slack.calls[since:] if c.method not in ("conversations.replies", "auth.test")]


def told(slack, channel) -> str:
    [note] = ephemerals(slack, channel)
    return note["text"]
