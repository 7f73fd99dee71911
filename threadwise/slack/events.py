"""Raw Slack payloads in, typed values out.

This is the only module that looks at the JSON Slack sends us; everything
deeper works with the dataclasses below. Anything malformed raises
``BadRequest`` (the entry point answers 400); anything well formed that we do
not handle becomes ``Ignore`` (answered 200, nothing else happens).
"""
from __future__ import annotations

import dataclasses
import enum
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from threadwise.slack.home_events import HomeAction, HomeOpened, is_home_container, parse_home_action, parse_home_opened

REPLY_EVENT_TYPE = "assistant_reply"
ABORTED_EVENT_TYPE = "aborted"
BOT_REPLY_EVENT_TYPES = (REPLY_EVENT_TYPE, ABORTED_EVENT_TYPE)

# A message with files attached, or a thread reply also sent to the channel, is still a question.
QUESTION_SUBTYPES = ("file_share", "thread_broadcast")

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


class BadRequest(ValueError):
    """The request is malformed; the message is safe to return to the caller."""


@dataclass(frozen=True)
class BotIdentity:
    user_id: str
    bot_id: str | None = None
    app_id: str | None = None


@dataclass(frozen=True)
class UrlVerification:
    challenge: str


@dataclass(frozen=True)
class Ignore:
    reason: str


@dataclass(frozen=True)
class SlackFile:
    """A file shared in a message, as far as the event or message tells."""

    id: str
    name: str
    mimetype: str
    filetype: str
    size: int
    url: str  # url_private: needs the bot token


def parse_files(raw: Any) -> tuple[SlackFile, ...]:
    files = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        url = item.get("url_private_download") or item.get("url_private")
        files.append(SlackFile(
            id=item["id"],
            name=str(item.get("name") or item.get("title") or item["id"]),
            mimetype=str(item.get("mimetype") or ""),
            filetype=str(item.get("filetype") or ""),
            size=item.get("size") if isinstance(item.get("size"), int) else 0,
            url=url if isinstance(url, str) else "",
        ))
    return tuple(files)


@dataclass(frozen=True)
class Ask:
    """A question for the model: answer it in the thread rooted at ``thread_ts``."""

    event_id: str
    team_id: str
    channel: str
    channel_type: str
    user: str
    text: str
    ts: str
    thread_ts: str
    # A follow-up in a channel thread without a mention is only answered when
    # the bot already takes part in that thread; the worker checks.
    needs_participation: bool = False
    files: tuple[SlackFile, ...] = ()
    # Who asks and where, as the event tells (answering/audience.py decides what the answer may use):
    asker_team: str = ""  # the asker's own team (event ``user_team``, else ``team``): another organisation's
    workspace_team: str = ""  # the installation's workspace (``authorizations[].team_id``, else ``team_id``)
    ext_shared_channel: bool = False  # the envelope's ``is_ext_shared_channel``: shared with another organisation

    @property
    def in_thread(self) -> bool:
        return self.thread_ts != self.ts


@dataclass(frozen=True)
class ReplyMetadata:
    event_type: str
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def asker(self) -> str | None:
        value = self.payload.get("asker")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class TargetMessage:
    """The message a shortcut or button was used on, as far as the payload tells."""

    ts: str
    thread_ts: str | None
    user: str | None
    bot_id: str | None
    text: str
    blocks: list[dict] | None
    metadata: ReplyMetadata | None  # None: not in the payload, read it back from Slack


class Via(enum.Enum):
    """How an interaction on a message came. (The values are what the logs show.)"""

    SHORTCUT = "shortcut"  # a message shortcut, named by its callback_id
    BUTTON = "button"  # a button on the message, named by its action_id
    HOME = "home button"  # a button in the App Home view (``HomeAction``), named by its action_id


@dataclass(frozen=True)
class MessageAction:
    """A message shortcut or a button used on a message. Which handler runs is the interactions
    registry's choice (``threadwise.interactions.registry``), by ``via`` and ``id``."""

    id: str  # the shortcut's callback_id or the button's action_id
    via: Via
    channel: str
    user: str
    trigger_id: str | None
    message: TargetMessage


Event = Union[UrlVerification, Ignore, Ask, HomeOpened]
Interaction = Union[MessageAction, HomeAction, Ignore]
# Whether an interaction is registered (``via``, its id): the parser is told, it knows no ids itself.
Registered = Callable[[Via, str], bool]


def _require(mapping: Any, key: str, kind: type = str) -> Any:
    if not isinstance(mapping, dict):
        raise BadRequest("malformed payload")
    value = mapping.get(key)
    if not isinstance(value, kind) or (kind is str and not value):
        raise BadRequest(f"missing or invalid field: {key}")
    return value


def unescape(text: str) -> str:
    """Slack escapes &, < and > in message text; the model should read the characters."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def strip_mention(text: str, bot_user_id: str) -> str:
    """Remove mentions of the bot (only the bot: other people's mentions carry meaning)."""
    stripped = unescape(_MENTION.sub(lambda m: "" if m.group(1) == bot_user_id else m.group(0), text))
    return re.sub(r"[ \t]{2,}", " ", stripped).strip()


def mentions(text: str, user_id: str) -> bool:
    return any(m.group(1) == user_id for m in _MENTION.finditer(text))


def parse_metadata(raw: Any) -> ReplyMetadata | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("event_type"), str):
        return None
    payload = raw.get("event_payload")
    return ReplyMetadata(raw["event_type"], payload if isinstance(payload, dict) else {})


def parse_event_body(body: Any, bot: BotIdentity | None) -> Event:
    """An Events API JSON body → UrlVerification, Ask or Ignore."""
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object")
    kind = body.get("type")
    if kind == "url_verification":
        return UrlVerification(_require(body, "challenge"))
    if kind != "event_callback":
        if isinstance(kind, str) and kind:
            return Ignore(f"unhandled request type {kind}")
        raise BadRequest("missing or invalid field: type")
    event = _require(body, "event", dict)
    event_id = _require(body, "event_id")
    if bot is not None and _for_someone_else(body, bot):
        return Ignore("event for another app")
    parsed = _parse_event(event, event_id, body.get("team_id") or "", bot)
    if isinstance(parsed, Ask):
        parsed = _with_teams(parsed, event, body)
    return parsed


def _with_teams(ask: Ask, event: dict, body: dict) -> Ask:
    def text_of(mapping: Any, key: str) -> str:
        value = mapping.get(key) if isinstance(mapping, dict) else None
        return value if isinstance(value, str) else ""

    authorizations = body.get("authorizations")
    installed = text_of(authorizations[0], "team_id") if isinstance(authorizations, list) and authorizations else ""
    return dataclasses.replace(ask, asker_team=text_of(event, "user_team") or text_of(event, "team"),
                               workspace_team=installed or ask.team_id,
                               ext_shared_channel=body.get("is_ext_shared_channel") is True)


def _for_someone_else(body: dict, bot: BotIdentity) -> bool:
    if bot.app_id and body.get("api_app_id") not in (None, bot.app_id):
        return True
    # Slack lists the installation an event is delivered for; ours names our bot user.
    listed = authorizations(body)
    return bool(listed) and not any(a.get("user_id") == bot.user_id for a in listed)


def authorizations(body: dict) -> tuple[dict, ...]:
    """The event body's ``authorizations`` (Slack: a list of objects); none when absent. Anything else is
    malformed: 400, where iterating it used to fail deep in the request (a 200 with a traceback)."""
    listed = body.get("authorizations")
    if listed is None:
        return ()
    if not isinstance(listed, list) or not all(isinstance(item, dict) for item in listed):
        raise BadRequest("invalid field: authorizations (expected a list of objects)")
    return tuple(listed)


def _parse_event(event: dict, event_id: str, team_id: str, bot: BotIdentity | None) -> Event:
    event_type = _require(event, "type")
    if event_type == "app_home_opened":
        opened = parse_home_opened(event, event_id, team_id)
        if opened is None:
            raise BadRequest("malformed app_home_opened event")
        return Ignore(opened) if isinstance(opened, str) else opened
    if event_type not in ("message", "app_mention"):
        return Ignore(f"unhandled event {event_type}")
    if event.get("subtype") and event["subtype"] not in QUESTION_SUBTYPES:
        # Edits, deletions, joins, bot posts, …: never a new question.
        return Ignore(f"message subtype {event['subtype']}")
    if event.get("bot_id") or event.get("bot_profile"):
        return Ignore("message from a bot")
    user = event.get("user")
    if not isinstance(user, str) or not user:
        return Ignore("message without a user")
    bot_user = bot.user_id if bot else ""
    if user == bot_user:
        return Ignore("own message")
    channel = _require(event, "channel")
    ts = _require(event, "ts")
    raw_text = event.get("text")
    if not isinstance(raw_text, str):
        raise BadRequest("missing or invalid field: text")
    thread_ts = event.get("thread_ts") if isinstance(event.get("thread_ts"), str) else None
    channel_type = event.get("channel_type") if isinstance(event.get("channel_type"), str) else ""

    needs_participation = False
    if event_type == "app_mention":
        channel_type = channel_type or "channel"
    elif channel_type == "im":
        pass
    elif channel_type in ("channel", "group", "mpim"):
        if bot_user and mentions(raw_text, bot_user):
            return Ignore("mention: answered through app_mention")
        if not thread_ts or thread_ts == ts:
            return Ignore("channel message outside a thread")
        needs_participation = True
    else:
        return Ignore(f"message in unhandled channel type {channel_type or 'unknown'}")

    text = strip_mention(raw_text, bot_user)
    files = parse_files(event.get("files"))
    if not text and not files:
        return Ignore("empty message")
    return Ask(
        event_id=event_id,
        team_id=team_id,
        channel=channel,
        channel_type=channel_type,
        user=user,
        text=text,
        ts=ts,
        thread_ts=thread_ts or ts,
        needs_participation=needs_participation,
        files=files,
    )


def parse_interaction_form(form_payload: str, registered: Registered) -> Interaction:
    """The ``payload`` field of an interactivity request → MessageAction or Ignore."""
    try:
        payload = json.loads(form_payload)
    except (ValueError, TypeError, RecursionError):
        raise BadRequest("payload is not valid JSON") from None
    return parse_interaction(payload, registered)


def parse_interaction(payload: Any, registered: Registered) -> Interaction:
    """An interactivity payload (a Socket Mode envelope carries it decoded) → MessageAction or Ignore.

    A shortcut or button no one registered is ignored before the rest of the payload is read:
    whatever shape Slack gives it, it is acknowledged and changes nothing."""
    if not isinstance(payload, dict):
        raise BadRequest("payload must be a JSON object")
    kind = _require(payload, "type")
    if kind == "message_action":
        callback = _require(payload, "callback_id")
        if not registered(Via.SHORTCUT, callback):
            return Ignore(f"unknown shortcut {callback}")
        return _message_action(payload, callback, Via.SHORTCUT)
    if kind == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
            raise BadRequest("missing or invalid field: actions")
        action_id = actions[0].get("action_id")
        via = Via.HOME if is_home_container(payload) else Via.BUTTON
        if not isinstance(action_id, str) or not registered(via, action_id):
            return Ignore(f"unknown action {action_id}")
        if via is Via.HOME:
            home_action = parse_home_action(payload, action_id)
            if home_action is None:
                raise BadRequest("malformed block_actions payload from a view")
            return home_action
        return _message_action(payload, action_id, Via.BUTTON)
    if kind in ("view_submission", "view_closed", "shortcut"):
        return Ignore(f"unhandled interaction {kind}")
    return Ignore(f"unknown interaction type {kind}")


def _message_action(payload: dict, action_id: str, via: Via) -> MessageAction:
    channel = _require(_require(payload, "channel", dict), "id")
    user = _require(_require(payload, "user", dict), "id")
    message = _require(payload, "message", dict)
    ts = _require(message, "ts")
    trigger_id = payload.get("trigger_id") if isinstance(payload.get("trigger_id"), str) else None
    blocks = message.get("blocks") if isinstance(message.get("blocks"), list) else None
    thread_ts = message.get("thread_ts") if isinstance(message.get("thread_ts"), str) else None
    target = TargetMessage(
        ts=ts,
        thread_ts=thread_ts,
        user=message.get("user") if isinstance(message.get("user"), str) else None,
        bot_id=message.get("bot_id") if isinstance(message.get("bot_id"), str) else None,
        text=message.get("text") if isinstance(message.get("text"), str) else "",
        blocks=blocks,
        metadata=parse_metadata(message.get("metadata")),
    )
    return MessageAction(id=action_id, via=via, channel=channel, user=user, trigger_id=trigger_id, message=target)
