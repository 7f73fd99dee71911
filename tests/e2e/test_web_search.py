"""WEB_SEARCH=true: the Responses API's web_search tool, and its citations as links under the answer."""
import subprocess

from flows import say, updates_of, wait_answer
from harness import FUNCTIONS_FRAMEWORK, ROOT, bot_env
from standins.openai_api import Script


def test_web_search_cites_its_sources(bots, slack, openai_server, channel):
    bot = bots.get(WEB_SEARCH="true")
    openai_server.reply = Script(
        text="The release is out since Monday.", first_token_delay=0.8, chunk_chars=6,
        citations=(("https://example.org/news", "Release [notes]"), ("https://example.org/blog?a=1", "Blog")),
    )
    ts, _ = say(bot, slack, channel, "is the new release out?")
    final = wait_answer(slack, channel, ts)[-1]
    assert openai_server.requests[-1].body["tools"] == [{"type": "web_search"}]
    assert final["text"] == (
        "The release is out since Monday.\n\n**Sources**\n"
        "1. [Release (notes)](https://example.org/news)\n"
        "2. [Blog](https://example.org/blog?a=1)"
    )
    shown = [u.params["blocks"][0]["text"] for u in updates_of(slack, channel, final["ts"])]
    assert "_Searching the web…_" in shown  # said while the search runs, before any text


def test_without_web_search_no_tool_is_sent(bot, slack, openai_server, channel):
    openai_server.reply = Script(text="plain", citations=(("https://example.org", "x"),))
    ts, _ = say(bot, slack, channel, "no search please")
    final = wait_answer(slack, channel, ts)[-1]
    assert "tools" not in openai_server.requests[-1].body
    assert final["text"] == "plain"


def test_web_search_needs_the_responses_api(slack, openai_server, tmp_path):
    env = bot_env(slack.base_url, openai_server.base_url, WEB_SEARCH="true", OPENAI_API="chat")
    result = subprocess.run([FUNCTIONS_FRAMEWORK, "--target=slack_bot", "--source=main.py", "--port=0"],
                            cwd=ROOT, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "WEB_SEARCH=true needs OPENAI_API=responses" in result.stdout + result.stderr
