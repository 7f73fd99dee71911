"""The tokens one model request (or a whole answer) used, as OpenAI counts them.

OpenAI's counts nest: ``cached_input`` is part of ``input`` (``input_tokens_details.cached_tokens``,
``prompt_tokens_details.cached_tokens``) and ``reasoning`` is part of ``output``
(``output_tokens_details.reasoning_tokens``, ``completion_tokens_details.reasoning_tokens``). The value
keeps that nesting, so a sum never counts a token twice: the price of an answer is
``prices.cost_of(tokens, price)``, and the ledger stores the four numbers as they are.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TokenCounts:
    input: int = 0  # every input token, cached ones included
    cached_input: int = 0  # of ``input``, read from OpenAI's prompt cache (billed at the cached rate)
    output: int = 0  # every output token, reasoning ones included
    reasoning: int = 0  # of ``output``, spent thinking (billed at the output rate, never shown)

    def __post_init__(self) -> None:
        # A part larger than its whole would price the rest below zero: refuse it where the value is made.
        for name in ("input", "cached_input", "output", "reasoning"):
            count = getattr(self, name)
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ValueError(f"{name} must be a whole number of tokens, not {count!r}")
        if self.cached_input > self.input:
            raise ValueError(f"cached_input ({self.cached_input}) is part of input ({self.input}), so cannot exceed it")
        if self.reasoning > self.output:
            raise ValueError(f"reasoning ({self.reasoning}) is part of output ({self.output}), so cannot exceed it")

    def __add__(self, other: TokenCounts) -> TokenCounts:
        """An answer that made several model requests (the tool loop) used their sum."""
        if not isinstance(other, TokenCounts):
            return NotImplemented
        return TokenCounts(self.input + other.input, self.cached_input + other.cached_input,
                           self.output + other.output, self.reasoning + other.reasoning)
