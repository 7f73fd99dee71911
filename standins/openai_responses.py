"""The Responses API's wire format for FakeOpenAI: server-sent events with sequence numbers.

A streamed answer is ``event: <type>\\ndata: <json>\\n\\n`` events:
``response.created``, ``response.in_progress``, the output items (a
``web_search_call`` when the request offers web search and the script has
citations, ``function_call`` items for scripted tool calls, the ``message``
with its ``output_text`` deltas), then ``response.completed`` /
``response.incomplete`` / ``response.failed`` or an ``error`` event.
Usage carries ``input_tokens_details`` and ``output_tokens_details``, as
OpenAI's does. Standard library only.
"""

from __future__ import annotations

import uuid
from typing import Any, Optional

from .openai_answer import Answer, all_text, chunks, now, text_of_content


class ResponsesAnswer(Answer):
    api = "responses"
    token_keys = ("input_tokens", "output_tokens")
    detail_homes = {"cached_tokens": "input_tokens_details", "cache_write_tokens": "input_tokens_details",
                    "reasoning_tokens": "output_tokens_details"}
    context_param = "input"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seq = 0
        self.resp_id = f"resp_{uuid.uuid4().hex}"
        self.msg_id = f"msg_{uuid.uuid4().hex}"

    def _last_user_text(self) -> str:
        inp = self.body.get("input")
        if isinstance(inp, str):
            return inp
        for item in reversed(inp if isinstance(inp, list) else []):
            if isinstance(item, dict) and item.get("role") == "user" and item.get("type", "message") == "message":
                return text_of_content(item.get("content"), ("input_text",))
        return ""

    def _prompt_text(self) -> str:
        return all_text({"instructions": self.body.get("instructions"), "input": self.body.get("input")})

    def _computed_usage(self, output_tokens: int) -> dict:
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": self.input_tokens + output_tokens,
        }

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
            "completed_at": now() if status == "completed" else None,
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

    def _stream(self) -> None:
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
            call_items = self._function_calls(out)
            if not self.text:
                usage = self._usage(0)
                final = self._response_obj("completed", call_items, usage)
                self._finish("completed", lambda: self._event("response.completed", _last=True, response=final),
                             usage)
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
                self._finish("failed", lambda: self._event("response.failed", _last=True, response=failed),
                             failed["usage"])
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
            self._finish("incomplete", lambda: self._event("response.incomplete", _last=True, response=final),
                         usage)
        else:
            final = self._response_obj("completed", ([done] if out else []) + [item], usage)
            self._finish("completed", lambda: self._event("response.completed", _last=True, response=final),
                         usage)

    def _function_calls(self, first_index: int) -> list:
        items = []
        for offset, (name, arguments, call_id) in enumerate(self.calls):
            index = first_index + offset
            item = {"id": f"fc_{uuid.uuid4().hex[:24]}", "type": "function_call", "status": "in_progress",
                    "arguments": "", "call_id": call_id, "name": name}
            self._event("response.output_item.added", output_index=index, item=item)
            for piece in chunks(arguments, 16):
                self._event("response.function_call_arguments.delta", item_id=item["id"], output_index=index,
                            delta=piece, obfuscation="x")
            self._event("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                        arguments=arguments, name=name)
            done = dict(item, status="completed", arguments=arguments)
            self._event("response.output_item.done", output_index=index, item=done)
            items.append(done)
        return items

    def _non_stream_body(self, usage: dict) -> dict:
        s = self.s
        status = "incomplete" if s.incomplete_reason else "completed"
        return self._response_obj(status, [self._message_item(status, self.text)], usage,
                                  incomplete_reason=s.incomplete_reason)
