"""Slack's refusals that are outcomes for the bot, not crashes.

What means "the message or the bot's place is gone" (an answer there ends), what means "native
streaming is not available here" (update instead), and a scope the app was installed without:
only the workspace's admin can fix that, so the operator's log and the person's sentence say so.
"""
from __future__ import annotations

from slack_sdk.errors import SlackApiError

from threadwise import logs

log = logs.get(__name__)

# The message, or the bot's place in its conversation, is gone: an answer there ends. (not_in_channel:
# the bot was removed from the channel; nobody would see what it writes.)
GONE_ERRORS = ("message_not_found", "channel_not_found", "thread_not_found", "is_archived", "not_in_channel")
# Native streaming cannot be used here (old workspace, method not enabled, token or channel type): update instead.
STREAM_UNAVAILABLE = ("unknown_method", "method_deprecated", "not_allowed_token_type", "missing_scope",
                      "channel_type_not_supported", "invalid_arguments", "not_authed", "feature_not_enabled",
                      "team_not_allowed", "http_404")


class MissingScope(SlackApiError):
    """Slack refused a call because the app was installed without the scope ``needed``."""

    def __init__(self, method: str, error: SlackApiError):
        super().__init__(str(error), error.response)
        self.needed = log_missing_scope(method, error.response)

    @property
    def sentence(self) -> str:
        return (f"I can't do this here: my Slack app was installed without the `{self.needed}` permission. "
                "Please ask whoever manages Slack apps in this workspace to add it and reinstall Threadwise.")


def log_missing_scope(method: str, response) -> str:
    """Logs which scope Slack said is needed, and returns it."""
    needed = str(response.get("needed") or "a scope")
    log.warning("slack app lacks a scope; add it to the app (manifest.yaml) and reinstall", method=method,
                needed=needed)
    return needed


# slack_sdk files a 429's Retry-After under this spelling and "retry-after" alike.
RETRY_AFTER_HEADER = "Retry-After"


def retry_after(response) -> float:
    """The seconds a 429 asks for (one when Slack does not say)."""
    return float(response.headers.get(RETRY_AFTER_HEADER) or 1)
