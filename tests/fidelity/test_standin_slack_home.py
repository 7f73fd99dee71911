"""FakeSlack's App Home as Slack's (AI_SURFACE_FACTS.md C, G), through the real slack_sdk.WebClient:
``views.publish`` takes a Home view and refuses what Slack refuses (``view_too_large``, more than 100
blocks, a block type Home has not, ``hash_conflict``, ``not_enabled``); ``conversations.open`` needs
``im:write``; ``files_upload_v2`` needs ``files:write`` and lands the file in the channel as a message;
``app_home_opened`` is shaped as Slack sends it, ``view`` only after a view was published."""
from __future__ import annotations

import pytest

from slack_standin_fixtures import api_error, client, fake  # noqa: F401  (fixtures)
from standins.slack_access import manifest_scopes

MANIFEST_BOT = manifest_scopes("bot")


def home(*blocks, **extra):
    return {"type": "home", "blocks": list(blocks) or [{"type": "divider"}], **extra}


def section(text):
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_views_publish_stores_the_view_per_user_and_returns_its_hash(fake, client):
    published = client.views_publish(user_id="U1", view=home(section("hello")))
    assert published["view"]["type"] == "home" and published["view"]["hash"]
    assert fake.home_views["U1"]["blocks"] == [section("hello")]
    again = client.views_publish(user_id="U1", view=home(section("again")), hash=published["view"]["hash"])
    assert again["view"]["id"] == published["view"]["id"]  # the same Home view, a new version
    assert fake.home_views["U1"]["blocks"] == [section("again")] and "U2" not in fake.home_views


def test_views_publish_takes_100_blocks_and_refuses_101(fake, client):
    client.views_publish(user_id="U1", view=home(*[{"type": "divider"}] * 100))
    refused = api_error(client.views_publish, user_id="U1", view=home(*[{"type": "divider"}] * 101))
    assert refused["error"] == "invalid_blocks" and "/view/blocks" in refused["errors"][0]


def test_views_publish_refuses_a_view_past_250_kb(fake, client):
    big = [section("x" * 2900)] * 90  # ~260 kB of JSON, every block within its own limits
    assert api_error(client.views_publish, user_id="U1", view=home(*big))["error"] == "view_too_large"


@pytest.mark.parametrize("block,where", [
    ({"type": "table_of_nonsense"}, "/view/blocks/0/type"),
    ({"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}, "/view/blocks/0/text/text"),
])
def test_views_publish_refuses_blocks_slack_refuses(fake, client, block, where):
    refused = api_error(client.views_publish, user_id="U1", view=home(block))
    assert refused["error"] == "invalid_blocks" and where in refused["errors"][0]


def test_views_publish_refuses_a_stale_hash_and_a_home_tab_that_is_off(fake, client):
    client.views_publish(user_id="U1", view=home())
    assert api_error(client.views_publish, user_id="U1", view=home(), hash="1.stale")["error"] == "hash_conflict"
    fake.home_tab_enabled = False
    assert api_error(client.views_publish, user_id="U1", view=home())["error"] == "not_enabled"


def test_views_publish_refuses_a_modal(fake, client):
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "t"}, "blocks": []}
    assert api_error(client.views_publish, user_id="U1", view=modal)["error"] == "invalid_arguments"


def test_conversations_open_answers_the_dm_and_needs_im_write(fake, client):
    channel = client.conversations_open(users="U1")["channel"]["id"]
    assert channel.startswith("D") and client.conversations_open(users="U1")["channel"]["id"] == channel
    assert set(fake.members_of(channel)) == {fake.bot_user_id, "U1"}
    fake.grant("xoxb-test", MANIFEST_BOT - {"im:write"})
    refused = api_error(client.conversations_open, users="U1")
    assert refused["error"] == "missing_scope" and refused["needed"] == "im:write"


def test_files_upload_v2_lands_the_file_in_the_dm_as_a_message(fake, client):
    channel = client.conversations_open(users="U1")["channel"]["id"]
    done = client.files_upload_v2(channel=channel, filename="usage.csv", content="time,user\n1,U1\n",
                                  title="Usage", initial_comment="Here it is")
    assert done["file"]["name"] == "usage.csv" and done["file"]["shares"] == {}  # shared asynchronously (facts G)
    [shared] = fake.files_in(channel)
    assert shared["content"] == b"time,user\n1,U1\n" and shared["title"] == "Usage"
    [message] = [m for m in fake._channels[channel] if m.get("files")]
    assert message["text"] == "Here it is" and message["bot_id"] == fake.bot_id


def test_the_upload_needs_files_write(fake, client):
    fake.grant("xoxb-test", MANIFEST_BOT - {"files:write"})
    refused = api_error(client.files_upload_v2, channel="D1", filename="a.csv", content="a")
    assert refused["error"] == "missing_scope" and refused["needed"] == "files:write"


def test_completing_a_file_never_uploaded_is_refused(fake, client):
    issued = client.files_getUploadURLExternal(filename="a.csv", length=3)
    refused = api_error(client.files_completeUploadExternal, files=[{"id": issued["file_id"], "title": "a"}])
    assert refused["error"] == "file_not_found"
    assert api_error(client.files_getUploadURLExternal, filename="a.csv", length=0)["error"] == "invalid_arguments"


def test_a_workspace_without_uploads_refuses_them(fake, client):
    fake.fail_next("files.getUploadURLExternal", {"ok": False, "error": "file_uploads_disabled"})
    assert api_error(client.files_upload_v2, channel="D1", filename="a.csv", content="a")["error"] == \
        "file_uploads_disabled"


def test_app_home_opened_is_shaped_as_slack_sends_it(fake, client):
    first = fake.app_home_opened("U1")
    event = first["event"]
    assert first["type"] == "event_callback" and event["type"] == "app_home_opened"
    assert event["tab"] == "home" and event["channel"].startswith("D") and "view" not in event
    client.views_publish(user_id="U1", view=home())
    assert fake.app_home_opened("U1")["event"]["view"]["hash"] == fake.home_views["U1"]["hash"]
    assert fake.app_home_opened("U1", tab="messages")["event"]["tab"] == "messages"
