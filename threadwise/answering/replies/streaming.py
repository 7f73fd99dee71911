"""One answer's Slack messages while the model writes it.

The model loop calls ``append`` for every delta and never waits for Slack. A
writer thread per answer sends at most one ``chat.update`` every
``interval`` seconds, one at a time and in order, always with the newest text,
when the write budget has room (``slack_budget``). Stop, Delete and a newer
question arrive as a signal (``answer_signals``): the model stream is closed at
once and the final text, with its stop marker, goes out next. A write that
finds the message gone, or stopped by a process that could not signal us,
ends the answer too. Text past a part's size is sealed into that message and
continues in a new one. ``finish`` writes the final text and waits until it
has landed.

An answer that started without a placeholder (the budget had no room for its
updates: it showed a thread status instead) posts its text with
``chat.postMessage`` once a final write is reserved for it, or whole at the end.
"""
from __future__ import annotations

import contextvars
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

from threadwise import logs
from threadwise.answering.outcomes import AnswerStatus
from threadwise.answering.signals import RunningAnswer
from threadwise.state.stop_records import StopReason, StopSignal
from threadwise.slack.reply_format import (
    PART_LIMIT,
    STATUS_CONTINUED,
    STATUS_STOPPED,
    ReplyTag,
    aborted_metadata,
    close_open_fence,
    fallback_text,
    final_blocks,
    reopening_line,
    reply_metadata,
    split_point,
    streaming_blocks,
    stopped_marker,
    with_marker,
)
from slack_client import SlackGateway
from threadwise.slack.messages import WriteOutcome, WriteStatus

log = logs.get(__name__)

# With no new text for this long, rewrite the same text anyway: the write is how a deletion
# nobody signalled (an admin's) is noticed while the model is silent. Stops arrive as signals.
HEARTBEAT_SECONDS = 15.0

__all__ = ["FinalReport", "StreamingReply"]


@dataclass(frozen=True)
class FinalReport:
    parts: list[str]  # ts of every message of the answer, in order
    stop: StopSignal | None
    landed: bool


class StreamingReply:
    def __init__(self, slack: SlackGateway, channel: str, thread_ts: str, tag: ReplyTag, first_ts: str | None,
                 interval: float, on_stop: Callable[[], None] | None = None,
                 still_owner: Callable[[], bool] = lambda: True, running: RunningAnswer | None = None,
                 budget_key: int | None = None, on_first_message: Callable[[str], None] | None = None):
        self._slack = slack
        self._channel = channel
        self._thread_ts = thread_ts
        self._tag = replace(tag, answer_ts=None, part=1)
        self._interval = interval
        self._on_stop = on_stop
        # False once another worker has taken this answer over (its claim's lease
        # was lost): from then on this one must not write to the message at all.
        self._still_owner = still_owner
        self._parts = [first_ts] if first_ts else []  # no placeholder: a thread status shows the answer is coming
        self._on_first_message = on_first_message
        self._shown_status: str | None = None  # the thread status last set (no placeholder yet)
        self._answer = ""
        self._sealed_upto = 0  # characters of the answer already sealed into earlier parts
        self._prefix = ""  # a re-opened code fence carried into the current part
        self._written: str | None = ""  # the placeholder already shows the empty answer
        self._stop: StopSignal | None = None
        self._finishing = False
        self._idle = False  # the writer waits for new text (not for its next slot)
        self._status: str | None = None
        self._next_write_at = 0.0
        self._last_write_at = time.monotonic()
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()  # one chat.update at a time, writer thread or check_stop
        self._budget = slack.budget
        if budget_key is None:  # every answer in flight shares the update budget
            budget_key = self._budget.stream_started()
            if first_ts:
                self._budget.reserve_final(budget_key)
        self._budget_key = budget_key
        # In a copy of the caller's context: the answer's landing window (``landing``) holds here too.
        self._writer = threading.Thread(target=contextvars.copy_context().run, args=(self._run,),
                                        name=f"reply-{first_ts or thread_ts}", daemon=True)
        self._writer.start()
        if running is not None:
            running.listen(self._signalled)

    # --- the model loop's side ---------------------------------------------
    def append(self, delta: str) -> None:
        if delta:
            with self._cond:
                self._answer += delta
                # While a write is due anyway the writer sleeps until its slot;
                # waking it for every delta would only burn CPU.
                if self._idle:
                    self._idle = False
                    self._cond.notify()

    @property
    def stop(self) -> StopSignal | None:
        return self._stop

    @property
    def text(self) -> str:
        return self._answer

    def set_status(self, status: str) -> None:
        """What the model is doing before its first words ("Searching the web…")."""
        with self._cond:
            self._status = status
            if not self._answer:
                self._written = None  # show it at the next slot
                if self._idle:
                    self._idle = False
                    self._cond.notify()

    def check_stop(self, status: str) -> StopSignal | None:
        """Between two model requests (after a tool ran): show ``status``, and say whether the answer
        was stopped meanwhile (a signal, so the next request is not paid for in vain)."""
        self.set_status(status)
        return self._stop

    def set_on_stop(self, callback: Callable[[], None] | None) -> None:
        self._on_stop = callback
        if callback is not None and self._stop is not None:
            self._signal_stop()  # stopped before the model stream opened: close it at once

    def _signalled(self, stop: StopSignal) -> None:
        """Stop, Delete or a newer question, from another thread: end the answer now."""
        with self._cond:
            if self._stop is not None:
                return
            self._stop = stop
            self._idle = False
            self._cond.notify()
        log.info("answer signalled", reason=stop.reason, channel=self._channel)
        self._signal_stop()

    def finish(self, marker: str | None = None, status: AnswerStatus = AnswerStatus.DONE) -> FinalReport:
        """Write the final text (plus ``marker``) and return once it has landed."""
        try:
            return self._finish(marker, status)
        finally:
            self._budget.stream_ended(self._budget_key)

    def _finish(self, marker: str | None, status: AnswerStatus) -> FinalReport:
        with self._cond:
            self._finishing = True
            self._cond.notify()
        self._writer.join()
        if not self._still_owner():
            self._stop = StopSignal(StopReason.TAKEN_OVER)
        if self._stop and self._stop.reason in (StopReason.DELETED, StopReason.TAKEN_OVER):
            self._clear_thread_status()
            return FinalReport(list(self._parts), self._stop, landed=False)
        if self._parts and not self._seal_full_parts(self._answer):
            # The part was deleted or its continuation could not be posted: writing the rest
            # into the last part would replace the text it was just sealed with.
            return FinalReport(list(self._parts), self._stop, landed=False)
        current = self._current_text(self._answer)
        if self._stop:
            marker = stopped_marker(self._stop.stopped_by, self._stop.reason.value)
        text = with_marker(current, marker) if marker else close_open_fence(current)
        if not text.strip():
            text = "_(The model returned an empty answer.)_"
        if not self._parts:
            self._budget.release_final(self._budget_key)  # (posted, not updated: nothing reserved is spent)
            return self._post_whole(text, status)
        outcome = self._slack.update_until_landed(
            self._channel, self._parts[-1], fallback_text(text), final_blocks(text), self._final_metadata(status),
            paid=self._budget.spend_reserved(self._budget_key),  # the token reserved for it: no wait
        )
        if outcome.status is WriteStatus.DELETED:
            self._stop = self._stop or StopSignal(StopReason.DELETED)
        return FinalReport(list(self._parts), self._stop, landed=outcome.landed)

    def _post_whole(self, text: str, status: AnswerStatus) -> FinalReport:
        """No message yet (no room for updates while it was written): post the answer, part by part."""
        while True:
            last = len(text) <= PART_LIMIT
            cut = len(text) if last else split_point(text, PART_LIMIT)
            head = text if last else close_open_fence(text[:cut])
            part = len(self._parts) + 1
            metadata = (self._final_metadata(status, part) if last
                        else reply_metadata(self._tag_for(part), STATUS_CONTINUED))
            posted = self._slack.post_until_landed(self._channel, self._thread_ts, fallback_text(head),
                                                   final_blocks(head), metadata)
            if not posted.ts:
                log.error("could not post the answer", error=posted.error, channel=self._channel)
                return FinalReport(list(self._parts), self._stop, landed=False)
            self._parts.append(posted.ts)
            if part == 1 and self._on_first_message is not None:
                self._on_first_message(posted.ts)  # (a redelivery then resumes it instead of posting again)
            if last:
                return FinalReport(list(self._parts), self._stop, landed=True)
            text = reopening_line(text[:cut]) + text[cut:]

    # --- the writer thread ------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._finishing:
                        now = time.monotonic()
                        dirty = self._answer != self._written
                        self._idle = not dirty
                        due = (self._next_write_at if dirty
                               else max(self._next_write_at, self._last_write_at + HEARTBEAT_SECONDS))
                        if now >= due:
                            break
                        self._cond.wait(due - now)
                    if self._finishing or self._stop:  # (a signal may have stopped the answer)
                        return
                    snapshot = self._answer
                with self._write_lock:
                    self._write_interim(snapshot)
                if self._stop:
                    self._signal_stop()
                    return
        except Exception as error:  # never let a writer crash silently leave the loop waiting
            log.error("stream writer failed", error=type(error).__name__, exc_info=True)

    def _write_interim(self, snapshot: str) -> None:
        """An update while streaming, when the budget has room now (it never waits)."""
        if not self._still_owner():
            self._stop = StopSignal(StopReason.TAKEN_OVER)
            return
        if not self._parts:
            return self._first_message(snapshot)
        if not self._seal_full_parts(snapshot):
            return
        current = self._current_text(snapshot)
        outcome = self._slack.update_interim(self._channel, self._parts[-1], fallback_text(current),
                                             streaming_blocks(current, self._status), self._budget_key,
                                             self._last_write_at)
        self._after_write(outcome, snapshot)

    def _first_message(self, snapshot: str) -> None:
        """No placeholder: show the status while there is no text, then post the text once its final
        write is reserved (until then it waits, and is posted whole at the end)."""
        now = time.monotonic()
        if not snapshot:
            if self._status and self._status != self._shown_status:
                self._slack.set_thread_status(self._channel, self._thread_ts, self._status)
                self._shown_status = self._status
            self._last_write_at, self._next_write_at = now, now + self._interval
            return
        if not self._budget.reserve_final(self._budget_key):
            self._next_write_at = now + self._interval
            return
        current = snapshot[:PART_LIMIT] if len(snapshot) <= PART_LIMIT else snapshot[:split_point(snapshot, PART_LIMIT)]
        posted = self._slack.post(self._channel, self._thread_ts, fallback_text(current),
                                  streaming_blocks(current, self._status), reply_metadata(self._tag, "streaming"))
        if not posted.ts:
            self._budget.release_final(self._budget_key)
            self._next_write_at = now + max(posted.retry_after, self._interval)
            return
        self._parts.append(posted.ts)
        if self._on_first_message is not None:
            self._on_first_message(posted.ts)
        self._after_write(posted, current if current == snapshot else None)

    def _clear_thread_status(self) -> None:
        if self._shown_status and not self._parts:  # (a message in the thread clears it by itself)
            self._slack.set_thread_status(self._channel, self._thread_ts, "")

    def _after_write(self, outcome: WriteOutcome, snapshot: str) -> None:
        now = time.monotonic()
        if outcome.status is WriteStatus.DEFERRED:  # the budget is busy: this answer's interval stretches
            self._next_write_at = now + outcome.retry_after
            return
        if outcome.status is WriteStatus.RATE_LIMITED:
            self._next_write_at = now + max(outcome.retry_after, self._interval)
            return
        self._last_write_at = now
        # A write without text yet (a status such as "Searching Notion…") must not
        # hold the first words back for a whole interval: they go out at once.
        self._next_write_at = now + (self._interval if snapshot else 0.0)
        if outcome.status is WriteStatus.OK:
            self._written = snapshot
        elif outcome.status is WriteStatus.ABORTED:
            self._written = snapshot
            payload = outcome.metadata.payload if outcome.metadata else {}
            self._stop = StopSignal(StopReason.of(payload.get("reason")), payload.get("stopped_by"))
        elif outcome.status is WriteStatus.DELETED:
            self._stop = StopSignal(StopReason.DELETED)

    def _signal_stop(self) -> None:
        if self._on_stop:
            try:
                self._on_stop()
            except Exception:  # closing an already broken stream
                pass

    # --- parts --------------------------------------------------------------
    def _current_text(self, snapshot: str) -> str:
        return self._prefix + snapshot[self._sealed_upto:]

    def _seal_full_parts(self, snapshot: str) -> bool:
        """Move text past a part's limit into new messages. False if the answer was stopped."""
        while len(self._current_text(snapshot)) > PART_LIMIT:
            current = self._current_text(snapshot)
            cut = split_point(current, PART_LIMIT)
            head = current[:cut]
            sealed = close_open_fence(head)
            seal = self._slack.update_until_landed(
                self._channel, self._parts[-1], fallback_text(sealed), final_blocks(sealed),
                reply_metadata(self._tag_for(len(self._parts)), STATUS_CONTINUED),
            )
            if seal.status is WriteStatus.DELETED:
                self._stop = StopSignal(StopReason.DELETED)
                return False
            next_prefix = reopening_line(head)
            self._sealed_upto += cut - len(self._prefix)
            self._prefix = next_prefix
            rest = self._current_text(snapshot)
            tag = self._tag_for(len(self._parts) + 1)
            posted = self._slack.post_until_landed(
                self._channel, self._thread_ts, fallback_text(rest[:PART_LIMIT]), streaming_blocks(rest[:PART_LIMIT]),
                reply_metadata(tag, "streaming"),
            )
            if not posted.ts:
                log.error("could not post a continuation", error=posted.error)
                self._stop = StopSignal(StopReason.DELETED)
                return False
            self._parts.append(posted.ts)
            self._written = None
        return True

    def _tag_for(self, part: int) -> ReplyTag:
        if part == 1:
            return self._tag
        return replace(self._tag, answer_ts=self._parts[0], part=part)

    def _final_metadata(self, status: AnswerStatus, part: int | None = None) -> dict:
        tag = self._tag_for(part or len(self._parts))
        if self._stop:
            base = reply_metadata(tag, status.value)["event_payload"]
            return aborted_metadata(base, self._stop.stopped_by or "", self._stop.reason.value, STATUS_STOPPED)
        return reply_metadata(tag, status.value)
