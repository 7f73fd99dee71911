"""Counting the model's tokens, offline and on the safe side.

No tokenizer download at run time: the estimate is conservative, so that a
budget we think fits really does (CJK text is counted a token per character).
The answering room trims the thread history with it; practice mode reports it
as the answer's usage, and the streams count with it a request whose usage the
provider never reported (cut by Stop, broken, given up on).
"""
from __future__ import annotations

import math
import re

from threadwise.model.types import Turn, Usage

PER_TURN_OVERHEAD = 4
IMAGE_TOKENS = 1500  # a high-detail image costs up to ~1,100 tokens on OpenAI's vision models; stay above
_WIDE = re.compile(
    "[\u1100-\u11ff\u2e80-\u9fff\ua000-\ua4cf\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
    "\U00020000-\U0003ffff]"
)


def estimate_tokens(text: str) -> int:
    """Upper-bound-ish token count: ~3 characters a token for Latin text
    (real tokenizers average ~4), one token per CJK character."""
    wide = len(_WIDE.findall(text))
    return wide + math.ceil((len(text) - wide) / 3) + PER_TURN_OVERHEAD


def turn_tokens(turn: Turn) -> int:
    return estimate_tokens(turn.text) + IMAGE_TOKENS * len(turn.images)


def estimated_usage(sent_tokens: int, received: str) -> Usage:
    """A request the provider reported no usage for: what was sent (already estimated) and the text
    received so far. Nothing received is 0 output tokens, not a turn's overhead."""
    return Usage(sent_tokens, estimate_tokens(received) if received else 0, estimated=True)
