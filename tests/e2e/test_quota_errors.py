"""OpenAI's quota and spend-limit 429s through main.slack_bot (issue 15, item 3): one sentence that tells the
admins what to do, and one request only (the client retries other 429s; these no retry cures)."""
from __future__ import annotations

import pytest

from flows import say, wait_answer
from standins.openai_api import Script

ADMIN = "UQUOTAADMIN"


@pytest.mark.parametrize("code, expected", [
    ("insufficient_quota", f"OpenAI refused: the OpenAI account is out of credit. <@{ADMIN}>: add credit at "
                           "platform.openai.com → Settings → Billing."),
    ("organization_spend_limit_exceeded", "OpenAI refused: the OpenAI organization's monthly spend limit is "
                                          f"reached. <@{ADMIN}>: raise it at platform.openai.com → Settings → "
                                          "Limits, or wait until it resets."),
    ("project_spend_limit_exceeded", "OpenAI refused: this OpenAI project's monthly spend limit is reached. "
                                     f"<@{ADMIN}>: raise it at platform.openai.com → Settings → Limits (the "
                                     "project's), or wait until it resets."),
])
def test_a_quota_error_is_a_sentence_for_the_admins_and_is_not_retried(bots, slack, openai_server, channel, code,
                                                                         expected):
    bot = bots.get(OPENAI_MAX_RETRIES="2", ADMIN_USERS=ADMIN)
    openai_server.reply = Script(status_error=code)
    ts, _ = say(bot, slack, channel, "anything")
    final = wait_answer(slack, channel, ts)[-1]
    assert final["text"].splitlines()[-1] == f"_⚠️ {expected}_"
    assert len(openai_server.requests) == 1, "a quota 429 is not retried"


def test_an_ordinary_rate_limit_is_still_retried(bots, slack, openai_server, channel):
    bot = bots.get(OPENAI_MAX_RETRIES="2", ADMIN_USERS=ADMIN)
    openai_server.queue(Script(status_error="rate_limit", retry_after=0.05), Script(text="After a retry."))
    ts, _ = say(bot, slack, channel, "anything")
    assert wait_answer(slack, channel, ts)[-1]["text"] == "After a retry."
    assert len(openai_server.requests) == 2


def test_without_admins_the_sentence_asks_the_slack_admin(bots, slack, openai_server, channel):
    bot = bots.get()
    openai_server.reply = Script(status_error="project_spend_limit_exceeded")
    ts, _ = say(bot, slack, channel, "anything")
    assert wait_answer(slack, channel, ts)[-1]["text"].endswith(
        "Ask your Slack admin to raise it at platform.openai.com → Settings → Limits (the project's), or wait "
        "until it resets._")
