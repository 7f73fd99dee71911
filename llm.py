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

    def __iter__(self) -> Iterator[str]: ...

    def close(self) -> None: ...


def open_stream(settings: Settings, model_input: ModelInput) -> ModelStream:
    if settings.practice_mode:
        from practice import PracticeStream

        return PracticeStream(model_input, settings.practice_token_delay, settings.web_search)
    client = _client(settings)
    try:
        if settings.openai_api == "chat":
            return _ChatStream(client, settings, model_input)
        return _ResponsesStream(client, settings, model_input)
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


class _ResponsesStream:
    def __init__(self, client, settings: Settings, model_input: ModelInput):
        self.usage: Usage | None = None
        self.notice: str | None = None
        self.citations: list[Citation] = []
        self.on_status: Callable[[str], None] | None = None
        self._settings = settings
        arguments = dict(
            model=settings.openai_model,
            instructions=model_input.system_prompt,
            input=[{"role": t.role, "content": _responses_content(t)} for t in model_input.turns],
            stream=True,
            store=False,
        )
        if settings.max_output_tokens:
            arguments["max_output_tokens"] = settings.max_output_tokens
        if settings.web_search:
            arguments["tools"] = [{"type": "web_search"}]
        self._stream = client.responses.create(**arguments)

    def __iter__(self) -> Iterator[str]:
        for event in self._stream:
            kind = getattr(event, "type", "")
            if kind == "response.output_text.delta":
                yield event.delta
            elif kind == "response.output_text.annotation.added":
                self._cite(getattr(event, "annotation", None))
            elif kind == "response.web_search_call.searching" and self.on_status:
                self.on_status("Searching the web…")
            elif kind in ("response.completed", "response.incomplete"):
                self.usage = _responses_usage(event.response)
                if kind == "response.incomplete":
                    reason = getattr(getattr(event.response, "incomplete_details", None), "reason", None)
                    self.notice = _incomplete_notice(reason)
            elif kind == "response.failed":
                error = getattr(event.response, "error", None)
                raise ModelError("failed", _failure_sentence(getattr(error, "code", None)))
            elif kind == "error":
                raise ModelError("error_event", _failure_sentence(getattr(event, "code", None)))

    def _cite(self, annotation) -> None:
        if getattr(annotation, "type", None) != "url_citation":
            return
        url = getattr(annotation, "url", "") or ""
        if url.startswith(("https://", "http://")) and all(c.url != url for c in self.citations):
            self.citations.append(Citation(url, getattr(annotation, "title", "") or url))

    def close(self) -> None:
        _hard_close(self._stream)


class _ChatStream:
    def __init__(self, client, settings: Settings, model_input: ModelInput):
        self.usage: Usage | None = None
        self.notice: str | None = None
        self.citations: list[Citation] = []
        self.on_status: Callable[[str], None] | None = None
        messages = [{"role": "system", "content": model_input.system_prompt}]
        messages += [{"role": t.role, "content": _chat_content(t)} for t in model_input.turns]
        arguments = dict(
            model=settings.openai_model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
        if settings.max_output_tokens:
            arguments["max_completion_tokens"] = settings.max_output_tokens
        self._stream = client.chat.completions.create(**arguments)

    def __iter__(self) -> Iterator[str]:
        for chunk in self._stream:
            if chunk.usage is not None:
                self.usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
            for choice in chunk.choices or []:
                if choice.delta and choice.delta.content:
                    yield choice.delta.content
                if choice.finish_reason == "length":
                    self.notice = _incomplete_notice("max_output_tokens")
                elif choice.finish_reason == "content_filter":
                    self.notice = _incomplete_notice("content_filter")

    def close(self) -> None:
        _hard_close(self._stream)


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
    which is what ends generation and billing.
    """
    try:
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
        self._timer.cancel()

    def cancel(self) -> None:
        self._timer.cancel()


def timeout_error(seconds: float) -> ModelError:
    return ModelError("first_token_timeout", f"The model did not start answering within {seconds:g} seconds; please try again.")
