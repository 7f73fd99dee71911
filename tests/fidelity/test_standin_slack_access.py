"""FakeSlack refuses what real Slack refuses: unknown and hidden conversations, channels the bot is
not in, scopes the token lacks. Each refusal next to the valid call that still works, through the
real slack_sdk.WebClient."""
import urllib.request

import pytest
from slack_sdk import WebClient

from slack_standin_fixtures import CHANNEL, api_error, client, fake  # noqa: F401  (fixtures)
from standins.slack_access import manifest_scopes

MANIFEST_BOT = {"app_mentions:read", "channels:history", "channels:read", "chat:write", "files:read",
                "files:write", "groups:history", "groups:read", "im:history", "im:read", "im:write", "mpim:read",
                "users:read", "users:read.email"}


def error_of(call, *args, **kwargs):
    return api_error(call, *args, **kwargs)["error"]


# ------------------------------------------------------------------ conversations that exist

def test_a_conversation_the_workspace_does_not_have_is_channel_not_found(fake, client):
    for call, kwargs in ((client.chat_postMessage, {"text": "hi"}), (client.conversations_history, {}),
                         (client.conversations_replies, {"ts": "1700000000.000100"}),
                         (client.conversations_info, {}), (client.conversations_members, {}),
                         (client.chat_postEphemeral, {"user": "U1", "text": "hi"})):
        assert error_of(call, channel="CNOWHERE", **kwargs) == "channel_not_found", call
    fake.add_channel("CNOWHERE", members=["UBOT"])
    assert client.chat_postMessage(channel="CNOWHERE", text="hi")["ok"]


def test_a_person_writing_brings_a_conversation_into_being_with_them_in_it(fake, client):
    fake.add_message("D900", "UALICE", "hi bot")
    fake.add_message("C900", "UALICE", "hi all")
    assert fake.members_of("D900") == ["UBOT", "UALICE"]  # a DM with the bot: open to it
    assert client.chat_postMessage(channel="D900", text="hello")["ok"]
    assert fake.members_of("C900") == ["UALICE"]  # a channel: the bot must be invited
    assert error_of(client.chat_postMessage, channel="C900", text="hello") == "not_in_channel"
    fake.invite("C900", fake.bot_user_id)
    assert client.chat_postMessage(channel="C900", text="hello")["ok"]


# ------------------------------------------------------------------ membership

def test_a_public_channel_the_bot_is_not_in_can_be_looked_at_but_not_read_or_written(fake, client):
    ts = client.chat_postMessage(channel=CHANNEL, text="mine")["ts"]
    fake.add_message(CHANNEL, "UALICE", "a question")
    fake.remove_member(CHANNEL, "UBOT")
    assert error_of(client.chat_postMessage, channel=CHANNEL, text="x") == "not_in_channel"
    assert error_of(client.chat_update, channel=CHANNEL, ts=ts, text="x") == "not_in_channel"
    assert error_of(client.conversations_replies, channel=CHANNEL, ts=ts) == "not_in_channel"
    assert error_of(client.conversations_history, channel=CHANNEL) == "not_in_channel"
    assert error_of(client.chat_postEphemeral, channel=CHANNEL, user="UALICE", text="x") == "not_in_channel"
    root = fake.add_message(CHANNEL, "UALICE", "thread")
    assert error_of(client.chat_startStream, channel=CHANNEL, thread_ts=root, markdown_text="x",
                    recipient_user_id="UALICE", recipient_team_id="T1") == "not_in_channel"
    info = client.conversations_info(channel=CHANNEL)["channel"]
    assert info["is_member"] is False and info["is_channel"] is True
    assert client.conversations_members(channel=CHANNEL)["members"] == ["UALICE"]
    fake.invite(CHANNEL, "UBOT")
    assert client.chat_update(channel=CHANNEL, ts=ts, text="edited")["ok"]
    assert client.conversations_info(channel=CHANNEL)["channel"]["is_member"] is True


@pytest.mark.parametrize("channel, info", [("G777", {}), ("C778", {"is_private": True}),
                                           ("D779", {"members": ["UALICE", "UBOB"]}),
                                           ("G780", {"is_mpim": True})],
                         ids=["private-channel", "private-c-id", "dm-of-others", "group-dm"])
def test_a_private_conversation_the_bot_is_not_in_is_not_found_for_it(fake, client, channel, info):
    fake.add_channel(channel, **{"members": ["UALICE"], **info})
    ts = fake.add_message(channel, "UALICE", "secret")
    for call, kwargs in ((client.chat_postMessage, {"text": "x"}), (client.conversations_replies, {"ts": ts}),
                         (client.conversations_history, {}), (client.conversations_info, {}),
                         (client.conversations_members, {})):
        assert error_of(call, channel=channel, **kwargs) == "channel_not_found", call
    fake.invite(channel, "UBOT")
    fake.grant("xoxb-test", MANIFEST_BOT | {"mpim:history"})  # (the manifest has no mpim:history)
    assert [m["text"] for m in client.conversations_history(channel=channel)["messages"]] == ["secret"]


def test_an_archived_channel_takes_no_new_messages(fake, client):
    ts = client.chat_postMessage(channel=CHANNEL, text="before")["ts"]
    fake.add_channel(CHANNEL, is_archived=True)
    assert error_of(client.chat_postMessage, channel=CHANNEL, text="x") == "is_archived"
    assert client.conversations_history(channel=CHANNEL)["messages"][0]["ts"] == ts
    assert client.conversations_info(channel=CHANNEL)["channel"]["is_archived"] is True
    fake.add_channel(CHANNEL, is_archived=False)
    assert client.chat_postMessage(channel=CHANNEL, text="after")["ok"]


def test_an_ephemeral_message_goes_only_to_someone_in_the_conversation(fake, client):
    assert error_of(client.chat_postEphemeral, channel=CHANNEL, user="UOUTSIDER", text="x") == "user_not_in_channel"
    fake.invite(CHANNEL, "UOUTSIDER")
    assert client.chat_postEphemeral(channel=CHANNEL, user="UOUTSIDER", text="x")["ok"]
    assert [e["user"] for e in fake.ephemerals] == ["UOUTSIDER"]


# ------------------------------------------------------------------ scopes

def test_tokens_start_with_the_manifests_scopes():
    assert manifest_scopes("bot") == MANIFEST_BOT
    assert manifest_scopes("user") == {"search:read", "channels:read", "groups:read", "im:read", "mpim:read"}


def test_missing_scope_names_what_is_needed_and_what_was_granted(fake, client):
    fake.grant("xoxb-test", MANIFEST_BOT - {"chat:write"})
    refused = api_error(client.chat_postMessage, channel=CHANNEL, text="x")
    assert refused.status_code == 200
    assert refused.data == {"ok": False, "error": "missing_scope", "needed": "chat:write",
                            "provided": ",".join(sorted(MANIFEST_BOT - {"chat:write"}))}
    fake.grant("xoxb-test", MANIFEST_BOT)
    assert client.chat_postMessage(channel=CHANNEL, text="x")["ok"]


@pytest.mark.parametrize("channel, info, history, read", [
    ("C501", {}, "channels:history", "channels:read"),
    ("G502", {}, "groups:history", "groups:read"),
    ("D503", {}, "im:history", "im:read"),
    ("G504", {"is_mpim": True}, "mpim:history", "mpim:read"),
], ids=["public", "private", "dm", "group-dm"])
def test_reading_a_conversation_needs_the_scope_of_its_kind(fake, client, channel, info, history, read):
    fake.add_channel(channel, members=["UBOT", "UALICE"], **info)
    ts = fake.add_message(channel, "UALICE", "hello")
    granted = MANIFEST_BOT | {"mpim:history"}
    fake.grant("xoxb-test", granted - {history, read})
    for call, kwargs, needed in ((client.conversations_replies, {"ts": ts}, history),
                                 (client.conversations_history, {}, history),
                                 (client.conversations_info, {}, read), (client.conversations_members, {}, read)):
        refused = api_error(call, channel=channel, **kwargs)
        assert (refused["error"], refused["needed"]) == ("missing_scope", needed), call
    fake.grant("xoxb-test", granted)
    assert client.conversations_replies(channel=channel, ts=ts)["messages"][0]["text"] == "hello"
    assert client.conversations_info(channel=channel)["channel"]["id"] == channel


def test_the_manifest_does_not_let_the_bot_read_group_dms(fake, client):
    fake.add_channel("G600", members=["UBOT", "UALICE", "UBOB"], is_mpim=True)
    ts = fake.add_message("G600", "UALICE", "hi both")
    assert api_error(client.conversations_replies, channel="G600", ts=ts)["needed"] == "mpim:history"
    assert client.conversations_info(channel="G600")["channel"]["is_mpim"] is True  # mpim:read is granted


def test_people_and_files_need_their_scopes(fake, client):
    fake.set_user("UALICE", "alice@example.com")
    assert client.users_info(user="UALICE")["user"]["profile"]["email"] == "alice@example.com"
    fake.grant("xoxb-test", MANIFEST_BOT - {"users:read.email"})
    assert "email" not in client.users_info(user="UALICE")["user"]["profile"]  # Slack leaves it out
    fake.grant("xoxb-test", MANIFEST_BOT - {"users:read"})
    assert api_error(client.users_info, user="UALICE")["needed"] == "users:read"

    file = fake.add_file("notes.txt", b"the plan")
    fake.grant("xoxb-test", MANIFEST_BOT)
    assert client.files_info(file=file["id"])["file"]["name"] == "notes.txt"
    assert download(file, "xoxb-test") == b"the plan"
    fake.grant("xoxb-test", MANIFEST_BOT - {"files:read"})
    assert api_error(client.files_info, file=file["id"])["needed"] == "files:read"
    assert b"Sign in to Slack" in download(file, "xoxb-test")


def download(file, token):
    request = urllib.request.Request(file["url_private"], headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read()


def test_another_token_of_the_bot_has_exactly_the_scopes_granted(fake):
    narrow = WebClient(token="xoxb-narrow", base_url=fake.base_url)
    assert error_of(narrow.auth_test) == "invalid_auth"
    fake.grant("xoxb-narrow", {"chat:write"})
    assert narrow.chat_postMessage(channel=CHANNEL, text="hi")["message"]["bot_id"] == "BBOT"
    assert api_error(narrow.conversations_history, channel=CHANNEL)["provided"] == "chat:write"


def test_search_takes_a_user_token_with_search_read_and_finds_only_what_its_user_sees(fake, client):
    fake.user_tokens["xoxp-alice"] = "UALICE"
    alice = WebClient(token="xoxp-alice", base_url=fake.base_url)
    fake.add_channel("C700", members=["UBOB"])
    fake.add_channel("G701", members=["UBOB"])
    fake.add_channel("G702", members=["UBOB", "UALICE"])
    for channel in ("C700", "G701", "G702"):
        fake.add_message(channel, "UBOB", f"walrus in {channel}")
    assert error_of(client.search_messages, query="walrus") == "not_allowed_token_type"
    found = alice.search_messages(query="walrus")["messages"]["matches"]
    assert sorted(m["channel"]["id"] for m in found) == ["C700", "G702"]  # public, and private she is in
    fake.grant("xoxp-alice", {"channels:read"})
    assert api_error(alice.search_messages, query="walrus")["needed"] == "search:read"


# ------------------------------------------------------------------ a DM the bot opens


def test_conversations_open_gives_the_same_dm_each_time_and_the_bot_can_post_there(fake, client):
    first = client.conversations_open(users="UDMPERSON")
    again = client.conversations_open(users="UDMPERSON")
    dm = first["channel"]["id"]
    assert dm.startswith("D") and again["channel"]["id"] == dm and again["already_open"] is True
    assert "already_open" not in first.data
    assert set(fake.members_of(dm)) == {fake.bot_user_id, "UDMPERSON"} and fake.dm_with("UDMPERSON") == dm
    assert client.chat_postMessage(channel=dm, text="hello")["ok"]
    assert client.conversations_open(users="UOTHERPERSON")["channel"]["id"] != dm


def test_conversations_open_refuses_what_slack_refuses(fake, client):
    assert error_of(client.api_call, "conversations.open", params={}) == "users_list_not_supplied"
    assert error_of(client.conversations_open, users="not-a-user") == "user_not_found"
    assert error_of(client.conversations_open, users=fake.bot_user_id) == "cannot_dm_bot"
    narrow = "xoxb-without-im-write"
    fake.grant(narrow, manifest_scopes("bot") - {"im:write"})
    refused = api_error(WebClient(token=narrow, base_url=fake.base_url).conversations_open, users="UDMPERSON")
    assert refused["error"] == "missing_scope" and refused["needed"] == "im:write"
