"""FakeOpenAI refuses what OpenAI refuses: the request body's top level and its tools.

``check_request(api, body)`` raises ``Refused`` (openai_refusals) for a body
the real API answers with 400 ``invalid_request_error``: parameters the API
does not know (the other API's, typically), no ``model``, a ``stream`` that
is not a boolean, ``stream_options`` without streaming, ``max_output_tokens``
below 16, tools of the wrong shape for the API. The conversation itself
(Responses ``input`` items, Chat ``messages``) is checked in
openai_checks_items. Standard library only.
"""

from __future__ import annotations

import re
from typing import Any

from .openai_checks_items import check_input, check_messages
from .openai_refusals import (
    Refused,
    below_minimum,
    empty_array,
    is_int,
    missing,
    need_objects,
    need_str,
    unknown_parameter,
    wrong_type,
    wrong_value,
)

# Top-level parameters of each API (openai-python 3.x: ResponseCreateParamsBase,
# CompletionCreateParamsBase, plus "stream").
RESPONSES_PARAMS = frozenset({
    "access_programs", "background", "background_options", "context_management", "conversation", "image",
    "include", "input", "instructions", "max_output_tokens", "max_tool_calls", "metadata", "model",
    "moderation", "parallel_tool_calls", "previous_response_id", "prompt", "prompt_cache_key",
    "prompt_cache_options", "prompt_cache_retention", "reasoning", "safety_identifier", "service_tier",
    "store", "stream", "stream_options", "temperature", "text", "tool_choice", "tools", "top_logprobs",
    "top_p", "truncation", "user",
})
CHAT_PARAMS = frozenset({
    "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
    "max_completion_tokens", "max_tokens", "messages", "metadata", "modalities", "model", "moderation", "n",
    "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_options",
    "prompt_cache_retention", "reasoning_effort", "response_format", "safety_identifier", "seed",
    "service_tier", "stop", "store", "stream", "stream_options", "temperature", "tool_choice", "tools",
    "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
})
RESPONSES_TOOL_TYPES = (
    "function", "file_search", "computer", "computer_use_preview", "web_search", "web_search_2025_08_26",
    "mcp", "code_interpreter", "programmatic_tool_calling", "image_generation", "local_shell", "shell",
    "custom", "namespace", "tool_search", "web_search_preview", "web_search_preview_2025_03_11", "apply_patch",
)
CHAT_TOOL_TYPES = ("function", "custom")
TOOL_CHOICES = ("none", "auto", "required")
RESPONSES_MIN_OUTPUT_TOKENS = 16
_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def check_request(api: str, body: Any) -> None:
    """Raise ``Refused`` for what OpenAI's ``api`` ("responses" or "chat") refuses with HTTP 400."""
    if not isinstance(body, dict):
        raise wrong_type("body", "an object", body)
    known = RESPONSES_PARAMS if api == "responses" else CHAT_PARAMS
    for name in body:
        if name not in known:
            raise unknown_parameter(api, name)
    _check_model(api, body)
    _check_streaming(api, body)
    if api == "responses":
        _check_token_limit(body, "max_output_tokens", RESPONSES_MIN_OUTPUT_TOKENS)
        if body.get("instructions") is not None and not isinstance(body["instructions"], str):
            raise wrong_type("instructions", "a string", body["instructions"])
        _check_responses_tools(body.get("tools"))
        check_input(body)
    else:
        _check_token_limit(body, "max_completion_tokens", 1)
        _check_token_limit(body, "max_tokens", 1)
        _check_chat_tools(body)
        check_messages(body.get("messages"))
    _check_tool_choice(body.get("tool_choice"))


def _check_model(api: str, body: dict) -> None:
    model = body.get("model")
    if model is None:
        if api == "chat":  # the old wording, without param or code
            raise Refused("you must provide a model parameter")
        raise missing("model")
    if not isinstance(model, str):
        raise wrong_type("model", "a string", model)


def _check_streaming(api: str, body: dict) -> None:
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise wrong_type("stream", "a boolean", stream)
    options = body.get("stream_options")
    if options is None:
        return
    if not isinstance(options, dict):
        raise wrong_type("stream_options", "an object", options)
    if api == "chat" and not stream:
        raise Refused("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                      "stream_options")
    known = ("include_usage", "include_obfuscation") if api == "chat" else ("include_obfuscation",)
    for key, value in options.items():
        if key not in known:
            raise unknown_parameter(api, f"stream_options.{key}")
        if not isinstance(value, bool):
            raise wrong_type(f"stream_options.{key}", "a boolean", value)


def _check_token_limit(body: dict, key: str, minimum: int) -> None:
    value = body.get(key)
    if value is None:
        return
    if not is_int(value):
        raise wrong_type(key, "an integer", value)
    if value < minimum:
        raise below_minimum(key, minimum, value)


def _tool_list(tools: Any) -> list:
    if not isinstance(tools, list):
        raise wrong_type("tools", "an array", tools)
    for where, tool in need_objects(tools, "tools"):
        if tool.get("type") is None:
            raise missing(f"{where}.type")
    return tools


def _check_function(function: dict, where: str) -> None:
    name = need_str(function, "name", f"{where}.name")
    if not _FUNCTION_NAME.fullmatch(name):
        raise Refused(f"Invalid '{where}.name': string does not match pattern. Expected a string that matches "
                      "the pattern '^[a-zA-Z0-9_-]+$'.", f"{where}.name", "invalid_value")
    parameters = function.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise wrong_type(f"{where}.parameters", "an object", parameters)


def _check_responses_tools(tools: Any) -> None:
    if tools is None:
        return
    for i, tool in enumerate(_tool_list(tools)):
        kind = tool["type"]
        if kind not in RESPONSES_TOOL_TYPES:
            raise wrong_value(f"tools[{i}].type", kind, RESPONSES_TOOL_TYPES)
        if kind == "function":  # flat: name and parameters sit on the tool itself
            _check_function(tool, f"tools[{i}]")
        elif kind == "file_search" and not isinstance(tool.get("vector_store_ids"), list):
            raise missing(f"tools[{i}].vector_store_ids")
        elif kind == "code_interpreter":  # a container id, or {"type": "auto", …}
            container = tool.get("container")
            if container is None:
                raise missing(f"tools[{i}].container")
            if not isinstance(container, (str, dict)):
                raise wrong_type(f"tools[{i}].container", "one of a string or an object", container)


def _check_chat_tools(body: dict) -> None:
    tools = body.get("tools")
    if tools is None:
        if body.get("tool_choice") is not None:
            raise Refused("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
                          "specified.", "tool_choice")
        return
    if not _tool_list(tools):
        raise empty_array("tools")
    for i, tool in enumerate(tools):
        kind = tool["type"]
        if kind not in CHAT_TOOL_TYPES:
            raise wrong_value(f"tools[{i}].type", kind, CHAT_TOOL_TYPES)
        if kind == "function":  # nested: the function object carries name and parameters
            function = tool.get("function")
            if function is None:
                raise missing(f"tools[{i}].function")
            if not isinstance(function, dict):
                raise wrong_type(f"tools[{i}].function", "an object", function)
            _check_function(function, f"tools[{i}].function")


def _check_tool_choice(choice: Any) -> None:
    if choice is None or isinstance(choice, dict):
        return
    if not isinstance(choice, str):
        raise wrong_type("tool_choice", "one of a string or an object", choice)
    if choice not in TOOL_CHOICES:
        raise wrong_value("tool_choice", choice, TOOL_CHOICES)
