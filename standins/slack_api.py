"""FakeSlack: an in-process stand-in for Slack's Web API, for the tests, the benches and the playground.

Follows /work/shared/SLACK_FACTS.md. The server and the chat methods live here; messages, threads
and reading them back in ``slack_threads.py``, native streaming in ``slack_streaming.py``, a
thread's status line (``assistant.threads.setStatus``) in ``slack_assistant.py``, files, people
and search in ``slack_knowledge.py``, guests, other organisations and shared channels in
``slack_people.py``, conversations, members and scopes (what each call may do) in
``slack_access.py``, trigger ids and views in ``slack_views.py``, the App Home
(views.publish, conversations.open, file uploads) in ``slack_home.py``, Block Kit limits in
``slack_blocks.py``, which messages would ping a channel or a group (``pings``) in
``slack_mentions.py``, the HTTP side (decoding, tokens, rate limits, scripted faults, the call log) in
``slack_http.py``. Point `slack_sdk.WebClient(base_url=fake.base_url)` at it. Standard library
only; one lock guards all state because slack_sdk clients may call from several threads at once.
"""

import copy
import inspect
import threading
import time

try:
    from .http_server import StandinHTTPServer, StandinServer
    from .slack_access import AccessRules
    from .slack_assistant import AssistantThreads
    from .slack_blocks import content_error
    from .slack_home import HomeMethods
    from .slack_http import Call, HttpSide  # noqa: F401 (Call: re-exported)
    from .slack_knowledge import KnowledgeMethods
    from .slack_limits import check_content, error, fallback_text
    from .slack_mentions import asks_link_names, message_pings
    from .slack_people import PeopleAndSharing
    from .slack_streaming import StreamingMethods
    from .slack_threads import ThreadStore
    from .slack_views import ViewMethods
except ImportError:  # imported as a top-level module
    from http_server import StandinHTTPServer, StandinServer
    from slack_access import AccessRules
    from slack_assistant import AssistantThreads
    from slack_blocks import content_error
    from slack_home import HomeMethods
    from slack_http import Call, HttpSide  # noqa: F401 (Call: re-exported)
    from slack_knowledge import KnowledgeMethods
    from slack_limits import check_content, error, fallback_text
    from slack_mentions import asks_link_names, message_pings
    from slack_people import PeopleAndSharing
    from slack_streaming import StreamingMethods
    from slack_threads import ThreadStore
    from slack_views import ViewMethods


class _Server(StandinHTTPServer):
    # Its own class: bench/common.py raises request_queue_size here for FakeSlack alone.
    request_queue_size = 128


class FakeSlack(HttpSide, ThreadStore, StreamingMethods, AssistantThreads, KnowledgeMethods, AccessRules,
                PeopleAndSharing, ViewMethods, HomeMethods, StandinServer):
    server_class = _Server
    max_text = 4000             # facts: msg_too_long above 4,000 characters
    max_metadata_chars = 4000   # facts: metadata limit undocumented; adjustable
    # Whether continuation pages of conversations.replies repeat the parent is not
    # documented; flip this to check that callers cope with both.
    replies_parent_on_every_page = False
    # Streaming methods exist (False: they answer 404 unknown_method, as on an API without them).
    streaming_available = True
    # Seconds after chat.startStream when a stream stops being in streaming state
    # (Slack reportedly ends streams after ~5 minutes); None: never.
    stream_ttl = 300

    def __init__(self, bot_token="xoxb-test", bot_user_id="UBOT", bot_id="BBOT",
                 app_id="AAPP", team_id="T1"):
        self.bot_token, self.bot_user_id, self.bot_id = bot_token, bot_user_id, bot_id
        self.app_id, self.team_id = app_id, team_id
        self.calls, self.ephemerals = [], []
        # Every write after which a message would notify a channel or a group (slack_mentions):
        # {"method", "channel", "ts", "pings"}.
        self.pings = []
        self.ratelimited_count = 0
        self._lock = threading.RLock()
        self._channels = {}        # channel id -> list of messages in ts order
        self._ts_micro = 0
        self._latency = {}
        self._forced_429 = {}      # method -> [remaining, retry_after]
        self._held_until = {}      # method -> monotonic time its forced 429 still holds (Retry-After)
        self._forced_failures = {}  # method -> [remaining, status, body]
        self._tiers = {}           # method -> (per_minute, capacity)
        self._buckets = {}         # method (or (method, channel)) -> [tokens, last_refill]
        self._per_channel = set()  # methods limited per channel
        self._files = {}           # url path -> (mimetype, bytes)
        self.file_downloads = []   # (path, authorized) per GET of a url_private
        self._methods = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "files.info": self._files_info,
            "search.messages": self._search_messages,
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
            "assistant.threads.setStatus": self._assistant_threads_set_status,
            "apps.connections.open": self._apps_connections_open,
        }
        self.user_tokens = {}      # xoxp- token -> user id (search.messages needs one)
        self.app_tokens = {}       # xapp- token -> its Socket Mode stand-in (FakeSocketMode.attach)
        self._init_access()        # conversations, members, scopes
        self._init_people()        # guests, other organisations' people, shared channels
        self._init_views()         # trigger ids, views opened
        self._init_home()          # Home views published, DMs opened, files uploaded
        self._init_assistant()     # threads' status lines
        self._users = {}           # user id -> email
        self._file_meta = {}       # file id -> the file object
        self._caller = None        # the token of the call being served
        self._file_redirects = {}  # url path -> Location (a file that answers 302)
        self._streams = {}         # (channel, ts) -> {started, mode, stopped_by_user}: still streaming
        # Bumped by every write (an API call that changes state, or a test-side post):
        # the playground's page waits on it to show a reply as it streams.
        self._version = 0
        self._changed = threading.Condition(self._lock)

    # ------------------------------------------------------------ lifecycle
    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}/api/"

    # ------------------------------------------------------ test-side helpers
    def add_message(self, channel, user, text, thread_ts=None, **extra):
        """Post as a human (or, with bot_id/app_id in extra, as another bot). A new conversation
        comes into being (see ``add_channel``) and the poster is in it from then on."""
        if "ts" in extra:
            raise ValueError("ts is generated so that ordering stays consistent")
        with self._lock:
            self._poster_joins(channel, user)
            msg = {"type": "message", "user": user, "text": text, "team": self.team_of(user)}
            msg.update(extra)
            ts = self._insert(channel, msg, thread_ts)["ts"]
            self._bump()
            return ts

    def wait_for_change(self, seen, timeout):
        """The state's version once it is past ``seen``, or the current one after ``timeout`` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self._version > seen, timeout)
            return self._version

    def _bump(self):
        with self._changed:
            self._version += 1
            self._changed.notify_all()

    def calls_of(self, method):
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate, timeout=10, interval=0.01):
        """Poll predicate(self) (or predicate() if it takes no argument) until it
        returns something truthy; return that value. AssertionError on timeout."""
        try:
            wants_arg = len(inspect.signature(predicate).parameters) >= 1
        except (TypeError, ValueError):
            wants_arg = True
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self) if wants_arg else predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                with self._lock:  # (each call's age: to line up with the bot's log times)
                    now = time.monotonic()
                    recent = [f"{c.method}->{c.status} {c.response.get('error', 'ok')} {c.at - now:+.1f}s"
                              for c in self.calls[-10:]]
                name = getattr(predicate, "__name__", repr(predicate))
                raise AssertionError(f"FakeSlack.wait_for({name}) timed out after {timeout}s at "
                                     f"{time.strftime('%H:%M:%S', time.gmtime())} UTC; "
                                     f"{len(self.calls)} calls, last: {recent}")
            time.sleep(interval)

    # ------------------------------------------------------------- messages
    def _bot_message(self):
        return {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id,
                "app_id": self.app_id, "team": self.team_id,
                "bot_profile": {"id": self.bot_id, "app_id": self.app_id, "name": "threadwise",
                                "deleted": False, "team_id": self.team_id,
                                "updated": 1700000000, "icons": {}}}

    def _apply_content(self, msg, content):
        if "markdown_text" in content:
            # Assumption: Slack stores markdown_text as a markdown block.
            msg["text"] = content["markdown_text"]
            msg["blocks"] = [{"type": "markdown", "text": content["markdown_text"]}]
        if "blocks" in content:
            msg["blocks"] = content["blocks"]
        if "text" in content:
            msg["text"] = content["text"]
        elif "blocks" in content:
            msg["text"] = fallback_text(content["blocks"])
        if "metadata" in content:
            msg["metadata"] = content["metadata"]

    def _note_pings(self, method, channel, msg, params):
        pings = message_pings(msg, asks_link_names(params))
        if pings:
            self.pings.append({"method": method, "channel": channel, "ts": msg.get("ts"), "pings": pings})

    def _content(self, params):
        err, content = check_content(params, max_text=self.max_text)
        if not err:
            err = content_error(content, self.max_metadata_chars)
        return (err, None) if err else (None, content)

    def _own_message(self, params, refuse):
        """(error, msg) for chat.update/chat.delete: must exist and be ours."""
        msg = self._find(params.get("channel"), params.get("ts"))
        if msg is None or msg.get("subtype") == "tombstone":
            return error("message_not_found"), None
        if msg.get("bot_id") != self.bot_id:
            return error(refuse), None
        return None, msg

    # ------------------------------------------------------------- API methods
    def _auth_test(self, params):
        return {"ok": True, "url": "https://threadwise-test.slack.com/", "team": "Threadwise Test",
                "user": "threadwise", "team_id": self.team_id, "user_id": self.bot_user_id,
                "bot_id": self.bot_id, "is_enterprise_install": False}

    def _chat_post_message(self, params):
        channel = params.get("channel")
        if not channel:
            return error("channel_not_found")
        err, content = self._content(params)
        if err:
            return err
        msg = self._bot_message()
        self._apply_content(msg, content)
        # An unknown thread_ts is accepted: whether Slack refuses it is not established.
        self._insert(channel, msg, params.get("thread_ts"))
        self._note_pings("chat.postMessage", channel, msg, params)
        return {"ok": True, "channel": channel, "ts": msg["ts"], "message": copy.deepcopy(msg)}

    def _chat_update(self, params):
        err, msg = self._own_message(params, "cant_update_message")
        if err:
            return err
        stream = self._streaming(params["channel"], params["ts"])
        if stream is not None and not stream.get("stopped_by_user"):
            # Assumption: Slack refuses edits while the message is streaming (a stream the
            # reader stopped is not streaming any more: chat.stopStream says so too).
            return error("cant_update_message")
        err, content = self._content(params)
        if err:
            return err
        self._apply_content(msg, content)  # omitted blocks/metadata are kept
        msg["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        self._note_pings("chat.update", params["channel"], msg, params)
        return {"ok": True, "channel": params["channel"], "ts": msg["ts"], "text": msg["text"],
                "message": copy.deepcopy(msg)}

    def _chat_delete(self, params):
        err, msg = self._own_message(params, "cant_delete_message")
        if err:
            return err
        self._remove(params["channel"], msg)
        self._streams.pop((params["channel"], params["ts"]), None)
        return {"ok": True, "channel": params["channel"], "ts": params["ts"]}

    def _chat_post_ephemeral(self, params):
        if not params.get("channel"):
            return error("channel_not_found")
        if not params.get("user"):
            return error("user_not_in_channel")
        err, content = self._content(params)
        if err:
            return err
        ts = self._next_ts()
        self.ephemerals.append({"channel": params["channel"], "user": params["user"],
                                "text": content.get("text", ""), "blocks": content.get("blocks"),
                                "thread_ts": params.get("thread_ts"), "message_ts": ts})
        return {"ok": True, "message_ts": ts}

    def _apps_connections_open(self, params):
        if self._caller not in self.app_tokens:  # a bot or user token
            return error("not_allowed_token_type")
        return self.app_tokens[self._caller].open_connection()
