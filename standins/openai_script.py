"""What a test tells FakeOpenAI (``Script``) and what it saw (``Recorded``).

A ``Script`` says how the stand-in answers one request: the text, its pacing,
and the failure to play (HTTP status errors from ``STATUS_ERRORS``, a broken
connection, an error event, ``response.failed``, ``response.incomplete``).
A ``Recorded`` is one request as the stand-in received it, and what happened
to its answer. Standard library only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Optional

#: A first_token_delay / response_delay that never ends within a test.
HANG = 3600.0

# status_error name -> (HTTP status, error.type, error.code, default message)
STATUS_ERRORS: dict[str, tuple[int, str, Optional[str], str]] = {
    "invalid_api_key": (
        401, "invalid_request_error", "invalid_api_key",
        "Incorrect API key provided: {masked_key}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    "insufficient_quota": (
        429, "insufficient_quota", "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details. "
        "For more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
    ),
    # Hard spend limits (COST_FACTS §6: "a 429 with organization_spend_limit_exceeded or
    # project_spend_limit_exceeded"). Status and code are documented; the type and the message are
    # not (these are as client code seen in the wild has them): the bot reads only status and code.
    "organization_spend_limit_exceeded": (
        429, "insufficient_quota", "organization_spend_limit_exceeded",
        "Your organization has reached its monthly spend limit. Raise the limit in your organization's "
        "settings to continue.",
    ),
    "project_spend_limit_exceeded": (
        429, "insufficient_quota", "project_spend_limit_exceeded",
        "Your project has reached its monthly spend limit. Raise the project's limit in its settings to continue.",
    ),
    "rate_limit": (
        429, "tokens", "rate_limit_exceeded",
        "Rate limit reached for {model} in organization org-fake on tokens per min (TPM): "
        "Limit 30000, Used 30000, Requested 1000. Please try again in {retry_after}s. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
    ),
    "context_length_exceeded": (
        400, "invalid_request_error", "context_length_exceeded",
        # The Responses text; chat gets its own text below.
        "Your input exceeds the context window of this model. Please adjust your input and try again.",
    ),
    "model_not_found": (
        404, "invalid_request_error", "model_not_found",
        "The model `{model}` does not exist or you do not have access to it.",
    ),
    "server_error": (
        500, "server_error", None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    "overloaded": (
        503, "server_error", None,
        "The engine is currently overloaded, please try again later.",
    ),
}

_CHAT_CONTEXT_MESSAGE = (
    "This model's maximum context length is 128000 tokens. However, your messages resulted in "
    "{tokens} tokens. Please reduce the length of the messages."
)


@dataclass
class Script:
    """How the fake answers one request.

    text: the answer (default "Echo: <last user text>").
    chunk_chars: characters per text delta.
    response_delay: seconds before the HTTP status line/headers are sent.
    first_token_delay: seconds (stream already open, after response.created /
        response.in_progress) before the first delta. Use HANG to hang.
    delta_delay: seconds between deltas.
    status_error: answer with an HTTP error instead (see STATUS_ERRORS):
        "invalid_api_key" 401, "insufficient_quota" 429, "organization_spend_limit_exceeded" 429,
        "project_spend_limit_exceeded" 429, "rate_limit" 429
        (+ retry-after / retry-after-ms headers), "context_length_exceeded" 400
        (param "input" for Responses, "messages" for chat), "model_not_found" 404,
        "server_error" 500, "overloaded" 503.
    break_after: after this many deltas drop the TCP connection without
        finishing the chunked body (no terminal chunk, no completed event).
    break_with_reset: drop with a TCP RST instead of a FIN.
    error_event_after: after this many deltas send an error event and end the
        stream (Responses: ``event: error``; chat: ``data: {"error": {...}}``).
    error_event_shape: Responses only. "nested" (default, what the live API
        sends: {"type":"error","sequence_number":n,"error":{type,code,message,param}})
        -> the openai SDK raises APIError; "flat" (the documented
        ResponseErrorEvent: code/message/param at top level) -> the SDK yields a
        ResponseErrorEvent.
    fail_after: Responses: after this many deltas send ``response.failed``
        (response.error {code, message}) and end. Chat: same as error_event_after.
    incomplete_reason: "max_output_tokens" / "content_filter": after the deltas
        end with ``response.incomplete`` (chat: finish_reason "length" /
        "content_filter").
    usage: dict merged over the computed usage (Responses keys input_tokens /
        output_tokens / total_tokens; chat keys prompt_tokens / completion_tokens;
        either style is accepted for both APIs; "cached_tokens" and
        "reasoning_tokens" go into the details objects of either API).
    error_code / error_message: override code/message of status errors, error
        events and response.failed.
    retry_after: seconds advertised for "rate_limit" (retry-after-ms exact,
        retry-after rounded up).
    model: override the model name reported back (default: the request's).
    """

    text: Optional[str] = None
    chunk_chars: int = 4
    response_delay: float = 0.0
    first_token_delay: float = 0.0
    delta_delay: float = 0.0
    status_error: Optional[str] = None
    break_after: Optional[int] = None
    break_with_reset: bool = False
    error_event_after: Optional[int] = None
    error_event_shape: str = "nested"
    fail_after: Optional[int] = None
    incomplete_reason: Optional[str] = None
    usage: Optional[dict] = None
    error_code: Optional[str] = None
    error_message: Optional[str] = None
    retry_after: float = 0.1
    model: Optional[str] = None
    # Web search (Responses only, when the request lists a web_search tool): a
    # web_search_call item runs first (in_progress/searching/completed events),
    # then the answer carries these (url, title) pairs as url_citation annotations.
    citations: tuple = ()
    # Function calling: (name, arguments dict or JSON text) pairs the model calls
    # instead of answering -- only those the request declares as function tools,
    # and none when the request says tool_choice "none" (as the real API).
    tool_calls: tuple = ()

    def __post_init__(self) -> None:
        if self.status_error is not None and self.status_error not in STATUS_ERRORS:
            raise ValueError(f"unknown status_error {self.status_error!r}; one of {sorted(STATUS_ERRORS)}")
        if self.incomplete_reason not in (None, "max_output_tokens", "content_filter"):
            raise ValueError("incomplete_reason must be None, 'max_output_tokens' or 'content_filter'")
        if self.error_event_shape not in ("nested", "flat"):
            raise ValueError("error_event_shape must be 'nested' or 'flat'")
        if self.chunk_chars < 1:
            raise ValueError("chunk_chars must be >= 1")


@dataclass
class Recorded:
    """One request as the fake saw it, plus what happened to its answer.

    started_at / first_delta_at / last_delta_at / client_closed_at / finished_at are
    time.monotonic() values: last_delta_at when the last text delta so far was written (a
    non-streamed answer: when its body was), client_closed_at when the server noticed the client
    hang up (None if it did not) -- the benches' "model's last token" and "stream closed".
    outcome: "completed", "incomplete", "failed", "error_event", "status_error",
    "invalid_request" (refused as OpenAI refuses it: ``refusal`` holds the
    error object), "broken" (break_after), "client_closed", "server_stopped",
    "not_found". usage_reported: the usage object the client was sent, if any.
    """

    path: str
    body: dict
    headers: dict
    started_at: float
    method: str = "POST"
    stream: bool = False
    script: Optional[Script] = None
    status: Optional[int] = None
    deltas_total: int = 0
    deltas_sent: int = 0
    client_closed_early: bool = False
    outcome: Optional[str] = None
    text_sent: str = ""
    first_delta_at: Optional[float] = None
    last_delta_at: Optional[float] = None
    client_closed_at: Optional[float] = None
    refusal: Optional[dict] = None
    finished_at: Optional[float] = None
    # The usage object the client was sent (in the final event, the usage chunk or the body); None
    # when it got none -- a stream the client closed early, a broken one, chat without include_usage.
    usage_reported: Optional[dict] = None
    finished: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def done(self) -> bool:
        return self.finished.is_set()

