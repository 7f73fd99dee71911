"""Workspace knowledge tools: what the model may call, and the shape of what comes back.

Each tool (Slack search, Notion, GitHub, Google Drive) lives in its own
module and is switched on only when its credential is set (``registry.py``
declares them). They all take a search query and return ``Found`` items; this module turns them
into the text the model reads — cut to a budget, marked as data — and keeps
the links for the Sources list under the answer.

Tools act with the operator's credentials on behalf of whoever asked, so each
tool filters its results to what the ``Asker`` could open themselves wherever
the provider's API can tell, and sends its credential only to its own API host.
Whether an answer gets the tools at all is decided before, from who will read it
(``answering/audience.py``: guests, other organisations, shared channels).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Protocol

QUERY_PARAMETERS = {
    "type": "object",
    "properties": {"query": {"type": "string", "description": "What to search for: a few keywords."}},
    "required": ["query"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Asker:
    """The person the tools act for."""

    user_id: str
    channel: str
    team_id: str | None = None
    # The answer is seen by the asker alone (a DM with the bot). Otherwise it is
    # posted where others read it too, so private material must not go into it.
    private_answer: bool = False
    thread_ts: str | None = None  # the thread being answered: already in the model's context


@dataclass(frozen=True)
class Found:
    """One search result: where it is, and the text the model may read."""

    title: str
    url: str
    text: str
    source: str  # "Slack", "Notion", "GitHub", "Google Drive"


@dataclass(frozen=True)
class ToolOutput:
    found: list[Found]
    # Said to the model with the results, e.g. "2 results were left out: the asker cannot open them."
    note: str | None = None


class ToolFailed(Exception):
    """A tool could not run; ``sentence`` is what the model is told (never a secret, never a traceback)."""

    def __init__(self, sentence: str):
        super().__init__(sentence)
        self.sentence = sentence


class KnowledgeTool(Protocol):
    name: str  # the function name the model calls, e.g. "search_notion"
    description: str
    status: str  # shown in the placeholder while the tool runs, e.g. "Searching Notion…"
    parameters: dict  # JSON Schema of the arguments

    def run(self, arguments: dict, asker: Asker) -> ToolOutput: ...


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass
class ToolResult:
    call: ToolCall
    output: str  # what the model reads
    found: list[Found] = field(default_factory=list)


def query_of(arguments: dict) -> str:
    query = arguments.get("query") if isinstance(arguments, dict) else None
    if not isinstance(query, str) or not query.strip():
        raise ToolFailed("The tool needs a non-empty text argument `query`.")
    return query.strip()[:500]


def run_call(call: ToolCall, tools: dict[str, KnowledgeTool], asker: Asker, budget_chars: int,
             on_status: Callable[[str], None] | None = None) -> ToolResult:
    """Run one tool call; whatever happens, the model gets an answer it can read."""
    tool = tools.get(call.name)
    if tool is None:
        return ToolResult(call, _data({"error": f"There is no tool named {call.name!r}."}))
    try:
        arguments = json.loads(call.arguments or "{}")
    except ValueError:
        return ToolResult(call, _data({"error": "The arguments were not valid JSON."}))
    if on_status:
        on_status(tool.status)
    try:
        output = tool.run(arguments, asker)
    except ToolFailed as failed:
        return ToolResult(call, _data({"error": failed.sentence}))
    except Exception as error:  # a tool's bug must not end the answer
        from threadwise import logs

        logs.get(__name__).warning("tool failed", tool=call.name, error=type(error).__name__)
        return ToolResult(call, _data({"error": f"{tool.status.rstrip('…')} failed unexpectedly."}))
    return ToolResult(call, format_output(output, budget_chars), output.found)


def format_output(output: ToolOutput, budget_chars: int) -> str:
    """The results as JSON data for the model, the text of each cut so the whole fits the budget."""
    results = []
    remaining = budget_chars
    for item in output.found:
        share = max(200, remaining // max(1, len(output.found) - len(results)))
        text = item.text if len(item.text) <= share else item.text[:share] + " […cut]"
        remaining -= len(text)
        results.append({"source": item.source, "title": item.title, "url": item.url, "content": text})
        if remaining <= 0:
            break
    payload: dict = {"results": results}
    if len(results) < len(output.found):
        payload["omitted"] = f"{len(output.found) - len(results)} more results did not fit the budget."
    if output.note:
        payload["note"] = output.note
    if not output.found:
        payload["note"] = (output.note + " " if output.note else "") + "Nothing matched."
    return _data(payload)


def _data(payload: dict) -> str:
    # Tool results are documents written by anyone: the label reminds the model they are data.
    return json.dumps({"untrusted_data": True, **payload}, ensure_ascii=False)


@dataclass(frozen=True)
class ToolBox:
    """The tools switched on for one answer, and for whom they act."""

    tools: dict[str, KnowledgeTool]
    asker: Asker
    budget_chars: int
    max_rounds: int

    def run(self, call: ToolCall, on_status: Callable[[str], None] | None = None) -> ToolResult:
        return run_call(call, self.tools, self.asker, self.budget_chars, on_status)

    def responses_tools(self) -> list[dict]:
        return [{"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}
                for t in self.tools.values()]

    def chat_tools(self) -> list[dict]:
        return [{"type": "function",
                 "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
                for t in self.tools.values()]
