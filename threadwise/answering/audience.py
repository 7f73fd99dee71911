"""Who will read the answer decides what it may draw on.

The knowledge tools search with the operator's credentials, and canvases and linked messages are
read with the bot's token; an answer is posted where everyone in the conversation reads it. In a
Slack Connect channel that includes another organisation, in a channel with guests people the
workspace lets see only a few channels. So each answer is decided from Slack's own data:

- the asker belongs to this workspace — their team (the event's ``user_team`` / ``team``, and
  users.info ``team_id``) is the installation's (``authorizations[].team_id``) — and is not a guest
  (users.info ``is_restricted``: multi-channel, ``is_ultra_restricted``: single-channel);
- the conversation is not shared (the envelope's ``is_ext_shared_channel``; conversations.info
  ``is_shared``, ``is_ext_shared``, ``is_org_shared``);
- for workspace-wide sources (Notion, GitHub: one token, the same view for everyone, see
  ``knowledge/registry.py``) in a channel: everyone in it belongs to the workspace
  (conversations.members, and users.info of each). A DM with the bot is read by the asker alone.

By default a guest, a person of another organisation or a shared conversation gets no knowledge
tools, no canvas and no linked messages, and the answer says so in one line.
``KNOWLEDGE_FOR_GUESTS`` counts guests, ``KNOWLEDGE_IN_SHARED_CHANNELS`` other organisations' people
and shared conversations, among the readers who may. What Slack would not tell counts as the
cautious answer.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from threadwise.answering.links import message_links
from threadwise.knowledge.registry import WORKSPACE_WIDE
from threadwise.knowledge.toolbox import KnowledgeTool
from threadwise.slack.events import Ask
from threadwise.slack.people import Person
from slack_client import SlackGateway

# conversations.info says the conversation is shared beyond the workspace (a pending invitation,
# ``is_pending_ext_shared``, shares nothing yet).
SHARED_FLAGS = ("is_shared", "is_ext_shared", "is_org_shared")
# The channel's conversations.info read this recently (for its canvas, by the same answer) is used as is.
SAME_ANSWER = 10.0


class Standing(enum.IntEnum):
    """Who someone is to the workspace; higher is less trusted."""

    MEMBER = 0
    GUEST = 1  # is_restricted / is_ultra_restricted
    OUTSIDER = 2  # of another team: another organisation (Slack Connect) or workspace
    UNKNOWN = 3  # Slack would not say


@dataclass(frozen=True)
class ReachRules:
    """The operator's choice (the knowledge settings)."""

    guests: bool = False  # KNOWLEDGE_FOR_GUESTS
    shared_channels: bool = False  # KNOWLEDGE_IN_SHARED_CHANNELS: other organisations, shared conversations

    def may_read(self, standing: Standing) -> bool:
        return (standing is Standing.MEMBER or (standing is Standing.GUEST and self.guests)
                or (standing is Standing.OUTSIDER and self.shared_channels))


@dataclass(frozen=True)
class Audience:
    """Who will read one answer, as far as Slack tells."""

    asker: Standing
    shared: bool | None  # the conversation is shared beyond the workspace; None: Slack would not say
    private: bool  # a DM with the bot: the asker alone reads the answer
    others: Standing = Standing.MEMBER  # the least trusted other member of the channel (MEMBER: not asked)


@dataclass(frozen=True)
class Reach:
    knowledge: bool  # knowledge tools (each still checks the asker), the channel's canvas, linked messages
    workspace_wide: bool  # sources that answer everyone alike (Notion, GitHub)
    reason: str | None  # why something is left out, said under the answer


def allowed_sources(audience: Audience, rules: ReachRules) -> Reach:
    """What an answer read by ``audience`` may draw on."""
    if not rules.may_read(audience.asker):
        return Reach(False, False, _ASKER_REASONS[audience.asker])
    if audience.shared is None:
        return Reach(False, False, "I could not confirm who can read this conversation")
    if audience.shared and not rules.shared_channels:
        return Reach(False, False, "this conversation is shared with another organisation")
    if audience.private or rules.may_read(audience.others):
        return Reach(True, True, None)
    if audience.others is Standing.UNKNOWN:
        return Reach(True, False, "I could not check that everyone in this channel belongs to this workspace")
    return Reach(True, False, "not everyone in this channel is a member of this workspace")


_ASKER_REASONS = {
    Standing.GUEST: "you are a guest in this workspace",
    Standing.OUTSIDER: "you are not a member of this workspace",
    Standing.UNKNOWN: "I could not confirm that you are a member of this workspace",
}


@dataclass(frozen=True)
class Gate:
    """What one answer may use, and the line said under it about what it may not."""

    tools: dict[str, KnowledgeTool]
    canvas: bool
    links: bool
    notice: str | None


def gate(ask: Ask, slack: SlackGateway, tools: dict[str, KnowledgeTool], canvas_found: bool,
         rules: ReachRules) -> Gate:
    """Decide for this answer; asks Slack only when there is something to withhold."""
    links = bool(message_links(ask.text))
    if not (tools or canvas_found or links):
        return Gate({}, False, False, None)
    needs_members = ask.channel_type != "im" and any(name in WORKSPACE_WIDE for name in tools)
    reach = allowed_sources(audience_of(ask, slack, needs_members), rules)
    if reach.knowledge and reach.workspace_wide:
        return Gate(dict(tools), canvas_found, links, None)
    kept = {name: tool for name, tool in tools.items() if reach.knowledge and name not in WORKSPACE_WIDE}
    withheld = [_label(tool) for name, tool in tools.items() if name not in kept]
    if not reach.knowledge:
        withheld += ["the channel's canvas"] * canvas_found + ["the linked messages"] * links
    notice = f"I did not use {_listed(withheld)} for this answer: {reach.reason}." if withheld else None
    return Gate(kept, canvas_found and reach.knowledge, links and reach.knowledge, notice)


def audience_of(ask: Ask, slack: SlackGateway, needs_members: bool) -> Audience:
    """Slack's answers about who will read this answer (users.info, conversations.info / .members)."""
    workspace = ask.workspace_team or ask.team_id
    asker = standing_of(slack.person(ask.user), workspace)
    if ask.asker_team and workspace and ask.asker_team != workspace:
        asker = max(asker, Standing.OUTSIDER)  # the event says so, whatever users.info says
    private = ask.channel_type == "im"
    shared: bool | None = ask.ext_shared_channel
    if not shared and not private:  # (a DM's sharing is in the event: no Tier 3 call for it)
        info = slack.conversation(ask.channel, reuse_within=SAME_ANSWER)
        shared = None if info is None else any(info.get(flag) is True for flag in SHARED_FLAGS)
    others = Standing.MEMBER
    if needs_members and not private:
        members = slack.channel_members(ask.channel)
        skip = {ask.user, slack.identity().user_id}
        if members is None:
            others = Standing.UNKNOWN
        for member in members or []:
            if member not in skip:
                others = max(others, standing_of(slack.person(member), workspace))
            if others is Standing.UNKNOWN:
                break  # nothing can make it worse: spare the rest their users.info
    return Audience(asker, shared, private, others)


def standing_of(person: Person | None, workspace: str) -> Standing:
    if person is None or not workspace:
        return Standing.UNKNOWN
    if person.team_id != workspace:
        return Standing.OUTSIDER
    return Standing.GUEST if person.guest else Standing.MEMBER


def _label(tool: KnowledgeTool) -> str:
    # A tool's status names its source ("Searching Notion…" → "Notion search").
    return tool.status.removeprefix("Searching ").rstrip("…. ") + " search"


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
