"""FakeOpenAI: a local stand-in for OpenAI's HTTP API, for tests.

Speaks the real wire formats (see /work/shared/OPENAI_FACTS.md) so the real
``openai`` client can be pointed at it with ``OpenAI(base_url=fake.base_url)``:

* ``POST /v1/responses``  (stream or not): Responses API, SSE events
  ``event: <type>\\ndata: <json>\\n\\n`` with increasing ``sequence_number``.
* ``POST /v1/chat/completions`` (stream or not): ``data: <chunk json>\\n\\n``
  lines ending with ``data: [DONE]``.
* ``GET /v1/models``: a small model list (handy for key checks).

Streams use HTTP/1.1 chunked transfer encoding, one chunk per SSE event, written
straight to the socket (no buffering), so streaming is really incremental and a
dropped connection is seen by the client as an incomplete body.

Every request is answered from a ``Script``: ``fake.queue(Script(...))`` for the
next request only (queued scripts are consumed first, FIFO), otherwise
``fake.reply`` (default ``Script()``: "Echo: <last user text>").

The server watches the socket while it waits (first_token_delay, delta_delay)
and before each write, so when the client hangs up the stream stops within one
delay and ``Recorded.client_closed_early`` is set -- that is how a test proves
that "stop" closed the stream and no more tokens were generated.

Standard library only.
"""

from __future__ import annotations

import inspect
import json
import math
import select
import socket
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

__all__ = ["FakeOpenAI", "Script", "Recorded", "STATUS_ERRORS", "HANG"]

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
        "invalid_api_key" 401, "insufficient_quota" 429, "rate_limit" 429
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
        either style is accepted for both APIs).
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

    started_at / first_delta_at / finished_at are time.monotonic() values.
    outcome: "completed", "incomplete", "failed", "error_event", "status_error",
    "broken" (break_after), "client_closed", "server_stopped", "not_found".
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
    finished_at: Optional[float] = None
    finished: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def done(self) -> bool:
        return self.finished.is_set()


class _ClientGone(Exception):
    """The client closed the connection (or the fake is stopping)."""


class _Stopping(_ClientGone):
    pass


def _now() -> int:
    return int(time.time())


def _mask_key(key: str) -> str:
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}...{key[-4:]}"


def _text_of_content(content: Any, part_types: tuple[str, ...]) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            p.get("text", "") for p in content
            if isinstance(p, dict) and p.get("type") in part_types and isinstance(p.get("text"), str)
        ]
        return "\n".join(texts)
    return ""


def _last_user_text_responses(body: dict) -> str:
    inp = body.get("input")
    if isinstance(inp, str):
        return inp
    if isinstance(inp, list):
        for item in reversed(inp):
            if isinstance(item, dict) and item.get("role") == "user" and item.get("type", "message") == "message":
                return _text_of_content(item.get("content"), ("input_text", "text"))
    return ""


def _last_user_text_chat(body: dict) -> str:
    for msg in reversed(body.get("messages") or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return _text_of_content(msg.get("content"), ("text", "input_text"))
    return ""


def _all_text(obj: Any) -> str:
    """All strings in a request's input/messages (for a token estimate)."""
    out: list[str] = []

    def walk(o: Any) -> None:
        if isinstance(o, str):
            out.append(o)
        elif isinstance(o, list):
            for x in o:
                walk(x)
        elif isinstance(o, dict):
            for k, v in o.items():
                if k in ("content", "text", "input", "instructions", "messages", "output"):
                    walk(v)

    walk(obj)
    return "\n".join(out)


def _estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _chunks(text: str, n: int) -> list[str]:
    return [text[i:i + n] for i in range(0, len(text), n)]


class _Conn:
    """Writes to one client socket, one flushed chunk per event, and notices
    the client hanging up."""

    def __init__(self, handler: "_Handler", rec: Recorded, stop_event: threading.Event) -> None:
        self.h = handler
        self.sock: socket.socket = handler.connection
        self.rec = rec
        self.stop_event = stop_event
        self.headers_sent = False

    # -- liveness -----------------------------------------------------------
    def _peer_closed(self) -> bool:
        try:
            data = self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True
        return data == b""

    def check(self) -> None:
        if self.stop_event.is_set():
            raise _Stopping()
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            raise _ClientGone()
        if readable and self._peer_closed():
            raise _ClientGone()

    def wait(self, seconds: float) -> None:
        """Sleep, but return early (raising _ClientGone) if the client hangs up
        or the fake is stopped."""
        deadline = time.monotonic() + max(0.0, seconds)
        peer_sent_data = False
        while True:
            self.check()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            slice_ = min(remaining, 0.05)
            if peer_sent_data:
                # The client sent bytes (not a hang-up): can't select on it
                # without spinning, so poll by sleeping.
                self.stop_event.wait(slice_)
                continue
            try:
                readable, _, _ = select.select([self.sock], [], [], slice_)
            except (OSError, ValueError):
                raise _ClientGone()
            if readable:
                if self._peer_closed():
                    raise _ClientGone()
                peer_sent_data = True

    # -- writing ------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        self.check()
        try:
            self.h.wfile.write(data)
            self.h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            raise _ClientGone()

    def start_stream(self, request_id: str) -> None:
        h = self.h
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream; charset=utf-8")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Connection", "keep-alive")
        h.send_header("x-request-id", request_id)
        h.send_header("openai-processing-ms", "12")
        h.send_header("openai-version", "2020-10-01")
        h.send_header("openai-organization", "org-fake")
        try:
            h.end_headers()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            raise _ClientGone()
        self.headers_sent = True
        self.rec.status = 200

    def chunk(self, payload: bytes) -> None:
        self._write(b"%x\r\n%s\r\n" % (len(payload), payload))

    def sse(self, data: Any, event: Optional[str] = None, last: bool = False) -> None:
        """Write one SSE event as one chunk; with last=True the terminal chunk
        goes out in the same write (so a client that stops reading at this
        event never races the end of the body)."""
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        payload = ((f"event: {event}\n" if event else "") + f"data: {text}\n\n").encode("utf-8")
        self._write(b"%x\r\n%s\r\n" % (len(payload), payload) + (b"0\r\n\r\n" if last else b""))

    def end_stream(self) -> None:
        self._write(b"0\r\n\r\n")

    def abort(self, reset: bool = False) -> None:
        """Drop the connection abruptly (no terminal chunk)."""
        self.h.close_connection = True
        try:
            if reset:
                import struct
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.sock.close()
            else:
                self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def json_response(self, status: int, body: Any, extra_headers: Optional[dict] = None,
                      request_id: str = "") -> None:
        self.check()
        payload = json.dumps(body).encode("utf-8")
        h = self.h
        self.rec.status = status
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            if request_id:
                h.send_header("x-request-id", request_id)
            h.send_header("openai-version", "2020-10-01")
            for k, v in (extra_headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(payload)
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            raise _ClientGone()
        self.headers_sent = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence access log
        pass

    @property
    def fake(self) -> "FakeOpenAI":
        return self.server.fake  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        self.fake._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.fake._track(self.connection, False)

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        fake = self.fake
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                body = {"_": body}
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        rec = Recorded(
            path=path,
            body=body,
            headers={k.lower(): v for k, v in self.headers.items()},
            started_at=time.monotonic(),
            method=method,
            stream=bool(body.get("stream")),
        )
        fake._record(rec)
        conn = _Conn(self, rec, fake._stopping)
        request_id = f"req_{uuid.uuid4().hex[:24]}"
        try:
            self._route(fake, conn, rec, method, path, request_id)
        except _ClientGone as exc:
            if isinstance(exc, _Stopping) or fake._stopping.is_set():
                rec.outcome = "server_stopped"
                conn.abort()
                return
            rec.client_closed_early = True
            rec.outcome = "client_closed"
            self.close_connection = True
        finally:
            rec.finished_at = time.monotonic()
            rec.finished.set()

    # -- routing ------------------------------------------------------------
    def _route(self, fake: "FakeOpenAI", conn: _Conn, rec: Recorded, method: str, path: str,
               request_id: str) -> None:
        auth = rec.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[len("Bearer "):].strip():
            rec.outcome = "status_error"
            conn.json_response(401, {"error": {
                "message": "You didn't provide an API key. You need to provide your API key in an "
                           "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                           "or as the password field (with blank username) if you're accessing the API "
                           "from your browser and are prompted for a username and password. You can "
                           "obtain an API key from https://platform.openai.com/account/api-keys.",
                "type": "invalid_request_error", "param": None, "code": None}}, request_id=request_id)
            return
        key = auth[len("Bearer "):].strip()
        if key != fake.api_key:
            rec.outcome = "status_error"
            conn.json_response(401, {"error": {
                "message": STATUS_ERRORS["invalid_api_key"][3].format(masked_key=_mask_key(key)),
                "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}},
                request_id=request_id)
            return

        if method == "GET" and path == "/v1/models":
            rec.outcome = "completed"
            conn.json_response(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "system"}
                for m in ("gpt-5-mini", "gpt-4.1", "gpt-4o-mini")]}, request_id=request_id)
            return
        if method == "POST" and path in ("/v1/responses", "/v1/chat/completions"):
            script = fake._next_script()
            rec.script = script
            api = "responses" if path == "/v1/responses" else "chat"
            _Answer(conn, rec, script, api, request_id).run()
            return
        rec.outcome = "not_found"
        conn.json_response(404, {"error": {
            "message": f"Invalid URL ({method} {path})", "type": "invalid_request_error",
            "param": None, "code": None}}, request_id=request_id)


class _Answer:
    """Produces the answer for one Responses / Chat Completions request."""

    def __init__(self, conn: _Conn, rec: Recorded, script: Script, api: str, request_id: str) -> None:
        self.conn = conn
        self.rec = rec
        self.s = script
        self.api = api
        self.request_id = request_id
        body = rec.body
        self.body = body
        self.model = script.model or str(body.get("model") or "gpt-fake")
        if api == "responses":
            user_text = _last_user_text_responses(body)
            prompt_text = _all_text({"instructions": body.get("instructions"), "input": body.get("input")})
        else:
            user_text = _last_user_text_chat(body)
            prompt_text = _all_text({"messages": body.get("messages")})
        declared = set()
        for tool in body.get("tools") or []:
            if isinstance(tool, dict) and tool.get("type") == "function":
                declared.add(tool.get("name") or (tool.get("function") or {}).get("name"))
        self.calls = [] if body.get("tool_choice") == "none" else [
            (name, args if isinstance(args, str) else json.dumps(args), f"call_{uuid.uuid4().hex[:24]}")
            for name, args in script.tool_calls if name in declared]
        if self.calls and script.text is None:
            self.text = ""
        else:
            self.text = script.text if script.text is not None else f"Echo: {user_text}"
        self.pieces = _chunks(self.text, script.chunk_chars)
        rec.deltas_total = len(self.pieces)
        self.input_tokens = _estimate_tokens(prompt_text)
        self.created = _now()
        self.seq = 0
        self.resp_id = f"resp_{uuid.uuid4().hex}"
        self.msg_id = f"msg_{uuid.uuid4().hex}"
        self.chat_id = f"chatcmpl-{uuid.uuid4().hex[:29]}"

    # -- shared -------------------------------------------------------------
    def _error_obj(self, default_code: Optional[str], default_message: str, type_: str = "server_error",
                   param: Optional[str] = None) -> dict:
        return {
            "type": type_,
            "code": self.s.error_code if self.s.error_code is not None else default_code,
            "message": self.s.error_message or default_message,
            "param": param,
        }

    def _usage(self, output_tokens: int) -> dict:
        if self.api == "responses":
            u: dict = {
                "input_tokens": self.input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": self.input_tokens + output_tokens,
            }
            alias = {"prompt_tokens": "input_tokens", "completion_tokens": "output_tokens"}
        else:
            u = {
                "prompt_tokens": self.input_tokens,
                "completion_tokens": output_tokens,
                "total_tokens": self.input_tokens + output_tokens,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0,
                                              "rejected_prediction_tokens": 0},
            }
            alias = {"input_tokens": "prompt_tokens", "output_tokens": "completion_tokens"}
        if self.s.usage:
            override = {alias.get(k, k): v for k, v in self.s.usage.items()}
            u.update(override)
            if "total_tokens" not in override:
                in_key, out_key = (("input_tokens", "output_tokens") if self.api == "responses"
                                   else ("prompt_tokens", "completion_tokens"))
                u["total_tokens"] = int(u[in_key]) + int(u[out_key])
        return u

    def _interrupt_at(self, n: int) -> Optional[str]:
        """Which failure (if any) fires once n deltas have been sent."""
        s = self.s
        if s.break_after is not None and n == min(s.break_after, len(self.pieces)):
            return "break"
        if s.error_event_after is not None and n == min(s.error_event_after, len(self.pieces)):
            return "error_event"
        if s.fail_after is not None and n == min(s.fail_after, len(self.pieces)):
            return "failed" if self.api == "responses" else "error_event"
        return None

    def run(self) -> None:
        s = self.s
        self.conn.wait(s.response_delay)
        if s.status_error:
            self._status_error()
            return
        stream = bool(self.body.get("stream"))
        if not stream:
            self._non_stream()
            return
        if self.api == "responses":
            self._responses_stream()
        else:
            self._chat_stream()

    def _status_error(self) -> None:
        s = self.s
        name = s.status_error
        assert name is not None
        status, type_, code, message = STATUS_ERRORS[name]
        param = None
        headers: dict[str, str] = {}
        if name == "context_length_exceeded":
            param = "input" if self.api == "responses" else "messages"
            if self.api == "chat":
                message = _CHAT_CONTEXT_MESSAGE
        if name == "rate_limit":
            headers = {
                "retry-after": str(max(1, math.ceil(s.retry_after))),
                "retry-after-ms": str(int(s.retry_after * 1000)),
                "x-ratelimit-limit-tokens": "30000",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": f"{s.retry_after}s",
            }
        message = message.format(masked_key=_mask_key(self.conn.h.fake.api_key), model=self.model,
                                 retry_after=s.retry_after, tokens=self.input_tokens + 128000)
        err = {
            "message": s.error_message or message,
            "type": type_,
            "param": param,
            "code": s.error_code if s.error_code is not None else code,
        }
        self.rec.outcome = "status_error"
        self.conn.json_response(status, {"error": err}, headers, request_id=self.request_id)

    # -- Responses ------------------------------------------------------------
    def _response_obj(self, status: str, output: list, usage: Optional[dict], error: Optional[dict] = None,
                      incomplete_reason: Optional[str] = None) -> dict:
        b = self.body
        finished = status in ("completed", "incomplete", "failed")
        return {
            "id": self.resp_id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "background": False,
            "completed_at": _now() if status == "completed" else None,
            "error": error,
            "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
            "instructions": b.get("instructions"),
            "max_output_tokens": b.get("max_output_tokens"),
            "max_tool_calls": None,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": b.get("previous_response_id"),
            "prompt_cache_key": None,
            "reasoning": {"effort": None, "summary": None},
            "safety_identifier": None,
            "service_tier": "default" if finished else "auto",
            "store": b.get("store", True),
            "temperature": b.get("temperature", 1.0),
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": b.get("tool_choice", "auto"),
            "tools": b.get("tools") or [],
            "top_logprobs": 0,
            "top_p": b.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": usage,
            "user": None,
            "metadata": b.get("metadata") or {},
        }

    def _message_item(self, status: str, text: Optional[str]) -> dict:
        content = [] if text is None else [self._text_part(text)]
        return {"id": self.msg_id, "type": "message", "status": status, "content": content, "role": "assistant"}

    def _searches_web(self) -> bool:
        tools = self.rec.body.get("tools") or []
        return bool(self.s.citations) and any(isinstance(t, dict) and t.get("type") == "web_search" for t in tools)

    def _annotations(self, text: str) -> list:
        return [{"type": "url_citation", "url": url, "title": title, "start_index": 0, "end_index": len(text)}
                for url, title in self.s.citations]

    @staticmethod
    def _text_part(text: str) -> dict:
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    def _event(self, type_: str, _last: bool = False, **fields: Any) -> None:
        data = {"type": type_, "sequence_number": self.seq, **fields}
        self.seq += 1
        self.conn.sse(data, event=type_, last=_last)

    def _finish(self, outcome: str, send: Callable[[], None]) -> None:
        """Record the outcome, then write the last event (+ end of body)."""
        self.rec.outcome = outcome
        send()

    def _delta(self, piece: str, send: Callable[[], None]) -> None:
        """Count a delta as sent, then write it (undo the count if the write fails)."""
        rec = self.rec
        before = rec.text_sent
        rec.deltas_sent += 1
        rec.text_sent = before + piece
        if rec.first_delta_at is None:
            rec.first_delta_at = time.monotonic()
        try:
            send()
        except _ClientGone:
            rec.deltas_sent -= 1
            rec.text_sent = before
            raise

    def _responses_stream(self) -> None:
        s, conn, rec = self.s, self.conn, self.rec
        conn.start_stream(self.request_id)
        self._event("response.created", response=self._response_obj("in_progress", [], None))
        self._event("response.in_progress", response=self._response_obj("in_progress", [], None))
        out, done = 0, None
        if self._searches_web():
            out = 1
            call = {"id": f"ws_{uuid.uuid4().hex[:16]}", "type": "web_search_call", "status": "in_progress"}
            self._event("response.output_item.added", output_index=0, item=call)
            for phase in ("in_progress", "searching"):
                self._event(f"response.web_search_call.{phase}", item_id=call["id"], output_index=0)
        conn.wait(s.first_token_delay)
        if out:
            self._event("response.web_search_call.completed", item_id=call["id"], output_index=0)
            done = dict(call, status="completed", action={"type": "search", "query": "stand-in query"})
            self._event("response.output_item.done", output_index=0, item=done)
        if self.calls:
            call_items = self._responses_function_calls(out)
            if not self.text:
                usage = self._usage(0)
                final = self._response_obj("completed", call_items, usage)
                self._finish("completed", lambda: self._event("response.completed", _last=True, response=final))
                return
            out += len(call_items)
        self._event("response.output_item.added", output_index=out, item=self._message_item("in_progress", None))
        self._event("response.content_part.added", item_id=self.msg_id, output_index=out, content_index=0,
                    part=self._text_part(""))
        sent = ""
        for i in range(len(self.pieces) + 1):
            what = self._interrupt_at(i)
            if what == "break":
                rec.outcome = "broken"
                conn.abort(reset=s.break_with_reset)
                return
            if what == "error_event":
                err = self._error_obj("server_error", "The server had an error processing your request. "
                                      "Sorry about that! You can retry your request.")
                if s.error_event_shape == "nested":
                    fields: dict = {"error": err}
                else:
                    fields = {"code": err["code"], "message": err["message"], "param": err["param"]}
                self._finish("error_event", lambda: self._event("error", _last=True, **fields))
                return
            if what == "failed":
                err = self._error_obj("server_error", "The model failed to generate a response.")
                del err["type"], err["param"]
                failed = self._response_obj("failed", [self._message_item("incomplete", sent)],
                                            self._usage(i) if s.usage else None, error=err)
                self._finish("failed", lambda: self._event("response.failed", _last=True, response=failed))
                return
            if i == len(self.pieces):
                break
            if i > 0:
                conn.wait(s.delta_delay)
            piece = self.pieces[i]
            self._delta(piece, lambda: self._event(
                "response.output_text.delta", item_id=self.msg_id, output_index=out, content_index=0,
                delta=piece, logprobs=[], obfuscation="x" * (8 - len(piece) % 8)))
            sent += piece

        item_status = "incomplete" if s.incomplete_reason else "completed"
        annotations = self._annotations(sent) if out else []
        for number, annotation in enumerate(annotations):
            self._event("response.output_text.annotation.added", item_id=self.msg_id, output_index=out,
                        content_index=0, annotation_index=number, annotation=annotation)
        self._event("response.output_text.done", item_id=self.msg_id, output_index=out, content_index=0,
                    text=sent, logprobs=[])
        self._event("response.content_part.done", item_id=self.msg_id, output_index=out, content_index=0,
                    part=dict(self._text_part(sent), annotations=annotations))
        item = self._message_item(item_status, sent)
        item["content"][0]["annotations"] = annotations
        self._event("response.output_item.done", output_index=out, item=item)
        usage = self._usage(len(self.pieces))
        if s.incomplete_reason:
            final = self._response_obj("incomplete", [item], usage, incomplete_reason=s.incomplete_reason)
            self._finish("incomplete", lambda: self._event("response.incomplete", _last=True, response=final))
        else:
            final = self._response_obj("completed", ([done] if out else []) + [item], usage)
            self._finish("completed", lambda: self._event("response.completed", _last=True, response=final))

    def _responses_function_calls(self, first_index: int) -> list:
        items = []
        for offset, (name, arguments, call_id) in enumerate(self.calls):
            index = first_index + offset
            item = {"id": f"fc_{uuid.uuid4().hex[:24]}", "type": "function_call", "status": "in_progress",
                    "arguments": "", "call_id": call_id, "name": name}
            self._event("response.output_item.added", output_index=index, item=item)
            for piece in _chunks(arguments, 16):
                self._event("response.function_call_arguments.delta", item_id=item["id"], output_index=index,
                            delta=piece, obfuscation="x")
            self._event("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                        arguments=arguments, name=name)
            done = dict(item, status="completed", arguments=arguments)
            self._event("response.output_item.done", output_index=index, item=done)
            items.append(done)
        return items

    def _chat_function_calls(self) -> None:
        conn = self.conn
        for index, (name, arguments, call_id) in enumerate(self.calls):
            first = {"role": "assistant", "content": None, "refusal": None} if index == 0 else {}
            first["tool_calls"] = [{"index": index, "id": call_id, "type": "function",
                                    "function": {"name": name, "arguments": ""}}]
            conn.sse(self._chunk([{"index": 0, "delta": first, "logprobs": None, "finish_reason": None}]))
            for piece in _chunks(arguments, 16):
                conn.sse(self._chunk([{"index": 0, "delta": {"tool_calls": [
                    {"index": index, "function": {"arguments": piece}}]}, "logprobs": None,
                    "finish_reason": None}]))
        conn.sse(self._chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "tool_calls"}]))
        if self._include_usage:
            conn.sse(self._chunk([], usage=self._usage(0)))
        self._finish("completed", lambda: conn.sse("[DONE]", last=True))

    # -- Chat Completions -------------------------------------------------------
    def _chunk(self, choices: list, usage: Any = ..., **extra: Any) -> dict:
        c: dict = {
            "id": self.chat_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake0001",
            "choices": choices,
        }
        if self._include_usage:
            c["usage"] = None if usage is ... else usage
        c.update(extra)
        return c

    @property
    def _include_usage(self) -> bool:
        opts = self.body.get("stream_options") or {}
        return bool(isinstance(opts, dict) and opts.get("include_usage"))

    def _finish_reason(self) -> str:
        return {"max_output_tokens": "length", "content_filter": "content_filter"}.get(
            self.s.incomplete_reason or "", "stop")

    def _chat_stream(self) -> None:
        s, conn, rec = self.s, self.conn, self.rec
        conn.start_stream(self.request_id)
        conn.wait(s.first_token_delay)
        if self.calls and not self.text:
            self._chat_function_calls()
            return
        conn.sse(self._chunk([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None},
                               "logprobs": None, "finish_reason": None}], obfuscation="abc"))
        sent = ""
        for i in range(len(self.pieces) + 1):
            what = self._interrupt_at(i)
            if what == "break":
                rec.outcome = "broken"
                conn.abort(reset=s.break_with_reset)
                return
            if what == "error_event":
                err = self._error_obj(None, "The server had an error while processing your request. "
                                      "Sorry about that!")
                payload = {"error": {"message": err["message"], "type": err["type"], "param": err["param"],
                                     "code": err["code"]}}
                self._finish("error_event", lambda: conn.sse(payload, last=True))
                return
            if i == len(self.pieces):
                break
            if i > 0:
                conn.wait(s.delta_delay)
            piece = self.pieces[i]
            chunk = self._chunk([{"index": 0, "delta": {"content": piece}, "logprobs": None,
                                  "finish_reason": None}], obfuscation="x" * (8 - len(piece) % 8))
            self._delta(piece, lambda: conn.sse(chunk))
            sent += piece
        conn.sse(self._chunk([{"index": 0, "delta": {}, "logprobs": None,
                               "finish_reason": self._finish_reason()}], obfuscation="abcd"))
        if self._include_usage:
            conn.sse(self._chunk([], usage=self._usage(len(self.pieces)), obfuscation="ab"))
        self._finish("incomplete" if s.incomplete_reason else "completed", lambda: conn.sse("[DONE]", last=True))

    # -- non-streaming ----------------------------------------------------------
    def _non_stream(self) -> None:
        s, conn, rec = self.s, self.conn, self.rec
        conn.wait(s.first_token_delay)
        n = len(self.pieces)
        if s.break_after is not None:
            rec.outcome = "broken"
            conn.abort(reset=s.break_with_reset)
            return
        if s.error_event_after is not None or s.fail_after is not None:
            rec.outcome = "status_error"
            status, type_, code, message = STATUS_ERRORS["server_error"]
            conn.json_response(500, {"error": {"message": s.error_message or message, "type": type_,
                                               "param": None, "code": s.error_code or code}},
                               request_id=self.request_id)
            return
        wait_total = s.delta_delay * max(0, n - 1)
        conn.wait(wait_total)
        rec.deltas_sent = n
        rec.text_sent = self.text
        rec.first_delta_at = time.monotonic()
        usage = self._usage(n)
        if self.api == "responses":
            item_status = "incomplete" if s.incomplete_reason else "completed"
            body = self._response_obj("incomplete" if s.incomplete_reason else "completed",
                                      [self._message_item(item_status, self.text)], usage,
                                      incomplete_reason=s.incomplete_reason)
        else:
            body = {
                "id": self.chat_id,
                "object": "chat.completion",
                "created": self.created,
                "model": self.model,
                "choices": [{"index": 0,
                             "message": {"role": "assistant", "content": self.text, "refusal": None,
                                         "annotations": []},
                             "logprobs": None, "finish_reason": self._finish_reason()}],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": "fp_fake0001",
            }
        rec.outcome = "incomplete" if s.incomplete_reason else "completed"
        conn.json_response(200, body, request_id=self.request_id)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: "FakeOpenAI"

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return  # client went away: not interesting
        self.fake.errors.append(exc)  # type: ignore[arg-type]
        traceback.print_exc()


class FakeOpenAI:
    """Local OpenAI API stand-in. See module docstring.

    >>> with FakeOpenAI() as fake:
    ...     client = openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)
    """

    def __init__(self, api_key: str = "sk-test") -> None:
        self.api_key = api_key
        self._lock = threading.Lock()
        self._reply = Script()
        self._queue: list[Script] = []
        self._requests: list[Recorded] = []
        self._stopping = threading.Event()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._conns: set[socket.socket] = set()
        self.errors: list[BaseException] = []

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> "FakeOpenAI":
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="FakeOpenAI", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        # Let in-flight handlers notice the stop and record their outcome.
        deadline = time.monotonic() + 2.0
        for rec in self.requests:
            rec.finished.wait(max(0.0, deadline - time.monotonic()))
        self._server = None
        self._thread = None

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting ----------------------------------------------------------------
    @property
    def reply(self) -> Script:
        with self._lock:
            return self._reply

    @reply.setter
    def reply(self, script: Script) -> None:
        if not isinstance(script, Script):
            raise TypeError("reply must be a Script")
        with self._lock:
            self._reply = script

    def queue(self, *scripts: Script) -> None:
        """Use these scripts for the next requests (one each, FIFO), before `reply`."""
        for s in scripts:
            if not isinstance(s, Script):
                raise TypeError("queue() takes Script objects")
        with self._lock:
            self._queue.extend(scripts)

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        """Forget recorded requests, queued scripts and set reply back to Script()."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._reply = Script()

    def _next_script(self) -> Script:
        with self._lock:
            if self._queue:
                return self._queue.pop(0)
            return self._reply

    # -- recording ------------------------------------------------------------------
    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self._requests.append(rec)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    @property
    def requests(self) -> list[Recorded]:
        """A snapshot list of every request received, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def last(self) -> Recorded:
        with self._lock:
            if not self._requests:
                raise LookupError("no request recorded yet")
            return self._requests[-1]

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def count(self, path: Optional[str] = None) -> int:
        """Requests received (to `path`, e.g. "/v1/responses", if given)."""
        reqs = self.requests
        return len(reqs) if path is None else sum(1 for r in reqs if r.path == path)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.requests:
            out[r.path] = out.get(r.path, 0) + 1
        return out

    def wait_for(self, predicate: Callable[..., Any], timeout: float = 10.0, interval: float = 0.01) -> Any:
        """Poll `predicate` (called with no argument, or with this fake if it
        takes one) until it returns something truthy; return that value.
        Raises TimeoutError after `timeout` seconds."""
        try:
            wants_arg = any(
                p.default is inspect.Parameter.empty
                and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                for p in inspect.signature(predicate).parameters.values()
            )
        except (TypeError, ValueError):
            wants_arg = False
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self) if wants_arg else predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(interval)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every recorded request has finished server-side."""
        self.wait_for(lambda: all(r.done for r in self.requests), timeout=timeout)
