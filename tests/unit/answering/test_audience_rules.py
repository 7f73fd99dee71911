"""The decision of what an answer may draw on (answering/audience.py), and the Slack facts it reads."""
from __future__ import annotations

import json

import pytest

from harness import FIXTURES
from inprocess import gateway  # noqa: F401  (a fixture)
from threadwise.answering.audience import Audience, ReachRules, Standing, allowed_sources, standing_of
from threadwise.slack.events import Ask, BotIdentity, parse_event_body
from threadwise.slack.people import Person

M, G, O, U = Standing.MEMBER, Standing.GUEST, Standing.OUTSIDER, Standing.UNKNOWN
CLOSED, GUESTS, SHARED = ReachRules(), ReachRules(guests=True), ReachRules(shared_channels=True)


@pytest.mark.parametrize("audience, rules, knowledge, workspace_wide", [
    (Audience(M, False, private=True), CLOSED, True, True),
    (Audience(M, False, private=False, others=M), CLOSED, True, True),
    (Audience(M, False, private=False, others=G), CLOSED, True, False),
    (Audience(M, False, private=False, others=O), CLOSED, True, False),
    (Audience(M, False, private=False, others=U), CLOSED, True, False),
    (Audience(M, False, private=False, others=G), GUESTS, True, True),
    (Audience(M, True, private=False), CLOSED, False, False),
    (Audience(M, True, private=False, others=O), SHARED, True, True),
    (Audience(M, None, private=False), SHARED, False, False),
    (Audience(G, False, private=True), CLOSED, False, False),
    (Audience(G, False, private=True), GUESTS, True, True),
    (Audience(G, False, private=True), SHARED, False, False),
    (Audience(O, True, private=False), CLOSED, False, False),
    (Audience(O, True, private=False), GUESTS, False, False),
    (Audience(O, True, private=False), SHARED, True, True),
    (Audience(U, False, private=True), ReachRules(True, True), False, False),
])
def test_allowed_sources(audience, rules, knowledge, workspace_wide):
    reach = allowed_sources(audience, rules)
    assert (reach.knowledge, reach.workspace_wide) == (knowledge, workspace_wide)
    assert (reach.reason is None) == (knowledge and workspace_wide)


def test_standing_of_a_person():
    assert standing_of(Person("U1", "T1", guest=False), "T1") is M
    assert standing_of(Person("U1", "T1", guest=True), "T1") is G
    assert standing_of(Person("U1", "T9", guest=False), "T1") is O
    assert standing_of(None, "T1") is U
    assert standing_of(Person("U1", "T1", guest=False), "") is U


def _body(**event_fields):
    body = json.loads((FIXTURES / "event_message_im.json").read_text())
    body["event"].update(user="UASKER", channel="D1", **event_fields)
    body["authorizations"][0].update(team_id="T1", user_id="UBOT")
    return body


def test_the_event_says_whose_the_asker_is_and_whether_the_channel_is_shared():
    body = _body(team="T_PARTNER", user_team="T_PARTNER")
    body.update(team_id="T1", is_ext_shared_channel=True)
    ask = parse_event_body(body, BotIdentity("UBOT"))
    assert isinstance(ask, Ask)
    assert (ask.asker_team, ask.workspace_team, ask.ext_shared_channel) == ("T_PARTNER", "T1", True)
    plain = parse_event_body(_body(team="T1"), BotIdentity("UBOT"))  # the fixture: no user_team, not shared
    assert (plain.asker_team, plain.workspace_team, plain.ext_shared_channel) == ("T1", "T1", False)


def test_a_person_is_looked_up_once_for_a_while(slack, gateway):
    slack.add_person("UGUESTX", guest="single-channel")
    before = len(slack.calls_of("users.info"))
    assert gateway.person("UGUESTX") == Person("UGUESTX", "T1", guest=True)
    assert gateway.person("UGUESTX") == Person("UGUESTX", "T1", guest=True)
    assert len(slack.calls_of("users.info")) == before + 1


def test_channel_members_are_none_past_one_page(slack, gateway):
    slack.add_channel("CBIG01", members=[slack.bot_user_id, *(f"U{i:05d}" for i in range(250))])
    assert gateway.channel_members("CBIG01") is None
    slack.add_channel("CSMALL1", members=[slack.bot_user_id, "UALICE"])
    assert gateway.channel_members("CSMALL1") == [slack.bot_user_id, "UALICE"]
