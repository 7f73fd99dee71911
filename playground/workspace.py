"""The playground's pretend workspace: two people, two channels, a DM each with the bot.

Messages live in the Slack stand-in (``standins.slack_api.FakeSlack``), the
same one the tests use, which also receives every Web API call the bot makes.
This module does what Slack's servers do around it: a person's message is
stored and then delivered to the bot as events; a click on a menu item or a
button is delivered as an interaction; what a person sees (their channels,
their ephemeral notes, the modals the bot opened for them) is read back for the
page. Bad input raises ``PlaygroundError`` with a sentence for the page, and
changes nothing.
"""
from __future__ import annotations

import re
import threading
import uuid

from playground.deliveries import (Conversation, Deliverer, Person, Team, block_actions, find_button,
                                   message_action, message_events, rich_text_blocks)
from standins.slack_api import FakeSlack
from threadwise.interactions import registry

BOT_NAME = "Threadwise"
MAX_TEXT = 40_000  # Slack truncates message text past 40,000 characters
# The message menu: the bot's registered message shortcuts (callback_id -> name), as the manifests declare them.
SHORTCUTS = {shortcut.id: shortcut.name for shortcut in registry.SHORTCUTS}

PEOPLE = (Person("U0PLAYADA", "ada", "Ada Lovelace"), Person("U0PLAYGRACE", "grace", "Grace Hopper"))
CHANNELS = (Conversation("C0PLAYGENERAL", "general", False), Conversation("C0PLAYRANDOM", "random", False))


class PlaygroundError(ValueError):
    """The page asked for something that cannot be done; the message says why."""


class Workspace:
    people = PEOPLE

    def __init__(self, slack: FakeSlack, deliverer: Deliverer, team: Team):
        self.slack = slack
        self.team = team
        self._deliver = deliverer
        self._people = {p.id: p for p in PEOPLE}
        self._dms = {p.id: Conversation("D0PLAY" + p.name.upper(), BOT_NAME, True) for p in PEOPLE}
        self._conversations = {c.id: c for c in (*CHANNELS, *self._dms.values())}
        self._triggers: dict[str, str] = {}  # trigger_id -> the person who clicked
        self._closed_views: set[str] = set()
        self._lock = threading.Lock()
        for channel in CHANNELS:
            slack.set_channel(channel.id, name=channel.name, members=[team.bot_user_id, *self._people])
        for person_id, dm in self._dms.items():
            slack.set_channel(dm.id, name=dm.id, is_im=True, members=[team.bot_user_id, person_id])
            slack.set_dm(person_id, dm.id)  # conversations.open answers this DM (the CSV lands in it)

    # --- what the page does -------------------------------------------------------
    def post(self, person_id: str, channel_id: str, text: str, thread_ts: str | None = None) -> str:
        """A person sends a message (in a thread when ``thread_ts`` is given); Slack delivers its events."""
        person, where = self._person(person_id), self._conversation_for(person_id, channel_id)
        if not isinstance(text, str) or not text.strip():
            raise PlaygroundError("Type a message first.")
        if len(text) > MAX_TEXT:
            raise PlaygroundError(f"Messages are at most {MAX_TEXT:,} characters.")
        if thread_ts is not None:
            parent = self.slack.get(where.id, thread_ts) if isinstance(thread_ts, str) else None
            if parent is None or parent.get("thread_ts") not in (None, parent["ts"]):
                raise PlaygroundError("That thread does not exist.")
        slack_text = self.as_slack_text(text.strip())
        ts = self.slack.add_message(where.id, person.id, slack_text, thread_ts,
                                    client_msg_id=str(uuid.uuid4()), blocks=rich_text_blocks(slack_text))
        for body in message_events(self.team, person, where, self.slack.get(where.id, ts)):
            self._deliver.event(body)
        return ts

    def act(self, person_id: str, channel_id: str, ts: str, action: str,
            block_id: str | None = None, action_id: str | None = None) -> int:
        """A message shortcut (``abort_openai_api``, ``delete_message``) or a button click
        (``button`` with its block_id and action_id) on a message. Returns the bot's HTTP status."""
        person, where = self._person(person_id), self._conversation_for(person_id, channel_id)
        message = self.slack.get(where.id, ts) if isinstance(ts, str) else None
        if message is None or message.get("subtype") == "tombstone":
            raise PlaygroundError("That message no longer exists.")
        trigger_id = self._new_trigger(person.id)
        if action in SHORTCUTS:
            payload = message_action(self.team, person, where, message, action, trigger_id)
        elif action == "button":
            button = find_button(message, block_id or "", action_id or "")
            if button is None:
                raise PlaygroundError("That button is not on the message any more.")
            payload = block_actions(self.team, person, where, message, block_id, button, trigger_id)
        else:
            raise PlaygroundError(f"Unknown action {action!r}.")
        return self._deliver.interaction(payload)

    def open_home(self, person_id: str) -> None:
        """The person opens the bot's Home tab: Slack delivers app_home_opened (on every visit)."""
        self._deliver.event(self.slack.app_home_opened(self._person(person_id).id))

    def home_act(self, person_id: str, action_id: str) -> int:
        """A button of the person's Home view is clicked. Returns the bot's HTTP status."""
        person = self._person(person_id)
        try:
            payload = self.slack.home_button_payload(person.id, str(action_id), self._new_trigger(person.id))
        except (KeyError, StopIteration):
            raise PlaygroundError("That button is not on your Home tab any more.") from None
        return self._deliver.interaction(payload)

    def close_view(self, person_id: str, view_id: str) -> None:
        self._person(person_id)
        with self._lock:
            self._closed_views.add(str(view_id))

    # --- what the page shows ------------------------------------------------------
    def snapshot(self, person_id: str) -> dict:
        """Everything the person sees: the people, their conversations with messages and threads,
        their ephemeral notes, and the modals the bot opened for them."""
        person = self._person(person_id)
        conversations = [*CHANNELS, self._dms[person.id]]
        ephemerals = [e for e in list(self.slack.ephemerals) if e.get("user") == person.id]
        return {
            "me": person.id,
            "bot": {"id": self.team.bot_user_id, "name": BOT_NAME},
            "people": [{"id": p.id, "name": p.name, "real_name": p.real_name} for p in PEOPLE],
            "shortcuts": [{"callback_id": k, "name": v} for k, v in SHORTCUTS.items()],
            "conversations": [self._conversation_view(c, ephemerals) for c in conversations],
            "views": self._views_for(person.id),
            "home": self.slack.home_views.get(person.id),  # what views.publish last showed them
        }

    def _conversation_view(self, where: Conversation, ephemerals: list[dict]) -> dict:
        messages = [self._message_view(m) for m in self.slack.messages(where.id)]
        for note in ephemerals:
            if note.get("channel") == where.id:
                messages.append({"ts": note["message_ts"], "user": self.team.bot_user_id, "is_bot": True,
                                 "ephemeral": True, "text": note.get("text") or "", "blocks": note.get("blocks"),
                                 "thread_ts": note.get("thread_ts")})
        messages.sort(key=lambda m: float(m["ts"]))
        return {"id": where.id, "name": where.name, "is_im": where.is_im, "messages": messages}

    def _message_view(self, message: dict) -> dict:
        shown = {key: message.get(key) for key in ("ts", "thread_ts", "user", "text", "blocks", "reply_count",
                                                   "subtype", "edited")}
        shown["is_bot"] = bool(message.get("bot_id"))
        return {k: v for k, v in shown.items() if v is not None}

    def _views_for(self, person_id: str) -> list[dict]:
        with self._lock:
            closed = set(self._closed_views)
            triggers = dict(self._triggers)
        return [{"id": opened["view"]["id"], "view": opened["view"]} for opened in list(self.slack.views)
                if triggers.get(opened["trigger_id"]) == person_id and opened["view"]["id"] not in closed]

    # --- helpers ------------------------------------------------------------------
    def as_slack_text(self, typed: str) -> str:
        """What Slack stores for typed text: &, < and > escaped, @names as <@U…> mentions."""
        text = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        handles = {BOT_NAME.lower(): self.team.bot_user_id, **{p.name: p.id for p in PEOPLE}}
        return re.sub(r"@([A-Za-z][\w.-]*)", lambda m: f"<@{handles[m.group(1).lower()]}>"
                      if m.group(1).lower() in handles else m.group(0), text)

    def _person(self, person_id) -> Person:
        person = self._people.get(person_id) if isinstance(person_id, str) else None
        if person is None:
            raise PlaygroundError("Unknown person.")
        return person

    def _conversation_for(self, person_id: str, channel_id) -> Conversation:
        where = self._conversations.get(channel_id) if isinstance(channel_id, str) else None
        if where is None or (where.is_im and self._dms[person_id].id != where.id):
            raise PlaygroundError("Unknown conversation.")
        return where

    def _new_trigger(self, person_id: str) -> str:
        trigger_id = self.slack.new_trigger_id()  # Slack issues one with each interaction: views.open checks it
        with self._lock:
            self._triggers[trigger_id] = person_id
        return trigger_id
