"""What Slack sends the bot, built and sent the way Slack does it.

The playground stands where Slack stands: a person's message becomes the
Events API bodies Slack would deliver (``message``, plus ``app_mention`` when
the bot is mentioned in a channel), a click becomes an interactivity payload
(``message_action`` for a message shortcut, ``block_actions`` for the Stop
button), and each is signed with the signing secret and POSTed to the bot's
Request URL, retried with ``X-Slack-Retry-Num`` when the bot does not answer
in time. The shapes follow Slack's payloads in ``tests/fixtures``.
"""
from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from slack_sdk.signature import SignatureVerifier

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")
ACK_TIMEOUT = 3.0  # Slack's: a delivery not answered with a 2xx within 3 s is retried
RETRY_DELAYS = (1.0, 5.0, 15.0)  # Slack's schedule is immediate, ~1 min, ~5 min; shortened for a local run


@dataclass(frozen=True)
class Team:
    team_id: str
    domain: str
    app_id: str
    bot_user_id: str


@dataclass(frozen=True)
class Person:
    id: str
    name: str        # the handle, @name
    real_name: str


@dataclass(frozen=True)
class Conversation:
    id: str
    name: str
    is_im: bool      # a DM between one person and the bot; otherwise a public channel

    @property
    def channel_type(self) -> str:
        return "im" if self.is_im else "channel"


def rich_text_blocks(text: str) -> list[dict]:
    """The rich_text block Slack's client attaches to a typed message: mentions become user elements."""
    elements, at = [], 0
    for mention in _MENTION.finditer(text):
        if mention.start() > at:
            elements.append({"type": "text", "text": _unescape(text[at:mention.start()])})
        elements.append({"type": "user", "user_id": mention.group(1)})
        at = mention.end()
    if at < len(text):
        elements.append({"type": "text", "text": _unescape(text[at:])})
    return [{"type": "rich_text", "block_id": secrets.token_urlsafe(4)[:5],
             "elements": [{"type": "rich_text_section", "elements": elements}]}]


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


_event_numbers = itertools.count(1)


def _event_id() -> str:
    return f"Ev{int(time.time()) % 10**6:06d}{next(_event_numbers):04d}PG"


def message_events(team: Team, person: Person, where: Conversation, message: dict) -> list[dict]:
    """The event_callback bodies Slack delivers for a person's new message: ``message`` (message.im /
    message.channels), and in a channel that mentions the bot also ``app_mention``, each with its own event_id."""
    base_event = {key: message[key] for key in ("client_msg_id", "text", "user", "ts", "blocks", "team")
                  if key in message}
    for key in ("thread_ts", "parent_user_id"):
        if message.get(key) and message.get("thread_ts") != message["ts"]:
            base_event[key] = message[key]
    events = [{"type": "message", **base_event, "channel": where.id, "event_ts": message["ts"],
               "channel_type": where.channel_type}]
    if not where.is_im and f"<@{team.bot_user_id}>" in message.get("text", ""):
        events.insert(0, {"type": "app_mention", **base_event, "channel": where.id, "event_ts": message["ts"]})
    return [_event_callback(team, event) for event in events]


def _event_callback(team: Team, event: dict) -> dict:
    return {
        "token": "playground-verification-token",  # the legacy verification token; the bot checks signatures
        "team_id": team.team_id,
        "context_team_id": team.team_id,
        "context_enterprise_id": None,
        "api_app_id": team.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": _event_id(),
        "event_time": int(float(event["event_ts"])),
        "authorizations": [{"enterprise_id": None, "team_id": team.team_id, "user_id": team.bot_user_id,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_urlsafe(24),
    }


def _user(team: Team, person: Person) -> dict:
    return {"id": person.id, "username": person.name, "name": person.name, "team_id": team.team_id}


def _channel(where: Conversation) -> dict:
    return {"id": where.id, "name": "directmessage" if where.is_im else where.name}


def message_action(team: Team, person: Person, where: Conversation, message: dict, callback_id: str,
                   trigger_id: str) -> dict:
    """A message shortcut (⋮ → "Stop generating" / "Delete message") used on ``message``. Slack's
    ``message`` here may lack metadata (SLACK_FACTS), so none is sent: the bot must read it back."""
    return {
        "type": "message_action",
        "token": "playground-verification-token",
        "action_ts": f"{time.time():.6f}",
        "team": {"id": team.team_id, "domain": team.domain},
        "user": _user(team, person),
        "channel": _channel(where),
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id,
        "response_url": f"https://hooks.slack.com/app/{team.team_id}/{secrets.token_hex(5)}/{secrets.token_hex(12)}",
        "message_ts": message["ts"],
        "message": {key: value for key, value in message.items() if key != "metadata"},
    }


def find_button(message: dict, block_id: str, action_id: str) -> dict | None:
    for block in message.get("blocks") or []:
        if block.get("type") == "actions" and block.get("block_id") == block_id:
            for element in block.get("elements") or []:
                if element.get("type") == "button" and element.get("action_id") == action_id:
                    return element
    return None


def block_actions(team: Team, person: Person, where: Conversation, message: dict, block_id: str,
                  button: dict, trigger_id: str) -> dict:
    """A click on a button in one of the bot's messages; Slack includes the message and its metadata."""
    container = {"type": "message", "message_ts": message["ts"], "channel_id": where.id, "is_ephemeral": False}
    if message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    action = {"action_id": button["action_id"], "block_id": block_id, "text": button.get("text"),
              "value": button.get("value", ""), "type": "button", "action_ts": f"{time.time():.6f}"}
    if button.get("style"):
        action["style"] = button["style"]
    return {
        "type": "block_actions",
        "user": _user(team, person),
        "api_app_id": team.app_id,
        "token": "playground-verification-token",
        "container": container,
        "trigger_id": trigger_id,
        "team": {"id": team.team_id, "domain": team.domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": _channel(where),
        "message": message,
        "state": {"values": {}},
        "response_url": f"https://hooks.slack.com/actions/{team.team_id}/{secrets.token_hex(5)}/{secrets.token_hex(12)}",
        "actions": [action],
    }


class Deliverer:
    """Signs and POSTs deliveries to the bot's Request URL, as Slack does."""

    def __init__(self, request_url: str, signing_secret: str):
        self._url = request_url
        self._signer = SignatureVerifier(signing_secret)

    def event(self, body: dict) -> None:
        """Events are delivered in the background, like Slack's: the person's message is posted either way."""
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        threading.Thread(target=self._deliver, args=(raw, "application/json"),
                         name="slack-delivery", daemon=True).start()

    def interaction(self, payload: dict) -> int:
        """Interactions are sent at once and answered within Slack's 3 seconds; returns the HTTP status."""
        raw = urllib.parse.urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode("utf-8")
        return self._deliver(raw, "application/x-www-form-urlencoded", retries=())

    def _deliver(self, raw: bytes, content_type: str, retries=RETRY_DELAYS) -> int:
        status, reason = 0, ""
        for attempt, delay in enumerate((0.0, *retries)):
            time.sleep(delay)
            # Slack retries a delivery that failed or took longer than 3 s, with the same event_id.
            status, reason, no_retry = self._post(raw, content_type, attempt, reason)
            if 200 <= status < 300 or no_retry:
                break
        return status

    def _post(self, raw: bytes, content_type: str, attempt: int, last_reason: str) -> tuple[int, str, bool]:
        """(status, why it failed, whether the bot asked not to retry)."""
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": self._signer.generate_signature(timestamp=timestamp, body=raw.decode("utf-8")),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if attempt:
            headers["X-Slack-Retry-Num"] = str(attempt)
            headers["X-Slack-Retry-Reason"] = last_reason
        request = urllib.request.Request(self._url, data=raw, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=ACK_TIMEOUT) as response:
                response.read()
                return response.status, "", False
        except urllib.error.HTTPError as error:
            return error.code, "http_error", error.headers.get("X-Slack-No-Retry") == "1"
        except OSError:  # refused, reset, or no answer within 3 s (URLError and TimeoutError are OSErrors)
            return 0, "http_timeout", False
