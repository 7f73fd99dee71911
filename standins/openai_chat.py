"""The Chat Completions wire format for FakeOpenAI: ``data: <chunk>`` lines, then ``data: [DONE]``.

A streamed answer is ``chat.completion.chunk`` objects: the role first, the
content pieces (or ``tool_calls`` pieces), a chunk with ``finish_reason``,
and -- only when the request asked ``stream_options.include_usage`` -- a
last chunk with ``choices == []`` and ``usage`` (with
``prompt_tokens_details`` / ``completion_tokens_details``), every other chunk
then carrying ``"usage": null``. An error mid-stream is a ``data:
{"error": …}`` line. Standard library only.
"""

from __future__ import annotations

import uuid
from typing import Any

from .openai_answer import Answer, all_text, chunks, text_of_content


class ChatAnswer(Answer):
    api = "chat"
    token_keys = ("prompt_tokens", "completion_tokens")
    detail_homes = {"cached_tokens": "prompt_tokens_details", "cache_write_tokens": "prompt_tokens_details",
                    "reasoning_tokens": "completion_tokens_details"}
    context_param = "messages"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.chat_id = f"chatcmpl-{uuid.uuid4().hex[:29]}"

    def _last_user_text(self) -> str:
        for msg in reversed(self.body.get("messages") or []):
            if isinstance(msg, dict) and msg.get("role") == "user":
                return text_of_content(msg.get("content"), ("text",))
        return ""

    def _prompt_text(self) -> str:
        return all_text({"messages": self.body.get("messages")})

    def _computed_usage(self, output_tokens: int) -> dict:
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": self.input_tokens + output_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0},
        }

    def _function_calls(self) -> None:
        conn = self.conn
        for index, (name, arguments, call_id) in enumerate(self.calls):
            first = {"role": "assistant", "content": None, "refusal": None} if index == 0 else {}
            first["tool_calls"] = [{"index": index, "id": call_id, "type": "function",
                                    "function": {"name": name, "arguments": ""}}]
            conn.sse(self._chunk([{"index": 0, "delta": first, "logprobs": None, "finish_reason": None}]))
            for piece in chunks(arguments, 16):
                conn.sse(self._chunk([{"index": 0, "delta": {"tool_calls": [
                    {"index": index, "function": {"arguments": piece}}]}, "logprobs": None,
                    "finish_reason": None}]))
        conn.sse(self._chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "tool_calls"}]))
        if self._include_usage:
            usage = self._usage(0)
            self._send_usage(usage, lambda: conn.sse(self._chunk([], usage=usage)))
        self._finish("completed", lambda: conn.sse("[DONE]", last=True))

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

    def _stream(self) -> None:
        s, conn, rec = self.s, self.conn, self.rec
        conn.start_stream(self.request_id)
        conn.wait(s.first_token_delay)
        if self.calls and not self.text:
            self._function_calls()
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
            usage = self._usage(len(self.pieces))
            self._send_usage(usage, lambda: conn.sse(self._chunk([], usage=usage, obfuscation="ab")))
        self._finish("incomplete" if s.incomplete_reason else "completed", lambda: conn.sse("[DONE]", last=True))

    def _non_stream_body(self, usage: dict) -> dict:
        return {
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
