"""Messages and threads in FakeSlack: ts order, threads one level deep, tombstones, and the methods
that read them back (``conversations.replies``, ``conversations.history``).

Mixed into ``FakeSlack``, whose lock guards ``_channels`` (channel id -> its messages in ts order);
who may read which conversation is decided before these run (``slack_access.py``).
"""
import copy

try:
    from .slack_limits import error, page_limit, paginate, time_window, truthy
except ImportError:  # imported as a top-level module
    from slack_limits import error, page_limit, paginate, time_window, truthy


class ThreadStore:
    # ------------------------------------------------------ test-side helpers
    def messages(self, channel):
        with self._lock:
            return copy.deepcopy(self._channels.get(channel, []))

    def thread(self, channel, thread_ts):
        with self._lock:
            return copy.deepcopy(self._thread_of(channel, thread_ts) or [])

    def get(self, channel, ts):
        with self._lock:
            return copy.deepcopy(self._find(channel, ts))

    def delete(self, channel, ts):
        """Delete as if a user removed the message (no ownership check)."""
        with self._lock:
            msg = self._find(channel, ts)
            if msg is None or msg.get("subtype") == "tombstone":
                return False
            self._remove(channel, msg)
            self._bump()
            return True

    # ------------------------------------------------------------- state core
    def _next_ts(self):
        self._ts_micro += 100
        sec, micro = divmod(self._ts_micro, 1_000_000)
        return f"{1_700_000_000 + sec}.{micro:06d}"

    def _find(self, channel, ts):
        for msg in self._channels.get(channel, []):
            if msg["ts"] == ts:
                return msg
        return None

    def _root_ts(self, channel, ts):
        """The thread root for ts: replies point at their parent (Slack keeps threads one level deep)."""
        msg = self._find(channel, ts)
        if msg is not None and msg.get("thread_ts") and msg["thread_ts"] != msg["ts"]:
            return msg["thread_ts"]
        return ts

    def _insert(self, channel, msg, thread_ts):
        msg["ts"] = self._next_ts()
        if thread_ts:
            root = self._root_ts(channel, thread_ts)
            msg["thread_ts"] = root
            parent = self._find(channel, root)
            if parent is not None:
                msg["parent_user_id"] = parent.get("user")
        self._channels.setdefault(channel, []).append(msg)
        if thread_ts:
            self._refresh_parent(channel, msg["thread_ts"])
            if msg.get("bot_id") == self.bot_id:
                self._reply_posted(channel, msg["thread_ts"])  # the app's reply ends the thread's status line
        return msg

    def _replies(self, channel, root):
        return [m for m in self._channels.get(channel, [])
                if m.get("thread_ts") == root and m["ts"] != root]

    def _refresh_parent(self, channel, root):
        parent = self._find(channel, root)
        if parent is None:
            return
        replies = self._replies(channel, root)
        for key in ("thread_ts", "reply_count", "reply_users", "reply_users_count", "latest_reply"):
            parent.pop(key, None)
        if replies:
            users = list(dict.fromkeys(r.get("user") for r in replies))
            parent.update(thread_ts=root, reply_count=len(replies), reply_users=users,
                          reply_users_count=len(users), latest_reply=replies[-1]["ts"])
        elif parent.get("subtype") == "tombstone":
            self._channels[channel].remove(parent)  # nothing left to keep it for

    def _remove(self, channel, msg):
        is_parent = msg.get("thread_ts") == msg["ts"] and self._replies(channel, msg["ts"])
        if is_parent:
            # Slack leaves a tombstone for a deleted parent whose replies remain.
            keep = {k: msg[k] for k in ("ts", "thread_ts", "reply_count", "reply_users",
                                        "reply_users_count", "latest_reply")}
            msg.clear()
            msg.update(type="message", subtype="tombstone", text="This message was deleted.",
                       user="USLACKBOT", hidden=True, **keep)
            return
        self._channels[channel].remove(msg)
        if msg.get("thread_ts") and msg["thread_ts"] != msg["ts"]:
            self._refresh_parent(channel, msg["thread_ts"])

    def _thread_of(self, channel, ts):
        msg = self._find(channel, ts)
        if msg is None:
            return None
        root = self._root_ts(channel, ts)
        parent = self._find(channel, root)
        return ([parent] if parent else []) + self._replies(channel, root)

    @staticmethod
    def _visible(msgs, params):
        # Facts: metadata comes back only with include_all_metadata=true.
        out = copy.deepcopy(msgs)
        if not truthy(params.get("include_all_metadata", False)):
            for m in out:
                m.pop("metadata", None)
        return out

    # ------------------------------------------------------------- API methods
    def _conversations_replies(self, params):
        channel, ts = params.get("channel"), params.get("ts")
        if not channel:
            return error("channel_not_found")
        thread = self._thread_of(channel, ts) if ts else None
        if not thread:
            return error("thread_not_found")
        keep, err = time_window(params)
        if err:
            return err
        parent = thread[:1] if thread[0]["ts"] == self._root_ts(channel, ts) else []
        replies = [m for m in thread[len(parent):] if keep(m)]
        if parent and params.get("cursor") and self.replies_parent_on_every_page:
            # Variant: continuation pages start with the parent again (limit counts it).
            cut, err = paginate(replies, dict(params, limit=max(1, page_limit(params, 1000) - 1)),
                                 1000, 1000, +1)
            if cut:
                cut = (parent + cut[0],) + cut[1:]
        else:
            cut, err = paginate(parent + replies, params, 1000, 1000, +1)
        if err:
            return err
        page, more, meta = cut
        return {"ok": True, "messages": self._visible(page, params), "has_more": more,
                "response_metadata": meta}

    def _conversations_history(self, params):
        channel = params.get("channel")
        if not channel:
            return error("channel_not_found")
        keep, err = time_window(params)
        if err:
            return err
        top = [m for m in reversed(self._channels.get(channel, []))
               if m.get("thread_ts") in (None, m["ts"]) and keep(m)]
        cut, err = paginate(top, params, 100, 999, -1)
        if err:
            return err
        page, more, meta = cut
        return {"ok": True, "messages": self._visible(page, params), "has_more": more,
                "pin_count": 0, "response_metadata": meta}
