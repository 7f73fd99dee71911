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
    input_tokens: int
    output_tokens: int


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
