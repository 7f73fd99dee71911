"""Notion and GitHub tools through the real bot: credentials switch them on, base URLs point them here."""
import itertools
import json

import pytest

from flows import say, updates_of, wait_answer
from standins.github_api import FakeGitHub
from standins.google_api import DOC, FakeGoogle
from standins.notion_api import FakeNotion
from standins.openai_api import Script
from test_knowledge_slack import tool_outputs

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def notion():
    with FakeNotion(token="secret_notion_e2e") as fake:
        yield fake


@pytest.fixture(scope="module")
def github():
    with FakeGitHub(token="ghp_e2e_token") as fake:
        yield fake


@pytest.fixture(scope="module")
def google(tmp_path_factory):
    with FakeGoogle() as fake:
        fake.key_path = str(fake.write_key_file(tmp_path_factory.mktemp("drive") / "key.json"))
        yield fake


def test_without_credentials_no_tool_is_offered(bot, slack, openai_server, channel):
    ts, _ = say(bot, slack, channel, "plain question")
    wait_answer(slack, channel, ts)
    assert "tools" not in openai_server.requests[-1].body


def test_notion_pages_feed_the_answer(bots, slack, openai_server, notion, channel):
    word = f"okapi{next(_ids)}"
    page = notion.add_page(f"{word} onboarding guide", [("heading_1", "First day"),
                                                        ("paragraph", "Badges are at the front desk.")])
    bot = bots.get(NOTION_TOKEN=notion.token, NOTION_API_URL=notion.base_url)
    openai_server.queue(Script(tool_calls=(("search_notion", {"query": word}),), first_token_delay=0.3),
                        Script(text="Pick up your badge at the front desk."))
    ts, _ = say(bot, slack, channel, f"where do I get a badge ({word})?")
    final = wait_answer(slack, channel, ts)[-1]
    [output] = tool_outputs(openai_server.requests[-1])
    [result] = output["results"]
    assert result["source"] == "Notion" and "Badges are at the front desk." in result["content"]
    assert final["text"] == (f"Pick up your badge at the front desk.\n\n**Sources**\n"
                             f"1. [Notion: {word} onboarding guide]({page['url']})")
    shown = [u.params["blocks"][0]["text"] for u in updates_of(slack, channel, final["ts"])]
    assert "_Searching Notion…_" in shown
    assert all(r.headers.get("Authorization") == f"Bearer {notion.token}" for r in notion.requests)
    assert notion.token not in bot.logs()


def test_notions_rate_limit_is_waited_out_and_the_pages_still_feed_the_answer(bots, slack, openai_server, notion,
                                                                             channel):
    word = f"bilby{next(_ids)}"
    notion.add_page(f"{word} guide", [("paragraph", "Guide text.")])
    notion.add_page(f"{word} checklist", [("paragraph", "Checklist text.")])
    bot = bots.get(NOTION_TOKEN=notion.token, NOTION_API_URL=notion.base_url)
    openai_server.queue(Script(tool_calls=(("search_notion", {"query": word}),)), Script(text="Both read."))
    notion.reset_limits()
    notion.burst = 2  # the search and one page read; the other read gets 429 and Retry-After
    try:
        ts, _ = say(bot, slack, channel, f"{word}?")
        final = wait_answer(slack, channel, ts)[-1]
    finally:
        notion.burst = FakeNotion.burst
        notion.reset_limits()
    [output] = tool_outputs(openai_server.requests[-1])
    assert [r["content"] for r in output["results"]] == ["Guide text.", "Checklist text."]
    assert "note" not in output
    statuses = [r.status for r in notion.requests[-4:]]
    assert statuses == [200, 200, 429, 200] and notion.requests[-2].path == notion.requests[-1].path
    assert final["text"].startswith("Both read.")


def test_github_issues_feed_the_answer_within_the_org(bots, slack, openai_server, github, channel):
    word = f"quokka{next(_ids)}"
    github.add_issue("acme/api", 7, f"{word} crashes on start", "Stack trace: KeyError 'region'")
    github.add_issue("other/api", 8, f"{word} elsewhere", "not ours")
    bot = bots.get(GITHUB_TOKEN=github.token, GITHUB_API_URL=github.base_url, GITHUB_ORG="acme")
    openai_server.queue(Script(tool_calls=(("search_github", {"query": word}),)),
                        Script(text="See acme/api#7.", chunk_chars=50))
    ts, _ = say(bot, slack, channel, f"is {word} a known bug?")
    final = wait_answer(slack, channel, ts)[-1]
    [output] = tool_outputs(openai_server.requests[-1])
    assert [r["title"] for r in output["results"]] == [f"acme/api#7: {word} crashes on start"]
    searched = [r for r in github.requests if r.path.startswith("/search/issues")]
    assert "org:acme" in searched[-1].query["q"]
    assert final["text"].startswith("See acme/api#7.\n\n**Sources**\n1. [GitHub: acme/api#7")


def test_a_github_query_longer_than_github_allows_is_cut_not_refused(bots, slack, openai_server, github, channel):
    word = f"numbat{next(_ids)}"
    details = [f"detail{i}" for i in range(40)]
    github.add_issue("acme/api", 9, f"{word} leaks memory", " ".join(details))
    bot = bots.get(GITHUB_TOKEN=github.token, GITHUB_API_URL=github.base_url, GITHUB_ORG="acme")
    query = " ".join([word, *details])  # over 256 characters once org:acme is added
    openai_server.queue(Script(tool_calls=(("search_github", {"query": query}),)),
                        Script(text="See acme/api#9.", chunk_chars=50))
    ts, _ = say(bot, slack, channel, f"is {word} known?")
    final = wait_answer(slack, channel, ts)[-1]
    searched = [r for r in github.requests if r.path == "/search/issues"][-1]
    assert searched.status == 200 and len(searched.query["q"]) <= 256 and searched.query["q"].endswith("org:acme")
    [output] = tool_outputs(openai_server.requests[-1])
    assert [r["title"] for r in output["results"]] == [f"acme/api#9: {word} leaks memory"]
    assert "longer than GitHub's 256 characters" in output["note"]
    assert final["text"].startswith("See acme/api#9.")


def test_all_tools_at_once_are_offered_and_practice_mode_tries_each(bots, slack, notion, github, channel):
    word = f"tapir{next(_ids)}"
    notion.add_page(f"{word} runbook", [("paragraph", "Restart the worker.")])
    github.add_issue("acme/ops", 3, f"{word} outage", "Postmortem pending")
    slack.user_tokens["xoxp-all"] = "UADMIN"
    bot = bots.get(practice=True, NOTION_TOKEN=notion.token, NOTION_API_URL=notion.base_url,
                   GITHUB_TOKEN=github.token, GITHUB_API_URL=github.base_url, SLACK_USER_TOKEN="xoxp-all")
    ts, _ = say(bot, slack, channel, word)
    text = wait_answer(slack, channel, ts, timeout=30)[-1]["text"]
    assert "Tool `search_slack` would give the model" in text
    assert f"Tool `search_notion` would give the model 1 result(s): {word} runbook." in text
    assert f"Tool `search_github` would give the model 1 result(s): acme/ops#3: {word} outage." in text
    assert json.dumps(text).count("](http") >= 2  # their links listed as sources


def test_drive_files_the_asker_may_open_feed_the_answer(bots, slack, openai_server, google, channel):
    word = f"wombat{next(_ids)}"
    slack.set_user("UASKER", "asker@example.com")
    google.add_file(f"{word} pricing", DOC, "Enterprise plan: 40 EUR per seat.",
                    [{"type": "domain", "role": "reader", "domain": "example.com"}])
    google.add_file(f"{word} board notes", DOC, "Confidential: plan to raise prices.",
                    [{"type": "user", "role": "owner", "emailAddress": "ceo@example.com"}])
    bot = bots.get(GOOGLE_DRIVE_CREDENTIALS=google.key_path, GOOGLE_API_URL=google.base_url)
    openai_server.queue(Script(tool_calls=(("search_google_drive", {"query": word}),)),
                        Script(text="40 EUR per seat."))
    ts, _ = say(bot, slack, channel, f"{word} price?")
    final = wait_answer(slack, channel, ts)[-1]
    [output] = tool_outputs(openai_server.requests[-1])
    assert [r["title"] for r in output["results"]] == [f"{word} pricing"]
    assert "Confidential" not in json.dumps(openai_server.requests[-1].body)
    assert output["note"].startswith("1 result was left out")
    assert final["text"].startswith("40 EUR per seat.\n\n**Sources**\n1. [Google Drive: " + word + " pricing](")
    assert [c.params.get("user") for c in slack.calls_of("users.info")][-1] == "UASKER"
