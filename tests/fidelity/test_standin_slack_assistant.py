"""FakeSlack's assistant.threads.setStatus (a thread's "is thinking…" line), through the real
slack_sdk.WebClient: the line is set, cleared, taken away by the app's reply or after two minutes,
and each refusal Slack documents sits next to the valid call that still works."""
import time

from slack_sdk import WebClient

from slack_standin_fixtures import CHANNEL, api_error, client, fake  # noqa: F401  (fixtures)
from slack_tiers import enforce_slack_tiers
from test_standin_slack_access import MANIFEST_BOT


def question(fake, channel=CHANNEL):
    return fake.add_message(channel, "UALICE", "a question")


def test_a_status_is_set_shown_and_cleared(fake, client):
    ts = question(fake)
    resp = client.assistant_threads_setStatus(channel_id=CHANNEL, thread_ts=ts, status="is thinking…",
                                              loading_messages=["Reading the thread…", "Writing…"])
    assert resp.data == {"ok": True}  # the documented success body
    assert fake.thread_status(CHANNEL, ts) == "is thinking…"
    [call] = fake.calls_of("assistant.threads.setStatus")
    assert call.params == {"channel_id": CHANNEL, "thread_ts": ts, "status": "is thinking…",
                           "loading_messages": ["Reading the thread…", "Writing…"]}

    client.assistant_threads_setStatus(channel_id=CHANNEL, thread_ts=ts, status="")
    assert fake.thread_status(CHANNEL, ts) == ""
    history = fake.status_history(CHANNEL, ts)
    assert [(c.status, c.by, c.loading_messages) for c in history] == [
        ("is thinking…", "call", ("Reading the thread…", "Writing…")), ("", "call", ())]
    assert history[0].at <= history[1].at


def test_the_apps_reply_in_the_thread_takes_the_status_away(fake, client):
    ts, other = question(fake), question(fake)
    for thread in (ts, other):
        client.assistant_threads_setStatus(channel_id=CHANNEL, thread_ts=thread, status="is thinking…")
    fake.add_message(CHANNEL, "UALICE", "more detail", thread_ts=ts)  # a person's reply: the line stays
    client.chat_postMessage(channel=CHANNEL, text="not in the thread")
    assert fake.thread_status(CHANNEL, ts) == "is thinking…"

    client.chat_postMessage(channel=CHANNEL, thread_ts=ts, text="the answer")
    assert fake.thread_status(CHANNEL, ts) == ""
    assert [c.by for c in fake.status_history(CHANNEL, ts)] == ["call", "reply"]
    assert fake.thread_status(CHANNEL, other) == "is thinking…"  # another thread keeps its own
    client.chat_startStream(channel=CHANNEL, thread_ts=other, markdown_text="streamed",
                            recipient_user_id="UALICE", recipient_team_id="T1")
    assert fake.thread_status(CHANNEL, other) == ""


def test_a_status_nobody_follows_with_a_message_expires(fake, client):
    fake.status_ttl = 0.3  # Slack: two minutes
    ts = question(fake)
    set_at = time.monotonic()
    client.assistant_threads_setStatus(channel_id=CHANNEL, thread_ts=ts, status="is thinking…")
    assert fake.thread_status(CHANNEL, ts) == "is thinking…"
    time.sleep(0.4)
    assert fake.thread_status(CHANNEL, ts) == ""
    expired = fake.status_history(CHANNEL, ts)[-1]
    assert expired.by == "expired" and set_at + 0.3 <= expired.at < set_at + 0.4
    client.assistant_threads_setStatus(channel_id=CHANNEL, thread_ts=ts, status="still at it")  # set anew
    assert fake.thread_status(CHANNEL, ts) == "still at it"


def test_a_status_on_a_reply_is_the_threads(fake, client):
    ts = question(fake)
    reply = fake.add_message(CHANNEL, "UALICE", "in the thread", thread_ts=ts)
    client.assistant_threads_setStatus(channel_id=CHANNEL, thread_ts=reply, status="is thinking…")
    assert fake.thread_status(CHANNEL, ts) == fake.thread_status(CHANNEL, reply) == "is thinking…"


def test_unknown_or_hidden_conversations_are_channel_not_found(fake, client):
    ts = question(fake)
    for channel in ("CNOWHERE", ""):
        refused = api_error(client.assistant_threads_setStatus, channel_id=channel, thread_ts=ts, status="x")
        assert refused["error"] == "channel_not_found"
    private_ts = fake.add_message("G700", "UALICE", "private question")  # the bot is not in it
    assert api_error(client.assistant_threads_setStatus, channel_id="G700", thread_ts=private_ts,
                     status="x")["error"] == "channel_not_found"
    fake.invite("G700", fake.bot_user_id)
    assert client.assistant_threads_setStatus(channel_id="G700", thread_ts=private_ts, status="x")["ok"]
    assert fake.thread_status("G700", private_ts) == "x"


def test_a_thread_ts_that_is_no_message_is_invalid_thread_ts(fake, client):
    ts = question(fake)
    for bad in ("1700000099.000100", "not-a-ts", ""):
        refused = api_error(client.assistant_threads_setStatus, channel_id=CHANNEL, thread_ts=bad, status="x")
        assert refused["error"] == "invalid_thread_ts", bad
    fake.delete(CHANNEL, ts)
    assert api_error(client.assistant_threads_setStatus, channel_id=CHANNEL, thread_ts=ts,
                     status="x")["error"] == "invalid_thread_ts"
    live = question(fake)
    assert client.assistant_threads_setStatus(channel_id=CHANNEL, thread_ts=live, status="x")["ok"]


def test_arguments_slack_refuses_are_invalid_arguments(fake, client):
    ts = question(fake)
    eleven = [f"step {i}" for i in range(11)]
    assert api_error(client.assistant_threads_setStatus, channel_id=CHANNEL, thread_ts=ts, status="x",
                     loading_messages=eleven)["error"] == "invalid_arguments"
    assert api_error(client.api_call, "assistant.threads.setStatus",
                     json={"channel_id": CHANNEL, "thread_ts": ts})["error"] == "invalid_arguments"  # no status
    assert fake.thread_status(CHANNEL, ts) == ""
    assert client.assistant_threads_setStatus(channel_id=CHANNEL, thread_ts=ts, status="x",
                                              loading_messages=eleven[:10])["ok"]
    assert fake.status_history(CHANNEL, ts)[-1].loading_messages == tuple(eleven[:10])


def test_tokens_and_scopes(fake, client):
    ts = question(fake)
    refused = api_error(WebClient(token=None, base_url=fake.base_url).assistant_threads_setStatus,
                        channel_id=CHANNEL, thread_ts=ts, status="x")
    assert refused["error"] == "not_authed"
    fake.grant("xoxb-test", MANIFEST_BOT - {"chat:write"})
    refused = api_error(client.assistant_threads_setStatus, channel_id=CHANNEL, thread_ts=ts, status="x")
    assert (refused["error"], refused["needed"]) == ("missing_scope", "chat:write")
    fake.grant("xoxb-test", MANIFEST_BOT - {"chat:write"} | {"assistant:write"})  # the older scope still works
    assert client.assistant_threads_setStatus(channel_id=CHANNEL, thread_ts=ts, status="x")["ok"]
    fake.grant("xoxb-test", MANIFEST_BOT)  # the manifest's chat:write is enough
    assert client.assistant_threads_setStatus(channel_id=CHANNEL, thread_ts=ts, status="y")["ok"]
    assert fake.thread_status(CHANNEL, ts) == "y"


def test_its_tier_is_a_hundred_a_minute_for_the_workspace(fake, client):
    enforce_slack_tiers(fake)
    fake.invite("C124", fake.bot_user_id)
    threads = [(channel, question(fake, channel)) for channel in (CHANNEL, "C124")]
    for i in range(100):  # the burst is the minute's rate, shared by every channel of the workspace
        channel, ts = threads[i % 2]
        client.assistant_threads_setStatus(channel_id=channel, thread_ts=ts, status=f"step {i}")
    channel, ts = threads[0]
    refused = api_error(client.assistant_threads_setStatus, channel_id=channel, thread_ts=ts, status="x")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    time.sleep(0.65)  # 100 a minute: one more after 0.6 s
    assert client.assistant_threads_setStatus(channel_id=channel, thread_ts=ts, status="x")["ok"]
