"""Talking to the model: Responses or Chat Completions streaming, or practice mode.

Whatever goes wrong becomes a ``ModelError`` carrying one plain sentence for
the user; the responder never sees an SDK exception or a traceback. The
``openai`` package is imported here only, and only when an answer needs it,
so the acknowledgement path of a cold instance does not pay for it.
"""
from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

import logs
from config import Settings
from context import ModelInput
from knowledge import ToolBox, ToolCall, ToolResult

log = logs.get(__name__)


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int


class ModelError(Exception):
    """``kind`` is for logs and retries; ``sentence`` is what the user reads."""

    def __init__(self, kind: str, sentence: str):
        super().__init__(kind)
        self.kind = kind
        self.sentence = sentence


@dataclass(frozen=True)
class Citation:
    url: str
    title: str


class ModelStream(Protocol):
    usage: Usage | None
    notice: str | None  # e.g. "cut off at the output limit", shown under the answer
    citations: list[Citation]  # web pages the answer cites (web search)
    on_status: Callable[[str], None] | None  # "Searching the web…" while a tool runs
    may_continue: Callable[[str], bool] | None  # before a further request: False when stopped

    def __iter__(self) -> Iterator[str]: ...

    def close(self) -> None: ...


def open_stream(settings: Settings, model_input: ModelInput, toolbox: ToolBox | None = None) -> ModelStream:
    if settings.practice_mode:
        from practice import PracticeStream

        return PracticeStream(model_input, settings.practice_token_delay, settings.web_search, toolbox)
    client = _client(settings)
    try:
        if settings.openai_api == "chat":
            return _ChatStream(client, settings, model_input, toolbox)
        return _ResponsesStream(client, settings, model_input, toolbox)
    except Exception as error:
        raise as_model_error(error, settings, got_text=False) from None


_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def _client(settings: Settings):
    key = (settings.openai_api_key, settings.openai_base_url, settings.first_token_timeout, settings.openai_max_retries)
    with _clients_lock:
        if key not in _clients:
            import httpx2
            from openai import OpenAI

            _clients[key] = OpenAI(
                api_key=settings.openai_api_key,
                base_url=settings.openai_base_url,
                max_retries=settings.openai_max_retries,
                # The read timeout bounds the wait for the response and for each
                # chunk; the first-token deadline itself is enforced by a watchdog.
                timeout=httpx2.Timeout(settings.first_token_timeout, connect=10.0),
            )
        return _clients[key]


READING_RESULTS = "Reading the results…"


class _ToolLoopStream:
    """One answer that may take several model requests: when the model calls
    tools, they run, their results go back, and the next request continues.

    Text of every round streams through ``__iter__``; usage is summed; after
    ``max_rounds`` rounds of tool calls the model must answer with what it has.
    ``close()`` (Stop, the first-token deadline) works in any round, also
    while a tool runs: no further request is made.
    """

    def __init__(self, settings: Settings, model_input: ModelInput, toolbox: ToolBox | None):
        self.usage: Usage | None = None
        self.notice: str | None = None
        self.citations: list[Citation] = []
        self.on_status: Callable[[str], None] | None = None
        # Asked before each further model request (after tools ran): False = the answer was stopped.
        self.may_continue: Callable[[str], bool] | None = None
        self._settings = settings
        self._toolbox = toolbox
        self._instructions = model_input.system_prompt
        if toolbox is not None:
            from prompts import DATA_NOT_INSTRUCTIONS

            self._instructions += "\n\n" + DATA_NOT_INSTRUCTIONS
        self._lock = threading.Lock()
        self._closed = False
        self._stream = self._request(last_round=False)

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
                else:
                    yield item
            if not calls or self._toolbox is None or self._closed:
                return
            rounds += 1
            results = []
            for call in calls:
                if self._closed:
                    return
                result = self._toolbox.run(call, self.on_status)
                results.append(result)
                self._cite_found(result)
            self._add_round(calls, results)
            if self.may_continue is not None and not self.may_continue(READING_RESULTS):
                return
            if self.on_status:
                self.on_status(READING_RESULTS)
            stream = self._request(last_round=rounds >= self._toolbox.max_rounds)
            with self._lock:
                self._stream, closed = stream, self._closed
            if closed:
                _hard_close(stream)
                return

    def _cite_found(self, result: ToolResult) -> None:
        for found in result.found:
            if found.url.startswith(("https://", "http://")) and all(c.url != found.url for c in self.citations):
                self.citations.append(Citation(found.url, f"{found.source}: {found.title}"))

    def _add_usage(self, usage: Usage | None) -> None:
        if usage is not None:
            before = self.usage or Usage(0, 0)
            self.usage = Usage(before.input_tokens + usage.input_tokens, before.output_tokens + usage.output_tokens)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            stream = self._stream
        _hard_close(stream)


class _ResponsesStream(_ToolLoopStream):
    def __init__(self, client, settings: Settings, model_input: ModelInput, toolbox: ToolBox | None = None):
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
            elif kind == "response.output_item.done" and getattr(event.item, "type", None) == "function_call":
                item = event.item
                yield ToolCall(item.call_id, item.name, item.arguments or "")
            elif kind in ("response.completed", "response.incomplete"):
                self._add_usage(_responses_usage(event.response))
                if kind == "response.incomplete":
                    reason = getattr(getattr(event.response, "incomplete_details", None), "reason", None)
                    self.notice = _incomplete_notice(reason)
            elif kind == "response.failed":
                error = getattr(event.response, "error", None)
                raise ModelError("failed", _failure_sentence(getattr(error, "code", None)))
            elif kind == "error":
                raise ModelError("error_event", _failure_sentence(getattr(event, "code", None)))

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


class _ChatStream(_ToolLoopStream):
    def __init__(self, client, settings: Settings, model_input: ModelInput, toolbox: ToolBox | None = None):
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
                self._add_usage(Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0))
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
                    self.notice = _incomplete_notice("max_output_tokens")
                elif choice.finish_reason == "content_filter":
                    self.notice = _incomplete_notice("content_filter")
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


def _hard_close(stream) -> None:
    """Close the model's HTTP response, also from another thread.

    ``Stream.close()`` alone does not wake a thread blocked reading the socket
    (a model that has not sent its first token yet); shutting the socket down
    does, so a Stop takes effect at once and the server sees the client leave,
    which is what ends generation and billing. Only a response still being
    read is cut that way: a finished one's connection belongs to the pool.
    """
    try:
        if stream.response.is_closed:
            # Read to the end: httpx has put the connection back in the pool, and
            # another answer may be using it now. Shutting it down would break that one.
            stream.close()
            return
        network = stream.response.extensions.get("network_stream")
        sock = network.get_extra_info("socket") if network is not None else None
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except (AttributeError, OSError):
        pass
    stream.close()


def _responses_usage(response) -> Usage | None:
    usage = getattr(response, "usage", None)
    if usage is None:
        return None
    return Usage(usage.input_tokens or 0, usage.output_tokens or 0)


def _incomplete_notice(reason: str | None) -> str:
    if reason == "content_filter":
        return "The answer was cut off by the model's content filter."
    if reason == "max_output_tokens":
        return "The answer was cut off at the output token limit (MAX_OUTPUT_TOKENS)."
    return "The model ended the answer early."


def _failure_sentence(code: str | None) -> str:
    if code in ("rate_limit_exceeded",):
        return "The model is rate limited right now; please try again in a minute."
    if code == "insufficient_quota":
        return "The OpenAI account is out of credit; ask the operator to add credit or raise the limit."
    suffix = f" ({code})" if code else ""
    return f"The model stopped with an error{suffix}; please try again."


def as_model_error(error: BaseException, settings: Settings, got_text: bool) -> ModelError:
    """Any exception from the SDK or the connection → one sentence for the user."""
    if isinstance(error, ModelError):
        return error
    import openai

    model = settings.openai_model
    code = getattr(error, "code", None)
    log.warning("model call failed", error=type(error).__name__, code=code, got_text=got_text)
    if isinstance(error, openai.AuthenticationError):
        return ModelError("auth", "The OpenAI API key was rejected; ask the operator to check OPENAI_API_KEY.")
    if isinstance(error, openai.PermissionDeniedError):
        return ModelError("permission", f"This API key may not use the model “{model}”; ask the operator to check OPENAI_MODEL.")
    if isinstance(error, openai.NotFoundError):
        return ModelError("not_found", f"The model “{model}” was not found; ask the operator to check OPENAI_MODEL and OPENAI_BASE_URL.")
    if isinstance(error, openai.RateLimitError):
        if code == "insufficient_quota":
            return ModelError("insufficient_quota", _failure_sentence("insufficient_quota"))
        return ModelError("rate_limited", _failure_sentence("rate_limit_exceeded"))
    if isinstance(error, openai.BadRequestError):
        if code == "context_length_exceeded":
            return ModelError("context_length_exceeded", "This conversation is too long for the model; start a new thread or shorten the question.")
        return ModelError("bad_request", f"The model API refused the request{f' ({code})' if code else ''}.")
    if isinstance(error, openai.InternalServerError):
        return ModelError("server_error", "The model API had an internal error; please try again.")
    if isinstance(error, openai.APITimeoutError):
        return ModelError("timeout", "The model took too long to answer; please try again.")
    if isinstance(error, openai.APIConnectionError) or not isinstance(error, openai.APIError):
        if got_text:
            return ModelError("broken_stream", "The connection to the model broke off; the answer above is incomplete.")
        if isinstance(error, openai.APIConnectionError):
            return ModelError("connection", "Could not reach the model API; please try again.")
        return ModelError("unexpected", "Something went wrong while talking to the model; please try again.")
    # Any other APIError: an error the server reported inside the stream.
    return ModelError("error_event", _failure_sentence(code))


class FirstTokenDeadline:
    """Closes the stream when no text arrives within ``seconds`` (the SDK only bounds each read)."""

    def __init__(self, stream: ModelStream, seconds: float):
        self.fired = False
        self._stream = stream
        self._seconds = seconds
        self._done = False  # text arrived, or the deadline was called off
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        try:
            self._stream.close()
        except Exception:
            pass

    def got_text(self) -> None:
        self._done = True
        self._timer.cancel()

    def restart(self) -> None:
        """A tool ran or a new model request began: the wait for the first text starts again."""
        if not self._done and not self.fired:
            self._timer.cancel()
            self._timer = threading.Timer(self._seconds, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        self._done = True
        self._timer.cancel()


def timeout_error(seconds: float) -> ModelError:
    return ModelError("first_token_timeout", f"The model did not start answering within {seconds:g} seconds; please try again.")
