"""Guests, people of other organisations and shared channels in FakeSlack (Slack Connect).

Mixed into ``FakeSlack`` (its lock, ``team_id`` and conversations from ``slack_access.py``). The
fields are Slack's documented ones, served where Slack serves them:

- ``users.info`` → ``user.team_id`` (the person's own workspace: another organisation's for a
  Slack Connect member), ``user.is_restricted`` (a guest; "Use in combination with the
  is_ultra_restricted field to check if the user is a single-channel guest user"),
  ``user.is_ultra_restricted`` (a single-channel guest) — docs.slack.dev/reference/objects/user-object,
  docs.slack.dev/reference/methods/users.info (scope ``users:read``, Tier 4).
- ``conversations.info`` → ``channel.is_shared`` (shared with another workspace),
  ``is_ext_shared`` (with another organisation: Slack Connect), ``is_org_shared`` (between
  workspaces of one Enterprise organisation), ``is_pending_ext_shared`` (a Slack Connect invitation
  not yet accepted), ``shared_team_ids``, ``connected_team_ids``, ``pending_connected_team_ids``,
  ``conversation_host_id`` — docs.slack.dev/reference/objects/conversation-object (its
  conversations.info example), the channel object's field table, and @slack/web-api's
  ConversationsInfoResponse.
- ``conversations.members`` lists every member, other organisations' too: ids only, ``users.info``
  says whose they are (docs.slack.dev/apis/slack-connect: make no assumptions about a member's team).
- The Events API: a message or ``app_mention`` from a Slack Connect member carries ``user_team``
  and ``source_team`` (their team) and ``team`` beside ``user``; the envelope has a top-level
  ``is_ext_shared_channel`` (false in /work/shared/fixtures/event_message_im.json) and
  ``authorizations[].team_id``, the installation's own workspace (@slack/types AppMentionEvent,
  GenericMessageEvent: ``user_team``, ``source_team``).
"""
from __future__ import annotations

GUEST_KINDS = (None, "multi-channel", "single-channel")


class PeopleAndSharing:
    def _init_people(self) -> None:
        self._people = {}  # user id -> {"team_id", "is_restricted", "is_ultra_restricted"}

    # ------------------------------------------------------------ test side
    def add_person(self, user, *, team_id=None, guest=None):
        """``user`` as users.info describes them: of ``team_id`` (default: this workspace), and a guest
        when ``guest`` is "multi-channel" (is_restricted) or "single-channel" (both flags)."""
        if guest not in GUEST_KINDS:
            raise ValueError(f"guest must be one of {GUEST_KINDS}")
        with self._lock:
            self._people[user] = {"team_id": team_id or self.team_id, "is_restricted": guest is not None,
                                  "is_ultra_restricted": guest == "single-channel"}

    def share_channel(self, channel, *teams, organisation=False, pending=False):
        """The channel is shared with ``teams``: another organisation's (Slack Connect, ``is_ext_shared``),
        or with ``organisation`` another workspace of the same Enterprise org (``is_org_shared``); with
        ``pending`` the invitation is not yet accepted (``is_pending_ext_shared``, nothing shared yet)."""
        with self._lock:
            info = self._ensure_channel(channel)
            info["sharing"] = {"teams": list(teams), "organisation": organisation, "pending": pending}

    def team_of(self, user):
        with self._lock:
            return self._people.get(user, {}).get("team_id", self.team_id)

    def event_fields(self, channel, user):
        """What Slack adds to a message event from ``user`` in ``channel``: (fields of ``event``,
        fields of the envelope)."""
        team = self.team_of(user)
        with self._lock:
            shared = self._sharing_fields(channel)["is_ext_shared"]
        return ({"team": team, "user_team": team, "source_team": team},
                {"is_ext_shared_channel": shared,
                 "authorizations": [{"enterprise_id": None, "team_id": self.team_id, "user_id": self.bot_user_id,
                                     "is_bot": True, "is_enterprise_install": False}]})

    # ----------------------------------------------------------- server side
    def _person_fields(self, user):
        person = self._people.get(user)
        if person is None:
            return {"team_id": self.team_id, "is_restricted": False, "is_ultra_restricted": False}
        return dict(person)

    def _sharing_fields(self, channel):
        info = self._channel_info.get(channel, {})
        sharing = info.get("sharing") or {}
        teams = sharing.get("teams") or []
        pending = bool(sharing.get("pending"))
        active = bool(teams) and not pending
        external = active and not sharing.get("organisation")
        return {"is_shared": active, "is_ext_shared": external,
                "is_org_shared": active and bool(sharing.get("organisation")),
                "is_pending_ext_shared": pending,
                "shared_team_ids": [self.team_id, *(teams if active else [])],
                "connected_team_ids": list(teams) if external else [],
                "pending_connected_team_ids": list(teams) if pending else [],
                "conversation_host_id": self.team_id}
