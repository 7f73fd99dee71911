"""The model streams: Responses and Chat Completions, each with the tool-calling loop.

One answer may take several model requests: when the model calls tools, they
run, their results go back, and the next request continues; the text of every
round streams out as one. ``client.open_stream`` picks the class; errors become
``errors.ModelError`` there and in the responder.
"""
from __future__ import annotations

import threading
from typing import Callable, Iterator

from prompts import data_rule
from threadwise.config import ModelSettings
from threadwise.knowledge.toolbox import ToolBox, ToolCall, ToolResult
from threadwise.model.closing import hard_close
from threadwise.model.fences import has_fence
from threadwise.model.errors import ModelError, ModelErrorKind, failure_sentence, incomplete_notice
from threadwise.model.tokens import estimate_tokens, estimated_usage
from threadwise.model.types import Citation, ModelInput, Usage

READING_RESULTS = "Reading the results…"
WEB_SEARCH = "web_search"  # the tool_calls name of OpenAI's own web search (Responses)


class _ToolLoopStream:
    """One answer that may take several model requests: when the model calls
    tools, they run, their results go back, and the next request continues.

    Text of every round streams through ``__iter__``; usage is summed; after
    ``max_rounds`` rounds of tool calls the model must answer with what it has.
    ``close()`` (Stop, the first-token deadline) works in any round, also
    while a tool runs: no further request is made.

    A request the provider reported no usage for (cut by ``close()``, broken)
    is counted locally: what it sent, and what it received until it ended.
    """

    def __init__(self, settings: ModelSettings, model_input: ModelInput, toolbox: ToolBox | None):
        self.tool_calls: dict[str, int] = {}
        self.notice: str | None = None
        self.citations: list[Citation] = []
        self.on_status: Callable[[str], None] | None = None
        # Asked before each further model request (after tools ran): False = the answer was stopped.
        self.may_continue: Callable[[str], bool] | None = None
        self._settings = settings
        self._toolbox = toolbox
        self._instructions = model_input.system_prompt
        # Whenever anything in the input was written by someone else (fenced documents, tool results),
        # the model is told it is data, never instructions: with tools or without.
        rule = data_rule(toolbox is not None, has_fence(t.text for t in model_input.turns))
        if rule:
            self._instructions += "\n\n" + rule
        self._lock = threading.Lock()
        self._closed = False
        self._done_rounds: Usage | None = None  # the requests before the current one
        self._sent_tokens = model_input.estimated_tokens + (estimate_tokens(rule) if rule else 0)
        self._open = False  # the current request was made (a refused one costs nothing)
        self._reported: Usage | None = None  # the current request's usage, as the provider reported it
        self._received: list[str] = []  # the current request's text and tool-call arguments so far
        self._stream = self._request(last_round=False)
        self._open = True

    # Each API fills these in.
    def _request(self, last_round: bool): ...

    def _events(self, stream) -> Iterator[str | ToolCall]: ...

    def _add_round(self, calls: list[ToolCall], results: list[ToolResult]) -> None: ...

    def __iter__(self) -> Iterator[str]:
        rounds = 0
        while True:
            calls: list[ToolCall] = []
            for item in self._events(self._stream):
                if isinstance(item, ToolCall):
                    calls.append(item)
                    self._received.append(item.name + item.arguments)
                else:
                    self._received.append(item)
                    yield item
            if not calls or self._toolbox is None or self._closed:
                return
            rounds += 1
            results = []
            for call in calls:
                if self._closed:
                    return
                result = self._toolbox.run(call, self.on_status)
                self._count_tool(call.name)
                results.append(result)
                self._cite_found(result)
            self._add_round(calls, results)
            if self.may_continue is not None and not self.may_continue(READING_RESULTS):
                return
            if self.on_status:
                self.on_status(READING_RESULTS)
            self._next_request(calls, results)
            stream = self._request(last_round=rounds >= self._toolbox.max_rounds)
            self._open = True
            with self._lock:
                self._stream, closed = stream, self._closed
            if closed:
                hard_close(stream)
                return

    def _cite_found(self, result: ToolResult) -> None:
        for found in result.found:
            if found.url.startswith(("https://", "http://")) and all(c.url != found.url for c in self.citations):
                self.citations.append(Citation(found.url, f"{found.source}: {found.title}"))

    @property
    def usage(self) -> Usage | None:
        """Every request's usage so far: the current one's as reported, or estimated while it has none."""
        current = None
        if self._open:
            current = self._reported or estimated_usage(self._sent_tokens, "".join(self._received))
        if self._done_rounds is None or current is None:
            return current or self._done_rounds
        return self._done_rounds + current

    def _next_request(self, calls: list[ToolCall], results: list[ToolResult]) -> None:
        """The current request is over; the next one sends its input again, with the calls and results."""
        self._done_rounds = self.usage
        self._open, self._reported, self._received = False, None, []
        self._sent_tokens += sum(estimate_tokens(c.name + c.arguments) + estimate_tokens(r.output)
                                 for c, r in zip(calls, results))

    def _add_usage(self, usage: Usage | None) -> None:
        if usage is not None:
            self._reported = usage if self._reported is None else self._reported + usage

    def _count_tool(self, name: str) -> None:
        self.tool_calls[name] = self.tool_calls.get(name, 0) + 1

    def close(self) -> None:
        with self._lock:
            self._closed = True
            stream = self._stream
        hard_close(stream)


class ResponsesStream(_ToolLoopStream):
    def __init__(self, client, settings: ModelSettings, model_input: ModelInput, toolbox: ToolBox | None = None):
        self._client = client
        self._input: list[dict] = [{"role": t.role, "content": _responses_content(t)} for t in model_input.turns]
        super().__init__(settings, model_input, toolbox)

    def _request(self, last_round: bool):
        settings = self._settings
        arguments = dict(
            model=settings.openai_model,
            instructions=self._instructions,
            input=self._input,
            stream=True,
            store=False,
        )
        if settings.max_output_tokens:
            arguments["max_output_tokens"] = settings.max_output_tokens
        tools = [{"type": "web_search"}] if settings.web_search else []
        if self._toolbox is not None:
            tools += self._toolbox.responses_tools()
            if last_round:
                arguments["tool_choice"] = "none"  # enough searching: answer with what was found
        if tools:
            arguments["tools"] = tools
        return self._client.responses.create(**arguments)

    def _events(self, stream) -> Iterator[str | ToolCall]:
        for event in stream:
            kind = getattr(event, "type", "")
            if kind == "response.output_text.delta":
                yield event.delta
            elif kind == "response.output_text.annotation.added":
                self._cite(getattr(event, "annotation", None))
            elif kind == "response.web_search_call.searching" and self.on_status:
                self.on_status("Searching the web…")
            elif kind == "response.output_item.added" and getattr(event.item, "type", None) == "web_search_call":
                self._count_tool(WEB_SEARCH)  # (billed per call, also when the answer is stopped after it)
            elif kind == "response.output_item.done" and getattr(event.item, "type", None) == "function_call":
                item = event.item
                yield ToolCall(item.call_id, item.name, item.arguments or "")
            elif kind in ("response.completed", "response.incomplete"):
                self._add_usage(_responses_usage(event.response))
                if kind == "response.incomplete":
                    reason = getattr(getattr(event.response, "incomplete_details", None), "reason", None)
                    self.notice = incomplete_notice(reason)
            elif kind == "response.failed":
                self._add_usage(_responses_usage(event.response))  # what it spent before failing
                error = getattr(event.response, "error", None)
                raise ModelError(ModelErrorKind.FAILED, failure_sentence(getattr(error, "code", None)))
            elif kind == "error":
                raise ModelError(ModelErrorKind.ERROR_EVENT, failure_sentence(getattr(event, "code", None)))

    def _add_round(self, calls: list[ToolCall], results: list[ToolResult]) -> None:
        # store=False: the next request carries the calls and their outputs itself.
        for call, result in zip(calls, results):
            self._input.append({"type": "function_call", "call_id": call.call_id, "name": call.name,
                                "arguments": call.arguments})
            self._input.append({"type": "function_call_output", "call_id": call.call_id, "output": result.output})

    def _cite(self, annotation) -> None:
        if getattr(annotation, "type", None) != "url_citation":
            return
        url = getattr(annotation, "url", "") or ""
        if url.startswith(("https://", "http://")) and all(c.url != url for c in self.citations):
            self.citations.append(Citation(url, getattr(annotation, "title", "") or url))


class ChatStream(_ToolLoopStream):
    def __init__(self, client, settings: ModelSettings, model_input: ModelInput, toolbox: ToolBox | None = None):
        self._client = client
        self._messages: list[dict] = [{"role": t.role, "content": _chat_content(t)} for t in model_input.turns]
        super().__init__(settings, model_input, toolbox)

    def _request(self, last_round: bool):
        settings = self._settings
        arguments = dict(
            model=settings.openai_model,
            messages=[{"role": "system", "content": self._instructions}, *self._messages],
            stream=True,
            stream_options={"include_usage": True},
        )
        if settings.max_output_tokens:
            arguments["max_completion_tokens"] = settings.max_output_tokens
        if self._toolbox is not None:
            arguments["tools"] = self._toolbox.chat_tools()
            if last_round:
                arguments["tool_choice"] = "none"
        return self._client.chat.completions.create(**arguments)

    def _events(self, stream) -> Iterator[str | ToolCall]:
        pending: dict[int, dict] = {}  # tool calls arrive in pieces, by index
        for chunk in stream:
            if chunk.usage is not None:
                self._add_usage(_usage(chunk.usage, "prompt_tokens", "completion_tokens"))
            for choice in chunk.choices or []:
                delta = choice.delta
                if delta and delta.content:
                    yield delta.content
                for piece in (delta.tool_calls or []) if delta else []:
                    call = pending.setdefault(piece.index, {"id": "", "name": "", "arguments": ""})
                    call["id"] = piece.id or call["id"]
                    if piece.function is not None:
                        call["name"] = piece.function.name or call["name"]
                        call["arguments"] += piece.function.arguments or ""
                if choice.finish_reason == "length":
                    self.notice = incomplete_notice("max_output_tokens")
                elif choice.finish_reason == "content_filter":
                    self.notice = incomplete_notice("content_filter")
        for index in sorted(pending):
            call = pending[index]
            yield ToolCall(call["id"], call["name"], call["arguments"])

    def _add_round(self, calls: list[ToolCall], results: list[ToolResult]) -> None:
        self._messages.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in calls]})
        for call, result in zip(calls, results):
            self._messages.append({"role": "tool", "tool_call_id": call.call_id, "content": result.output})


def _responses_content(turn):
    if not turn.images:
        return turn.text
    return [{"type": "input_text", "text": turn.text},
            *({"type": "input_image", "image_url": url, "detail": "auto"} for url in turn.images)]


def _chat_content(turn):
    if not turn.images:
        return turn.text
    return [{"type": "text", "text": turn.text},
            *({"type": "image_url", "image_url": {"url": url}} for url in turn.images)]


def _responses_usage(response) -> Usage | None:
    usage = getattr(response, "usage", None)
    return None if usage is None else _usage(usage, "input_tokens", "output_tokens")


def _usage(usage, input_name: str, output_name: str) -> Usage:
    """Responses' input_tokens / input_tokens_details.cached_tokens / output_tokens /
    output_tokens_details.reasoning_tokens, or Chat's prompt_tokens / completion_tokens and their details.
    Any may be missing or null (older models, other providers): 0. A part is never larger than its whole."""
    input_tokens = getattr(usage, input_name, None) or 0
    output_tokens = getattr(usage, output_name, None) or 0
    cached = getattr(getattr(usage, f"{input_name}_details", None), "cached_tokens", None) or 0
    reasoning = getattr(getattr(usage, f"{output_name}_details", None), "reasoning_tokens", None) or 0
    return Usage(input_tokens, output_tokens, min(cached, input_tokens), min(reasoning, output_tokens))
