"""Slack reads and native streams in-process: the real SlackGateway against FakeSlack (and
ScriptedSlack for the answers FakeSlack does not give on demand)."""
from __future__ import annotations

import threading
import time

import pytest

from flows import shared_channel
from inprocess import gateway, gateway_for  # noqa: F401  (gateway: a fixture)
from scripted_slack import Reply, error
from threadwise.config.slack_limits import Limit
from threadwise.slack.rate_budget import WriteBudget
from slack_client import SlackGateway
from threadwise.slack.messages import WriteOutcome, WriteStatus
from test_slack_client import SLOW, Clock, _meta, scripted, scripted_gateway  # noqa: F401  (scripted: a fixture)

pytestmark = pytest.mark.in_process


# --- threads ---------------------------------------------------------------------

def _thread_of(slack, channel, replies: int) -> tuple[str, list[str]]:
    parent = slack.add_message(channel, "U1", "parent")
    return parent, [slack.add_message(channel, "U1", f"reply {n}", thread_ts=parent) for n in range(replies)]


def test_a_thread_is_read_whole_page_by_page_parent_first(slack, gateway, channel):
    parent, replies = _thread_of(slack, channel, 4)
    calls = len(slack.calls_of("conversations.replies"))
    messages = gateway.thread(channel, parent, page_size=2)
    assert [m.ts for m in messages] == [parent, *replies]
    assert [m.text for m in messages] == ["parent", "reply 0", "reply 1", "reply 2", "reply 3"]
    pages = slack.calls_of("conversations.replies")[calls:]
    assert len(pages) == 3
    # (a GET: the parameters arrive as text)
    assert [(p.params["limit"], p.params["include_all_metadata"]) for p in pages] == [("2", "1")] * 3
    assert all(p.params["ts"] == parent for p in pages)
    assert gateway.find(channel, replies[2], parent).text == "reply 2"
    assert gateway.find(channel, parent, None).text == "parent"
    assert gateway.find(channel, "1.999999", parent) is None


def test_a_person_waiting_reads_past_the_budget(slack, channel):
    parent, replies = _thread_of(slack, channel, 1)
    gateway = gateway_for(slack, {"conversations.replies": SLOW})
    assert gateway.budget.try_take("conversations.replies")  # the only token
    found: list = []
    reading = threading.Thread(target=lambda: found.append(gateway.find(channel, replies[0], parent, priority=0)),
                               daemon=True)
    reading.start()
    reading.join(5)
    assert [m.text for m in found] == ["reply 0"]


def test_pages_that_repeat_the_parent_are_read_once(slack, gateway, channel):
    parent, replies = _thread_of(slack, channel, 3)
    slack.replies_parent_on_every_page = True
    try:
        assert [m.ts for m in gateway.thread(channel, parent, page_size=2)] == [parent, *replies]
    finally:
        del slack.replies_parent_on_every_page


def test_a_thread_that_is_gone_reads_as_empty(gateway, channel):
    assert gateway.thread(channel, "1.000001") == []


def test_the_last_page_ends_the_reading_even_with_a_cursor(scripted):
    page = {"ok": True, "messages": [{"ts": "1.1", "text": "a"}], "has_more": False,
            "response_metadata": {"next_cursor": "more"}}
    scripted.script("conversations.replies", Reply(body=page))
    assert [m.ts for m in scripted_gateway(scripted).thread("C1", "1.1")] == ["1.1"]
    assert len(scripted.calls("conversations.replies")) == 1
    no_cursor = dict(page, has_more=True, response_metadata={})
    scripted.script("conversations.replies", Reply(body=no_cursor))
    assert [m.ts for m in scripted_gateway(scripted).thread("C1", "1.1")] == ["1.1"]
    assert len(scripted.calls("conversations.replies")) == 2


def test_a_rate_limited_read_waits_and_tries_again(slack, channel):
    parent, _ = _thread_of(slack, channel, 1)
    gateway = gateway_for(slack, {"conversations.replies": Limit(600, 5)})
    slack.rate_limit_next("conversations.replies", 1, retry_after=1)
    started = time.monotonic()
    assert len(gateway.thread(channel, parent)) == 2
    assert time.monotonic() - started >= 1.0, "the retry waited Retry-After"


def test_a_read_rate_limited_six_times_gives_up(slack, gateway, channel):
    parent, _ = _thread_of(slack, channel, 1)
    slack.rate_limit_next("conversations.replies", 5, retry_after=1)
    assert len(gateway.thread(channel, parent)) == 2, "the sixth attempt is still made"
    slack.rate_limit_next("conversations.replies", 6, retry_after=1)
    with pytest.raises(RuntimeError, match="^conversations.replies stayed rate limited$"):
        gateway.thread(channel, parent)


def test_a_read_pauses_the_method_in_that_channel(scripted):
    gateway = scripted_gateway(scripted, {"conversations.replies": SLOW})
    scripted.script("conversations.replies", error("ratelimited", 429, **{"Retry-After": "1"}),
                    error("ratelimited", 429), Reply(body={"ok": True, "messages": []}))
    reading = threading.Thread(target=gateway.thread, args=("C1", "1.1"), daemon=True)
    reading.start()
    assert _eventually(lambda: len(scripted.calls("conversations.replies")) >= 1)
    assert not gateway.budget.try_take("conversations.replies"), "paused after the 429"
    reading.join(0.1)


def _eventually(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_other_read_errors_are_raised_and_linked_messages_that_cannot_be_read_are_none(scripted):
    scripted.script("conversations.replies", error("internal_error"))
    with pytest.raises(Exception, match="internal_error"):
        scripted_gateway(scripted).thread("C1", "1.1")
    scripted.script("conversations.replies", error("not_in_channel"))
    assert scripted_gateway(scripted).message_with_thread("C1", "1.1") is None


def test_a_linked_message_with_its_thread(slack, gateway, channel):
    parent, replies = _thread_of(slack, channel, 1)
    assert [m.ts for m in gateway.message_with_thread(channel, parent)] == [parent, *replies]
    assert gateway.message_with_thread(channel, "1.000001") is None


# --- people, channels, files -----------------------------------------------------------

def test_emails_only_when_slack_shows_one(slack, gateway, scripted):
    slack.set_user("UMAIL", "ada@example.com")
    assert gateway.email_of("UMAIL") == "ada@example.com"
    assert gateway.email_of("UNOMAIL") is None
    slack.set_user("UODD", "not-an-email")
    assert gateway.email_of("UODD") is None
    scripted.script("users.info", error("user_not_found"), Reply(body={"ok": True, "user": None}))
    assert scripted_gateway(scripted).email_of("U1") is None
    assert scripted_gateway(scripted).email_of("U1") is None


def test_membership_across_pages(slack, gateway, scripted):
    slack.set_channel("CMEMBERS", members=[f"U{n}" for n in range(1500)])
    assert gateway.is_member("CMEMBERS", "U1499") is True
    assert gateway.is_member("CMEMBERS", "U0") is True
    assert gateway.is_member("CMEMBERS", "UNOBODY") is False
    assert [c.params.get("limit") for c in slack.calls_of("conversations.members")][-2:] == ["1000", "1000"]
    assert gateway.is_member("CUNKNOWN", "U1") is False
    endless = {"ok": True, "members": ["U0"], "response_metadata": {"next_cursor": "next"}}
    scripted.script("conversations.members", *[Reply(body=endless)] * 25)
    assert scripted_gateway(scripted).is_member("C1", "U1") is False
    assert len(scripted.calls("conversations.members")) == 20, "at most 20 pages"


def test_channel_info_is_remembered_for_when_the_budget_has_no_room(slack, channel):
    slack.add_message(channel, "U1", "hello")
    gateway = gateway_for(slack, {"conversations.info": SLOW})
    first = gateway.conversation(channel)
    assert first["id"] == channel
    asked = len(slack.calls_of("conversations.info"))
    again = threading.Thread(target=lambda: results.append(gateway.conversation(channel)), daemon=True)
    results: list = []
    again.start()
    again.join(5)
    assert results == [first], "the remembered answer, at once"
    assert len(slack.calls_of("conversations.info")) == asked
    roomy = gateway_for(slack, {"conversations.info": Limit(600, 5)})
    roomy.conversation(channel)
    roomy.conversation(channel)
    assert len(slack.calls_of("conversations.info")) == asked + 2, "fresh while the budget has room"


def test_a_first_channel_info_read_queues_behind_a_final_text(slack, channel):
    slack.add_message(channel, "U1", "hello")
    gateway = gateway_for(slack, {"conversations.info": Limit(120, 2)})  # one token, then one per 0.56 s
    assert gateway.budget.try_take("conversations.info")
    done: list[str] = []
    final = threading.Thread(target=lambda: (gateway.budget.acquire("conversations.info", 1), done.append("final")))
    info = threading.Thread(target=lambda: (gateway.conversation(channel), done.append("info")))
    final.start()
    info.start()
    final.join(5)
    info.join(5)
    assert done == ["final", "info"]


def test_channel_info_not_available(gateway, scripted):
    assert gateway.conversation("CNOWHERE") is None
    limited = scripted_gateway(scripted, {"conversations.info": Limit(600, 5)})
    scripted.script("conversations.info", error("ratelimited", 429, **{"Retry-After": "30"}))
    assert limited.conversation("C1") is None
    assert not limited.budget.try_take("conversations.info"), "paused for Retry-After"


def test_file_info(slack, gateway):
    shared = slack.add_file("notes.txt", b"hello")
    info = gateway.file_info(shared["id"])
    assert (info.id, info.name, info.url, info.size) == (shared["id"], "notes.txt", shared["url_private_download"], 5)
    assert gateway.file_info("FNOPE") is None


def test_file_info_without_a_file(scripted):
    scripted.script("files.info", Reply(body={"ok": True, "file": None}))
    assert scripted_gateway(scripted).file_info("F1") is None


# --- native streams ----------------------------------------------------------------------

def test_a_stream_in_a_dm_names_no_recipient_and_one_in_a_channel_does(slack, gateway, channel):
    question = slack.add_message(channel, "U1", "q")
    started = gateway.start_stream(channel, question, "Hello", "U1", "T1", 0, 0.0)
    assert started.status is WriteStatus.OK and slack.is_streaming(channel, started.ts)
    assert slack.calls_of("chat.startStream")[-1].params == {"channel": channel, "thread_ts": question,
                                                              "markdown_text": "Hello"}
    room = shared_channel(slack, "U1")
    question = slack.add_message(room, "U1", "q")
    assert gateway.start_stream(room, question, "Hi", "U1", "T1", 0, 0.0).status is WriteStatus.OK
    params = slack.calls_of("chat.startStream")[-1].params
    assert (params["recipient_user_id"], params["recipient_team_id"]) == ("U1", "T1")


def test_a_stream_is_appended_to_and_stopped(slack, gateway, channel):
    question = slack.add_message(channel, "U1", "q")
    ts = gateway.start_stream(channel, question, "Hello", "U1", "T1", 0, 0.0).ts
    assert gateway.append_stream(channel, ts, ", world", 0, 0.0).status is WriteStatus.OK
    assert slack.get(channel, ts)["text"] == "Hello, world"
    stopped = gateway.stop_stream(channel, ts, "!", _meta(status="done"))
    assert stopped.status is WriteStatus.OK and stopped.metadata.payload["status"] == "done"
    assert slack.get(channel, ts)["text"] == "Hello, world!"
    assert gateway.append_stream(channel, ts, "more", 0, 0.0) == WriteOutcome(
        WriteStatus.NOT_STREAMING, error="message_not_in_streaming_state")


def test_stopping_a_stream_sends_only_what_is_given(scripted):
    gateway = scripted_gateway(scripted)
    gateway.stop_stream("C1", "1.1", None, None)
    gateway.stop_stream("C1", "1.1", "", None)
    gateway.stop_stream("C1", "1.1", "end", _meta())
    assert scripted.calls("chat.stopStream") == [
        {"channel": "C1", "ts": "1.1"}, {"channel": "C1", "ts": "1.1"},
        {"channel": "C1", "ts": "1.1", "markdown_text": "end", "metadata": _meta()}]


def test_a_stream_stopped_in_slack(slack, gateway, channel):
    question = slack.add_message(channel, "U1", "q")
    ts = gateway.start_stream(channel, question, "Hello", "U1", "T1", 0, 0.0).ts
    slack.stop_stream_by_user(channel, ts)
    assert gateway.append_stream(channel, ts, "more", 0, 0.0) == WriteOutcome(
        WriteStatus.STOPPED_BY_USER, error="stopped_by_user")


@pytest.mark.parametrize("code", ["unknown_method", "not_allowed_token_type", "missing_scope",
                                  "feature_not_enabled"])
def test_streaming_that_this_workspace_cannot_use_is_unavailable(scripted, code):
    scripted.script("chat.startStream", error(code, 404 if code == "unknown_method" else 200))
    assert scripted_gateway(scripted).start_stream("D1", "1.0", "Hi", "U1", None, 0, 0.0) == WriteOutcome(
        WriteStatus.UNAVAILABLE, error=code)


def test_other_stream_failures_stay_failures(scripted):
    scripted.script("chat.appendStream", error("msg_too_long"))
    assert scripted_gateway(scripted).append_stream("D1", "1.1", "x", 0, 0.0) == WriteOutcome(
        WriteStatus.FAILED, error="msg_too_long")


def test_stream_writes_wait_for_the_budget_only_when_final(scripted):
    limits = {"chat.startStream": SLOW, "chat.appendStream": SLOW, "chat.stopStream": SLOW}
    gateway = SlackGateway("xoxb-test", scripted.api_url, budget=WriteBudget(limits, clock=Clock()))
    key = gateway.budget.stream_started()
    assert gateway.start_stream("D1", "1.0", "Hi", "U1", None, key, 0.0).status is WriteStatus.OK
    assert gateway.start_stream("D1", "1.0", "Hi", "U1", None, key, 0.0).status is WriteStatus.DEFERRED
    assert gateway.append_stream("D1", "1.1", "x", key, 0.0).status is WriteStatus.OK
    assert gateway.append_stream("D1", "1.1", "x", key, 0.0).status is WriteStatus.DEFERRED
    assert len(scripted.calls("chat.startStream")) == len(scripted.calls("chat.appendStream")) == 1
    assert gateway.stop_stream("D1", "1.1", None, None).status is WriteStatus.OK
    assert not gateway.budget.try_take("chat.stopStream"), "the stop spent its token"
