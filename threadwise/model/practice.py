"""Practice mode: a local responder that streams like a model without calling any API.

It lets an operator check the whole Slack wiring (events, threads, streaming,
stop, delete) without spending credits. The answer says clearly what it is.
"""
from __future__ import annotations

import json
import re
import threading
from typing import Iterator

from threadwise.config import ModelSettings
from threadwise.knowledge.toolbox import ToolBox, ToolCall
from threadwise.model.fences import fenced_labels
from threadwise.model.tokens import estimated_usage
from threadwise.model.types import Citation, ModelInput, Usage

FIRST_TOKEN_DELAY_FACTOR = 8  # a real model takes a moment before its first token
_FILE_LABEL = "Content of the file "


class PracticeStream:
    def __init__(self, settings: ModelSettings, model_input: ModelInput, toolbox: ToolBox | None = None):
        self._toolbox = toolbox
        self._tool_lines: list[str] = []
        self._written: list[str] = []  # the pieces streamed so far
        self.tool_calls: dict[str, int] = {}
        self.notice = None
        self.citations = []
        self.on_status = None
        self.may_continue = None
        self._web_search = settings.web_search  # a real answer could search the web: the text says so
        self._input = model_input
        self._delay = settings.practice_token_delay
        self._closed = threading.Event()

    def answer_text(self) -> str:
        question = self._input.turns[-1].text
        quoted = question if len(question) <= 300 else question[:300] + "…"
        earlier = len(self._input.turns) - 1
        return (
            "🧪 *Practice mode* — this answer comes from a local stand-in; no model API was called "
            "and nothing was spent.\n\n"
            f"You asked: “{quoted}”\n\n"
            f"- Thread context: {earlier} earlier message(s) would be sent to the model"
            f"{f' ({self._input.dropped_turns} older ones dropped to fit the budget)' if self._input.dropped_turns else ''}.\n"
            f"- Estimated input size: about {self._input.estimated_tokens} tokens.\n"
            + self._files_line()
            + ("- Web search is on: a real answer may search the web and list its sources under the answer.\n"
               if self._web_search else "")
            + "".join(self._tool_lines)
            + "\n"
            "Set `OPENAI_API_KEY` (and unset `PRACTICE_MODE`) to get real answers."
        )

    def _files_line(self) -> str:
        names = [label.removeprefix(_FILE_LABEL) for t in self._input.turns for label in fenced_labels(t.text)
                 if label.startswith(_FILE_LABEL)]
        images = sum(len(t.images) for t in self._input.turns)
        line = f"- Files the model would read: {', '.join(dict.fromkeys(names))}.\n" if names else ""
        return line + (f"- Images the model would see: {images}.\n" if images else "")

    def _try_tools(self) -> None:
        """Run every enabled tool once with the question, as a model might, and say what came back."""
        question = self._input.turns[-1].text.split("\n\n[", 1)[0].strip()[:200]
        for number, name in enumerate(self._toolbox.tools if self._toolbox else []):
            if self._closed.is_set():
                return
            call = ToolCall(f"practice_{number}", name, json.dumps({"query": question}))
            result = self._toolbox.run(call, self.on_status)
            self.tool_calls[name] = self.tool_calls.get(name, 0) + 1
            answer = json.loads(result.output)
            if "error" in answer:
                self._tool_lines.append(f"- Tool `{name}` failed: {answer['error']}\n")
                continue
            titles = ", ".join(f.title for f in result.found[:5])
            self._tool_lines.append(f"- Tool `{name}` would give the model {len(result.found)} result(s)"
                                    + (f": {titles}" if titles else "")
                                    + (f" ({answer['note']})" if answer.get("note") else "") + ".\n")
            for found in result.found:
                if found.url.startswith(("https://", "http://")) and all(c.url != found.url for c in self.citations):
                    self.citations.append(Citation(found.url, f"{found.source}: {found.title}"))

    def __iter__(self) -> Iterator[str]:
        self._try_tools()
        text = self.answer_text()
        if self._closed.wait(self._delay * FIRST_TOKEN_DELAY_FACTOR):
            return
        for piece in re.findall(r"\S+\s*|\s+", text):
            self._written.append(piece)
            yield piece
            if self._closed.wait(self._delay):
                return

    @property
    def usage(self) -> Usage:
        """What a model would have used for what was written so far: counted locally, as nothing was spent."""
        return estimated_usage(self._input.estimated_tokens, "".join(self._written))

    def close(self) -> None:
        self._closed.set()
