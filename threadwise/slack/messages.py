"""What Slack's Web API calls give back, as typed values: a message read from a thread, how a write
went, and a person's action Slack kept refusing. ``slack_client.SlackGateway`` makes the calls."""
from __future__ import annotations

import enum
from dataclasses import dataclass

from threadwise.slack.events import ReplyMetadata, SlackFile, parse_files, parse_metadata


class StillRateLimited(RuntimeError):
    """Slack refused a person's action (429) for longer than they can wait."""

    def __init__(self, method: str, retry_after: float):
        super().__init__(f"{method} rate limited (Retry-After {retry_after:g} s)")
        self.retry_after = retry_after


@dataclass(frozen=True)
class SlackMessage:
    ts: str
    user: str | None
    bot_id: str | None
    text: str
    thread_ts: str | None
    metadata: ReplyMetadata | None
    subtype: str | None = None
    files: tuple[SlackFile, ...] = ()

    @classmethod
    def from_api(cls, raw: dict) -> "SlackMessage":
        return cls(
            ts=str(raw.get("ts", "")),
            user=raw.get("user"),
            bot_id=raw.get("bot_id"),
            text=raw.get("text") or "",
            thread_ts=raw.get("thread_ts"),
            metadata=parse_metadata(raw.get("metadata")),
            subtype=raw.get("subtype"),
            files=parse_files(raw.get("files")),
        )


class WriteStatus(str, enum.Enum):
    """How a write went. A ``str`` whose value is the word logs have always shown (``status=rate_limited``)."""

    OK = "ok"  # written
    ABORTED = "aborted"  # written, and the message carries a stop flag (its metadata says ``aborted``)
    DELETED = "deleted"  # the message, or the bot's place in its conversation, is gone
    RATE_LIMITED = "rate_limited"  # Slack's 429: ``retry_after`` seconds
    FAILED = "failed"  # refused; ``error`` says why ("transient": the same write may land later)
    DEFERRED = "deferred"  # not sent: the write budget has no room now (``retry_after``)
    # Native streaming only (``chat.*Stream``):
    UNAVAILABLE = "unavailable"  # not available here (method, token, channel type): update instead
    NOT_STREAMING = "not_streaming"  # the stream has ended (stopped, or expired)
    STOPPED_BY_USER = "stopped_by_user"  # the reader pressed Slack's own stop on the stream

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class WriteOutcome:
    """How a post or update went."""

    status: WriteStatus
    ts: str | None = None
    retry_after: float = 0.0
    error: str | None = None
    metadata: ReplyMetadata | None = None

    @property
    def landed(self) -> bool:
        return self.status in (WriteStatus.OK, WriteStatus.ABORTED)

    @property
    def refused_for_now(self) -> bool:
        # Slack said "not now" (a 429 or a transient failure): the same write may land later.
        return self.status is WriteStatus.RATE_LIMITED or (self.status is WriteStatus.FAILED
                                                            and self.error == "transient")
