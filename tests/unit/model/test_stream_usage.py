"""The streams' usage: read from OpenAI's real fields (cached and reasoning tokens in their details), summed
over the tool loop's requests, and counted locally for a request the provider reported none for. Real openai
client against the stand-in (tests/fidelity/test_standin_openai_usage.py holds it to OpenAI's wire)."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from harness import OPENAI_KEY
from prompts import DATA_NOT_INSTRUCTIONS
from standins.openai_api import Script
from threadwise.config import load_settings
from threadwise.knowledge.toolbox import Asker, Found, ToolBox, ToolOutput
from threadwise.model.client import open_stream
from threadwise.model.streams import _usage
from threadwise.model.tokens import estimate_tokens, estimated_usage
from threadwise.model.types import ModelInput, Turn, Usage

MODEL_INPUT = ModelInput("be brief", [Turn("user", "hello")], 0, 42)


def _settings(openai_server, **more):
    return load_settings({"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-1", "OPENAI_API_KEY": OPENAI_KEY,
                          "OPENAI_BASE_URL": openai_server.base_url, "OPENAI_MAX_RETRIES": "0", **more}).model


class Notes:
    """A knowledge tool of the test's own (the protocol's smallest implementation)."""

    name, description, status = "search_notes", "Search the notes.", "Searching the notes…"
    parameters = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}

    def run(self, arguments: dict, asker: Asker) -> ToolOutput:
        return ToolOutput([Found("Plan", "https://notes.example/plan", "the plan is to ship", "Notes")])


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_reported_usage_with_cached_and_reasoning_tokens(openai_server, api):
    openai_server.queue(Script(text="abcdefgh", usage={"input_tokens": 500, "cached_tokens": 128,
                                                        "output_tokens": 40, "reasoning_tokens": 7}))
    stream = open_stream(_settings(openai_server, OPENAI_API=api), MODEL_INPUT)
    assert "".join(stream) == "abcdefgh"
    assert stream.usage == Usage(500, 40, cached_input_tokens=128, reasoning_tokens=7, estimated=False)
    assert stream.tool_calls == {}


def test_missing_or_null_details_read_as_zero_and_a_part_never_exceeds_its_whole():
    bare = SimpleNamespace(input_tokens=10, output_tokens=None)
    assert _usage(bare, "input_tokens", "output_tokens") == Usage(10, 0)
    null = SimpleNamespace(prompt_tokens=10, completion_tokens=4, prompt_tokens_details=None,
                           completion_tokens_details=SimpleNamespace(reasoning_tokens=None))
    assert _usage(null, "prompt_tokens", "completion_tokens") == Usage(10, 4)
    odd = SimpleNamespace(input_tokens=10, output_tokens=4, input_tokens_details=SimpleNamespace(cached_tokens=50),
                          output_tokens_details=SimpleNamespace(reasoning_tokens=9))
    assert _usage(odd, "input_tokens", "output_tokens") == Usage(10, 4, 10, 4)


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_a_stream_closed_early_is_counted_locally(openai_server, api):
    openai_server.queue(Script(text="word " * 200, chunk_chars=5, delta_delay=0.01))
    stream = open_stream(_settings(openai_server, OPENAI_API=api), MODEL_INPUT)
    received = []
    for delta in stream:
        received.append(delta)
        if len(received) == 3:
            stream.close()  # what Stop does
            break
    assert openai_server.wait_for(lambda f: f.last.done and f.last).usage_reported is None
    assert stream.usage == Usage(42, estimate_tokens("".join(received)), estimated=True)


def test_a_broken_stream_is_counted_locally(openai_server):
    openai_server.queue(Script(text="abcd" * 10, break_after=2))
    stream = open_stream(_settings(openai_server), MODEL_INPUT)
    received = []
    with pytest.raises(Exception):
        for delta in stream:
            received.append(delta)
    assert received == ["abcd", "abcd"]
    assert stream.usage == Usage(42, estimate_tokens("abcdabcd"), estimated=True) == estimated_usage(42, "abcdabcd")


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_the_tool_loop_sums_every_request_and_counts_its_tool_calls(openai_server, api):
    call = ("search_notes", {"query": "plan"})
    openai_server.queue(Script(tool_calls=(call, call), usage={"input_tokens": 300, "cached_tokens": 100}),
                        Script(text="The plan is to ship.", usage={"input_tokens": 700, "reasoning_tokens": 2}))
    toolbox = ToolBox({"search_notes": Notes()}, Asker("U1", "D1"), 4000, 3)
    stream = open_stream(_settings(openai_server, OPENAI_API=api), MODEL_INPUT, toolbox)
    assert "".join(stream) == "The plan is to ship."
    first, second = openai_server.requests
    assert stream.usage == Usage(1000, 0 + 5, cached_input_tokens=100, reasoning_tokens=2)
    assert first.usage_reported is not None and second.usage_reported is not None
    assert stream.tool_calls == {"search_notes": 2}


def test_a_tool_loop_cut_in_its_second_request_sums_reported_and_estimated(openai_server):
    call = ("search_notes", {"query": "plan"})
    openai_server.queue(Script(tool_calls=(call,), usage={"input_tokens": 300}),
                        Script(text="x" * 400, chunk_chars=4, delta_delay=0.01))
    toolbox = ToolBox({"search_notes": Notes()}, Asker("U1", "D1"), 4000, 3)
    stream = open_stream(_settings(openai_server), MODEL_INPUT, toolbox)
    received = []
    for delta in stream:
        received.append(delta)
        if len(received) == 2:
            stream.close()
            break
    first = openai_server.requests[0]
    function_call = next(i for i in openai_server.requests[1].body["input"] if i.get("type") == "function_call")
    output = next(i for i in openai_server.requests[1].body["input"] if i.get("type") == "function_call_output")
    sent = (42 + estimate_tokens(DATA_NOT_INSTRUCTIONS)
            + estimate_tokens(function_call["name"] + function_call["arguments"]) + estimate_tokens(output["output"]))
    reported_output = first.usage_reported["output_tokens"]
    assert stream.usage == Usage(300 + sent, reported_output + estimate_tokens("xxxxxxxx"), estimated=True)
    assert json.loads(function_call["arguments"]) == {"query": "plan"}


def test_web_search_calls_are_counted(openai_server):
    openai_server.queue(Script(text="Found it.", citations=(("https://example.com/a", "A"),)))
    stream = open_stream(_settings(openai_server, WEB_SEARCH="true"), MODEL_INPUT)
    "".join(stream)
    assert stream.tool_calls == {"web_search": 1}
    assert stream.usage is not None and not stream.usage.estimated


def test_practice_mode_counts_what_it_wrote_and_spends_nothing(openai_server):
    settings = load_settings({"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-1", "PRACTICE_MODE": "true",
                              "PRACTICE_TOKEN_DELAY": "0"}).model
    stream = open_stream(settings, MODEL_INPUT)
    text = "".join(stream)
    assert stream.usage == Usage(42, estimate_tokens(text), estimated=True)
    assert openai_server.requests == []
