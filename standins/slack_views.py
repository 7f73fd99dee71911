"""Trigger ids, ``views.open`` and ``views.update`` in FakeSlack.

Slack issues a trigger id with every interaction it delivers; ``views.open`` takes it within 3
seconds (``expired_trigger_id`` after), once (``exchanged_trigger_id``), and refuses one it never
issued (``invalid_trigger_id``) — AI_SURFACE_FACTS.md D, Slack's views.open reference. So whatever
delivers interactions here (tests/harness.py, the Socket Mode stand-in, the playground) gets its
trigger ids from ``new_trigger_id`` or ``issue_trigger``. ``views.update`` needs no trigger: it replaces
an open view by its ``view_id`` (``not_found`` for an id Slack never gave), checked like a new one, and
refuses a stale ``hash`` (``hash_conflict``) — AI_SURFACE_FACTS.md D (Tier 4, no scope). Mixed into
``FakeSlack`` (its lock).
"""
from __future__ import annotations

import copy
import itertools
import secrets
import time

try:
    from .slack_blocks import view_error
    from .slack_limits import error
except ImportError:  # imported as a top-level module
    from slack_blocks import view_error
    from slack_limits import error


class ViewMethods:
    trigger_ttl = 3.0  # seconds a trigger id can open a view

    def _init_views(self) -> None:
        self.views = []          # {"trigger_id", "view"} per view opened
        self._triggers = {}      # trigger id -> [issued (monotonic), exchanged]
        self._trigger_numbers = itertools.count(1)

    def new_trigger_id(self, issued_ago: float = 0.0) -> str:
        """A trigger id as Slack issues one with an interaction (``issued_ago`` seconds ago: an old one)."""
        trigger = f"{next(self._trigger_numbers)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        with self._lock:
            self._triggers[trigger] = [time.monotonic() - issued_ago, False]
        return trigger

    def issue_trigger(self, payload):
        """The interaction payload as Slack delivers it: a ``trigger_id`` this stand-in issued now, unless
        it carries one issued here already (a test's expired one). Payloads without the key are left alone."""
        if not isinstance(payload, dict) or "trigger_id" not in payload:
            return payload
        with self._lock:
            if payload["trigger_id"] in self._triggers:
                return payload
        return {**payload, "trigger_id": self.new_trigger_id()}

    def _exchange(self, trigger):
        """Slack's error for using ``trigger`` now, or None (and it is used up)."""
        issued = self._triggers.get(trigger)
        if issued is None:
            return error("invalid_trigger_id")
        if issued[1]:
            return error("exchanged_trigger_id")
        if time.monotonic() - issued[0] > self.trigger_ttl:
            return error("expired_trigger_id")
        issued[1] = True
        return None

    def _views_open(self, params):
        trigger = params.get("trigger_id") or params.get("interactivity_pointer")
        view = params.get("view")
        if not trigger or not isinstance(view, dict):
            return error("invalid_arguments")
        # A view Slack refuses does not use the trigger up: the app may fix it and try again in time.
        refused = view_error(view) or self._exchange(trigger)
        if refused:
            return refused
        view_id = f"V{len(self.views) + 1:010d}"
        opened = {"id": view_id, "team_id": self.team_id, "type": view["type"],
                  "blocks": [], "private_metadata": "", "callback_id": "",
                  "state": {"values": {}}, "clear_on_close": False,
                  "notify_on_close": False, "previous_view_id": None,
                  "app_id": self.app_id, "external_id": "", "bot_id": self.bot_id}
        opened.update(copy.deepcopy(view))
        opened.update(id=view_id, root_view_id=view_id, hash=f"{view_id}.hash")
        self.views.append({"trigger_id": trigger, "view": opened})
        return {"ok": True, "view": copy.deepcopy(opened)}

    def _views_update(self, params):
        view, view_id = params.get("view"), params.get("view_id")
        if not view_id or not isinstance(view, dict):
            return error("invalid_arguments")
        shown = next((entry for entry in self.views if entry["view"]["id"] == view_id), None)
        if shown is None:
            return error("not_found")
        refused = view_error(view)
        if refused:
            return refused
        if params.get("hash") and params["hash"] != shown["view"]["hash"]:
            return error("hash_conflict")
        updated = {**shown["view"], **copy.deepcopy(view)}
        updated.update(id=view_id, hash=f"{view_id}.hash{len(self.views)}.{secrets.token_hex(4)}")
        shown["view"] = updated
        return {"ok": True, "view": copy.deepcopy(updated)}
