"""What test_requests.py and test_requests_events.py share: the secrets and content types they send,
a DM question, what the bot wrote or asked for a channel, and the check that nothing happened."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from flows import ASKER, wait_settled
from harness import message_event

ACCESS_TOKEN = "right-access-token-0123456789"
SLACK_WRITES = ("chat.postMessage", "chat.update", "chat.delete", "chat.postEphemeral")
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


# --- small helpers ----------------------------------------------------------------------------
def question(channel: str, **extra) -> dict:
    """A DM question that the bot would answer if the request were accepted.

    Its text names the channel, so a model request for it can be recognised."""
    return message_event(channel, ASKER, f"what is new in {channel}?", "1700000000.000100", **extra)


def writes_to(slack, channel: str) -> list:
    return [c for method in SLACK_WRITES for c in slack.calls_of(method) if c.params.get("channel") == channel]


def model_requests_for(openai_server, channel: str) -> list:
    return [r for r in openai_server.requests if channel in json.dumps(r.body)]


def placeholders(slack, channel: str) -> list:
    return [c for c in slack.calls_of("chat.postMessage") if c.params.get("channel") == channel]


@pytest.fixture
def nothing_happens(bots, slack, openai_server, channel):
    """Call it after the requests with the bot and the decision it states in its log. It waits for that
    decision, checks what the bot handed to a background answer (every answer starts with a "handed
    off" line, written before the acknowledgement) and waits for those jobs to end, then checks that it
    neither wrote to the test's channel, nor opened a view, nor asked the model. No sleep: once nothing
    is handed off, or what was has ended, nothing comes later."""
    marks = {id(bot): bot.log_mark() for bot in bots.all()}  # a bot started during the test: all its log
    views_before = len(slack.calls_of("views.open"))

    def check(bot, decision: str, count: int = 1, handed_off: int = 0, **fields):
        since = marks.get(id(bot), 0)
        bot.wait_for_log(message=decision, since=since, count=count, **fields)
        handed = bot.logged(since, message="handed off")
        assert len(handed) == handed_off
        for job in handed:  # a job decided to stay quiet: wait until it has returned
            wait_settled(bot, job["event_id"], since=since)
        assert writes_to(slack, channel) == []
        assert slack.calls_of("views.open")[views_before:] == []
        assert model_requests_for(openai_server, channel) == []

    return check


def acknowledged(response, status: int = 200) -> None:
    assert response.status == status, response.body
    assert response.headers.get("X-Slack-No-Retry") == "1"
    assert response.headers.get("Content-Type", "").startswith("application/json")


def form(payload) -> bytes:
    return urllib.parse.urlencode({"payload": payload if isinstance(payload, str) else json.dumps(payload)}).encode()


def bot_reply(channel: str) -> dict:
    return {"type": "message", "ts": "1700000000.000200", "thread_ts": "1700000000.000100", "user": "UBOT",
            "bot_id": "BBOT", "app_id": "AAPP", "text": f"an answer in {channel}"}
