"""What Slack's Web API calls give back, as typed values: a message read from a thread, how a write
went, and a person's action Slack kept refusing. ``slack_client.SlackGateway`` makes the calls."""
from __future__ import annotations

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


@dataclass(frozen=True)
class WriteOutcome:
    """How a post or update went. ``status``: ok, aborted, deleted, rate_limited, failed."""

    status: str
    ts: str | None = None
    retry_after: float = 0.0
    error: str | None = None
    metadata: ReplyMetadata | None = None

    @property
    def landed(self) -> bool:
        return self.status in ("ok", "aborted")

    @property
    def refused_for_now(self) -> bool:
        # Slack said "not now" (a 429 or a transient failure): the same write may land later.
        return self.status == "rate_limited" or (self.status == "failed" and self.error == "transient")
