"""Slack's refusals that are outcomes, in-process: the real SlackGateway against the strict FakeSlack.

A scope the app was installed without becomes ``MissingScope`` (naming the scope Slack says is
needed, logged for the operator); a channel the bot was removed from ends the answer there."""
from __future__ import annotations

import logging

import pytest

from flows import ASKER
from inprocess import gateway, gateway_for  # noqa: F401  (gateway: a fixture)
from threadwise.slack.reply_format import ReplyTag, reply_metadata, streaming_blocks
from slack_client import SlackGateway
from threadwise.slack.messages import WriteStatus
from threadwise.slack.refusals import MissingScope

pytestmark = pytest.mark.in_process

NARROW_TOKEN = "xoxb-narrow-0123456789"  # another token of the bot, installed with fewer scopes


def narrow_gateway(slack, without: str) -> SlackGateway:
    slack.grant(NARROW_TOKEN, slack.bot_scopes - {without})
    return gateway_for(slack, token=NARROW_TOKEN)


def _answer(slack, gateway, channel) -> str:
    question = slack.add_message(channel, ASKER, "a question")
    metadata = reply_metadata(ReplyTag(asker=ASKER, question_ts=question), "streaming")
    return gateway.post(channel, question, "text", streaming_blocks("text"), metadata).ts


def _scope_logged(caplog, method: str, needed: str) -> bool:
    return any(r.getMessage().startswith("slack app lacks a scope")
               and getattr(r, "fields", {}) == {"method": method, "needed": needed} for r in caplog.records)


def test_deleting_without_chat_write_names_the_scope(slack, gateway, channel, caplog):
    ts = _answer(slack, gateway, channel)
    with caplog.at_level(logging.WARNING), pytest.raises(MissingScope) as refused:
        narrow_gateway(slack, "chat:write").delete(channel, ts)
    assert refused.value.needed == "chat:write" and "`chat:write`" in refused.value.sentence
    assert _scope_logged(caplog, "chat.delete", "chat:write")
    assert slack.get(channel, ts) is not None  # nothing was deleted


def test_reading_a_thread_without_its_history_scope_names_the_scope(slack, gateway, channel, caplog):
    question = slack.add_message(channel, ASKER, "a question")
    with caplog.at_level(logging.WARNING), pytest.raises(MissingScope) as refused:
        narrow_gateway(slack, "im:history").thread(channel, question)
    assert refused.value.needed == "im:history"
    assert _scope_logged(caplog, "conversations.replies", "im:history")


def test_a_write_without_its_scope_fails_with_the_scope_logged(slack, gateway, channel, caplog):
    ts = _answer(slack, gateway, channel)
    with caplog.at_level(logging.WARNING):
        outcome = narrow_gateway(slack, "chat:write").update(channel, ts, "new", streaming_blocks("new"))
    assert (outcome.status, outcome.error) == (WriteStatus.FAILED, "missing_scope")
    assert _scope_logged(caplog, "chat_update", "chat:write")


def test_a_write_where_the_bot_was_removed_ends_the_answer_there(slack, gateway, channel, caplog):
    room = f"C{channel[1:]}"
    slack.add_channel(room, members=[slack.bot_user_id, ASKER])
    ts = _answer(slack, gateway, room)
    slack.remove_member(room, slack.bot_user_id)
    with caplog.at_level(logging.WARNING):
        outcome = gateway.update(room, ts, "more", streaming_blocks("more"))
    assert (outcome.status, outcome.error) == (WriteStatus.DELETED, "not_in_channel")
    assert [getattr(r, "fields", {}).get("channel") for r in caplog.records
            if r.getMessage().startswith("the bot is not in this channel")] == [room]
