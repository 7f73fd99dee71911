"""FakeOpenAI refuses what OpenAI refuses, in OpenAI's words, and reports usage as OpenAI does.

Each case sends, through the real ``openai`` client where it can send the
body (otherwise raw HTTP), a request the real API answers with HTTP 400
``{"error": {"message", "type": "invalid_request_error", "param", "code"}}``,
and checks the stand-in answers the same; a valid neighbour of each case is
accepted, so a check that refused everything would fail too.
"""

from __future__ import annotations

import http.client
import json

import openai
import pytest

from standins.openai_api import FakeOpenAI, Script

MODEL = "gpt-5-mini"
USER = {"role": "user", "content": "hi"}


@pytest.fixture(scope="module")
def fake():
    with FakeOpenAI(api_key="sk-test-0123456789abcdef") as f:
        yield f


@pytest.fixture
def client(fake):
    fake.reset()
    c = openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0, timeout=10)
    yield c
    c.close()


def _raw_post(fake, path, payload: bytes | dict):
    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    conn.request("POST", path, body=body,
                 headers={"Authorization": f"Bearer {fake.api_key}", "Content-Type": "application/json"})
    resp = conn.getresponse()
    status, data = resp.status, json.loads(resp.read() or b"null")
    conn.close()
    return status, data


def _refusal(call) -> openai.BadRequestError:
    with pytest.raises(openai.BadRequestError) as caught:
        call()
    assert caught.value.status_code == 400 and caught.value.type == "invalid_request_error"
    return caught.value


def _fc(call_id="call_1"):
    return {"type": "function_call", "call_id": call_id, "name": "lookup", "arguments": "{}"}


def _fco(call_id="call_1"):
    return {"type": "function_call_output", "call_id": call_id, "output": "[]"}


FUNCTION = {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}
CHAT_FUNCTION = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
CALLED = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]}

# (case, refused arguments, (message start, param, code), accepted neighbour)
RESPONSES_CASES = [
    ("no model", dict(input="hi"), ("Missing required parameter: 'model'.", "model", "missing_required_parameter"),
     dict(model=MODEL, input="hi")),
    ("no input", dict(model=MODEL), ("Missing required parameter: 'input'.", "input", "missing_required_parameter"),
     dict(model=MODEL, previous_response_id="resp_earlier")),
    ("output answering no call", dict(model=MODEL, input=[USER, _fco("call_x")]),
     ("No tool call found for function call output with call_id call_x.", "input", None),
     dict(model=MODEL, input=[USER, _fc("call_x"), _fco("call_x")])),
    ("call without its output", dict(model=MODEL, input=[USER, _fc("call_y")]),
     ("No tool output found for function call call_y.", "input", None),
     dict(model=MODEL, input=[USER, _fc("call_y"), _fco("call_y")])),
    ("chat text part", dict(model=MODEL, input=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}]),
     ("Invalid value: 'text'. Supported values are: 'input_text', 'input_image'", "input[0].content[0].type",
      "invalid_value"),
     dict(model=MODEL, input=[{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}])),
    ("chat image part", dict(model=MODEL, input=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}]),
     ("Invalid value: 'image_url'.", "input[0].content[0].type", "invalid_value"),
     dict(model=MODEL, input=[{"role": "user", "content": [
         {"type": "input_image", "image_url": "data:image/png;base64,AA==", "detail": "auto"}]}])),
    ("image url as an object", dict(model=MODEL, input=[{"role": "user", "content": [
        {"type": "input_image", "image_url": {"url": "data:image/png;base64,AA=="}}]}]),
     ("Invalid type for 'input[0].content[0].image_url': expected a string, but got an object instead.",
      "input[0].content[0].image_url", "invalid_type"), None),
    ("assistant with input parts", dict(model=MODEL, input=[
        USER, {"role": "assistant", "content": [{"type": "input_text", "text": "earlier answer"}]}, USER]),
     ("Invalid value: 'input_text'. Supported values are: 'output_text' and 'refusal'.", "input[1].content[0]",
      "invalid_value"),
     dict(model=MODEL, input=[USER, {"role": "assistant", "content": [
         {"type": "output_text", "text": "earlier answer"}]}, USER])),
    ("unknown role", dict(model=MODEL, input=[{"role": "bot", "content": "hi"}]),
     ("Invalid value: 'bot'. Supported values are: 'user', 'assistant', 'system', and 'developer'.",
      "input[0].role", "invalid_value"),
     dict(model=MODEL, input=[{"role": "developer", "content": "hi"}])),
    ("function tool without a name", dict(model=MODEL, input="hi", tools=[{"type": "function", "parameters": {}}]),
     ("Missing required parameter: 'tools[0].name'.", "tools[0].name", "missing_required_parameter"),
     dict(model=MODEL, input="hi", tools=[FUNCTION])),
    ("chat-shaped function tool", dict(model=MODEL, input="hi", tools=[CHAT_FUNCTION]),
     ("Missing required parameter: 'tools[0].name'.", "tools[0].name", "missing_required_parameter"), None),
    ("unknown tool type", dict(model=MODEL, input="hi", tools=[{"type": "browser"}]),
     ("Invalid value: 'browser'. Supported values are: 'function',", "tools[0].type", "invalid_value"),
     dict(model=MODEL, input="hi", tools=[{"type": "web_search"}])),
    ("code interpreter without a container", dict(model=MODEL, input="hi", tools=[{"type": "code_interpreter"}]),
     ("Missing required parameter: 'tools[0].container'.", "tools[0].container", "missing_required_parameter"),
     dict(model=MODEL, input="hi", tools=[{"type": "code_interpreter", "container": {"type": "auto"}}])),
    ("max_output_tokens below 16", dict(model=MODEL, input="hi", max_output_tokens=15),
     ("Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 15 instead.",
      "max_output_tokens", "integer_below_min_value"),
     dict(model=MODEL, input="hi", max_output_tokens=16)),
    ("a chat parameter", dict(model=MODEL, input="hi", extra_body={"messages": [USER]}),
     ("Unknown parameter: 'messages'.", "messages", "unknown_parameter"), None),
    ("chat's include_usage", dict(model=MODEL, input="hi", stream=True, stream_options={"include_usage": True}),
     ("Unknown parameter: 'stream_options.include_usage'.", "stream_options.include_usage", "unknown_parameter"),
     dict(model=MODEL, input="hi", stream=True, stream_options={"include_obfuscation": False})),
]

CHAT_CASES = [
    ("input_text part", dict(model=MODEL, messages=[{"role": "user", "content": [
        {"type": "input_text", "text": "hi"}]}]),
     ("Invalid value: 'input_text'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', "
      "'audio', and 'file'.", "messages[0].content[0].type", "invalid_value"),
     dict(model=MODEL, messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}])),
    ("input_image part", dict(model=MODEL, messages=[{"role": "user", "content": [
        {"type": "input_image", "image_url": "data:image/png;base64,AA=="}]}]),
     ("Invalid value: 'input_image'.", "messages[0].content[0].type", "invalid_value"),
     dict(model=MODEL, messages=[{"role": "user", "content": [
         {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}])),
    ("image_url as a string", dict(model=MODEL, messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": "data:image/png;base64,AA=="}]}]),
     ("Invalid type for 'messages[0].content[0].image_url': expected an object, but got a string instead.",
      "messages[0].content[0].image_url", "invalid_type"), None),
    ("image in a system message", dict(model=MODEL, messages=[{"role": "system", "content": [
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}, USER]),
     ("Invalid value: 'image_url'. Supported values are: 'text'.", "messages[0].content[0].type", "invalid_value"),
     dict(model=MODEL, messages=[{"role": "system", "content": [{"type": "text", "text": "be brief"}]}, USER])),
    ("unknown role", dict(model=MODEL, messages=[{"role": "bot", "content": "hi"}]),
     ("Invalid value: 'bot'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and "
      "'developer'.", "messages[0].role", "invalid_value"), None),
    ("tool result answering no call", dict(model=MODEL, tools=[CHAT_FUNCTION], messages=[
        USER, {"role": "tool", "tool_call_id": "call_1", "content": "[]"}]),
     ("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with "
      "'tool_calls'.", "messages.[1].role", None),
     dict(model=MODEL, tools=[CHAT_FUNCTION], messages=[
         USER, CALLED, {"role": "tool", "tool_call_id": "call_1", "content": "[]"}])),
    ("tool call without its result", dict(model=MODEL, tools=[CHAT_FUNCTION], messages=[USER, CALLED, USER]),
     ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
      "'tool_call_id'. The following tool_call_ids did not have response messages: call_1",
      "messages.[1].role", None), None),
    ("function tool without a name", dict(model=MODEL, messages=[USER], tools=[
        {"type": "function", "function": {"parameters": {}}}]),
     ("Missing required parameter: 'tools[0].function.name'.", "tools[0].function.name",
      "missing_required_parameter"), dict(model=MODEL, messages=[USER], tools=[CHAT_FUNCTION])),
    ("responses-shaped function tool", dict(model=MODEL, messages=[USER], tools=[FUNCTION]),
     ("Missing required parameter: 'tools[0].function'.", "tools[0].function", "missing_required_parameter"),
     None),
    ("web search tool", dict(model=MODEL, messages=[USER], tools=[{"type": "web_search"}]),
     ("Invalid value: 'web_search'. Supported values are: 'function' and 'custom'.", "tools[0].type",
      "invalid_value"), None),
    ("empty tools", dict(model=MODEL, messages=[USER], tools=[]),
     ("Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      "tools", "empty_array"), None),
    ("tool_choice without tools", dict(model=MODEL, messages=[USER], tool_choice="none"),
     ("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
      "tool_choice", None), dict(model=MODEL, messages=[USER], tools=[CHAT_FUNCTION], tool_choice="none")),
    ("stream_options without streaming", dict(model=MODEL, messages=[USER], stream_options={"include_usage": True}),
     ("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options", None),
     dict(model=MODEL, messages=[USER], stream=True, stream_options={"include_usage": True})),
    ("a responses parameter", dict(model=MODEL, messages=[USER], extra_body={"max_output_tokens": 100}),
     ("Unrecognized request argument supplied: max_output_tokens", None, None),
     dict(model=MODEL, messages=[USER], max_completion_tokens=100)),
]


def _call(client, api, arguments):
    create = client.responses.create if api == "responses" else client.chat.completions.create
    result = create(**arguments)
    if arguments.get("stream"):
        list(result)


@pytest.mark.parametrize("api, arguments, expected, accepted", [
    pytest.param("responses", *case[1:], id=f"responses: {case[0]}") for case in RESPONSES_CASES] + [
    pytest.param("chat", *case[1:], id=f"chat: {case[0]}") for case in CHAT_CASES])
def test_refused_as_openai_refuses(fake, client, api, arguments, expected, accepted):
    fake.queue(Script(text="must not be used up by a refused request"))
    error = _refusal(lambda: _call(client, api, arguments))
    message, param, code = expected
    body = error.body  # the SDK hands over the "error" object itself
    assert set(body) == {"message", "type", "param", "code"}
    assert body["message"].startswith(message) and (error.param, error.code) == (param, code)
    [refused] = fake.refused
    assert (refused.status, refused.outcome, refused.refusal) == (400, "invalid_request", body)
    assert fake.queued == 1 and refused.script is None  # refused before any model work
    if accepted is not None:
        _call(client, api, accepted)
        assert fake.last.outcome == "completed" and fake.queued == 0


@pytest.mark.parametrize("path, body, expected", [
    ("/v1/chat/completions", {"messages": [USER]}, ("you must provide a model parameter", None, None)),
    ("/v1/chat/completions", {"model": MODEL}, ("Missing required parameter: 'messages'.", "messages",
                                                "missing_required_parameter")),
    ("/v1/chat/completions", {"model": MODEL, "messages": []},
     ("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      "messages", "empty_array")),
    ("/v1/responses", {"model": MODEL, "input": "hi", "stream": "yes"},
     ("Invalid type for 'stream': expected a boolean, but got a string instead.", "stream", "invalid_type")),
    ("/v1/chat/completions", {"model": MODEL, "messages": [USER], "stream": 1},
     ("Invalid type for 'stream': expected a boolean, but got an integer instead.", "stream", "invalid_type")),
    ("/v1/responses", b"{not json", ("We could not parse the JSON body of your request.", None, None)),
])
def test_bodies_the_client_cannot_send_are_refused_too(fake, client, path, body, expected):
    status, answer = _raw_post(fake, path, body)
    message, param, code = expected
    assert status == 400 and set(answer) == {"error"}
    error = answer["error"]
    assert error["message"].startswith(message) and error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code)


# --------------------------------------------------------------------------- usage as OpenAI reports it


def test_responses_usage_has_its_details(fake, client):
    fake.queue(Script(text="abcd" * 3, usage={"cached_tokens": 64, "reasoning_tokens": 5}))
    usage = list(client.responses.create(model=MODEL, input="hi", stream=True))[-1].response.usage
    assert usage.input_tokens_details.cached_tokens == 64 and usage.input_tokens_details.cache_write_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 5
    assert usage.output_tokens == 3 and usage.total_tokens == usage.input_tokens + 3


def test_chat_usage_chunk_has_its_details_when_asked(fake, client):
    fake.queue(Script(text="abcd" * 3, usage={"cached_tokens": 64, "reasoning_tokens": 5}))
    chunks = list(client.chat.completions.create(model=MODEL, messages=[USER], stream=True,
                                                 stream_options={"include_usage": True}))
    *answer, last = chunks
    assert last.choices == [] and all(c.choices and c.usage is None for c in answer)
    assert last.usage.prompt_tokens_details.cached_tokens == 64
    assert last.usage.completion_tokens_details.reasoning_tokens == 5
    assert last.usage.completion_tokens == 3


def test_chat_stream_has_no_usage_unless_asked(fake):
    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
    conn.request("POST", "/v1/chat/completions", body=json.dumps({"model": MODEL, "messages": [USER],
                                                                  "stream": True}),
                 headers={"Authorization": f"Bearer {fake.api_key}", "Content-Type": "application/json"})
    events = [line[len("data: "):] for line in conn.getresponse().read().decode().split("\n\n") if line]
    conn.close()
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["choices"] and "usage" not in c for c in chunks)
