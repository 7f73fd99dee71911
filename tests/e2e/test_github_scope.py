"""GITHUB_ORG through the real bot: what the model writes cannot widen the search (issue 16, item 7)."""
import itertools

import pytest

from flows import say, wait_answer
from standins.github_api import FakeGitHub
from standins.openai_api import Script
from test_knowledge_slack import tool_outputs

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def github():
    with FakeGitHub(token="ghp_e2e_scope_token") as fake:
        yield fake


def test_a_scope_qualifier_in_parentheses_does_not_leave_the_org(bots, slack, openai_server, github, channel):
    """``(repo:other/api)`` used to pass the scope filter (it only looked after a space) and reach GitHub,
    whose issue search reads parentheses and OR: the search could leave GITHUB_ORG."""
    word = f"wombat{next(_ids)}"
    github.add_issue("acme/api", 7, f"{word} crashes on start", "ours")
    github.add_issue("other/api", 8, f"{word} private elsewhere", "not ours")
    bot = bots.get(GITHUB_TOKEN=github.token, GITHUB_API_URL=github.base_url, GITHUB_ORG="acme")
    query = f'{word} (repo:other/api) OR (USER:other "crashes org:other"'
    openai_server.queue(Script(tool_calls=(("search_github", {"query": query}),)),
                        Script(text="See acme/api#7.", chunk_chars=50))
    ts, _ = say(bot, slack, channel, f"is {word} a known bug?")
    wait_answer(slack, channel, ts)
    searched = [r for r in github.requests if r.path == "/search/issues" and word in r.query["q"]]
    assert [r.query["q"] for r in searched] == [f'{word} "crashes" org:acme']
    [output] = tool_outputs(openai_server.requests[-1])
    assert [r["title"] for r in output["results"]] == [f"acme/api#7: {word} crashes on start"]
    assert "repo:other/api" in output["note"] and "USER:other" in output["note"]
