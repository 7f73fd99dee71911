"""Slack's native streaming in FakeSlack: chat.startStream, chat.appendStream, chat.stopStream.

Mixed into ``FakeSlack``, whose lock, messages and helpers (``_find``, ``_insert``,
``_bot_message``) these methods use. Built from Slack's docs for the three methods: the
recipient is required in channels, a stream started with ``markdown_text`` goes on with it,
a stream stops being in streaming state when stopped, deleted or after ``stream_ttl``.
"""
import copy
import time

try:
    from .slack_blocks import content_error
    from .slack_limits import check_stream_content, error, fallback_text
except ImportError:  # imported as a top-level module
    from slack_blocks import content_error
    from slack_limits import check_stream_content, error, fallback_text


class StreamingMethods:
    def is_streaming(self, channel, ts):
        """Whether the message is in streaming state (started, not stopped, not expired)."""
        with self._lock:
            return self._streaming(channel, ts) is not None

    def stop_stream_by_user(self, channel, ts):
        """The user pressed stop in Slack's UI: further chat.appendStream calls answer
        stopped_by_user (documented), chat.stopStream message_not_in_streaming_state."""
        with self._lock:
            stream = self._streaming(channel, ts)
            if stream is None:
                return False
            stream["stopped_by_user"] = True
            return True

    def _streaming(self, channel, ts):
        """The stream record of a message in streaming state, or None (never started,
        stopped, expired after stream_ttl, or the message is gone)."""
        stream = self._streams.get((channel, ts))
        if stream is None:
            return None
        msg = self._find(channel, ts)
        expired = self.stream_ttl is not None and time.monotonic() - stream["started"] > self.stream_ttl
        if msg is None or msg.get("subtype") == "tombstone" or expired:
            del self._streams[(channel, ts)]  # expiry keeps the text streamed so far
            return None
        return stream

    @staticmethod
    def _set_stream_text(msg, text, extra_blocks=()):
        msg["text"] = text
        msg["blocks"] = [{"type": "markdown", "text": text}] + list(extra_blocks)

    def _chat_start_stream(self, params):
        channel = params.get("channel")
        if not channel:
            return error("channel_not_found")
        if not params.get("thread_ts"):
            # Docs: "Streamed messages should always be replies to a user request";
            # thread_ts is listed as required. The error code is a guess.
            return error("invalid_arguments")
        is_dm = channel.startswith("D") or self._channel_info.get(channel, {}).get("is_im")
        if not is_dm:  # docs: the recipient is "required when streaming to channels"
            if not params.get("recipient_user_id"):
                return error("missing_recipient_user_id")
            if not params.get("recipient_team_id"):
                return error("missing_recipient_team_id")
        # Docs list no cannot_provide_both_markdown_text_and_chunks for startStream.
        err, content = check_stream_content(params, exclusive=False)
        if err:
            return err
        msg = self._bot_message()
        self._set_stream_text(msg, content["text"])
        # An unknown thread_ts is accepted, as chat.postMessage does here.
        self._insert(channel, msg, params["thread_ts"])
        self._note_pings("chat.startStream", channel, msg, params)
        mode = content["mode"] if content["mode"] in ("markdown_text", "chunks") else None
        self._streams[(channel, msg["ts"])] = {"started": time.monotonic(), "mode": mode,
                                               "stopped_by_user": False}
        return {"ok": True, "channel": channel, "ts": msg["ts"]}

    def _stream_target(self, params, method):
        """(error, msg, stream) for chat.appendStream/chat.stopStream."""
        channel, ts = params.get("channel"), params.get("ts")
        if not channel:
            return error("channel_not_found"), None, None
        msg = self._find(channel, ts) if ts else None
        if msg is None or msg.get("subtype") == "tombstone":
            return error("message_not_found"), None, None
        if msg.get("bot_id") != self.bot_id:
            return error("message_not_owned_by_app"), None, None
        stream = self._streaming(channel, ts)
        if stream is None:
            return error("message_not_in_streaming_state"), None, None
        if stream["stopped_by_user"]:
            return error("stopped_by_user" if method == "append" else
                         "message_not_in_streaming_state"), None, None
        return None, msg, stream

    @staticmethod
    def _mode_error(stream, content):
        """Docs (streaming_mode_mismatch): a stream started with markdown_text must go
        on with markdown_text, one started with chunks with chunks."""
        if content["mode"] is None:
            return None
        if stream["mode"] is None:
            stream["mode"] = content["mode"]
        elif stream["mode"] != content["mode"]:
            return error("streaming_mode_mismatch")
        return None

    def _chat_append_stream(self, params):
        err, msg, stream = self._stream_target(params, "append")
        if err:
            return err
        err, content = check_stream_content(params)
        if err:
            return err
        if content["mode"] is None:
            return error("markdown_text_or_chunks_required")
        err = self._mode_error(stream, content)
        if err:
            return err
        self._set_stream_text(msg, msg.get("text", "") + content["text"])
        self._note_pings("chat.appendStream", params["channel"], msg, params)  # (the pieces, joined)
        return {"ok": True, "channel": params["channel"], "ts": msg["ts"]}

    def _chat_stop_stream(self, params):
        err, msg, stream = self._stream_target(params, "stop")
        if err:
            return err
        err, content = check_stream_content(params, final=True)
        if not err:
            err = content_error(content, self.max_metadata_chars)
        if err:
            return err
        err = self._mode_error(stream, content)
        if err:
            return err
        text = msg.get("text", "") + content["text"]
        # Docs: stopStream's blocks "will be rendered at the bottom of the finalized message".
        self._set_stream_text(msg, text, content.get("blocks") or ())
        if not text and content.get("blocks"):
            msg["text"] = fallback_text(content["blocks"])
        if "metadata" in content:
            msg["metadata"] = content["metadata"]
        del self._streams[(params["channel"], msg["ts"])]
        self._note_pings("chat.stopStream", params["channel"], msg, params)
        return {"ok": True, "channel": params["channel"], "ts": msg["ts"],
                "message": copy.deepcopy(msg)}

