"""The HTTP function's edges from issue 16: a signed body whose ``authorizations`` is malformed gets a clear
400, and the log line of a refused request does not take the sender's word for where it came from."""
from __future__ import annotations

import json
import os

import pytest

import harness
from harness import sign
from request_checks import (  # noqa: F401  (nothing_happens: a fixture)
    JSON, acknowledged, nothing_happens, placeholders, question,
)

# Slack sends a list of objects (fixtures/event_message_im.json); each of these is signed but malformed.
MALFORMED_AUTHORIZATIONS = {
    "a-number": 5,
    "an-object": {"user_id": "UBOT", "is_bot": True},
    "a-string": "UBOT",
    "a-list-of-strings": ["UBOT"],
    "a-list-with-null": [None],
    "a-list-of-lists": [[{"user_id": "UBOT"}]],
}


def _send_malformed(bot, channel: str) -> None:
    for value in MALFORMED_AUTHORIZATIONS.values():
        payload = question(channel)
        payload["authorizations"] = value
        body = json.dumps(payload).encode()
        response = bot.post(body, JSON, sign(body))
        acknowledged(response, 400)
        assert response.json() == {"error": "invalid field: authorizations (expected a list of objects)"}


def test_authorizations_that_are_not_a_list_of_objects_get_400(bots, slack, channel, nothing_happens):
    """Before the bot knows its own identity (a cold instance reads it from ``authorizations``) and after:
    400 with the reason, never a traceback and a 200, nor an answer to a body Slack never sends."""
    bot = bots.get(own="authorizations")
    mark = bot.log_mark()
    _send_malformed(bot, channel)  # a new process: its identity is not known yet
    nothing_happens(bot, "request refused", status=400, count=len(MALFORMED_AUTHORIZATIONS),
                    reason="invalid field: authorizations (expected a list of objects)")
    acknowledged(bot.send_event(question(channel, event_id=None)))  # answered: now it knows who it is
    slack.wait_for(lambda fake: placeholders(fake, channel))
    later = bot.log_mark()
    _send_malformed(bot, channel)
    bot.wait_for_log(message="request refused", since=later, count=len(MALFORMED_AUTHORIZATIONS), status=400)
    assert len(bot.logged(mark, message="handed off")) == 1
    assert not [e for e in bot.log_entries(mark) if e["severity"] == "ERROR" or "exception" in e]


@pytest.mark.parametrize("claimed", ["203.0.113.9", "203.0.113.9, 198.51.100.7", "x" * 5000])
def test_the_refusal_log_line_names_the_peer_not_the_claimed_address(bot, channel, nothing_happens, claimed):
    """X-Forwarded-For is the sender's word: a forger writes anyone's address there. The log line of a refused
    request names the address the server saw, and the header only as a claim, cut short."""
    body = json.dumps(question(channel)).encode()
    mark = bot.log_mark()
    acknowledged(bot.post(body, JSON, {"X-Forwarded-For": claimed}), 401)
    nothing_happens(bot, "unverified request rejected")
    [entry] = bot.logged(mark, message="unverified request rejected")
    assert entry["remote"] == "127.0.0.1"
    assert entry["forwarded_for_claimed"] == claimed[:200]
    assert claimed[:200] not in {value for key, value in entry.items() if key != "forwarded_for_claimed"}


def test_worker_auth_token_without_the_pubsub_emulator_refuses_to_start(slack):
    """A secret in the push URL is readable wherever the URL is (issue 16): outside the emulator, which cannot
    sign its pushes, the functions refuse WORKER_AUTH=token and say what to use instead."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "OPENAI_", "PUBSUB_", "WORKER_", "DISPATCH"))}
    worker_token = "worker-token-0123456789abcdef"
    env.update(SLACK_BOT_TOKEN=harness.BOT_TOKEN, SLACK_SIGNING_SECRET=harness.SIGNING_SECRET,
               SLACK_API_URL=slack.base_url, DISPATCH="pubsub", PUBSUB_TOPIC="jobs", WORKER_AUTH="token",
               WORKER_TOKEN=worker_token)
    output = harness.refused_start(env, "with WORKER_AUTH=token and no Pub/Sub emulator")
    assert "WORKER_AUTH=token is only for the Pub/Sub emulator" in output and "use WORKER_AUTH=oidc" in output
    assert worker_token not in output and harness.SIGNING_SECRET not in output
