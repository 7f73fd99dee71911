"""Socket Mode end to end: ``python slack_socket.py`` with slack_sdk's built-in client, against the
Socket Mode stand-in (envelopes over a WebSocket) and the Slack and OpenAI stand-ins.
Then the stand-in itself, driven by slack_sdk's SocketModeClient."""
from __future__ import annotations

import json
import queue
import urllib.parse
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.response import SocketModeResponse
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from flows import ASKER, answer_text, replies_to, say, wait_answer, wait_settled
from log_scan import assert_logged_masked, secret_echoing_failure
from harness import BOT_TOKEN, SocketModeProcess, bot_env, message_event, shortcut_payload, stop_button_payload
from standins.openai_api import Script
from standins.slack_socket_mode import FakeSocketMode
from test_stop_delete import SLOW, _streaming_reply  # the slow answer and "it has shown text", shared

APP_TOKEN = "xapp-1-AAPP-1-0123456789-socket-mode-test"
# Slack's window for an acknowledgement; ours should be far inside it even on a loaded machine.
ACK_WINDOW = 3.0


class OverTheSocket:
    """What ``flows.say`` needs of a bot, delivered the Socket Mode way: it returns the envelope_id."""

    def __init__(self, socket_mode: FakeSocketMode):
        self.socket_mode = socket_mode
        self.last_event: dict | None = None

    def send_event(self, payload: dict) -> str:
        self.last_event = payload
        return self.socket_mode.deliver_event(payload)


@pytest.fixture(scope="module")
def socket_mode(slack):
    with FakeSocketMode(app_token=APP_TOKEN) as fake:
        fake.attach(slack)
        yield fake


def _socket_env(slack, openai_server, folder, **overrides):
    settings = dict(SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET=None, SQLITE_PATH=str(folder / "claims.sqlite3"))
    return bot_env(slack.base_url, openai_server.base_url, **{**settings, **overrides})


@pytest.fixture(scope="module")
def socket_bot(socket_mode, slack, openai_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("socket-bot")
    bot = SocketModeProcess(_socket_env(slack, openai_server, folder), folder / "bot.log")
    try:
        _wait_connected(bot, socket_mode)
        yield bot
    finally:
        bot.stop()


@pytest.fixture
def over(socket_bot, socket_mode):
    """The bot, connected (an earlier test may have cut it off), and a way to talk to it."""
    _wait_connected(socket_bot, socket_mode)
    return OverTheSocket(socket_mode)


def _wait_connected(bot, socket_mode, timeout=30, **kwargs):
    try:
        socket_mode.wait_for_connections(1, timeout=timeout, **kwargs)
    except AssertionError as error:
        raise AssertionError(f"{error}\nbot log:\n{bot.logs()}") from None


def _acked_in_time(socket_mode, envelope_id):
    ack = socket_mode.wait_for_ack(envelope_id, timeout=10)
    assert ack.known and ack.payload is None
    assert ack.at - socket_mode.sent_of(envelope_id).at < ACK_WINDOW
    return ack


# ------------------------------------------------------------------- answers

def test_dm_question_is_acknowledged_at_once_and_answered_in_its_thread(over, socket_mode, slack, openai_server,
                                                                        channel):
    openai_server.reply = Script(text="Hello over the socket.", chunk_chars=4, delta_delay=0.01)
    ts, envelope_id = say(over, slack, channel, "hi over the socket")
    _acked_in_time(socket_mode, envelope_id)
    parts = wait_answer(slack, channel, ts)
    assert answer_text(parts) == "Hello over the socket."
    assert parts[0]["thread_ts"] == ts
    assert parts[0]["metadata"]["event_payload"]["asker"] == ASKER
    assert openai_server.requests[-1].body["input"][-1] == {"role": "user", "content": "hi over the socket"}


def test_app_mention_in_a_channel_is_answered(over, socket_mode, slack, openai_server):
    channel = "C-socket-mention"
    openai_server.reply = Script(text="A monad is a monoid in the category of endofunctors.")
    ts, envelope_id = say(over, slack, channel, "<@UBOT> what is a monad?", event_type="app_mention")
    _acked_in_time(socket_mode, envelope_id)
    parts = wait_answer(slack, channel, ts)
    assert parts[0]["thread_ts"] == ts
    assert openai_server.requests[-1].body["input"][-1]["content"] == "what is a monad?"


def test_stop_button_stops_a_streaming_answer(over, socket_mode, slack, openai_server, channel):
    openai_server.reply = Script(**SLOW)
    ts, _ = say(over, slack, channel, "talk for a long time")
    reply = _streaming_reply(slack, channel, ts)
    _acked_in_time(socket_mode, socket_mode.deliver_interaction(stop_button_payload(channel, ASKER, reply)))
    final = wait_answer(slack, channel, ts)[-1]
    assert final["metadata"]["event_type"] == "aborted"
    assert "Stopped" in final["text"]
    request = openai_server.requests[-1]
    openai_server.wait_for(lambda f: request.outcome is not None, timeout=10)
    assert request.client_closed_early


def test_delete_shortcut_deletes_the_answer(over, socket_mode, slack, openai_server, channel):
    openai_server.reply = Script(text="delete me")
    ts, _ = say(over, slack, channel, "a question")
    final = wait_answer(slack, channel, ts)[-1]
    _acked_in_time(socket_mode, socket_mode.deliver_interaction(
        shortcut_payload("delete_message", channel, ASKER, final)))
    slack.wait_for(lambda s: s.get(channel, final["ts"]) is None, timeout=10)
    assert replies_to(slack, channel, ts) == []


def test_redelivered_event_is_not_answered_twice(over, socket_bot, socket_mode, slack, openai_server, channel):
    openai_server.reply = Script(text="only once")
    ts, _ = say(over, slack, channel, "answer me once")
    wait_answer(slack, channel, ts)
    requests = len(openai_server.requests)
    event_id = over.last_event["event_id"]
    wait_settled(socket_bot, event_id)  # the first delivery's job has ended (it logs so just after the answer lands)
    since = socket_bot.log_mark()
    _acked_in_time(socket_mode, socket_mode.deliver_event(over.last_event, retry_attempt=1, retry_reason="timeout"))
    wait_settled(socket_bot, event_id, since=since)  # the redelivery's job has ended…
    assert socket_bot.logged(since, message="already answered", event_id=event_id)  # …finding it answered
    assert socket_bot.logged(since, message="slack retry", event_id=event_id)[0]["retry"] == "1"
    assert len(replies_to(slack, channel, ts)) == 1
    assert len(openai_server.requests) == requests


def test_malformed_event_is_acknowledged_and_nothing_is_posted(over, socket_bot, socket_mode, slack, channel):
    ts = slack.add_message(channel, ASKER, "text that arrives broken")
    body = message_event(channel, ASKER, "text that arrives broken", ts)
    body["event"]["text"] = {"not": "a string"}
    since = socket_bot.log_mark()
    _acked_in_time(socket_mode, socket_mode.deliver_event(body))
    socket_bot.wait_for_log(since=since, message="malformed event acknowledged and dropped",
                            error="missing or invalid field: text")
    assert not socket_bot.logged(since, message="handed off")  # dropped: no answer starts later
    assert not [c for c in slack.calls_of("chat.postMessage") if c.params.get("channel") == channel]


def test_slash_command_envelope_is_acknowledged_and_ignored(over, socket_mode):
    envelope_id = socket_mode.deliver({"type": "slash_commands", "accepts_response_payload": True,
                                       "payload": {"command": "/threadwise", "text": "hi", "user_id": ASKER}})
    _acked_in_time(socket_mode, envelope_id)


# ------------------------------------------------------------- connections

@pytest.mark.parametrize("reset", [True, False], ids=["tcp-reset", "bare-fin"])
def test_reconnects_after_an_abrupt_drop_and_answers_the_next_question(reset, over, socket_bot, socket_mode, slack,
                                                                       openai_server, channel):
    opened, opens = socket_mode.connections_opened, len(slack.calls_of("apps.connections.open"))
    since = socket_bot.log_mark()
    assert socket_mode.drop_connections(reset=reset) >= 1
    # A reset is seen at once; a bare FIN only when pings start failing (5 in a row, PING_INTERVAL apart).
    _wait_connected(socket_bot, socket_mode, opened_at_least=opened + 1, timeout=60)
    assert len(slack.calls_of("apps.connections.open")) > opens  # a new URL, not the old ticket again
    socket_bot.wait_for_log(since=since, message="Socket Mode reconnected")
    openai_server.reply = Script(text="still here")
    ts, envelope_id = say(over, slack, channel, "are you back?")
    _acked_in_time(socket_mode, envelope_id)
    assert answer_text(wait_answer(slack, channel, ts)) == "still here"


def test_reconnects_when_slack_asks_for_a_refresh(over, socket_bot, socket_mode, slack, openai_server, channel):
    opened, opens = socket_mode.connections_opened, len(slack.calls_of("apps.connections.open"))
    since = socket_bot.log_mark()
    socket_mode.send_disconnect("refresh_requested")
    _wait_connected(socket_bot, socket_mode, opened_at_least=opened + 1)
    assert len(slack.calls_of("apps.connections.open")) > opens
    socket_bot.wait_for_log(since=since, message="Slack asked to reconnect; opening a new connection",
                            reason="refresh_requested")
    openai_server.reply = Script(text="refreshed")
    ts, envelope_id = say(over, slack, channel, "after the refresh?")
    _acked_in_time(socket_mode, envelope_id)
    assert answer_text(wait_answer(slack, channel, ts)) == "refreshed"


def test_no_log_line_carries_the_app_token_or_a_ticket(over, socket_bot, socket_mode, slack, openai_server, channel):
    opened = socket_mode.connections_opened
    socket_mode.send_disconnect("warning")  # one more ticket used, whichever tests ran before
    _wait_connected(socket_bot, socket_mode, opened_at_least=opened + 1)
    ts, _ = say(over, slack, channel, "one more")
    wait_answer(slack, channel, ts)
    logs = socket_bot.logs()
    assert socket_mode.tickets_issued and "Socket Mode connected" in logs
    assert APP_TOKEN not in logs
    assert not [t for t in socket_mode.tickets_issued if t in logs]
    assert "ticket=" not in logs and f":{socket_mode.port}/link" not in logs


def test_a_secret_inside_a_logged_exception_is_masked(over, socket_bot, slack, openai_server, channel):
    """A Slack error that echoes the app token reaches the log only masked."""
    openai_server.reply = Script(text="first")
    first, _ = say(over, slack, channel, "one")
    wait_answer(slack, channel, first)
    slack.fail_next("conversations.replies", secret_echoing_failure(APP_TOKEN))
    follow_up, _ = say(over, slack, channel, "two", thread_ts=first)
    assert wait_answer(slack, channel, follow_up)[-1]["metadata"]["event_payload"]["status"] == "error"
    assert_logged_masked(socket_bot, APP_TOKEN)


# ------------------------------------------------------------ refusing to start

def test_refuses_to_start_without_an_app_token(slack, openai_server, tmp_path):
    bot = SocketModeProcess(_socket_env(slack, openai_server, tmp_path, SLACK_APP_TOKEN=None), tmp_path / "bot.log")
    assert bot.wait_exit() == 2
    output = bot.logs()
    assert "SLACK_APP_TOKEN" in output and "Traceback" not in output


def test_refuses_to_start_when_slack_refuses_the_app_token(slack, openai_server, tmp_path):
    unknown = "xapp-1-AAPP-1-9999999999-not-a-token-slack-knows"
    bot = SocketModeProcess(_socket_env(slack, openai_server, tmp_path, SLACK_APP_TOKEN=unknown), tmp_path / "bot.log")
    assert bot.wait_exit() == 1
    output = bot.logs()
    said = [line for line in output.splitlines() if line.startswith("Refusing to start Socket Mode")]
    assert len(said) == 1 and "SLACK_APP_TOKEN" in said[0] and "invalid_auth" in said[0]
    assert "Traceback" not in output and unknown not in output
    assert any(c.response.get("error") == "invalid_auth" for c in slack.calls_of("apps.connections.open"))


# ------------------------------------------------- the stand-in, against slack_sdk

@pytest.fixture(scope="module")
def standin(slack):
    with FakeSocketMode(app_token="xapp-1-AAPP-1-standin-only", ack_timeout=1.0, max_retries=3) as fake:
        fake.attach(slack)
        yield fake


@pytest.fixture(scope="module")
def connected_sdk_client(standin, slack):
    """slack_sdk's own client (one for these tests: closing one takes seconds); ``received`` gets
    every request, acknowledged unless its payload says ``"ack": false``."""
    received: queue.Queue = queue.Queue()
    hellos: list[dict] = []

    def listener(client, request):
        received.put(request)
        if request.payload.get("ack", True):
            client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    def on_message(raw):
        message = json.loads(raw)
        if message.get("type") == "hello":
            hellos.append(message)

    client = SocketModeClient(app_token=standin.app_token, web_client=WebClient(base_url=slack.base_url),
                              ping_interval=1, on_message_listeners=[on_message])
    client.socket_mode_request_listeners.append(listener)
    client.received, client.hellos = received, hellos
    client.connect()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def sdk_client(connected_sdk_client, standin):
    standin.wait_for_connections(1, timeout=30)  # again, after a test that cut it off
    while not connected_sdk_client.received.empty():
        connected_sdk_client.received.get_nowait()
    return connected_sdk_client


def test_standin_says_hello_and_records_acks(standin, sdk_client):
    standin.wait_for(lambda: sdk_client.hellos)
    hello = sdk_client.hellos[0]
    assert hello["num_connections"] == 1 and hello["connection_info"] == {"app_id": "AAPP"}
    assert set(hello["debug_info"]) == {"host", "build_number", "approximate_connection_time"}
    envelope_id = standin.deliver_event({"type": "event_callback", "event_id": "EvStandin1"})
    request = sdk_client.received.get(timeout=10)
    assert (request.type, request.envelope_id, request.retry_attempt, request.retry_reason) == (
        "events_api", envelope_id, 0, "")
    assert request.payload["event_id"] == "EvStandin1" and request.accepts_response_payload is False
    ack = standin.wait_for_ack(envelope_id)
    assert ack.known and ack.at >= standin.sent_of(envelope_id).at
    interaction_id = standin.deliver_interaction({"type": "block_actions"}, accepts_response_payload=False)
    assert sdk_client.received.get(timeout=10).type == "interactive"
    standin.wait_for_ack(interaction_id)


def test_standin_issues_the_trigger_id_of_each_interaction(standin, sdk_client, slack):
    standin.deliver_interaction({"type": "message_action", "trigger_id": "trig-placeholder"})
    trigger = sdk_client.received.get(timeout=10).payload["trigger_id"]
    assert trigger != "trig-placeholder"
    view = {"type": "modal", "title": {"type": "plain_text", "text": "ok"}, "blocks": []}
    assert WebClient(token="xoxb-test", base_url=slack.base_url).views_open(trigger_id=trigger, view=view)["ok"]


def test_standin_redelivers_an_unacknowledged_event_three_times(standin, sdk_client):
    acked = standin.deliver_event({"type": "event_callback", "event_id": "EvAcked"})
    ignored = standin.deliver_event({"type": "event_callback", "event_id": "EvIgnored", "ack": False})
    retries = standin.wait_for(lambda: len(standin.redeliveries_of(ignored)) == 3 and standin.expired,
                               what="three retries, then Slack gives up")
    assert retries
    redelivered = standin.redeliveries_of(ignored)
    assert [e["retry_attempt"] for e in redelivered] == [1, 2, 3]
    assert {e["retry_reason"] for e in redelivered} == {"timeout"}
    assert {e["payload"]["event_id"] for e in redelivered} == {"EvIgnored"}
    assert standin.expired == [redelivered[-1]["envelope_id"]]
    assert standin.redeliveries_of(acked) == []  # acknowledged in time: never sent again


def test_standin_tickets_are_single_use_and_tokens_checked(standin, slack):
    web = WebClient(base_url=slack.base_url)
    url = web.apps_connections_open(app_token=standin.app_token)["url"]
    assert url.startswith(f"ws://127.0.0.1:{standin.port}/link/?ticket=") and url.endswith("&app_id=AAPP")
    with ws_connect(url) as websocket:
        assert json.loads(websocket.recv(timeout=10))["type"] == "hello"
    with pytest.raises(InvalidStatus):
        ws_connect(url)
    assert standin.rejected_handshakes == 1

    def error_of(**kwargs):
        with pytest.raises(SlackApiError) as info:
            web.api_call("apps.connections.open", **kwargs)
        return info.value.response["error"]

    assert error_of(headers={"Authorization": f"Bearer {BOT_TOKEN}"}) == "not_allowed_token_type"
    assert error_of(headers={"Authorization": "Bearer xapp-1-AAPP-1-unknown"}) == "invalid_auth"
    form = urllib.request.Request(slack.base_url + "apps.connections.open", method="POST",
                                  data=urllib.parse.urlencode({"token": standin.app_token}).encode())
    with urllib.request.urlopen(form, timeout=10) as response:  # documented: the header only
        assert json.loads(response.read())["error"] == "not_authed"
    with pytest.raises(SlackApiError) as info:  # an app-level token opens connections, nothing else
        WebClient(token=standin.app_token, base_url=slack.base_url).chat_postMessage(channel="C1", text="hi")
    assert info.value.response["error"] == "not_allowed_token_type"


def test_standin_disconnect_then_close_and_drop(standin, sdk_client):
    opened, hellos = standin.connections_opened, len(sdk_client.hellos)
    standin.send_disconnect("warning")
    standin.wait_for_connections(1, opened_at_least=opened + 1)  # slack_sdk opened a new one at once
    standin.wait_for(lambda: len(sdk_client.hellos) == hellos + 1)
    assert standin.drop_connections() >= 1
    standin.wait_for_connections(1, timeout=30, opened_at_least=opened + 2)
    envelope_id = standin.deliver_event({"type": "event_callback", "event_id": "EvAfterDrop"})
    standin.wait_for_ack(envelope_id)


# ------------------------------------------------------------------ manifest

def test_socket_mode_manifest_is_the_same_app_without_request_urls():
    from harness import ROOT

    def app(name):  # everything but the settings, which differ on purpose
        text = (ROOT / name).read_text()
        return text[text.index("_metadata:"):text.index("\nsettings:\n")], text[text.index("\nsettings:\n"):]

    http_app, http_settings = app("manifest.yaml")
    socket_app, socket_settings = app("manifest.socket-mode.yaml")
    assert socket_app == http_app
    assert "socket_mode_enabled: true" in socket_settings and "request_url" not in socket_settings
    events = http_settings[http_settings.index("bot_events:"):http_settings.index("  interactivity:")]
    assert events in socket_settings
    assert "connections:write" in (ROOT / "manifest.socket-mode.yaml").read_text().split("_metadata:")[0]


# ------------------------------------------------------------------- App Home

def test_the_home_tab_is_acknowledged_at_once_and_published(over, socket_mode, slack):
    user = "UHSOCKET1"
    envelope_id = over.send_event(slack.app_home_opened(user))
    _acked_in_time(socket_mode, envelope_id)
    view = slack.wait_for(lambda: slack.home_views.get(user))
    assert "Your usage in" in str(view["blocks"]) and "people used" not in str(view["blocks"])
