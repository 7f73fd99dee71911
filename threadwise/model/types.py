"""The model room's typed values: what goes into the model and what comes back.

Everything that talks to the model (the client, the streams, practice mode) and
everything that prepares its input or reads its answer (the answering room)
shares these, so they live here, below all of them, and import nothing of ours.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Protocol


@dataclass(frozen=True)
class Turn:
    role: str  # "user" | "assistant"
    text: str
    images: tuple[str, ...] = ()  # data URLs of images shared with this message


@dataclass(frozen=True)
class ModelInput:
    system_prompt: str
    turns: list[Turn]  # oldest first; the question is the last one
    dropped_turns: int
    estimated_tokens: int


@dataclass(frozen=True)
class Usage:
    """One model request's tokens (or a whole answer's sum), as OpenAI counts them: cached input is part of
    the input, reasoning part of the output. ``estimated``: counted locally, because the provider reported
    none (a stream cut by Stop, broken, or given up on before its final usage event)."""

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False

    def __add__(self, other: Usage) -> Usage:
        """The tool loop's answer used every request's tokens; estimated if any of them was."""
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens,
                     self.cached_input_tokens + other.cached_input_tokens,
                     self.reasoning_tokens + other.reasoning_tokens, self.estimated or other.estimated)


@dataclass(frozen=True)
class Citation:
    url: str
    title: str


class ModelStream(Protocol):
    usage: Usage | None  # every request's, reported or (when the provider reported none) estimated
    tool_calls: dict[str, int]  # tool name ("web_search", each knowledge tool) → calls made
    notice: str | None  # e.g. "cut off at the output limit", shown under the answer
    citations: list[Citation]  # web pages the answer cites (web search)
    on_status: Callable[[str], None] | None  # "Searching the web…" while a tool runs
    may_continue: Callable[[str], bool] | None  # before a further request: False when stopped

    def __iter__(self) -> Iterator[str]: ...

    def close(self) -> None: ...
