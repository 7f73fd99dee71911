"""FakeOpenAI refuses a conversation OpenAI refuses: Responses ``input`` items, Chat ``messages``.

The two APIs look alike and are not: Responses content parts are
``input_text`` / ``input_image`` (with ``image_url`` a string) for people and
``output_text`` for the assistant; Chat parts are ``text`` / ``image_url``
(an object with ``url``). Tool results must answer a call made in the same
conversation: a Responses ``function_call_output`` needs its
``function_call`` (and every call its output), a Chat ``tool`` message needs
the assistant message with ``tool_calls`` right before it. Each mismatch is
the 400 OpenAI sends. Standard library only.
"""

from __future__ import annotations

from typing import Any

from .openai_refusals import (
    Refused,
    empty_array,
    missing,
    need_choice,
    need_objects,
    need_str,
    wrong_type,
    wrong_value,
)

RESPONSES_ROLES = ("user", "assistant", "system", "developer")
# Every content part type a Responses message may hold, as OpenAI lists them in its refusal.
RESPONSES_PART_TYPES = ("input_text", "input_image", "input_audio", "output_text", "refusal", "input_file",
                        "computer_screenshot", "summary_text", "encrypted_content")
ASSISTANT_PART_TYPES = ("output_text", "refusal")
IMAGE_DETAILS = ("low", "high", "auto", "original")
RESPONSES_ITEM_TYPES = (
    "message", "function_call", "function_call_output", "reasoning", "web_search_call", "file_search_call",
    "computer_call", "computer_call_output", "code_interpreter_call", "image_generation_call",
    "local_shell_call", "local_shell_call_output", "shell_call", "shell_call_output", "apply_patch_call",
    "apply_patch_call_output", "mcp_list_tools", "mcp_approval_request", "mcp_approval_response", "mcp_call",
    "custom_tool_call", "custom_tool_call_output", "tool_search_call", "additional_tools", "compaction",
    "compaction_trigger", "item_reference", "program", "program_output",
)
CHAT_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
CHAT_PART_TYPES = ("text", "image_url", "input_audio", "refusal", "audio", "file")
CHAT_PARTS_BY_ROLE = {"system": ("text",), "developer": ("text",), "tool": ("text",),
                      "assistant": ("text", "refusal")}


# ---------------------------------------------------------------- Responses


def check_input(body: dict) -> None:
    items = body.get("input")
    if items is None:
        # Without input the conversation must come from somewhere else.
        if not any(body.get(k) for k in ("previous_response_id", "conversation", "prompt")):
            raise missing("input")
        return
    if isinstance(items, str):
        return
    if not isinstance(items, list):
        raise wrong_type("input", "one of a string or an array of input items", items)
    calls: list[str] = []
    answered: list[str] = []
    for where, item in need_objects(items, "input"):
        kind = item.get("type", "message" if "role" in item else None)
        if kind is None:
            raise missing(f"{where}.type")
        if kind == "message":
            _check_responses_message(item, where)
        elif kind == "function_call":
            calls.append(need_str(item, "call_id", f"{where}.call_id"))
            need_str(item, "name", f"{where}.name")
            need_str(item, "arguments", f"{where}.arguments")
        elif kind == "function_call_output":
            answered.append(need_str(item, "call_id", f"{where}.call_id"))
            if item.get("output") is None:
                raise missing(f"{where}.output")
        elif kind not in RESPONSES_ITEM_TYPES:
            raise wrong_value(f"{where}.type", kind, RESPONSES_ITEM_TYPES)
    if body.get("previous_response_id"):
        return  # the calls may sit in the stored previous response
    for call_id in answered:
        if call_id not in calls:
            raise Refused(f"No tool call found for function call output with call_id {call_id}.", "input")
    for call_id in calls:
        if call_id not in answered:
            raise Refused(f"No tool output found for function call {call_id}.", "input")


def _check_responses_message(item: dict, where: str) -> None:
    role = need_choice(item, "role", f"{where}.role", RESPONSES_ROLES)
    content = item.get("content")
    if content is None:
        raise missing(f"{where}.content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise wrong_type(f"{where}.content", "one of a string or an array of input content", content)
    for at, part in need_objects(content, f"{where}.content"):
        kind = need_choice(part, "type", f"{at}.type", RESPONSES_PART_TYPES)
        if role == "assistant" and kind not in ASSISTANT_PART_TYPES:
            raise wrong_value(at, kind, ASSISTANT_PART_TYPES)
        if kind in ("input_text", "output_text"):
            need_str(part, "text", f"{at}.text")
        elif kind == "input_image":
            _check_responses_image(part, at)


def _check_responses_image(part: dict, at: str) -> None:
    url = part.get("image_url")
    if url is None and part.get("file_id") is None:
        raise missing(f"{at}.image_url")
    if url is not None and not isinstance(url, str):  # Chat's {"url": …} object is refused here
        raise wrong_type(f"{at}.image_url", "a string", url)
    detail = part.get("detail")
    if detail is not None and detail not in IMAGE_DETAILS:
        raise wrong_value(f"{at}.detail", detail, IMAGE_DETAILS)


# ---------------------------------------------------------------- Chat Completions


def check_messages(messages: Any) -> None:
    if messages is None:
        raise missing("messages")
    if not isinstance(messages, list):
        raise wrong_type("messages", "an array", messages)
    if not messages:
        raise empty_array("messages")
    waiting: list[str] = []  # tool_call_ids of the last assistant message, not yet answered
    asked_at = 0
    for i, (where, message) in enumerate(need_objects(messages, "messages")):
        role = need_choice(message, "role", f"{where}.role", CHAT_ROLES)
        if role == "tool":
            call_id = need_str(message, "tool_call_id", f"{where}.tool_call_id")
            if call_id not in waiting:
                raise Refused("Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                              "message with 'tool_calls'.", f"messages.[{i}].role")
            waiting.remove(call_id)
        elif waiting:
            raise _unanswered(asked_at, waiting)
        _check_chat_content(message, role, where)
        if role == "assistant" and message.get("tool_calls"):
            waiting, asked_at = _tool_call_ids(message["tool_calls"], where), i
    if waiting:
        raise _unanswered(asked_at, waiting)


def _unanswered(index: int, call_ids: list[str]) -> Refused:
    return Refused("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                   f"'tool_call_id'. The following tool_call_ids did not have response messages: "
                   f"{', '.join(call_ids)}", f"messages.[{index}].role")


def _tool_call_ids(tool_calls: Any, where: str) -> list[str]:
    if not isinstance(tool_calls, list):
        raise wrong_type(f"{where}.tool_calls", "an array", tool_calls)
    ids = []
    for at, call in need_objects(tool_calls, f"{where}.tool_calls"):
        ids.append(need_str(call, "id", f"{at}.id"))
        if call.get("type") != "function":
            raise wrong_value(f"{at}.type", call.get("type"), ("function",))
        function = call.get("function")
        if not isinstance(function, dict):
            raise missing(f"{at}.function")
        need_str(function, "name", f"{at}.function.name")
        need_str(function, "arguments", f"{at}.function.arguments")
    return ids


def _check_chat_content(message: dict, role: str, where: str) -> None:
    content = message.get("content")
    if content is None:
        if role == "assistant" and (message.get("tool_calls") or message.get("function_call")):
            return
        raise missing(f"{where}.content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise wrong_type(f"{where}.content", "one of a string or array of objects", content)
    allowed = CHAT_PARTS_BY_ROLE.get(role, CHAT_PART_TYPES)
    for at, part in need_objects(content, f"{where}.content"):
        kind = need_choice(part, "type", f"{at}.type", CHAT_PART_TYPES)
        if kind not in allowed:
            raise wrong_value(f"{at}.type", kind, allowed)
        if kind == "text":
            need_str(part, "text", f"{at}.text")
        elif kind == "image_url":
            image = part.get("image_url")
            if image is None:
                raise missing(f"{at}.image_url")
            if not isinstance(image, dict):  # Responses' plain string is refused here
                raise wrong_type(f"{at}.image_url", "an object", image)
            need_str(image, "url", f"{at}.image_url.url")
