"""Slack's rate limits per Web API method: their defaults and SLACK_RATE_LIMITS, parsed at start-up.

Config owns the value and its parser (a bad SLACK_RATE_LIMITS refuses to start,
naming the variable); the write budget (``slack/rate_budget.py``) spends the
parsed ``Limit``s and never reads the setting's text.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """What Slack allows one Web API method: a rate, and how many calls at once."""

    per_minute: float
    burst: int
    per_channel: bool = False  # chat.postMessage: about one a second per channel


# From SLACK_FACTS.md: Tier 2 ≈ 20/min, Tier 3 ≈ "50+"/min, Tier 4 ≈ 100/min, bursts allowed (their
# size is not documented: we start from a minute's worth and learn from 429s). chat.postMessage: about
# one a second per channel. assistant.threads.setStatus is "special" (no number published): we
# assume no more than its sibling methods' Tier 4, and only ever try it, never wait for it.
DEFAULT_LIMITS: dict[str, Limit] = {
    "chat.update": Limit(50, 50),
    "chat.delete": Limit(50, 50),
    "conversations.replies": Limit(50, 50),
    "conversations.info": Limit(50, 50),
    "conversations.open": Limit(50, 50),  # Tier 3: a DM to an admin (budget alerts)
    "chat.postMessage": Limit(60, 2, per_channel=True),
    "chat.startStream": Limit(20, 20),
    "chat.appendStream": Limit(100, 100),
    "chat.stopStream": Limit(20, 20),
    "assistant.threads.setStatus": Limit(100, 100),
    # App Home (AI_SURFACE_FACTS.md C, G): Tier 4 (conversations.open, Tier 3, is above).
    "views.publish": Limit(100, 100),
    "files.getUploadURLExternal": Limit(100, 100),
    "files.completeUploadExternal": Limit(100, 100),
}


class LimitSyntaxError(ValueError):
    """The text is not ``method=per_minute/burst``; config names SLACK_RATE_LIMITS in front of it."""


def parse_limits(text: str | None) -> dict[str, Limit]:
    """``"chat.update=50/3, chat.postMessage=60/1"`` (per minute / burst) over the defaults."""
    limits = dict(DEFAULT_LIMITS)
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        method, _, value = item.partition("=")
        rate, _, burst = value.partition("/")
        try:
            per_minute, size = float(rate), int(burst or 1)
        except ValueError:
            raise LimitSyntaxError(f"{item!r} is not method=per_minute/burst") from None
        if not method.strip() or per_minute <= 0 or size < 1:
            raise LimitSyntaxError(f"{item!r} is not method=per_minute/burst with positive numbers")
        known = limits.get(method.strip())
        limits[method.strip()] = Limit(per_minute, size, known.per_channel if known else False)
    return limits
