"""Who may do what in FakeSlack: the workspace's conversations and their members, and each token's scopes.

Mixed into ``FakeSlack`` (its lock, ``bot_user_id``, ``user_tokens`` and the token of the call being
served). Before a method runs, ``_refusal`` answers what real Slack answers, HTTP 200 with
``{"ok": false, "error": …}``:

- ``missing_scope``, with ``needed`` and ``provided``, when the token was not granted the method's
  scope (per kind of conversation for ``conversations.*``). Tokens start with the scopes
  manifest.yaml asks for: the bot token the bot scopes, user tokens the user scopes.
- ``channel_not_found`` for a conversation the workspace does not have, and for a private one
  (private channel, DM, group DM) the caller is not in: Slack does not reveal those.
- ``not_in_channel`` for writing or reading messages in a public channel the caller is not in
  (documented for conversations.history: "Only user tokens can access public channels they are not
  in"); its info and members stay readable.
- ``is_archived`` for new messages in an archived channel; ``user_not_in_channel`` for an
  ephemeral message to someone who is not in the conversation.

Scopes and errors per method: Slack's method reference (docs.slack.dev, machine-readable copy in
slack-ruby/slack-api-ref ``docs.slack.dev/methods/*.json``).
"""
from __future__ import annotations

import re
from pathlib import Path

try:
    from .slack_limits import error
except ImportError:  # imported as a top-level module
    from slack_limits import error

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yaml"

_HISTORY = {"public": "channels:history", "private": "groups:history", "im": "im:history", "mpim": "mpim:history"}
_READ = {"public": "channels:read", "private": "groups:read", "im": "im:read", "mpim": "mpim:read"}
# The scope a method needs; a dict names it per kind of conversation, a tuple any one of several
# (the first is the one missing_scope names). Methods not listed need none.
METHOD_SCOPES = {
    **dict.fromkeys(("chat.postMessage", "chat.update", "chat.delete", "chat.postEphemeral",
                     "chat.startStream", "chat.appendStream", "chat.stopStream"), "chat:write"),
    # chat:write since 2026-03-05; assistant:write is still accepted "for the time being".
    "assistant.threads.setStatus": ("chat:write", "assistant:write"),
    "conversations.replies": _HISTORY, "conversations.history": _HISTORY,
    "conversations.info": _READ, "conversations.members": _READ,
    "users.info": "users:read", "files.info": "files:read", "search.messages": "search:read",
    # With one user: a DM (im:write); a group DM (mpim:write) is not modelled.
    "conversations.open": "im:write",
    "files.getUploadURLExternal": "files:write", "files.completeUploadExternal": "files:write",
}
USER_TOKEN_ONLY = frozenset({"search.messages"})  # Slack: search.* takes user tokens only

# What a method needs of its ``channel``: to see it (it exists; a private one only its members see),
# to be in it (public channels too), or to be in it and post new messages (not archived).
SEE, MEMBER, POST = "see", "member", "post"
CHANNEL_NEEDS = {
    "chat.delete": SEE, "conversations.info": SEE, "conversations.members": SEE,
    # Its only documented conversation error is channel_not_found: no not_in_channel is made up.
    "assistant.threads.setStatus": SEE,
    "chat.update": MEMBER, "conversations.replies": MEMBER, "conversations.history": MEMBER,
    **dict.fromkeys(("chat.postMessage", "chat.postEphemeral", "chat.startStream", "chat.appendStream",
                     "chat.stopStream"), POST),
}
# The argument that names the conversation, where it is not ``channel``.
CHANNEL_ARGS = {"assistant.threads.setStatus": "channel_id"}


def manifest_scopes(kind: str, manifest: Path = MANIFEST) -> frozenset:
    """The scopes manifest.yaml asks for, ``kind`` "bot" or "user" (the list under oauth_config.scopes)."""
    found = re.search(rf"^    {kind}:\n((?:      - .+\n)+)", manifest.read_text(), re.MULTILINE)
    return frozenset(re.findall(r"- (\S+)", found.group(1))) if found else frozenset()


def kind_of(info: dict) -> str:
    if info.get("is_im"):
        return "im"
    if info.get("is_mpim"):
        return "mpim"
    return "private" if info.get("is_private") else "public"


class AccessRules:
    def _init_access(self) -> None:
        self.bot_scopes = manifest_scopes("bot")
        self.user_scopes = manifest_scopes("user")
        self._granted = {}       # token -> frozenset of scopes, from grant()
        # channel id -> dict(name, is_private, is_im, is_mpim, is_archived, members, canvas)
        self._channel_info = {}

    # ------------------------------------------------------------ test side
    def grant(self, token, scopes):
        """The token's scopes from now on. The bot token and user tokens start with the manifest's
        scopes; any other token becomes another token of the bot, with exactly these scopes."""
        with self._lock:
            self._granted[token] = frozenset(scopes)

    def add_channel(self, channel, *, members=None, **info):
        """A conversation of the workspace (again: updates it). ``info``: name, is_private, is_im,
        is_mpim, is_archived, canvas (a file id). ``members``: user ids, the bot only when listed.
        Without them a D… id is a DM with the bot, a G… id a private channel, others public ones."""
        with self._lock:
            known = self._ensure_channel(channel)
            known.update(info)
            if members is not None:
                known["members"] = list(dict.fromkeys(members))

    set_channel = add_channel

    def invite(self, channel, *users):
        """Users (the bot: ``fake.bot_user_id``) join the conversation; it comes into being if needed."""
        with self._lock:
            members = self._ensure_channel(channel)["members"]
            members.extend(u for u in users if u not in members)

    def remove_member(self, channel, user):
        """Someone leaves, or is removed from, the conversation (the bot too)."""
        with self._lock:
            members = self._ensure_channel(channel)["members"]
            if user in members:
                members.remove(user)

    def dm_with(self, user):
        """The id of the bot's DM with ``user`` (a D… conversation of exactly the two), or None."""
        with self._lock:
            return next((channel for channel, info in self._channel_info.items()
                         if info.get("is_im") and set(info["members"]) == {self.bot_user_id, user}), None)

    def members_of(self, channel):
        with self._lock:
            return list(self._channel_info.get(channel, {}).get("members", []))

    # ----------------------------------------------------------- server side
    def _ensure_channel(self, channel):
        """The conversation's record, created as its id's first letter says when it is new."""
        if channel not in self._channel_info:
            self._channel_info[channel] = {
                "name": channel.lower(), "is_im": channel.startswith("D"), "is_private": channel.startswith("G"),
                "is_mpim": False, "is_archived": False,
                "members": [self.bot_user_id] if channel.startswith("D") else []}
        return self._channel_info[channel]

    def _poster_joins(self, channel, user):
        """A person who writes in a conversation is in it (a DM keeps its two people)."""
        info = self._ensure_channel(channel)
        members = info["members"]
        if user and user not in members and not (info.get("is_im") and len(members) >= 2):
            members.append(user)

    def _is_bot_token(self, token):
        return token == self.bot_token or (token in self._granted and token not in self.user_tokens)

    def _scopes_of(self, token):
        if token in self._granted:
            return self._granted[token]
        return self.user_scopes if token in self.user_tokens else self.bot_scopes

    def _caller_user(self):
        return self.user_tokens.get(self._caller, self.bot_user_id)

    def _can_see(self, channel, user):
        info = self._channel_info.get(channel)
        return info is not None and (kind_of(info) == "public" or user in info["members"])

    def _refusal(self, method, params):
        """Slack's error for this call by this token, or None to let the method run."""
        token = self._caller
        if method in USER_TOKEN_ONLY and token not in self.user_tokens:
            return error("not_allowed_token_type")
        scope = METHOD_SCOPES.get(method)
        if isinstance(scope, str) and scope not in self._scopes_of(token):
            return self._missing(scope, token)
        if isinstance(scope, tuple) and not self._scopes_of(token) & set(scope):
            return self._missing(scope[0], token)
        needs, channel = CHANNEL_NEEDS.get(method), params.get(CHANNEL_ARGS.get(method, "channel"))
        if needs is None or not channel:
            return None  # the method itself answers a missing channel
        user = self._caller_user()
        if not self._can_see(channel, user):
            return error("channel_not_found")
        info = self._channel_info[channel]
        if isinstance(scope, dict) and scope[kind_of(info)] not in self._scopes_of(token):
            return self._missing(scope[kind_of(info)], token)
        if needs in (MEMBER, POST) and user not in info["members"]:
            return error("not_in_channel")
        if needs == POST and info.get("is_archived"):
            return error("is_archived")
        if method == "chat.postEphemeral" and params.get("user") and params["user"] not in info["members"]:
            return error("user_not_in_channel")
        return None

    def _missing(self, needed, token):
        return error("missing_scope", needed=needed, provided=",".join(sorted(self._scopes_of(token))))

    # ----------------------------------------------------------- API methods
    def _channel_object(self, channel):
        info = self._channel_info[channel]
        kind = kind_of(info)
        private = kind != "public"
        obj = {"id": channel, "name": info.get("name", channel.lower()), "is_channel": not private,
               "is_group": kind == "private", "is_im": kind == "im", "is_mpim": kind == "mpim",
               "is_private": private, "is_archived": bool(info.get("is_archived")),
               **self._sharing_fields(channel), "is_member": self._caller_user() in info["members"]}
        if info.get("canvas"):
            obj["properties"] = {"canvas": {"file_id": info["canvas"], "is_empty": False,
                                            "quip_thread_id": "Q" + info["canvas"]}}
        return obj

    def _conversations_info(self, params):
        if not params.get("channel"):
            return error("channel_not_found")
        return {"ok": True, "channel": self._channel_object(params["channel"])}

    def _conversations_open(self, params):
        """A DM with one person: the existing one (``already_open``) or a new D… conversation of the two.
        Errors as Slack's method reference lists them: users_list_not_supplied, user_not_found,
        cannot_dm_bot (the bot itself)."""
        users = [u for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            return error("users_list_not_supplied")
        if len(users) > 1:
            return error("not_implemented")  # group DMs: not modelled (the bot never opens one)
        user = users[0].strip()
        if user == self.bot_user_id:
            return error("cannot_dm_bot")
        if not (user[:1] in "UW" and user[1:].isalnum()):
            return error("user_not_found")
        existing = self.dm_with(user)
        if existing is not None:
            return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": existing}}
        channel = f"D{len(self._channel_info) + 1:08d}"
        while channel in self._channel_info:
            channel += "X"
        self.add_channel(channel, members=[self.bot_user_id, user])
        return {"ok": True, "channel": {"id": channel}}

    def _conversations_members(self, params):
        if not params.get("channel"):
            return error("channel_not_found")
        members = list(self._channel_info[params["channel"]]["members"])
        limit = min(1000, int(params.get("limit") or 100))
        cursor = str(params.get("cursor") or "")
        if cursor and not (cursor.startswith("m:") and cursor[2:].isdigit()):
            return error("invalid_cursor")
        start = int(cursor[2:]) if cursor else 0
        rest = members[start + limit:]
        return {"ok": True, "members": members[start:start + limit],
                "response_metadata": {"next_cursor": f"m:{start + limit}" if rest else ""}}
