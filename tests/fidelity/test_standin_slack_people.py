"""FakeSlack knows guests, people of other organisations and shared channels by Slack's own fields
(standins/slack_people.py cites where each is documented), through the real slack_sdk.WebClient."""
import json

from slack_standin_fixtures import CHANNEL, client, fake  # noqa: F401  (fixtures)
from harness import FIXTURES


def test_users_info_tells_members_guests_and_other_organisations_apart(fake, client):
    fake.add_person("UGUEST", guest="multi-channel")
    fake.add_person("USINGLE", guest="single-channel")
    fake.add_person("UPARTNER", team_id="T_PARTNER")
    people = {u: client.users_info(user=u)["user"] for u in ("UMEMBER", "UGUEST", "USINGLE", "UPARTNER")}
    flags = {u: (p["team_id"], p["is_restricted"], p["is_ultra_restricted"]) for u, p in people.items()}
    assert flags == {"UMEMBER": ("T1", False, False), "UGUEST": ("T1", True, False),
                     "USINGLE": ("T1", True, True), "UPARTNER": ("T_PARTNER", False, False)}


def test_conversations_info_says_how_a_channel_is_shared(fake, client):
    for channel in ("CINNER", "CCONNECT", "CORG", "CPENDING"):
        fake.add_channel(channel, members=[fake.bot_user_id])
    fake.share_channel("CCONNECT", "T_PARTNER")
    fake.share_channel("CORG", "T_SISTER", organisation=True)
    fake.share_channel("CPENDING", "T_PARTNER", pending=True)
    keys = ("is_shared", "is_ext_shared", "is_org_shared", "is_pending_ext_shared")
    seen = {c: tuple(client.conversations_info(channel=c)["channel"][k] for k in keys)
            for c in ("CINNER", "CCONNECT", "CORG", "CPENDING")}
    assert seen == {"CINNER": (False, False, False, False), "CCONNECT": (True, True, False, False),
                    "CORG": (True, False, True, False), "CPENDING": (False, False, False, True)}
    connect = client.conversations_info(channel="CCONNECT")["channel"]
    assert connect["shared_team_ids"] == ["T1", "T_PARTNER"] and connect["connected_team_ids"] == ["T_PARTNER"]
    assert client.conversations_info(channel="CINNER")["channel"]["shared_team_ids"] == ["T1"]


def test_members_of_another_organisation_are_listed_and_users_info_says_whose_they_are(fake, client):
    fake.add_person("UPARTNER", team_id="T_PARTNER")
    fake.add_channel("CCONNECT", members=[fake.bot_user_id, "UALICE", "UPARTNER"])
    fake.share_channel("CCONNECT", "T_PARTNER")
    members = client.conversations_members(channel="CCONNECT")["members"]
    assert members == ["UBOT", "UALICE", "UPARTNER"]
    assert [client.users_info(user=m)["user"]["team_id"] for m in members[1:]] == ["T1", "T_PARTNER"]


def test_events_and_messages_carry_the_teams_slack_puts_in_them(fake, client):
    fake.add_person("UPARTNER", team_id="T_PARTNER")
    fake.add_channel("CCONNECT", members=[fake.bot_user_id])
    fake.share_channel("CCONNECT", "T_PARTNER")
    event, envelope = fake.event_fields("CCONNECT", "UPARTNER")
    assert event == {"team": "T_PARTNER", "user_team": "T_PARTNER", "source_team": "T_PARTNER"}
    assert envelope["is_ext_shared_channel"] is True and envelope["authorizations"][0]["team_id"] == "T1"
    inner, inner_envelope = fake.event_fields(CHANNEL, "UALICE")
    assert inner["user_team"] == "T1" and inner_envelope["is_ext_shared_channel"] is False
    # The same envelope keys as the real payload Slack sent (fixtures/event_message_im.json).
    real = json.loads((FIXTURES / "event_message_im.json").read_text())
    assert set(inner_envelope) <= set(real) and "team" in real["event"]
    ts = fake.add_message("CCONNECT", "UPARTNER", "hello from the partner")
    [message] = [m for m in client.conversations_history(channel="CCONNECT")["messages"] if m["ts"] == ts]
    assert message["team"] == "T_PARTNER"
