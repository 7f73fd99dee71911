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

from threadwise import logs
from threadwise.config import Settings
from threadwise.answering.model_input import ModelInput
from threadwise.knowledge.toolbox import ToolBox

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
        from threadwise.model.practice import PracticeStream

        return PracticeStream(model_input, settings.practice_token_delay, settings.web_search, toolbox)
    client = _client(settings)
    try:
        from threadwise.model.streams import ChatStream, ResponsesStream

        if settings.openai_api == "chat":
            return ChatStream(client, settings, model_input, toolbox)
        return ResponsesStream(client, settings, model_input, toolbox)
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


def _hard_close(stream) -> None:
    """Close the model's HTTP response, also from another thread (Stop, the first-token deadline).

    ``Stream.close()`` alone does not wake a thread blocked reading the socket
    (a model that has not sent its first token yet); shutting the socket down
    does, so a Stop takes effect at once and the server sees the client leave,
    which is what ends generation and billing. The reading thread then closes
    the connection itself: closing its file descriptor from here would free the
    number while that thread may be about to wait on it, and a socket opened
    meanwhile (a Slack call) would take the number, so the reader would wait on
    a stranger's connection until its read timeout (seen: a Stop that took 60 s).
    Only a response still being read is cut that way: a finished one's
    connection belongs to the pool.
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
            return  # (the reader wakes with the connection closed and closes the response)
    except (AttributeError, OSError):
        pass
    stream.close()


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
