"""STREAM_MODE=native: the answer streams through Slack's own streaming methods.

``chat.startStream`` / ``chat.appendStream`` (Tier 4, twice ``chat.update``'s
rate) / ``chat.stopStream``. A streaming message cannot carry metadata or a
Stop button until it is stopped, so the placeholder stays as the answer's
*control* message while the text streams below it: it keeps the metadata
(who asked, and ``stream``: the streaming message's ts) and the Stop button.
Stop, Delete and a newer question reach the writer as a signal
(``answer_signals``); when they could not (the answer runs in a process that
did not acknowledge), they find the stream through the control message and end
it with ``chat.stopStream`` or delete it, and the writer learns of it from its
next ``chat.appendStream`` (``message_not_in_streaming_state`` plus the
aborted metadata, or ``message_not_found``). When the answer is done
the stream is stopped with the final metadata and the control message goes.

Everything else falls back to ``chat.update`` exactly as STREAM_MODE=update
does, from where the text is: the methods are unavailable, the budget has no
room for a ``chat.startStream`` now, the stream expired (Slack ends streams
after about five minutes), or the answer grows past one part.
"""
from __future__ import annotations

import time

from threadwise import logs
from threadwise.slack.events import ABORTED_EVENT_TYPE
from threadwise.slack.reply_format import (PART_LIMIT, STATUS_STREAMING, close_open_fence, fallback_text, final_blocks,
                          reply_metadata, stop_button_block, stopped_marker, streaming_blocks, with_marker)
from threadwise.slack.pings import quiet, stream_safe
from threadwise.slack.rate_budget import FINAL
from threadwise.slack.messages import WriteOutcome, WriteStatus
from threadwise.answering.outcomes import AnswerStatus
from threadwise.answering.replies.streaming import FinalReport, StreamingReply
from threadwise.state.stop_records import StopReason, StopSignal

log = logs.get(__name__)

STREAM_BELOW_TEXT = "_The answer is being written below._"


class NativeStreamingReply(StreamingReply):
    def __init__(self, *args, recipient_user: str, recipient_team: str | None, **kwargs):
        super().__init__(*args, **kwargs)
        self._recipient_user = recipient_user
        self._recipient_team = recipient_team
        self._control_ts = self._parts[0]  # the placeholder
        self._stream_ts: str | None = None
        self._streamed = ""  # text Slack has in the stream
        self._native = True  # False once this answer went back to chat.update

    @property
    def streaming_natively(self) -> bool:
        return self._native and self._stream_ts is not None

    # --- the writer thread ------------------------------------------------------
    def _write_interim(self, snapshot: str) -> None:
        if not self._native or not snapshot:
            return super()._write_interim(snapshot)  # statuses and heartbeats on the control message
        if not self._still_owner():
            self._stop = StopSignal(StopReason.TAKEN_OVER)
            return
        if len(snapshot) > PART_LIMIT:  # longer than one part: parts are chat.update's business
            self._leave_native("the answer is longer than one part")
            return super()._write_interim(snapshot)
        # Slack joins the appended pieces: a mention is quieted once it is whole, and a tail that
        # could still become one waits for the next piece (pings.stream_safe).
        shown = stream_safe(snapshot)
        if not shown or not shown.startswith(self._streamed):
            self._next_write_at = time.monotonic() + self._interval
            return
        if self._stream_ts is None:
            self._start(snapshot, shown)
        else:
            self._append(snapshot, shown)

    def _start(self, snapshot: str, shown: str) -> None:
        outcome = self._slack.start_stream(self._channel, self._thread_ts, shown, self._recipient_user,
                                           self._recipient_team, self._budget_key, self._last_write_at)
        if outcome.status is WriteStatus.OK and outcome.ts:
            self._stream_ts, self._streamed = outcome.ts, shown
            # The control message names its stream, for Stop / Delete used on either message.
            control = self._slack.update_until_landed(
                self._channel, self._control_ts, fallback_text(STREAM_BELOW_TEXT),
                [{"type": "markdown", "text": STREAM_BELOW_TEXT}, stop_button_block()],
                reply_metadata(self._tag, STATUS_STREAMING, stream=outcome.ts))
            ended = control.status in (WriteStatus.ABORTED, WriteStatus.DELETED)  # stopped or deleted meanwhile
            self._after_native(snapshot, control if ended else outcome)
        elif outcome.status in (WriteStatus.DEFERRED, WriteStatus.RATE_LIMITED):
            # No room for a Tier 2 call now: do not hold the first words back, use chat.update.
            self._leave_native("no budget for chat.startStream now")
            super()._write_interim(snapshot)
        else:
            self._leave_native(f"chat.startStream: {outcome.error or outcome.status}")
            super()._write_interim(snapshot)

    def _append(self, snapshot: str, shown: str) -> None:
        delta = shown[len(self._streamed):]
        if not delta:  # nothing new (a heartbeat, or a tail held back): a stream has nothing to rewrite
            self._last_write_at = time.monotonic()
            self._written = snapshot
            return
        outcome = self._slack.append_stream(self._channel, self._stream_ts, delta, self._budget_key,
                                            self._last_write_at)
        if outcome.status is WriteStatus.OK:
            self._streamed = shown
        self._after_native(snapshot, outcome)

    def _after_native(self, snapshot: str, outcome: WriteOutcome) -> None:
        if outcome.status is WriteStatus.STOPPED_BY_USER:  # the reader pressed Slack's own stop on the stream
            self._stop = StopSignal(StopReason.STOPPED, self._recipient_user)
            return
        if outcome.status is WriteStatus.NOT_STREAMING:
            self._stream_ended()
            return
        self._after_write(outcome, snapshot)

    def _stream_ended(self) -> None:
        """Slack ended the stream: a Stop (its metadata says so) or its ~5-minute expiry."""
        signal = self._stop_signal_of_stream()
        if signal is not None:
            self._stop = signal
        else:
            self._leave_native("the stream expired")

    def _stop_signal_of_stream(self) -> StopSignal | None:
        message = self._slack.find(self._channel, self._stream_ts, self._thread_ts)
        if message is None:
            return StopSignal(StopReason.DELETED)
        meta = message.metadata
        if meta is not None and meta.event_type == ABORTED_EVENT_TYPE:
            return StopSignal(StopReason.of(meta.payload.get("reason")), meta.payload.get("stopped_by"))
        return None

    def _leave_native(self, why: str) -> None:
        """Go on with chat.update from where the text is; the streamed message (if any) becomes part 1."""
        if not self._native:
            return
        self._native = False
        log.info("native streaming off for this answer", why=why, channel=self._channel)
        if self._stream_ts is None:
            return  # nothing streamed yet: the placeholder is part 1, as in update mode
        metadata = reply_metadata(self._tag, STATUS_STREAMING)
        stopped = self._slack.stop_stream(self._channel, self._stream_ts, None, metadata)
        if stopped.status is WriteStatus.NOT_STREAMING:  # expired: give it its metadata with an ordinary update
            stopped = self._slack.update_until_landed(self._channel, self._stream_ts, fallback_text(self._streamed),
                                                      streaming_blocks(self._streamed), metadata)
        if stopped.status is WriteStatus.DELETED:
            self._stop = StopSignal(StopReason.DELETED)
        self._slack.delete(self._channel, self._control_ts, priority=FINAL)
        self._parts = [self._stream_ts]
        self._written = self._streamed

    # --- the end ----------------------------------------------------------------
    def _finish(self, marker: str | None, status: AnswerStatus) -> FinalReport:
        with self._cond:
            self._finishing = True
            self._cond.notify()
        self._writer.join()
        if not self.streaming_natively:
            return super()._finish(marker, status)
        if len(self._answer) > PART_LIMIT:
            self._leave_native("the answer is longer than one part")
            return super()._finish(marker, status)
        if not self._still_owner():
            self._stop = StopSignal(StopReason.TAKEN_OVER)
        if self._stop and self._stop.reason in (StopReason.DELETED, StopReason.TAKEN_OVER):
            if self._stop.reason is StopReason.DELETED:  # whichever of the two was deleted, the answer goes whole
                self._slack.delete(self._channel, self._control_ts, priority=FINAL)
                self._slack.delete(self._channel, self._stream_ts, priority=FINAL)
            return FinalReport([self._stream_ts], self._stop, landed=False)
        if self._stop:
            marker = stopped_marker(self._stop.stopped_by, self._stop.reason.value)
        final = quiet(with_marker(self._answer, marker) if marker else close_open_fence(self._answer))
        if not final.strip():
            final = "_(The model returned an empty answer.)_"
        metadata = self._final_metadata(status)
        outcome = WriteOutcome(WriteStatus.NOT_STREAMING)
        if final.startswith(self._streamed):
            outcome = self._slack.stop_stream(self._channel, self._stream_ts, final[len(self._streamed):], metadata)
        if outcome.status is WriteStatus.NOT_STREAMING or (outcome.status is WriteStatus.FAILED
                                                          and not final.startswith(self._streamed)):
            # Stopped by a person (or expired): the message is an ordinary one again.
            outcome = self._slack.update_until_landed(self._channel, self._stream_ts, fallback_text(final),
                                                      final_blocks(final), metadata)
        if outcome.status is WriteStatus.DELETED:
            self._stop = self._stop or StopSignal(StopReason.DELETED)
        self._slack.delete(self._channel, self._control_ts, priority=FINAL)
        return FinalReport([self._stream_ts], self._stop, landed=outcome.landed)
