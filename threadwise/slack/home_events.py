"""The App Home's two payloads as typed values: the tab was opened, a button in it was clicked.

``events.py`` (the only reader of Slack's JSON) calls these with the parts it has checked; they
return None for a payload that is not what Slack sends, and ``events.py`` answers that 400.
Facts (AI_SURFACE_FACTS.md C): ``app_home_opened {user, channel, tab: "home"|"messages", event_ts,
view?}`` comes on every visit, ``view`` only when a Home view was published before.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HOME_TAB = "home"


@dataclass(frozen=True)
class HomeOpened:
    """Someone opened the bot's Home tab: publish their view (``views.publish``)."""

    event_id: str
    team_id: str
    user: str
    channel: str  # the DM between the bot and the person (the Messages tab's)
    event_ts: str
    view_hash: str | None  # the published view's hash, when one was published before


@dataclass(frozen=True)
class HomeAction:
    """A button clicked in a Home view (no channel, no message: the view is the container)."""

    id: str  # the button's action_id
    team_id: str
    user: str
    view_id: str
    trigger_id: str | None


def _text(mapping: Any, key: str) -> str | None:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return value if isinstance(value, str) and value else None


def parse_home_opened(event: dict, event_id: str, team_id: str) -> HomeOpened | str | None:
    """The event → ``HomeOpened``; a reason to ignore it (the Messages tab); None when malformed."""
    tab, user, event_ts = _text(event, "tab"), _text(event, "user"), _text(event, "event_ts")
    if tab is None or user is None or event_ts is None:
        return None
    if tab != HOME_TAB:
        return f"app_home_opened on the {tab} tab"
    view = event.get("view")
    return HomeOpened(event_id=event_id, team_id=team_id or _text(view, "team_id") or "", user=user,
                      channel=_text(event, "channel") or "", event_ts=event_ts, view_hash=_text(view, "hash"))


def is_home_container(payload: dict) -> bool:
    container = payload.get("container")
    return isinstance(container, dict) and container.get("type") == "view" and "message" not in payload


def parse_home_action(payload: dict, action_id: str) -> HomeAction | None:
    """A ``block_actions`` payload from a view → ``HomeAction``; None when malformed."""
    user, view_id = _text(payload.get("user"), "id"), _text(payload.get("view"), "id")
    if user is None or view_id is None:
        return None
    team = _text(payload.get("team"), "id") or _text(payload.get("user"), "team_id") or ""
    return HomeAction(id=action_id, team_id=team, user=user, view_id=view_id,
                      trigger_id=_text(payload, "trigger_id"))
