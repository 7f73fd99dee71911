"""Who will read the answer decides what it may draw on (answering/audience.py), end to end.

The bot runs with Slack search, Notion and GitHub switched on; the Slack stand-in knows guests,
people of another organisation and Slack Connect channels by Slack's own fields
(standins/slack_people.py). What the model received is read from the OpenAI stand-in.
"""
import itertools
import json

import pytest

from flows import ASKER, wait_answer
from harness import message_event
from standins.openai_api import Script
from test_knowledge_providers import github, notion  # noqa: F401  (module fixtures: a Notion and a GitHub of our own)

USER_TOKEN = "xoxp-audience-test"
PARTNER_TEAM = "T_PARTNER"
ALL_TOOLS = ["search_slack", "search_notion", "search_github"]
_ids = itertools.count(1)


def knowledge_bot(bots, slack, notion, github, **settings):
    slack.user_tokens[USER_TOKEN] = "UADMIN"
    return bots.get(SLACK_USER_TOKEN=USER_TOKEN, NOTION_TOKEN=notion.token, NOTION_API_URL=notion.base_url,
                    GITHUB_TOKEN=github.token, GITHUB_API_URL=github.base_url, **settings)


def new_channel(slack, *members, prefix="C"):
    channel = f"{prefix}{next(_ids):05d}A"
    slack.add_channel(channel, name=channel.lower(), members=[slack.bot_user_id, *members])
    return channel


def ask(bot, slack, channel, user, text, channel_type="channel"):
    """``user`` writes in ``channel`` (mentioning the bot outside a DM), and Slack delivers the event with
    the teams it puts in it: the asker's ``user_team``, the envelope's ``is_ext_shared_channel``."""
    mention = channel_type != "im"
    body = f"<@UBOT> {text}" if mention else text
    ts = slack.add_message(channel, user, body)
    event_fields, envelope = slack.event_fields(channel, user)
    payload = message_event(channel, user, body, ts, channel_type=channel_type,
                            event_type="app_mention" if mention else "message", **event_fields)
    payload.update(envelope)
    assert bot.send_event(payload).status == 200
    return ts


def context(slack, channel, word):
    """A canvas in the channel and a public message elsewhere to link to: what an answer could read."""
    slack.add_canvas(channel, "Team rules", f"<p>{word} canvas: deploys on Tuesdays.</p>")
    elsewhere = new_channel(slack, "UALICE")
    linked = slack.add_message(elsewhere, "UALICE", f"{word} linked: the launch slipped to May")
    return slack.permalink(elsewhere, linked)


def offered(request) -> list[str]:
    return [t.get("name") or t.get("function", {}).get("name") for t in request.body.get("tools") or []]


def sent_text(request) -> str:
    return json.dumps(request.body)


def test_a_person_of_another_organisation_in_a_slack_connect_channel_gets_no_knowledge(
        bots, slack, openai_server, notion, github):
    bot = knowledge_bot(bots, slack, notion, github)
    word = f"okapi{next(_ids)}"
    slack.add_person("UPARTNER", team_id=PARTNER_TEAM)
    channel = new_channel(slack, ASKER, "UPARTNER")
    slack.share_channel(channel, PARTNER_TEAM)
    link = context(slack, channel, word)
    notion.add_page(f"{word} pricing", [("paragraph", "Internal margins.")])
    openai_server.reply = Script(text="Here is what I know.")
    searched = len(notion.requests)
    ts = ask(bot, slack, channel, "UPARTNER", f"what is in {word}? see <{link}>")
    final = wait_answer(slack, channel, ts)[-1]
    request = openai_server.requests[-1]
    assert offered(request) == []
    assert f"{word} canvas" not in sent_text(request) and f"{word} linked" not in sent_text(request)
    assert len(notion.requests) == searched
    assert final["text"] == ("Here is what I know.\n\n_⚠️ I did not use Slack search, Notion search, GitHub search, "
                             "the channel's canvas or the linked messages for this answer: you are not a member "
                             "of this workspace._")


@pytest.mark.parametrize("guest", ["multi-channel", "single-channel"])
def test_a_guest_gets_no_knowledge(bots, slack, openai_server, notion, github, guest):
    bot = knowledge_bot(bots, slack, notion, github)
    word = f"tapir{next(_ids)}"
    person = f"UGUEST{next(_ids)}"
    slack.add_person(person, guest=guest)
    channel = new_channel(slack, ASKER, person)
    link = context(slack, channel, word)
    openai_server.reply = Script(text="Answered from the thread alone.")
    ts = ask(bot, slack, channel, person, f"{word}? <{link}>")
    final = wait_answer(slack, channel, ts)[-1]
    request = openai_server.requests[-1]
    assert offered(request) == []
    assert f"{word} canvas" not in sent_text(request) and f"{word} linked" not in sent_text(request)
    assert final["text"].endswith("the channel's canvas or the linked messages for this answer: "
                                  "you are a guest in this workspace._")


def test_a_member_in_a_slack_connect_channel_gets_no_knowledge_either(bots, slack, openai_server, notion, github):
    bot = knowledge_bot(bots, slack, notion, github)
    slack.add_person("UPARTNER", team_id=PARTNER_TEAM)
    channel = new_channel(slack, ASKER, "UPARTNER")
    slack.share_channel(channel, PARTNER_TEAM)
    openai_server.reply = Script(text="ok")
    final = wait_answer(slack, channel, ask(bot, slack, channel, ASKER, "what is our roadmap?"))[-1]
    assert offered(openai_server.requests[-1]) == []
    assert final["text"].endswith("for this answer: this conversation is shared with another organisation._")


def test_notion_and_github_only_where_everyone_belongs_to_the_workspace(bots, slack, openai_server, notion, github):
    bot = knowledge_bot(bots, slack, notion, github)
    slack.add_person("UVISITOR", guest="single-channel")
    with_guest = new_channel(slack, ASKER, "UALICE", "UVISITOR")
    openai_server.reply = Script(text="ok")
    final = wait_answer(slack, with_guest, ask(bot, slack, with_guest, ASKER, "where is the runbook?"))[-1]
    assert offered(openai_server.requests[-1]) == ["search_slack"]
    assert final["text"] == ("ok\n\n_⚠️ I did not use Notion search or GitHub search for this answer: not everyone "
                             "in this channel is a member of this workspace._")
    ours = new_channel(slack, ASKER, "UALICE")
    final = wait_answer(slack, ours, ask(bot, slack, ours, ASKER, "where is the runbook?"))[-1]
    assert offered(openai_server.requests[-1]) == ALL_TOOLS
    assert final["text"] == "ok"


def test_a_workspace_member_in_a_dm_keeps_everything(bots, slack, openai_server, notion, github):
    bot = knowledge_bot(bots, slack, notion, github)
    word = f"bilby{next(_ids)}"
    dm = new_channel(slack, ASKER, prefix="D")
    elsewhere = new_channel(slack, "UALICE")
    link = slack.permalink(elsewhere, slack.add_message(elsewhere, "UALICE", f"{word} linked: launch in May"))
    openai_server.reply = Script(text="May.")
    final = wait_answer(slack, dm, ask(bot, slack, dm, ASKER, f"when? <{link}>", channel_type="im"))[-1]
    request = openai_server.requests[-1]
    assert offered(request) == ALL_TOOLS and f"{word} linked" in sent_text(request)
    assert final["text"] == "May."


def test_the_settings_let_guests_and_other_organisations_reach_knowledge(bots, slack, openai_server, notion, github):
    word = f"numbat{next(_ids)}"
    slack.add_person("UPARTNER", team_id=PARTNER_TEAM)
    channel = new_channel(slack, ASKER, "UPARTNER")
    slack.share_channel(channel, PARTNER_TEAM)
    link = context(slack, channel, word)
    shared_bot = knowledge_bot(bots, slack, notion, github, KNOWLEDGE_IN_SHARED_CHANNELS="true")
    openai_server.reply = Script(text="ok")
    final = wait_answer(slack, channel, ask(shared_bot, slack, channel, "UPARTNER", f"{word}? <{link}>"))[-1]
    request = openai_server.requests[-1]
    assert offered(request) == ALL_TOOLS and final["text"] == "ok"
    assert f"{word} canvas" in sent_text(request) and f"{word} linked" in sent_text(request)

    slack.add_person("UGUESTDM", guest="multi-channel")
    dm = new_channel(slack, "UGUESTDM", prefix="D")
    guest_bot = knowledge_bot(bots, slack, notion, github, KNOWLEDGE_FOR_GUESTS="true")
    final = wait_answer(slack, dm, ask(guest_bot, slack, dm, "UGUESTDM", "runbook?", channel_type="im"))[-1]
    assert offered(openai_server.requests[-1]) == ALL_TOOLS and final["text"] == "ok"
