"""Every model failure becomes one plain sentence in the reply; partial text is kept."""
import subprocess

import pytest

from flows import say, wait_answer
from harness import FUNCTIONS_FRAMEWORK, ROOT, bot_env
from standins.openai_api import Script

PARTIAL = "The first part of the answer arrives fine"


@pytest.mark.parametrize("api", ["responses", "chat"])
@pytest.mark.parametrize(
    "script, expected",
    [
        (Script(status_error="invalid_api_key"), "API key was rejected"),
        (Script(status_error="insufficient_quota"), "out of credit"),
        (Script(status_error="rate_limit"), "rate limited"),
        (Script(status_error="server_error"), "internal error"),
        (Script(status_error="model_not_found"), "was not found"),
        (Script(text=PARTIAL + " and then it breaks", chunk_chars=5, break_after=8), "broke off"),
        (Script(text=PARTIAL + " and then an error", chunk_chars=5, error_event_after=8), "error"),
    ],
    ids=["invalid-key", "insufficient-quota", "rate-limited", "server-error", "unknown-model", "broken-stream",
         "error-event"],
)
def test_model_failures_become_one_sentence(bots, slack, openai_server, channel, api, script, expected):
    bot = bots.get(OPENAI_API=api)
    openai_server.reply = script
    ts, _ = say(bot, slack, channel, "trigger a failure")
    final = wait_answer(slack, channel, ts)[-1]
    assert final["metadata"]["event_payload"]["status"] == "error"
    last_line = final["text"].splitlines()[-1]
    assert last_line.startswith("_⚠️ ") and expected in last_line
    assert "Traceback" not in final["text"] and "sk-" not in final["text"]
    if script.break_after or script.error_event_after:
        assert final["text"].startswith(PARTIAL[:40])  # the partial text is kept


def test_response_failed_event(bot, slack, openai_server, channel):
    openai_server.reply = Script(text=PARTIAL + " then failed", chunk_chars=5, fail_after=6)
    ts, _ = say(bot, slack, channel, "fail please")
    final = wait_answer(slack, channel, ts)[-1]
    assert final["text"].startswith(PARTIAL[:30])
    assert "The model stopped with an error" in final["text"]


def test_incomplete_answer_says_why(bot, slack, openai_server, channel):
    openai_server.reply = Script(text="cut here", incomplete_reason="max_output_tokens")
    ts, _ = say(bot, slack, channel, "long please")
    final = wait_answer(slack, channel, ts)[-1]
    assert final["text"].startswith("cut here")
    assert "output token limit" in final["text"]


def test_timeout_before_the_first_token(bots, slack, openai_server, channel):
    bot = bots.get(FIRST_TOKEN_TIMEOUT="1")
    openai_server.reply = Script(text="too late", first_token_delay=6)
    ts, _ = say(bot, slack, channel, "are you there?")
    final = wait_answer(slack, channel, ts)[-1]
    assert "did not start answering within 1 seconds" in final["text"]
    request = openai_server.requests[-1]
    openai_server.wait_for(lambda f: request.outcome is not None, timeout=10)
    assert request.deltas_sent == 0


def test_context_too_long_is_retried_with_a_shorter_history(bot, slack, openai_server, channel):
    openai_server.reply = Script(text="first")
    first, _ = say(bot, slack, channel, "hello " * 50)
    wait_answer(slack, channel, first)
    openai_server.queue(Script(status_error="context_length_exceeded"), Script(text="fits now"))
    second, _ = say(bot, slack, channel, "follow-up", thread_ts=first)
    final = wait_answer(slack, channel, second)[-1]
    assert final["text"] == "fits now"
    assert len(openai_server.requests[-1].body["input"]) < len(openai_server.requests[-2].body["input"])


def test_context_too_long_with_nothing_to_trim_is_a_clear_message(bot, slack, openai_server, channel):
    openai_server.reply = Script(status_error="context_length_exceeded")
    ts, _ = say(bot, slack, channel, "one question alone")
    final = wait_answer(slack, channel, ts)[-1]
    assert "too long for the model" in final["text"]


def test_max_output_tokens_at_openais_minimum_reaches_the_model(bots, slack, openai_server, channel):
    bot = bots.get(MAX_OUTPUT_TOKENS="16")
    openai_server.reply = Script(text="short")
    ts, _ = say(bot, slack, channel, "briefly?")
    assert wait_answer(slack, channel, ts)[-1]["text"] == "short"
    assert openai_server.requests[-1].body["max_output_tokens"] == 16  # and not refused (conftest)


def test_max_output_tokens_below_openais_minimum_is_refused_at_start(slack, openai_server):
    # Every answer would be refused by OpenAI (400 integer_below_min_value): say so at start-up instead.
    env = bot_env(slack.base_url, openai_server.base_url, MAX_OUTPUT_TOKENS="15")
    result = subprocess.run([FUNCTIONS_FRAMEWORK, "--target=slack_bot", "--source=main.py", "--port=0"],
                            cwd=ROOT, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "MAX_OUTPUT_TOKENS must be at least 16 for the Responses API, not 15." in result.stdout + result.stderr
