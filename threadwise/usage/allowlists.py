"""Who may use the bot where: ALLOWED_CHANNELS and ALLOWED_USERS, decided (pure; ``spending.py`` acts).

Unset means everyone the bot can hear. DMs: a DM's channel id starts with D and is one per person and
app, which an operator rarely knows, so ALLOWED_CHANNELS restricts DMs only when it lists at least
one D… id; a list of channels alone leaves DMs to ALLOWED_USERS. Elsewhere the bot says once per
conversation (a thread; in a DM each top-level message starts a thread of its own) that it is not
enabled there, and spends nothing.
"""
from __future__ import annotations

import enum
from typing import Iterable

from threadwise.config.groups import UsageSettings
from threadwise.usage.budget_words import ask_whom


class NotAllowed(str, enum.Enum):
    """Why an ask is turned away; the values are words in logs and in the once-per-thread marker."""

    CHANNEL = "channel"
    USER = "user"

    def __str__(self) -> str:
        return self.value


def is_dm(channel: str) -> bool:
    return channel.startswith("D")


def refusal_of(settings: UsageSettings, channel: str, user: str) -> NotAllowed | None:
    """None: the bot answers ``user`` in ``channel``. The channel is checked first: a channel where the
    bot is off is off for everyone."""
    channels = settings.allowed_channels
    restricts_dms = channels is not None and any(is_dm(c) for c in channels)
    if channels is not None and channel not in channels and (not is_dm(channel) or restricts_dms):
        return NotAllowed.CHANNEL
    if settings.allowed_users is not None and user not in settings.allowed_users:
        return NotAllowed.USER
    return None


def sentence(why: NotAllowed, channel: str, admins: Iterable[str]) -> str:
    where = "for you" if why is NotAllowed.USER else "in this conversation" if is_dm(channel) else "in this channel"
    return f"Threadwise is not enabled {where}; ask {ask_whom(admins)} if you need it."
