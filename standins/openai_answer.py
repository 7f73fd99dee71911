"""What both of FakeOpenAI's model APIs share when they answer: the scripted plot.

``Answer`` reads one valid request and its ``Script`` and plays it: the text
cut into deltas, the pacing, token usage, and the scripted failures (HTTP
status errors, a dropped connection, an error event). The wire format of
each API is its subclass: ``ResponsesAnswer`` (openai_responses) and
``ChatAnswer`` (openai_chat). Standard library only.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from typing import Any, Callable, Optional

from .openai_script import STATUS_ERRORS, Recorded, Script
from .openai_wire import ClientGone, Conn, mask_key

_CHAT_CONTEXT_MESSAGE = (
    "This model's maximum context length is 128000 tokens. However, your messages resulted in "
    "{tokens} tokens. Please reduce the length of the messages."
)


def now() -> int:
    return int(time.time())


def text_of_content(content: Any, part_types: tuple[str, ...]) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            p.get("text", "") for p in content
            if isinstance(p, dict) and p.get("type") in part_types and isinstance(p.get("text"), str)
        ]
        return "\n".join(texts)
    return ""


def all_text(obj: Any) -> str:
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


def chunks(text: str, n: int) -> list[str]:
    return [text[i:i + n] for i in range(0, len(text), n)]


class Answer:
    """Produces the answer for one request; subclasses speak one API's wire format."""

    api = ""
    #: usage key names: (input, output); the computed usage's details objects by token kind
    token_keys: tuple[str, str] = ("", "")
    detail_homes: dict[str, str] = {}
    context_param = ""

    def __init__(self, conn: Conn, rec: Recorded, script: Script, request_id: str, api_key: str) -> None:
        self.conn = conn
        self.rec = rec
        self.s = script
        self.request_id = request_id
        self.api_key = api_key
        body = rec.body
        self.body = body
        self.model = script.model or str(body.get("model") or "gpt-fake")
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
            self.text = script.text if script.text is not None else f"Echo: {self._last_user_text()}"
        self.pieces = chunks(self.text, script.chunk_chars)
        rec.deltas_total = len(self.pieces)
        prompt = self._prompt_text()
        self.input_tokens = max(1, math.ceil(len(prompt) / 4)) if prompt else 0
        self.created = now()

    # -- what each API fills in --------------------------------------------------
    def _last_user_text(self) -> str: ...

    def _prompt_text(self) -> str: ...

    def _computed_usage(self, output_tokens: int) -> dict: ...

    def _stream(self) -> None: ...

    def _non_stream_body(self, usage: dict) -> dict: ...

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
        u = self._computed_usage(output_tokens)
        if not self.s.usage:
            return u
        in_key, out_key = self.token_keys
        alias = {"input_tokens": in_key, "prompt_tokens": in_key, "output_tokens": out_key,
                 "completion_tokens": out_key}
        for key, value in self.s.usage.items():
            if key in self.detail_homes:
                u[self.detail_homes[key]] = dict(u[self.detail_homes[key]], **{key: value})
            else:
                u[alias.get(key, key)] = value
        if "total_tokens" not in self.s.usage:
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
        elif self.body.get("stream"):
            self._stream()
        else:
            self._non_stream()

    def _status_error(self) -> None:
        s = self.s
        name = s.status_error
        assert name is not None
        status, type_, code, message = STATUS_ERRORS[name]
        param = None
        headers: dict[str, str] = {}
        if name == "context_length_exceeded":
            param = self.context_param
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
        message = message.format(masked_key=mask_key(self.api_key), model=self.model,
                                 retry_after=s.retry_after, tokens=self.input_tokens + 128000)
        err = {
            "message": s.error_message or message,
            "type": type_,
            "param": param,
            "code": s.error_code if s.error_code is not None else code,
        }
        self.rec.outcome = "status_error"
        self.conn.json_response(status, {"error": err}, headers, request_id=self.request_id)

    def _finish(self, outcome: str, send: Callable[[], None], usage: Optional[dict] = None) -> None:
        """Record the outcome, then write the last event (+ end of body), and the usage it carried."""
        self.rec.outcome = outcome
        send()
        if usage is not None:
            self.rec.usage_reported = usage

    def _send_usage(self, usage: dict, send: Callable[[], None]) -> None:
        """Write an event that carries the usage; recorded once the client has it (not if it hung up)."""
        send()
        self.rec.usage_reported = usage

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
        except ClientGone:
            rec.deltas_sent -= 1
            rec.text_sent = before
            raise
        rec.last_delta_at = time.monotonic()

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
        conn.wait(s.delta_delay * max(0, n - 1))
        rec.deltas_sent = n
        rec.text_sent = self.text
        rec.first_delta_at = rec.last_delta_at = time.monotonic()
        usage = self._usage(n)
        body = self._non_stream_body(usage)
        rec.outcome = "incomplete" if s.incomplete_reason else "completed"
        conn.json_response(200, body, request_id=self.request_id)
        rec.usage_reported = usage
