"""Every Slack Web API call the bot makes, with Slack's errors turned into outcomes.

Callers get typed results (``SlackMessage``, ``WriteOutcome``) instead of
``SlackApiError``: "the message is gone" or "wait 3 seconds" are ordinary
events in a streaming bot, not exceptions.
"""
from __future__ import annotations

import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

from threadwise.slack import landing
from threadwise import logs
from threadwise.slack.rate_budget import FINAL, PLACEHOLDER, USER_ACTION, WriteBudget
from threadwise.slack.events import ABORTED_EVENT_TYPE, BotIdentity, parse_metadata
from threadwise.slack.messages import SlackMessage, StillRateLimited, WriteOutcome, WriteStatus
from threadwise.slack.knowledge_calls import KnowledgeCalls
from threadwise.slack.people import PeopleCalls, Person
from threadwise.slack.home_calls import HomeCalls
from threadwise.slack.refusals import GONE_ERRORS, retry_after as _retry_after, STREAM_UNAVAILABLE, MissingScope, log_missing_scope

log = logs.get(__name__)



class SlackGateway(KnowledgeCalls, PeopleCalls, HomeCalls):
    def __init__(self, token: str, base_url: str, app_id: str | None = None, timeout: float = 10.0,
                 budget: WriteBudget | None = None):
        # Shared by every answer of this process: Slack's limits are per workspace, not per answer.
        self.budget = budget or WriteBudget()
        self._client = WebClient(
            token=token,
            base_url=base_url,
            timeout=int(timeout),
            retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2)],
        )
        self._app_id = app_id
        self._identity: BotIdentity | None = None
        self._identity_lock = threading.Lock()
        self._channels: dict[str, tuple[float, dict | None]] = {}  # conversations.info, by channel
        self._people: dict[str, tuple[float, Person]] = {}  # users.info, by user (slack/people.py)

    # --- who we are -------------------------------------------------------
    def identity(self) -> BotIdentity:
        """``auth.test`` once per instance: the bot's user id, bot id and app id."""
        if self._identity is None:
            with self._identity_lock:
                if self._identity is None:
                    response = self._client.auth_test()
                    self._identity = BotIdentity(
                        user_id=response["user_id"],
                        bot_id=response.get("bot_id"),
                        app_id=self._app_id or response.get("app_id"),
                    )
        return self._identity

    def known_identity(self) -> BotIdentity | None:
        """The identity if ``auth.test`` has already been called; never calls Slack."""
        return self._identity

    def is_own(self, message: SlackMessage) -> bool:
        me = self.identity()
        return message.user == me.user_id or (message.bot_id is not None and message.bot_id == me.bot_id)

    # --- writing ------------------------------------------------------------
    def post(self, channel: str, thread_ts: str | None, text: str, blocks: list[dict], metadata: dict,
             priority: int = PLACEHOLDER) -> WriteOutcome:
        return self._write(
            "chat_postMessage",
            priority,
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            blocks=blocks,
            metadata=metadata,
            unfurl_links=False,
            unfurl_media=False,
        )

    def update(self, channel: str, ts: str, text: str, blocks: list[dict], metadata: dict | None = None,
               priority: int = FINAL) -> WriteOutcome:
        """``chat.update``; leaving ``metadata`` out keeps what the message has (e.g. a stop flag)."""
        arguments = {"channel": channel, "ts": ts, "text": text, "blocks": blocks}
        if metadata is not None:
            arguments["metadata"] = metadata
        return self._write("chat_update", priority, **arguments)

    def update_interim(self, channel: str, ts: str, text: str, blocks: list[dict], stream_key: int,
                       last_write_at: float) -> WriteOutcome:
        """An interim update of a streaming answer: only when the budget has room now, else ``DEFERRED``."""
        wait = self.budget.try_interim("chat.update", stream_key, last_write_at)
        if wait > 0:
            return WriteOutcome(WriteStatus.DEFERRED, retry_after=wait)
        return self._write("chat_update", None, channel=channel, ts=ts, text=text, blocks=blocks)

    def update_until_landed(self, channel: str, ts: str, text: str, blocks: list[dict],
                            metadata: dict | None = None, paid: bool = False) -> WriteOutcome:
        """A write that must land (an answer's final text): retried until it lands or the landing window closes.
        ``paid``: its first attempt spends a token the answer had reserved (``WriteBudget.spend_reserved``)."""
        attempts = iter((None,) if paid else ())
        outcome = self._until_landed(lambda: self.update(channel, ts, text, blocks, metadata,
                                                         priority=next(attempts, FINAL)))
        landing.note(landing.PendingWrite(channel, ts, text, blocks, metadata), outcome.refused_for_now)
        return outcome

    def post_until_landed(self, channel: str, thread_ts: str | None, text: str, blocks: list[dict],
                          metadata: dict) -> WriteOutcome:
        return self._until_landed(lambda: self.post(channel, thread_ts, text, blocks, metadata))

    @staticmethod
    def _until_landed(write, give_up_after: float = 900.0) -> WriteOutcome:
        deadline = time.monotonic() + give_up_after
        while True:
            outcome = write()
            if not outcome.refused_for_now or time.monotonic() >= deadline or not landing.keep_trying():
                return outcome
            if outcome.status is not WriteStatus.RATE_LIMITED:  # (a 429 paused the budget: the next acquire waits)
                time.sleep(1.0)

    def _write(self, method: str, priority: int | None, **arguments) -> WriteOutcome:
        """``priority`` None: the budget was settled by the caller (an interim update)."""
        api_method = method.replace("_", ".")
        if priority is not None:
            self.budget.acquire(api_method, priority, arguments.get("channel"))
        try:
            response = getattr(self._client, method)(**arguments)
        except SlackApiError as error:
            outcome = self._failure(method, error, arguments.get("channel"))
            if outcome.status is WriteStatus.RATE_LIMITED:
                self.budget.pause(api_method, outcome.retry_after, arguments.get("channel"))
            return outcome
        except Exception as error:  # network trouble after the SDK's own retries
            log.warning("slack call failed", method=method, error=type(error).__name__)
            return WriteOutcome(WriteStatus.FAILED, error="transient")
        message = response.get("message") or {}
        metadata = parse_metadata(message.get("metadata"))
        status = WriteStatus.ABORTED if metadata and metadata.event_type == ABORTED_EVENT_TYPE else WriteStatus.OK
        return WriteOutcome(status, ts=response.get("ts"), metadata=metadata)

    @staticmethod
    def _failure(method: str, error: SlackApiError, channel: str | None) -> WriteOutcome:
        response = error.response
        if response.status_code == 429:
            retry_after = _retry_after(response)
            log.info("slack rate limited", method=method, retry_after=retry_after)
            return WriteOutcome(WriteStatus.RATE_LIMITED, retry_after=retry_after)
        code = response.get("error") if isinstance(response.data, dict) else None
        if code == "not_in_channel":
            log.warning("the bot is not in this channel (removed?); its answer there ends", method=method,
                        channel=channel, error=code)
        if code in GONE_ERRORS:
            return WriteOutcome(WriteStatus.DELETED, error=code)
        if response.status_code >= 500:
            return WriteOutcome(WriteStatus.FAILED, error="transient")
        if code == "missing_scope":
            log_missing_scope(method, response)
        log.warning("slack call refused", method=method, error=code, channel=channel)
        return WriteOutcome(WriteStatus.FAILED, error=code or f"http_{response.status_code}")

    # --- Slack-native streaming (STREAM_MODE=native) ------------------------------
    def start_stream(self, channel: str, thread_ts: str, text: str, recipient_user: str,
                     recipient_team: str | None, stream_key: int, last_write_at: float) -> WriteOutcome:
        """``chat.startStream`` (Tier 2) — only when the budget has room now (``DEFERRED`` otherwise)."""
        wait = self.budget.try_interim("chat.startStream", stream_key, last_write_at)
        if wait > 0:
            return WriteOutcome(WriteStatus.DEFERRED, retry_after=wait)
        arguments = {"channel": channel, "thread_ts": thread_ts, "markdown_text": text}
        if not channel.startswith("D"):  # outside a DM Slack needs to know who reads the stream
            arguments.update(recipient_user_id=recipient_user, recipient_team_id=recipient_team)
        return self._stream_call("chat_startStream", None, arguments)

    def append_stream(self, channel: str, ts: str, text: str, stream_key: int, last_write_at: float) -> WriteOutcome:
        wait = self.budget.try_interim("chat.appendStream", stream_key, last_write_at)
        if wait > 0:
            return WriteOutcome(WriteStatus.DEFERRED, retry_after=wait)
        return self._stream_call("chat_appendStream", None, {"channel": channel, "ts": ts, "markdown_text": text})

    def stop_stream(self, channel: str, ts: str, text: str | None, metadata: dict | None,
                    priority: int = FINAL) -> WriteOutcome:
        arguments = {"channel": channel, "ts": ts}
        if text:
            arguments["markdown_text"] = text
        if metadata is not None:
            arguments["metadata"] = metadata
        return self._stream_call("chat_stopStream", priority, arguments)

    def _stream_call(self, method: str, priority: int | None, arguments: dict) -> WriteOutcome:
        outcome = self._write(method, priority, **arguments)
        if outcome.status is WriteStatus.FAILED and outcome.error in STREAM_UNAVAILABLE:
            return WriteOutcome(WriteStatus.UNAVAILABLE, error=outcome.error)
        if outcome.status is WriteStatus.FAILED and outcome.error == "message_not_in_streaming_state":
            return WriteOutcome(WriteStatus.NOT_STREAMING, error=outcome.error)
        if outcome.status is WriteStatus.FAILED and outcome.error == "stopped_by_user":  # Slack's own stop control
            return WriteOutcome(WriteStatus.STOPPED_BY_USER, error=outcome.error)
        return outcome

    def delete(self, channel: str, ts: str, priority: int = USER_ACTION, give_up_after: float = 30.0) -> bool:
        """Delete one of the bot's messages. False when it was already gone; ``StillRateLimited``
        when Slack kept refusing for ``give_up_after`` seconds (each Retry-After waited out)."""
        deadline = time.monotonic() + give_up_after
        while True:
            self.budget.acquire("chat.delete", priority, channel)
            try:
                self._client.chat_delete(channel=channel, ts=ts)
                return True
            except SlackApiError as error:
                if error.response.status_code == 429:
                    retry_after = _retry_after(error.response)
                    self.budget.pause("chat.delete", retry_after, channel)
                    if time.monotonic() + retry_after > deadline:
                        raise StillRateLimited("chat.delete", retry_after) from None
                    time.sleep(retry_after)  # (a person's action spends into debt: wait here, not in acquire)
                    continue
                if error.response.get("error") == "message_not_found":
                    return False
                if error.response.get("error") == "missing_scope":
                    raise MissingScope("chat.delete", error) from None
                raise

    def set_thread_status(self, channel: str, thread_ts: str, status: str) -> bool:
        """``assistant.threads.setStatus``: "<app> is thinking…" under the thread, from Slack's own
        budget for it, not chat.update's. Never waits: False when there is no room or Slack refused."""
        if not self.budget.try_take("assistant.threads.setStatus"):
            return False
        try:
            self._client.assistant_threads_setStatus(channel_id=channel, thread_ts=thread_ts, status=status)
            return True
        except SlackApiError as error:
            if error.response.status_code == 429:
                self.budget.pause("assistant.threads.setStatus", _retry_after(error.response))
            elif error.response.get("error") == "missing_scope":
                log_missing_scope("assistant.threads.setStatus", error.response)
            else:
                log.info("thread status not shown", channel=channel, error=error.response.get("error"))
            return False
        except Exception as error:  # network trouble: a status is not worth waiting for
            log.info("thread status not shown", channel=channel, error=type(error).__name__)
            return False

    def post_ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        try:
            self._client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)
        except SlackApiError as error:
            log.warning("ephemeral message failed", error=error.response.get("error"))

    def open_notice(self, trigger_id: str | None, title: str, text: str) -> str | None:
        """A small confirmation modal, as the seed bot showed after stop and delete: its view id (for
        ``update_notice``), or None when it could not be opened."""
        if not trigger_id:
            return None
        try:
            opened = self._client.views_open(trigger_id=trigger_id, view=_notice(title, text)).get("view")
            return opened.get("id") if isinstance(opened, dict) else None
        except SlackApiError as error:
            # An expired trigger (>3 s) only loses the modal; the action itself is done.
            log.warning("modal failed", error=error.response.get("error"))
            return None

    def update_notice(self, view_id: str | None, title: str, text: str) -> bool:
        """The modal ``open_notice`` opened now says ``text`` (work that outlasted the 3 s of its trigger
        has ended); False when it could not be changed (closed meanwhile, or refused)."""
        if not view_id:
            return False
        try:
            self._client.views_update(view_id=view_id, view=_notice(title, text))
            return True
        except SlackApiError as error:
            log.warning("modal update failed", error=error.response.get("error"))
            return False

    # --- direct messages --------------------------------------------------------
    def open_dm(self, user_id: str, attempts: int = 3) -> str | None:
        """``conversations.open`` with one person (``im:write``): the id of the bot's DM with them (D…),
        the same each time; None when Slack refused (logged)."""
        for _attempt in range(attempts):
            self.budget.acquire("conversations.open", PLACEHOLDER)
            try:
                return self._client.conversations_open(users=user_id)["channel"]["id"]
            except SlackApiError as error:
                if error.response.status_code == 429:
                    self.budget.pause("conversations.open", _retry_after(error.response))  # the next acquire waits
                    continue
                if error.response.get("error") == "missing_scope":
                    log_missing_scope("conversations.open", error.response)
                else:
                    log.warning("could not open a DM", error=error.response.get("error"))
                return None
        return None

    def send_dm(self, user_id: str, text: str) -> bool:
        """A message from the bot in its DM with ``user_id`` (an admin's alert); True once it is posted."""
        channel = self.open_dm(user_id)
        if channel is None:
            return False
        outcome = self._until_landed(lambda: self._write("chat_postMessage", PLACEHOLDER, channel=channel, text=text,
                                                         unfurl_links=False, unfurl_media=False),
                                     give_up_after=60.0)
        return outcome.status is WriteStatus.OK

    # --- reading --------------------------------------------------------------
    def thread(self, channel: str, thread_ts: str, page_size: int = 200,
               priority: int = PLACEHOLDER) -> list[SlackMessage]:
        """The whole thread, parent first, with metadata; every page."""
        messages: list[SlackMessage] = []
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            response = self._read_page(channel, thread_ts, cursor, page_size, priority)
            if response is None:
                return messages
            for raw in response.get("messages") or []:
                message = SlackMessage.from_api(raw)
                if message.ts not in seen:  # some pages repeat the parent
                    seen.add(message.ts)
                    messages.append(message)
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not response.get("has_more") or not cursor:
                return messages

    def _read_page(self, channel: str, thread_ts: str, cursor: str | None, page_size: int, priority: int):
        for _attempt in range(6):
            self.budget.acquire("conversations.replies", priority, channel)
            try:
                return self._client.conversations_replies(
                    channel=channel, ts=thread_ts, cursor=cursor, limit=page_size, include_all_metadata=True
                )
            except SlackApiError as error:
                if error.response.status_code == 429:
                    retry_after = _retry_after(error.response)
                    self.budget.pause("conversations.replies", retry_after, channel)  # the next acquire waits
                    continue
                if error.response.get("error") in GONE_ERRORS:
                    return None
                if error.response.get("error") == "missing_scope":
                    raise MissingScope("conversations.replies", error) from None
                raise
        raise RuntimeError("conversations.replies stayed rate limited")

    def find(self, channel: str, ts: str, thread_ts: str | None, priority: int = PLACEHOLDER) -> SlackMessage | None:
        """One message, fresh from Slack, metadata included."""
        for message in self.thread(channel, thread_ts or ts, priority=priority):
            if message.ts == ts:
                return message
        return None


def _notice(title: str, text: str) -> dict:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title[:24]},
        "close": {"type": "plain_text", "text": "OK"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }
