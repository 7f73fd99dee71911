"""Slack writes in-process: the real SlackGateway (real slack_sdk WebClient) against FakeSlack, and
against ScriptedSlack for the answers FakeSlack does not give on demand (5xx, odd 429s, drops).
What each write sends, what each answer becomes, and how writes spend and respect the budget."""
from __future__ import annotations

import json
import threading
import time

import pytest

from flows import ASKER  # the person of the conftest channel: a DM between them and the bot
from threadwise.slack.events import SlackFile
from inprocess import BOT_TOKEN, gateway, gateway_for  # noqa: F401  (gateway: a fixture)
from threadwise.slack.reply_format import ReplyTag, reply_metadata
from scripted_slack import Reply, ScriptedSlack, error
from threadwise.config.slack_limits import Limit
from threadwise.slack.rate_budget import WriteBudget
from slack_client import SlackGateway
from threadwise.slack.messages import SlackMessage, StillRateLimited, WriteOutcome, WriteStatus

pytestmark = pytest.mark.in_process

SLOW = Limit(6, 2)  # one token, and none back within a test (6 a minute)


class Clock:
    """The write budget's clock, moved by the test."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def scripted():
    with ScriptedSlack() as server:
        yield server


def scripted_gateway(server: ScriptedSlack, limits=None, **options) -> SlackGateway:
    return SlackGateway(BOT_TOKEN, server.api_url, budget=WriteBudget({} if limits is None else limits), **options)


def _meta(asker="U1", status="streaming") -> dict:
    return reply_metadata(ReplyTag(asker, "1.0"), status)


# --- values -----------------------------------------------------------------------

def test_a_message_from_the_api():
    raw = {"ts": "1.2", "user": "U1", "bot_id": "B1", "text": "hi", "thread_ts": "1.0", "subtype": "bot_message",
           "metadata": _meta(), "files": [{"id": "F1", "name": "a.txt", "mimetype": "text/plain",
                                           "filetype": "text", "size": 3, "url_private": "https://files.slack.com/a"}]}
    message = SlackMessage.from_api(raw)
    assert (message.ts, message.user, message.bot_id, message.text, message.thread_ts, message.subtype) == \
        ("1.2", "U1", "B1", "hi", "1.0", "bot_message")
    assert message.metadata.event_type == "assistant_reply" and message.metadata.asker == "U1"
    assert message.files == (SlackFile("F1", "a.txt", "text/plain", "text", 3, "https://files.slack.com/a"),)
    bare = SlackMessage.from_api({"text": None})
    assert bare == SlackMessage(ts="", user=None, bot_id=None, text="", thread_ts=None, metadata=None)


def test_which_outcomes_landed():
    assert {s for s in WriteStatus if WriteOutcome(s).landed} == {WriteStatus.OK, WriteStatus.ABORTED}


def test_write_statuses_keep_their_words():
    # Logs have always shown these words (``status=rate_limited``): the enum reads the same in every spelling.
    assert [s.value for s in WriteStatus] == ["ok", "aborted", "deleted", "rate_limited", "failed", "deferred",
                                              "unavailable", "not_streaming", "stopped_by_user"]
    limited = WriteStatus.RATE_LIMITED
    assert (str(limited), f"{limited}", json.dumps(limited), limited) == ('rate_limited', 'rate_limited',
                                                                          '"rate_limited"', "rate_limited")


# --- who we are ---------------------------------------------------------------------

def test_identity_is_asked_once_and_the_configured_app_id_wins(scripted):
    me_in_slack = Reply(body={"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "app_id": "AAPP"})
    scripted.script("auth.test", me_in_slack, me_in_slack)
    fresh = scripted_gateway(scripted)
    assert fresh.known_identity() is None
    me = fresh.identity()
    assert (me.user_id, me.bot_id, me.app_id) == ("UBOT", "BBOT", "AAPP")
    assert fresh.identity() is me and fresh.known_identity() is me
    assert len(scripted.calls("auth.test")) == 1
    named = scripted_gateway(scripted, app_id="AMINE")
    assert named.identity().app_id == "AMINE"


def test_own_messages_by_user_or_by_bot_id(gateway):
    def own(user, bot_id):
        return gateway.is_own(SlackMessage("1.1", user, bot_id, "", None, None))

    assert own("UBOT", None) and own(None, "BBOT") and own("U2", "BBOT")
    assert not own("U2", None) and not own("U2", "BOTHER") and not own(None, None)


def test_a_bot_without_a_bot_id_owns_no_message_by_bot_id(scripted):
    scripted.script("auth.test", Reply(body={"ok": True, "user_id": "UBOT"}))
    gateway = scripted_gateway(scripted)
    assert not gateway.is_own(SlackMessage("1.1", "U2", None, "", None, None))
    assert gateway.is_own(SlackMessage("1.1", "UBOT", None, "", None, None))


# --- writing -------------------------------------------------------------------------

def test_post_sends_the_reply_without_unfurls(slack, gateway, channel):
    # The question is a real message: a made-up thread ts could be the one the stand-in gives the reply itself.
    question = slack.add_message(channel, ASKER, "a question")
    outcome = gateway.post(channel, question, "text", [{"type": "markdown", "text": "text"}], _meta())
    assert outcome.status is WriteStatus.OK and outcome.ts and outcome.metadata.event_type == "assistant_reply"
    [call] = [c for c in slack.calls_of("chat.postMessage") if c.params.get("channel") == channel]
    assert call.params == {"channel": channel, "thread_ts": question, "text": "text",
                           "blocks": [{"type": "markdown", "text": "text"}], "metadata": _meta(),
                           "unfurl_links": False, "unfurl_media": False}


def test_update_keeps_the_metadata_unless_given(slack, gateway, channel):
    ts = gateway.post(channel, None, "first", [], _meta()).ts
    assert gateway.update(channel, ts, "second", []).status is WriteStatus.OK
    assert slack.get(channel, ts)["metadata"] == _meta()
    assert "metadata" not in slack.calls_of("chat.update")[-1].params
    stopped = {"event_type": "aborted", "event_payload": {"asker": "U1"}}
    outcome = gateway.update(channel, ts, "third", [], stopped)
    assert (outcome.status, outcome.ts) == (WriteStatus.ABORTED, ts), "an aborted flag in the answer is reported"
    assert slack.get(channel, ts)["text"] == "third"


def test_writes_take_a_token_of_their_method_and_channel(slack, channel):
    limits = {"chat.postMessage": Limit(6, 2, per_channel=True), "chat.update": SLOW, "chat.delete": SLOW}
    gateway = gateway_for(slack, limits)
    ts = gateway.post(channel, None, "text", [], _meta()).ts
    assert not gateway.budget.try_take("chat.postMessage", channel)
    assert gateway.budget.try_take("chat.postMessage", channel + "X"), "another channel has its own bucket"
    gateway.update(channel, ts, "text 2", [])
    assert not gateway.budget.try_take("chat.update")
    assert gateway.delete(channel, ts) is True
    assert not gateway.budget.try_take("chat.delete")


def test_a_429_pauses_the_method_in_that_channel_for_retry_after(scripted):
    gateway = scripted_gateway(scripted, {"chat.postMessage": Limit(600, 5, per_channel=True)})
    scripted.script("chat.postMessage", error("ratelimited", 429, **{"Retry-After": "30"}))
    outcome = gateway.post("C1", None, "text", [], _meta())
    assert (outcome.status, outcome.retry_after) == (WriteStatus.RATE_LIMITED, 30.0)
    assert not gateway.budget.try_take("chat.postMessage", "C1")
    assert gateway.budget.try_take("chat.postMessage", "C2")


@pytest.mark.parametrize("headers, seconds", [({"Retry-After": "7"}, 7.0), ({"retry-after": "4"}, 4.0),
                                              ({}, 1.0), ({"Retry-After": ""}, 1.0), ({"Retry-After": "2.5"}, 2.5)])
def test_retry_after_is_read_from_the_429(scripted, headers, seconds):
    scripted.script("chat.update", error("ratelimited", 429, **headers))
    outcome = scripted_gateway(scripted).update("C1", "1.1", "text", [])
    assert outcome == WriteOutcome(WriteStatus.RATE_LIMITED, retry_after=seconds)


@pytest.mark.parametrize("reply, outcome", [
    (error("message_not_found"), WriteOutcome(WriteStatus.DELETED, error="message_not_found")),
    (error("channel_not_found", 404), WriteOutcome(WriteStatus.DELETED, error="channel_not_found")),
    (error("thread_not_found"), WriteOutcome(WriteStatus.DELETED, error="thread_not_found")),
    (error("is_archived"), WriteOutcome(WriteStatus.DELETED, error="is_archived")),
    (error("internal_error", 500), WriteOutcome(WriteStatus.FAILED, error="transient")),
    (error("service_unavailable", 503), WriteOutcome(WriteStatus.FAILED, error="transient")),
    (error("invalid_blocks"), WriteOutcome(WriteStatus.FAILED, error="invalid_blocks")),
    (error("teapot", 499), WriteOutcome(WriteStatus.FAILED, error="teapot")),
    (Reply(400, {"ok": False}), WriteOutcome(WriteStatus.FAILED, error="http_400")),
], ids=lambda value: getattr(value, "status", None) or getattr(getattr(value, "body", None), "get", str)("error"))
def test_slack_errors_become_outcomes(scripted, reply, outcome):
    scripted.script("chat.update", reply)
    assert scripted_gateway(scripted).update("C1", "1.1", "text", []) == outcome


def test_network_trouble_is_retried_twice_by_the_sdk_then_is_transient(scripted):
    scripted.script("chat.update", *[Reply(drop=True)] * 5)
    assert scripted_gateway(scripted).update("C1", "1.1", "text", []) == WriteOutcome(WriteStatus.FAILED, error="transient")
    assert len(scripted.calls("chat.update")) == 3


def test_a_slow_slack_is_given_up_after_the_timeout(scripted):
    scripted.script("chat.update", Reply(delay=1.5))
    started = time.monotonic()
    outcome = scripted_gateway(scripted, timeout=1).update("C1", "1.1", "text", [])
    assert outcome == WriteOutcome(WriteStatus.FAILED, error="transient")
    assert time.monotonic() - started < 1.5


def test_writes_that_must_land_wait_out_rate_limits_and_transient_errors(scripted):
    gateway = scripted_gateway(scripted)
    scripted.script("chat.update", error("ratelimited", 429), error("internal_error", 500),
                    Reply(body={"ok": True, "ts": "1.1"}))
    blocks = [{"type": "markdown", "text": "text"}]
    assert gateway.update_until_landed("C1", "1.1", "text", blocks, _meta()) == WriteOutcome(WriteStatus.OK, ts="1.1")
    assert scripted.calls("chat.update") == [
        {"channel": "C1", "ts": "1.1", "text": "text", "blocks": blocks, "metadata": _meta()}] * 3
    scripted.script("chat.postMessage", error("ratelimited", 429), Reply(body={"ok": True, "ts": "2.2"}))
    assert gateway.post_until_landed("C1", "1.0", "text", blocks, _meta()).ts == "2.2"
    assert scripted.calls("chat.postMessage") == [
        {"channel": "C1", "thread_ts": "1.0", "text": "text", "blocks": blocks, "metadata": _meta(),
         "unfurl_links": False, "unfurl_media": False}] * 2
    scripted.script("chat.update", error("invalid_blocks"), Reply())
    assert gateway.update_until_landed("C1", "1.1", "text", []).error == "invalid_blocks", "not retried"


def test_only_transient_errors_add_a_pause_of_their_own(scripted):
    gateway = scripted_gateway(scripted)  # (no budget: nothing else makes a retry wait)
    scripted.script("chat.update", error("internal_error", 500))
    started = time.monotonic()
    assert gateway.update_until_landed("C1", "1.1", "text", []).status is WriteStatus.OK
    assert 1.0 <= time.monotonic() - started < 1.9, "one second between tries"
    scripted.script("chat.update", error("ratelimited", 429, **{"Retry-After": "1"}))
    started = time.monotonic()
    assert gateway.update_until_landed("C1", "1.1", "text", []).status is WriteStatus.OK
    # Even a method with no budget waits out Slack's Retry-After (the budget's pause), and only that.
    assert 1.0 <= time.monotonic() - started < 1.9, "Retry-After, not Retry-After plus a second sleep"


def test_a_rate_limited_write_that_must_land_waits_retry_after(scripted):
    gateway = scripted_gateway(scripted, {"chat.update": Limit(600, 5)})
    scripted.script("chat.update", error("ratelimited", 429, **{"Retry-After": "1"}))
    started = time.monotonic()
    assert gateway.update_until_landed("C1", "1.1", "text", []).status is WriteStatus.OK
    assert time.monotonic() - started >= 1.0


def test_landing_gives_up_at_the_deadline():
    outcomes = [WriteOutcome(WriteStatus.RATE_LIMITED, retry_after=1.0), WriteOutcome(WriteStatus.OK)]
    assert SlackGateway._until_landed(lambda: outcomes.pop(0), give_up_after=0).status is WriteStatus.RATE_LIMITED
    transient = [WriteOutcome(WriteStatus.FAILED, error="transient"), WriteOutcome(WriteStatus.OK)]
    assert SlackGateway._until_landed(lambda: transient.pop(0), give_up_after=0).error == "transient"


def test_interim_updates_go_only_when_the_budget_has_room(slack, channel):
    clock = Clock()
    gateway = SlackGateway(BOT_TOKEN, slack.base_url, budget=WriteBudget({"chat.update": SLOW}, clock=clock))
    ts = gateway_for(slack).post(channel, None, "text", [], _meta()).ts
    key = gateway.budget.stream_started()
    blocks = [{"type": "markdown", "text": "one …"}]
    assert gateway.update_interim(channel, ts, "one", blocks, key, clock.now).status is WriteStatus.OK
    assert (slack.get(channel, ts)["text"], slack.get(channel, ts)["blocks"]) == ("one", blocks)
    updates = len(slack.calls_of("chat.update"))
    deferred = gateway.update_interim(channel, ts, "two", [], key, clock.now)
    assert deferred.status is WriteStatus.DEFERRED and 0.05 <= deferred.retry_after <= 2.0
    assert len(slack.calls_of("chat.update")) == updates, "nothing sent"
    clock.now += 11.2  # one token back (0.09 a second)
    assert gateway.update_interim(channel, ts, "two", [], key, clock.now).status is WriteStatus.OK
    assert slack.get(channel, ts)["text"] == "two"
    assert gateway.budget.try_interim("chat.update", key, clock.now) > 0, "the interim write spent its token"


def test_delete_is_true_once_and_false_when_already_gone(slack, gateway, channel):
    ts = gateway.post(channel, None, "text", [], _meta()).ts
    assert gateway.delete(channel, ts) is True
    assert gateway.delete(channel, ts) is False
    human = slack.add_message(channel, "U1", "not the bot's")
    with pytest.raises(Exception, match="cant_delete_message"):
        gateway.delete(channel, human)


def test_a_delete_never_waits_for_the_budget(slack, channel):
    gateway = gateway_for(slack, {"chat.delete": SLOW})
    ts = gateway.post(channel, None, "text", [], _meta()).ts
    assert gateway.budget.try_take("chat.delete")  # the only token
    deleting = threading.Thread(target=gateway.delete, args=(channel, ts), daemon=True)
    deleting.start()
    deleting.join(5)
    assert not deleting.is_alive() and slack.get(channel, ts) is None


def test_a_delete_slack_refuses_past_its_bound_raises_still_rate_limited(scripted):
    gateway = scripted_gateway(scripted)
    scripted.script("chat.delete", error("ratelimited", 429, **{"Retry-After": "3"}))
    with pytest.raises(StillRateLimited, match=r"chat.delete rate limited \(Retry-After 3 s\)") as refused:
        gateway.delete("C1", "1.1", give_up_after=2.0)
    assert refused.value.retry_after == 3.0
    assert len(scripted.calls("chat.delete")) == 1, "not tried again past the bound"
    assert not gateway.budget.try_take("chat.delete"), "the method waits Retry-After for everyone"


def test_a_delete_refused_within_its_bound_waits_retry_after_and_lands(scripted):
    gateway = scripted_gateway(scripted)
    scripted.script("chat.delete", error("ratelimited", 429, **{"Retry-After": "1"}))
    started = time.monotonic()
    assert gateway.delete("C1", "1.1", give_up_after=2.0) is True
    assert time.monotonic() - started >= 1.0
    assert len(scripted.calls("chat.delete")) == 2


def test_the_thread_status_is_set_from_its_own_budget_and_never_waits(scripted):
    gateway = scripted_gateway(scripted, {"assistant.threads.setStatus": SLOW, "chat.update": SLOW})
    assert gateway.budget.try_take("chat.update")  # chat.update's budget spent: the status does not use it
    assert gateway.set_thread_status("C1", "1.0", "is thinking…") is True
    [call] = scripted.calls("assistant.threads.setStatus")
    assert (call["channel_id"], call["thread_ts"], call["status"]) == ("C1", "1.0", "is thinking…")
    assert gateway.set_thread_status("C1", "1.0", "") is False, "no token left: not shown, not waited for"
    assert len(scripted.calls("assistant.threads.setStatus")) == 1


@pytest.mark.parametrize("reply", [error("ratelimited", 429, **{"Retry-After": "30"}), error("channel_not_found"),
                                   error("missing_scope"), Reply(drop=True)],
                         ids=["429", "refused", "missing_scope", "network"])
def test_a_thread_status_slack_refuses_is_given_up(scripted, reply):
    gateway = scripted_gateway(scripted)
    scripted.script("assistant.threads.setStatus", *[reply] * 3)
    assert gateway.set_thread_status("C1", "1.0", "is thinking…") is False
    if reply.status == 429:
        assert gateway.set_thread_status("C1", "1.0", "is thinking…") is False
        assert len(scripted.calls("assistant.threads.setStatus")) == 1, "paused for Retry-After"


def test_ephemeral_messages_and_their_failures(slack, gateway, channel, scripted):
    gateway.post_ephemeral(channel, ASKER, "only you", thread_ts="1.0")
    assert slack.ephemerals[-1] == {"channel": channel, "user": ASKER, "text": "only you", "blocks": None,
                                    "thread_ts": "1.0", "message_ts": slack.ephemerals[-1]["message_ts"]}
    scripted.script("chat.postEphemeral", error("user_not_in_channel"))
    scripted_gateway(scripted).post_ephemeral("C1", "U1", "text")  # no exception: the notice is best effort


def test_notices_are_small_modals_and_best_effort(slack, gateway, scripted):
    views = len(slack.views)
    gateway.open_notice(None, "Stopped", "text")
    gateway.open_notice("", "Stopped", "text")
    assert len(slack.views) == views, "no trigger, no modal"
    trigger = slack.new_trigger_id()
    view_id = gateway.open_notice(trigger, "A title longer than twenty-four", "Done *now*.")
    view = slack.views[-1]
    assert view_id == view["view"]["id"]
    assert view["trigger_id"] == trigger
    assert {k: view["view"][k] for k in ("type", "title", "close", "blocks")} == {
        "type": "modal", "title": {"type": "plain_text", "text": "A title longer than twen"},
        "close": {"type": "plain_text", "text": "OK"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Done *now*."}}]}
    assert gateway.open_notice("expired", "Stopped", "text") is None  # an expired trigger loses only the modal
    # Work that outlasted the trigger's 3 s changes the modal it opened.
    assert gateway.update_notice(view_id, "CSV sent", "It is in your DM.")
    assert slack.views[-1]["view"]["title"]["text"] == "CSV sent"
    assert slack.views[-1]["view"]["blocks"][0]["text"]["text"] == "It is in your DM."
    assert not gateway.update_notice("V404", "CSV sent", "text") and not gateway.update_notice(None, "t", "text")


# --- interim writes share the budget fairly -------------------------------------------------

@pytest.mark.parametrize("method, write", [
    ("chat.update", lambda g, key, last: g.update_interim("D1", "1.1", "text", [], key, last)),
    ("chat.startStream", lambda g, key, last: g.start_stream("D1", "1.0", "text", "U1", None, key, last)),
    ("chat.appendStream", lambda g, key, last: g.append_stream("D1", "1.1", "text", key, last)),
], ids=["update", "startStream", "appendStream"])
def test_interim_writes_name_their_answer_to_the_budget(scripted, method, write):
    clock = Clock()
    gateway = SlackGateway(BOT_TOKEN, scripted.api_url, budget=WriteBudget({method: Limit(600, 2)}, clock=clock))
    a, b = gateway.budget.stream_started(), gateway.budget.stream_started()
    assert write(gateway, a, 0.0).status is WriteStatus.OK  # the only token
    deferred = write(gateway, a, 0.0)
    assert deferred.status is WriteStatus.DEFERRED and deferred.retry_after == pytest.approx(1 / 9, abs=0.01), \
        "deferred even when the wait is under a second"
    clock.now += 0.2  # a token is back
    assert write(gateway, b, 5.0).status is WriteStatus.DEFERRED, "a's text is older: it goes first"
    assert write(gateway, a, 0.0).status is WriteStatus.OK
    clock.now += 0.2
    gateway.budget.stream_ended(a)  # a finished: it no longer holds the others back
    assert write(gateway, b, 5.0).status is WriteStatus.OK
    c = gateway.budget.stream_started()  # a later answer whose text has waited longer than b's
    assert write(gateway, b, 10.0).status == write(gateway, c, 1.0).status is WriteStatus.DEFERRED
    clock.now += 0.2
    assert write(gateway, b, 10.0).status is WriteStatus.DEFERRED, "c's text is older, though c started later"
    assert write(gateway, c, 1.0).status is WriteStatus.OK
    assert len(scripted.calls(method)) == 4
