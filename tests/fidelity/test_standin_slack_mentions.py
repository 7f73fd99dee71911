"""FakeSlack records when a message would ping a channel or a group, reading it as Slack does
(standins/slack_mentions.py), through the real slack_sdk.WebClient."""
import pytest

from slack_standin_fixtures import CHANNEL as C, client, fake  # noqa: F401  (fixtures)

pytestmark = pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")


def pings_of(fake, ts):
    return [p["pings"] for p in fake.pings if p["ts"] == ts]


@pytest.mark.parametrize("text, pings", [
    ("<!here> stand-up", ["here"]),
    ("<!channel|channel> and <!everyone>", ["channel", "everyone"]),
    ("<!subteam^S123|@team> and <!subteam^S456>", ["subteam^S123", "subteam^S456"]),
    ("<!group>", ["group"]),
])
def test_special_mentions_in_text_notify(fake, client, text, pings):
    ts = client.chat_postMessage(channel=C, text=text)["ts"]
    assert pings_of(fake, ts) == [pings]


@pytest.mark.parametrize("text", ["&lt;!here&gt; is how you write it", "@here without link_names", "<@U123> only",
                                  "<#C1|general>", "<!date^1392734382^{date}|Feb 18>"])
def test_escaped_plain_and_personal_mentions_in_text_do_not(fake, client, text):
    ts = client.chat_postMessage(channel=C, text=text)["ts"]
    assert pings_of(fake, ts) == []


def test_plain_at_here_notifies_with_link_names(fake, client):
    ts = client.chat_postMessage(channel=C, text="@here look", link_names=True)["ts"]
    assert pings_of(fake, ts) == [["here"]]


def test_blocks_are_read_too(fake, client):
    mrkdwn = client.chat_postMessage(channel=C, text="x", blocks=[
        {"type": "section", "text": {"type": "mrkdwn", "text": "<!channel>"}}])["ts"]
    plain = client.chat_postMessage(channel=C, text="x", blocks=[
        {"type": "section", "text": {"type": "plain_text", "text": "<!channel>"}}])["ts"]
    rich = client.chat_postMessage(channel=C, text="x", blocks=[{"type": "rich_text", "elements": [
        {"type": "rich_text_section", "elements": [{"type": "broadcast", "range": "here"}]}]}])["ts"]
    # The markdown block is not documented on this: the stand-in assumes the worst.
    markdown = client.chat_postMessage(channel=C, text="x", blocks=[
        {"type": "markdown", "text": "&lt;!everyone&gt; and @here"}])["ts"]
    assert pings_of(fake, mrkdwn) == [["channel"]]
    assert pings_of(fake, plain) == []
    assert pings_of(fake, rich) == [["here"]]
    assert pings_of(fake, markdown) == [["everyone", "here"]]


def test_an_update_that_adds_a_mention_is_recorded(fake, client):
    ts = client.chat_postMessage(channel=C, text="quiet")["ts"]
    client.chat_update(channel=C, ts=ts, text="now <!here>")
    assert [(p["method"], p["pings"]) for p in fake.pings if p["ts"] == ts] == [("chat.update", ["here"])]


def test_a_mention_built_across_appended_stream_pieces_is_recorded(fake, client):
    ts = client.api_call("chat.startStream", json={"channel": C, "thread_ts": "1.000001", "markdown_text": "Hi <!cha",
                                                   "recipient_user_id": "U1", "recipient_team_id": "T1"})["ts"]
    assert pings_of(fake, ts) == []
    client.api_call("chat.appendStream", json={"channel": C, "ts": ts, "markdown_text": "nnel>!"})
    assert [(p["method"], p["pings"]) for p in fake.pings if p["ts"] == ts] == [("chat.appendStream", ["channel"])]
