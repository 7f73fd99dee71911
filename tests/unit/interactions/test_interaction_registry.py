"""The interactions registry is the one declaration of the bot's shortcuts and buttons: both manifests
declare exactly its message shortcuts (callback_id, name, description), the events parser routes
through it, and the callback and action ids stay the contracts DESIGN.md names."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from threadwise.interactions import delete, registry, stop
from threadwise.slack.events import Ignore, MessageAction, Via, parse_interaction
from threadwise.slack.reply_format import stop_button_block

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = ("manifest.yaml", "manifest.socket-mode.yaml")
FIXTURES = ROOT / "tests" / "fixtures"


def manifest_shortcuts(path: Path) -> list[dict[str, str]]:
    """``features.shortcuts`` of a manifest, each item's ``key: value`` lines. (No YAML library in the
    bot's requirements: the manifests write these items as plain one-line scalars, which this reads.)"""
    lines = path.read_text().splitlines()
    start = lines.index("  shortcuts:")
    assert [line for line in lines[:start] if line and not line[0].isspace()][-1] == "features:"
    items: list[dict[str, str]] = []
    for line in lines[start + 1:]:
        if line.strip() and len(line) - len(line.lstrip()) <= 2:
            break  # the next key of features, or the next section
        text = line.strip()
        if text.startswith("- "):
            items.append({})
            text = text[2:]
        key, _, value = text.partition(":")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        items[-1][key.strip()] = value
    return items


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_the_manifests_declare_exactly_the_registered_shortcuts(manifest):
    declared = manifest_shortcuts(ROOT / manifest)
    assert declared, f"{manifest} declares no shortcuts (or this reader missed them)"
    assert declared == [{"name": s.name, "type": "message", "callback_id": s.id, "description": s.description}
                        for s in registry.SHORTCUTS]


def test_the_ids_are_the_contracts_and_each_goes_to_its_handler():
    """The contracts (DESIGN.md) stay registered as they are; a new interaction only adds its own line."""
    registered = [(i.via, i.id, i.handler) for i in registry.INTERACTIONS]
    for contract in [(Via.SHORTCUT, "abort_openai_api", stop.handle), (Via.BUTTON, "abort_openai_api", stop.handle),
                     (Via.SHORTCUT, "delete_message", delete.handle)]:
        assert contract in registered
    assert [s.id for s in registry.SHORTCUTS][:2] == ["abort_openai_api", "delete_message"], "the menu's order"
    assert len({(i.via, i.id) for i in registry.INTERACTIONS}) == len(registry.INTERACTIONS), "one entry a key"


def test_the_stop_button_the_answers_carry_is_registered():
    [button] = stop_button_block()["elements"]
    assert registry.registered(Via.BUTTON, button["action_id"])


def test_only_registered_ids_are_registered():
    assert not registry.registered(Via.BUTTON, "delete_message"), "Delete is a shortcut, not a button"
    assert not registry.registered(Via.SHORTCUT, "summarize")
    assert not registry.registered(Via.BUTTON, "something_else")


def _shortcut(callback_id: str) -> dict:
    payload = json.loads((FIXTURES / "shortcut_message_action.json").read_text())
    return {**payload, "callback_id": callback_id}


def test_the_parser_lets_registered_shortcuts_through_with_their_id_and_way_in():
    action = parse_interaction(_shortcut("delete_message"), registry.registered)
    assert isinstance(action, MessageAction)
    assert (action.id, action.via) == ("delete_message", Via.SHORTCUT)


def test_the_parser_ignores_what_is_not_registered_before_reading_the_rest():
    assert parse_interaction({"type": "message_action", "callback_id": "summarize"}, registry.registered) == \
        Ignore("unknown shortcut summarize")
    assert parse_interaction({"type": "block_actions", "actions": [{"action_id": "delete_message"}]},
                             registry.registered) == Ignore("unknown action delete_message")
    assert parse_interaction({"type": "block_actions", "actions": [{"action_id": ["x"]}]},
                             registry.registered) == Ignore("unknown action ['x']")
