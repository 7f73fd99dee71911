"""A thread's status line in FakeSlack: ``assistant.threads.setStatus`` ("is thinking…" under a thread).

Mixed into ``FakeSlack``, whose lock, messages (``_find``, ``_root_ts``) and scope checks
(``slack_access.py``) it uses. From Slack's method reference (/work/shared/AI_SURFACE_FACTS.md,
"Methods"; slack-ruby/slack-api-ref ``assistant.threads.setStatus.json``):

- arguments ``channel_id``, ``thread_ts``, ``status`` (required), ``loading_messages`` (at most 10,
  shown in turn), ``icon_emoji``, ``icon_url``, ``username``; success is ``{"ok": true}``;
- documented errors ``channel_not_found`` (an invalid ``channel_id``) and ``invalid_thread_ts``;
- scope ``chat:write`` since 2026-03 (``assistant:write`` still accepted "for the time being");
  it works in channel threads too, not only in the assistant container;
- ``status`` ``""`` clears the line; Slack removes it by itself when the app posts a message in
  that thread, or after two minutes without one (``status_ttl`` here, adjustable for tests).

Rate tier: "special", with no number documented; tests/slack_tiers.py models it as Tier 4
(100 a minute per workspace), the tier of its siblings setTitle and setSuggestedPrompts.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

try:
    from .slack_limits import decode_json_field, error, ts_key
except ImportError:  # imported as a top-level module
    from slack_limits import decode_json_field, error, ts_key

MAX_LOADING_MESSAGES = 10  # docs: "Maximum of 10 messages"


@dataclass(frozen=True)
class StatusChange:
    """One change of a thread's status line: set or cleared by a call, cleared by the app's reply,
    or expired (``at``: time.monotonic() when it happened; an expiry at the moment it fell due)."""
    status: str                  # "" once cleared
    at: float
    by: str                      # "call", "reply", "expired"
    loading_messages: tuple = ()


class AssistantThreads:
    status_ttl = 120.0  # seconds a status stays without a message from the app (docs: two minutes)

    def _init_assistant(self) -> None:
        self._status_log = {}   # (channel, thread root ts) -> [StatusChange, …]

    # ------------------------------------------------------ test-side helpers
    def thread_status(self, channel, thread_ts) -> str:
        """The status line shown under the thread now ("" when none)."""
        with self._lock:
            changes = self._status_changes(channel, thread_ts)
            return changes[-1].status if changes else ""

    def status_history(self, channel, thread_ts) -> list[StatusChange]:
        """Every change of the thread's status line, oldest first (the calls themselves are in ``calls``)."""
        with self._lock:
            return copy.deepcopy(self._status_changes(channel, thread_ts))

    # ----------------------------------------------------------- server side
    def _status_changes(self, channel, thread_ts):
        key = (channel, self._root_ts(channel, thread_ts))
        changes = self._status_log.get(key, [])
        self._expire_status(changes, time.monotonic())
        return changes

    def _expire_status(self, changes, now):
        """Slack drops a status nobody followed with a message within ``status_ttl``."""
        if changes and changes[-1].status and now - changes[-1].at >= self.status_ttl:
            changes.append(StatusChange("", changes[-1].at + self.status_ttl, "expired"))

    def _change_status(self, channel, root, change):
        changes = self._status_log.setdefault((channel, root), [])
        self._expire_status(changes, change.at)
        if change.status or (changes and changes[-1].status):  # clearing nothing changes nothing
            changes.append(change)

    def _reply_posted(self, channel, root):
        """The app posted in the thread: Slack takes the status line away."""
        self._change_status(channel, root, StatusChange("", time.monotonic(), "reply"))

    # ------------------------------------------------------------- API method
    def _assistant_threads_set_status(self, params):
        channel, thread_ts = params.get("channel_id"), params.get("thread_ts")
        if not channel:
            return error("channel_not_found", detail="Invalid channel_id")
        try:
            ts_key(thread_ts or "")
        except ValueError:
            return error("invalid_thread_ts")
        msg = self._find(channel, thread_ts)
        if msg is None or msg.get("subtype") == "tombstone":
            return error("invalid_thread_ts")
        status = params.get("status")
        if not isinstance(status, str):  # required; "" is a value (it clears the line)
            return error("invalid_arguments")
        loading = params.get("loading_messages")
        if loading is not None:
            try:
                loading = decode_json_field(loading)
            except ValueError:
                loading = None
            # More than 10 (or not a list of strings): the error code is undocumented, a guess.
            if (not isinstance(loading, list) or len(loading) > MAX_LOADING_MESSAGES
                    or not all(isinstance(m, str) for m in loading)):
                return error("invalid_arguments")
        root = self._root_ts(channel, thread_ts)
        self._change_status(channel, root, StatusChange(status, time.monotonic(), "call", tuple(loading or ())))
        return {"ok": True}
