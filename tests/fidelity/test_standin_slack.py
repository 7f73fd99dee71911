"""Tests for the FakeSlack stand-in, driven through the real slack_sdk.WebClient."""

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

try:
    from standins.slack_api import FakeSlack
except ModuleNotFoundError:  # plain `pytest` without the repo root on sys.path
    from standins.slack_api import FakeSlack

# Some tests post without `text` on purpose; slack_sdk warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")

C = "C123"
META = {"event_type": "threadwise_answer", "event_payload": {"request_id": "r1", "n": 2}}


from slack_standin_fixtures import api_error, client, fake  # noqa: F401  (fixtures)


def all_pages(response):
    # SlackResponse iteration reuses one object; keep each page's data.
    return [page.data for page in response]


def raw_request(fake, method, *, query=None, form=None, headers=None):
    """Plain urllib request, for what slack_sdk never sends (GET, no token)."""
    url = fake.base_url + method + ("?" + urlencode(query) if query else "")
    data = urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, headers=headers or {},
                                 method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


# ------------------------------------------------------------------ transport

def test_transport_used_by_slack_sdk(fake, client):
    ts = client.chat_postMessage(channel=C, text="hi")["ts"]
    client.conversations_replies(channel=C, ts=ts)
    client.conversations_history(channel=C)
    client.chat_delete(channel=C, ts=ts)
    kinds = {c.method: (c.http_method, c.content_type) for c in fake.calls}
    assert kinds["chat.postMessage"] == ("POST", "application/json")
    # The urllib WebClient ignores http_verb="GET": replies/history go out as POST forms.
    assert kinds["conversations.replies"] == ("POST", "application/x-www-form-urlencoded")
    assert kinds["conversations.history"] == ("POST", "application/x-www-form-urlencoded")
    assert kinds["chat.delete"] == ("POST", "application/x-www-form-urlencoded")
    assert "token" not in fake.calls[0].params


def test_get_with_query_params_and_form_token(fake, client):
    ts = client.chat_postMessage(channel=C, text="hi")["ts"]
    status, body = raw_request(fake, "conversations.replies", query={"channel": C, "ts": ts},
                               headers={"Authorization": "Bearer xoxb-test"})
    assert status == 200 and body["messages"][0]["ts"] == ts
    assert fake.calls[-1].http_method == "GET"
    status, body = raw_request(fake, "auth.test", form={"token": "xoxb-test"})
    assert status == 200 and body["ok"] is True


def test_form_encoded_post_message_decodes_json_fields(fake, client):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    resp = client.api_call("chat.postMessage", data={
        "channel": C, "blocks": json.dumps(blocks), "metadata": json.dumps(META)})
    msg = fake.get(C, resp["ts"])
    assert msg["blocks"] == blocks and msg["metadata"] == META
    assert msg["text"] == "*hi*"  # fallback text built from the blocks
    assert fake.calls[-1].params["blocks"] == blocks


# ------------------------------------------------------------------ auth

def test_auth_test(client):
    r = client.auth_test()
    assert (r["user_id"], r["bot_id"], r["team_id"]) == ("UBOT", "BBOT", "T1")
    assert r["user"] and r["team"] and r["url"]


def test_invalid_auth_and_not_authed(fake):
    bad = WebClient(token="xoxb-wrong", base_url=fake.base_url)
    assert api_error(bad.auth_test)["error"] == "invalid_auth"
    status, body = raw_request(fake, "auth.test", form={})
    assert (status, body) == (200, {"ok": False, "error": "not_authed"})


def test_unknown_method_is_404(client):
    resp = api_error(client.api_call, "nope.nothing")
    assert resp.status_code == 404 and resp["error"] == "unknown_method"


# ------------------------------------------------------------------ chat.postMessage

def test_post_message_shape_and_threading(fake, client):
    parent = client.chat_postMessage(channel=C, text="q", metadata=META)
    assert parent["channel"] == C and parent["message"]["metadata"] == META
    m = parent["message"]
    assert (m["type"], m["user"], m["bot_id"], m["app_id"]) == ("message", "UBOT", "BBOT", "AAPP")
    assert m["bot_profile"]["app_id"] == "AAPP" and "thread_ts" not in m
    reply = client.chat_postMessage(channel=C, text="a", thread_ts=parent["ts"])
    assert reply["message"]["thread_ts"] == parent["ts"]
    assert reply["message"]["parent_user_id"] == "UBOT"
    p = fake.get(C, parent["ts"])
    assert p["thread_ts"] == parent["ts"] and p["reply_count"] == 1
    assert float(reply["ts"]) > float(parent["ts"])
    assert parent["ts"].startswith("1700000000.") and len(parent["ts"].split(".")[1]) == 6


def test_post_message_errors(fake, client):
    assert api_error(client.chat_postMessage, channel=C)["error"] == "no_text"
    assert api_error(client.chat_postMessage, channel=C, text="x" * 4001)["error"] == "msg_too_long"
    client.chat_postMessage(channel=C, text="x" * 4000)
    fake.max_text = 10
    assert api_error(client.chat_postMessage, channel=C, text="x" * 11)["error"] == "msg_too_long"
    fake.max_text = 4000
    divider = {"type": "divider"}
    assert api_error(client.chat_postMessage, channel=C, text="t",
                     blocks=[divider] * 51)["error"] == "invalid_blocks"
    long_section = {"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}
    resp = api_error(client.chat_postMessage, channel=C, text="t", blocks=[long_section])
    assert resp["error"] == "invalid_blocks" and resp["errors"]
    md = {"type": "markdown", "text": "z" * 6001}
    assert api_error(client.chat_postMessage, channel=C, text="t",
                     blocks=[md, md])["error"] == "invalid_blocks"
    client.chat_postMessage(channel=C, text="t", blocks=[{"type": "markdown", "text": "z" * 12000}])
    assert api_error(client.chat_postMessage, channel=C, text="t",
                     markdown_text="**b**")["error"] == "invalid_arguments"
    big = {"event_type": "big", "event_payload": {"s": "x" * 4000}}
    assert api_error(client.chat_postMessage, channel=C, text="t",
                     metadata=big)["error"] == "metadata_too_large"
    assert len(fake.messages(C)) == 2  # failed calls stored nothing


def test_markdown_text_alone(fake, client):
    r = client.chat_postMessage(channel=C, markdown_text="**bold**")
    assert r["message"]["text"] == "**bold**"
    assert r["message"]["blocks"][0]["type"] == "markdown"


# ------------------------------------------------------------------ chat.update / chat.delete

def test_update_keeps_metadata_and_returns_it(fake, client):
    ts = client.chat_postMessage(channel=C, text="draft", metadata=META,
                                 blocks=[{"type": "divider"}])["ts"]
    r = client.chat_update(channel=C, ts=ts, text="final")
    assert (r["channel"], r["ts"], r["text"]) == (C, ts, "final")
    assert r["message"]["metadata"] == META and r["message"]["edited"]["user"] == "UBOT"
    assert r["message"]["blocks"] == [{"type": "divider"}]  # omitted blocks are kept too
    new_meta = {"event_type": "threadwise_answer", "event_payload": {"done": True}}
    r = client.chat_update(channel=C, ts=ts, text="final2", metadata=new_meta)
    assert r["message"]["metadata"] == new_meta
    assert fake.get(C, ts)["metadata"] == new_meta


def test_update_errors(fake, client):
    ts = client.chat_postMessage(channel=C, text="mine")["ts"]
    assert api_error(client.chat_update, channel=C, ts=ts, text="x" * 4001)["error"] == "msg_too_long"
    assert api_error(client.chat_update, channel=C, ts="1.000001", text="x")["error"] == "message_not_found"
    human = fake.add_message(C, "UHUMAN", "hello")
    other_bot = fake.add_message(C, "UOTHER", "beep", bot_id="BOTHER", app_id="AOTHER")
    for theirs in (human, other_bot):
        assert api_error(client.chat_update, channel=C, ts=theirs, text="x")["error"] == "cant_update_message"
        assert api_error(client.chat_delete, channel=C, ts=theirs)["error"] == "cant_delete_message"
    assert fake.get(C, human)["text"] == "hello"


def test_delete_then_message_not_found(fake, client):
    ts = client.chat_postMessage(channel=C, text="bye")["ts"]
    assert client.chat_delete(channel=C, ts=ts)["ts"] == ts
    assert fake.get(C, ts) is None
    assert api_error(client.chat_update, channel=C, ts=ts, text="x")["error"] == "message_not_found"
    assert api_error(client.chat_delete, channel=C, ts=ts)["error"] == "message_not_found"
    # A user deleting the bot's message has the same effect.
    ts2 = client.chat_postMessage(channel=C, text="again")["ts"]
    assert fake.delete(C, ts2) is True
    assert api_error(client.chat_update, channel=C, ts=ts2, text="x")["error"] == "message_not_found"


def test_delete_in_threads(fake, client):
    parent = fake.add_message(C, "UHUMAN", "question")
    r1 = client.chat_postMessage(channel=C, text="a1", thread_ts=parent)["ts"]
    client.chat_delete(channel=C, ts=r1)
    assert "reply_count" not in fake.get(C, parent)
    bot_parent = client.chat_postMessage(channel=C, text="p")["ts"]
    fake.add_message(C, "UHUMAN", "reply", thread_ts=bot_parent)
    client.chat_delete(channel=C, ts=bot_parent)
    thread = client.conversations_replies(channel=C, ts=bot_parent)["messages"]
    assert thread[0]["subtype"] == "tombstone" and thread[1]["text"] == "reply"


# ------------------------------------------------------------------ chat.postEphemeral

def test_post_ephemeral(fake, client):
    fake.invite(C, "UHUMAN")
    r = client.chat_postEphemeral(channel=C, user="UHUMAN", text="only you")
    assert r["message_ts"]
    assert fake.ephemerals == [{"channel": C, "user": "UHUMAN", "text": "only you", "blocks": None,
                                "thread_ts": None, "message_ts": r["message_ts"]}]
    assert fake.messages(C) == []
    assert api_error(client.chat_postEphemeral, channel=C, user="UHUMAN", text="")["error"] == "no_text"


# ------------------------------------------------------------------ conversations.*

def test_replies_metadata_only_on_request(fake, client):
    parent = fake.add_message(C, "UHUMAN", "q")
    ts = client.chat_postMessage(channel=C, text="a", thread_ts=parent, metadata=META)["ts"]
    hidden = client.conversations_replies(channel=C, ts=parent)["messages"]
    assert [m["ts"] for m in hidden] == [parent, ts] and "metadata" not in hidden[1]
    shown = client.conversations_replies(channel=C, ts=parent, include_all_metadata=True)["messages"]
    assert shown[1]["metadata"] == META
    assert fake.thread(C, parent)[1]["metadata"] == META  # test helper always shows it
    by_reply = client.conversations_replies(channel=C, ts=ts)["messages"]
    assert [m["ts"] for m in by_reply] == [parent, ts]
    alone = fake.add_message(C, "UHUMAN", "no replies")
    assert [m["ts"] for m in client.conversations_replies(channel=C, ts=alone)["messages"]] == [alone]
    assert api_error(client.conversations_replies, channel=C, ts="1.000001")["error"] == "thread_not_found"


def test_replies_pagination(fake, client):
    parent = fake.add_message(C, "UHUMAN", "start")
    for i in range(24):
        fake.add_message(C, "UHUMAN", f"r{i}", thread_ts=parent)
    pages = all_pages(client.conversations_replies(channel=C, ts=parent, limit=10))
    assert [len(p["messages"]) for p in pages] == [10, 10, 5]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert pages[0]["messages"][0]["ts"] == parent
    all_ts = [m["ts"] for p in pages for m in p["messages"]]
    assert all_ts == [m["ts"] for m in fake.thread(C, parent)] and len(set(all_ts)) == 25
    assert pages[-1]["response_metadata"]["next_cursor"] == ""
    assert api_error(client.conversations_replies, channel=C, ts=parent,
                     cursor="bogus")["error"] == "invalid_cursor"
    fake.replies_parent_on_every_page = True
    pages = all_pages(client.conversations_replies(channel=C, ts=parent, limit=10))
    assert all(p["messages"][0]["ts"] == parent for p in pages)
    assert len({m["ts"] for p in pages for m in p["messages"]}) == 25


def test_history(fake, client):
    first = client.chat_postMessage(channel=C, text="one", metadata=META)["ts"]
    fake.add_message(C, "UHUMAN", "reply", thread_ts=first)
    second = fake.add_message(C, "UHUMAN", "two")
    third = client.chat_postMessage(channel=C, text="three")["ts"]
    msgs = client.conversations_history(channel=C)["messages"]
    assert [m["ts"] for m in msgs] == [third, second, first]
    assert "metadata" not in msgs[2]
    msgs = client.conversations_history(channel=C, include_all_metadata=True)["messages"]
    assert msgs[2]["metadata"] == META
    msgs = client.conversations_history(channel=C, oldest=first, latest=third)["messages"]
    assert [m["ts"] for m in msgs] == [second]
    msgs = client.conversations_history(channel=C, oldest=first, latest=third, inclusive=True)["messages"]
    assert [m["ts"] for m in msgs] == [third, second, first]
    pages = all_pages(client.conversations_history(channel=C, limit=2))
    assert [[m["ts"] for m in p["messages"]] for p in pages] == [[third, second], [first]]
    fake.add_channel("CEMPTY", members=["UBOT"])
    assert client.conversations_history(channel="CEMPTY")["messages"] == []


# ------------------------------------------------------------------ views.open

def test_views_open(fake, client):
    view = {"type": "modal", "callback_id": "ask", "title": {"type": "plain_text", "text": "Ask"},
            "blocks": []}
    trigger = fake.new_trigger_id()
    r = client.views_open(trigger_id=trigger, view=view)
    assert r["view"]["id"].startswith("V") and r["view"]["callback_id"] == "ask"
    assert fake.views[0]["trigger_id"] == trigger and fake.views[0]["view"]["id"] == r["view"]["id"]
    assert api_error(client.api_call, "views.open", json={"view": view})["error"] == "invalid_arguments"
    assert len(fake.views) == 1


# ------------------------------------------------------------------ rate limiting

def test_rate_limit_next_without_retry_handler(fake, client):
    """Each forced 429 holds for its Retry-After, as Slack's do: a call inside the window is refused
    too (with what is left of it); after the window the next forced 429, then the call lands."""
    fake.rate_limit_next("chat.postMessage", count=2, retry_after=1)
    statuses = []
    for _ in range(2):  # the first forced 429, then one inside its window
        resp = api_error(client.chat_postMessage, channel=C, text="hi")
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
        assert resp["error"] == "ratelimited"
    client.auth_test()  # other methods are unaffected
    time.sleep(1.0)  # waiting out Retry-After is the subject here
    assert api_error(client.chat_postMessage, channel=C, text="hi").status_code == 429  # the second forced one
    time.sleep(1.0)
    assert client.chat_postMessage(channel=C, text="hi")["ok"]
    assert fake.messages(C)[0]["text"] == "hi" and fake.ratelimited_count == 3
    assert [c.status for c in fake.calls_of("chat.postMessage")] == [429, 429, 429, 200]
    assert [c.retry_after for c in fake.calls_of("chat.postMessage")] == [1, 1, 1, None]


def test_rate_limit_with_retry_handler(fake):
    client = WebClient(token="xoxb-test", base_url=fake.base_url,
                       retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    fake.rate_limit_next("chat.update", retry_after=0)
    ts = client.chat_postMessage(channel=C, text="v1")["ts"]
    assert client.chat_update(channel=C, ts=ts, text="v2")["message"]["text"] == "v2"
    assert [c.status for c in fake.calls_of("chat.update")] == [429, 200]


def test_enforce_tiers_token_bucket(fake, client):
    fake.enforce_tiers(per_minute={"chat.update": 6}, burst=1)
    ts = client.chat_postMessage(channel=C, text="v")["ts"]
    client.chat_update(channel=C, ts=ts, text="v1")
    resp = api_error(client.chat_update, channel=C, ts=ts, text="v2")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "10"  # 6/min = one per 10 s
    assert fake.get(C, ts)["text"] == "v1"
    fake.enforce_tiers(per_minute={"chat.update": 600}, burst=1)  # one per 0.1 s
    client.chat_update(channel=C, ts=ts, text="v3")
    assert api_error(client.chat_update, channel=C, ts=ts, text="v4").headers["Retry-After"] == "1"
    time.sleep(0.15)
    client.chat_update(channel=C, ts=ts, text="v5")
    fake.enforce_tiers(None)
    for i in range(5):
        client.chat_update(channel=C, ts=ts, text=f"w{i}")
    assert fake.ratelimited_count == 2


# ------------------------------------------------------------------ helpers

def test_latency_wait_for_and_concurrency(fake, client):
    fake.set_latency("auth.test", 0.3)
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.3
    threads = [threading.Thread(target=client.chat_postMessage, kwargs={"channel": C, "text": str(i)})
               for i in range(20)]
    for t in threads:
        t.start()
    fake.wait_for(lambda f: len(f.calls_of("chat.postMessage")) == 20, timeout=5)
    assert fake.wait_for(lambda: fake.messages(C))[0]["text"]  # zero-arg form returns the value
    for t in threads:
        t.join()
    assert len({m["ts"] for m in fake.messages(C)}) == 20
    with pytest.raises(AssertionError, match="timed out"):
        fake.wait_for(lambda f: False, timeout=0.05)


def test_helpers_return_copies(fake):
    ts = fake.add_message(C, "UHUMAN", "original")
    fake.get(C, ts)["text"] = "mutated"
    fake.messages(C)[0]["text"] = "mutated"
    assert fake.get(C, ts)["text"] == "original"
    assert fake.thread(C, "9.000000") == []


def test_stop_closes_socket():
    fake = FakeSlack().start()
    port = int(fake.base_url.split(":")[2].split("/")[0])
    fake.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
