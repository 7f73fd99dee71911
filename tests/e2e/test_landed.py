"""Done means landed (issue 13, item 4), end to end in the production shape: signed event → slack_bot →
Pub/Sub emulator → push → slack_worker → stand-in Slack, claims in the Firestore emulator.

Slack refuses the final chat.update (429 + Retry-After) for longer than a worker may run
(JOB_DEADLINE_SECONDS): the final text goes on in a delivery job and lands once Slack takes it, with
one model request in all; the claim is answered only then. And a placeholder a crashed worker posted
but never recorded is removed by the redelivery."""
from __future__ import annotations

import base64
import json
import time

import pytest
from slack_sdk import WebClient

from threadwise.slack.events import Ask
from flows import ASKER, replies_to, wait_answer
from harness import BOT_TOKEN, message_event, new_event_id
from threadwise.handoff.job_wire import encode_job
from threadwise.slack.reply_format import PLACEHOLDER_TEXT, ReplyTag, reply_metadata, streaming_blocks
from standins.openai_api import Script
from threadwise.state.firestore import FirestoreStore
from test_pubsub_e2e import WORKER_TOKEN, Deployment, firestore, jobs_ended, pubsub  # noqa: F401  (fixtures)

DEADLINE = 3  # JOB_DEADLINE_SECONDS of these workers
ANSWER = "Landed after the refusals, written once."


@pytest.fixture
def deployment(tmp_path_factory, slack, openai_server, pubsub, firestore):
    # A deployment per test: each starts with a write budget Slack's refusals have not taught yet (after
    # a 429 a worker spends less for a while, and shows new answers by the thread status, not a placeholder).
    deployed = Deployment(tmp_path_factory.mktemp("landed"), slack, openai_server, pubsub, firestore,
                          JOB_DEADLINE_SECONDS=str(DEADLINE))
    yield deployed
    deployed.stop()


@pytest.fixture
def claims(deployment, firestore):
    store = FirestoreStore(collection=deployment.collection, client=firestore.client())
    yield store
    store.close()


def _status(message: dict) -> str:
    return message["metadata"]["event_payload"]["status"]


def _updates(slack, channel: str):
    return [c for c in slack.calls_of("chat.update") if c.params.get("channel") == channel]


def _watch_until_answered(slack, claims, channel, ts, event_id, timeout=60) -> list[tuple[str, str]]:
    """(claim status, reply status) as they change, until the claim is answered. The claim is read
    first: once it says answered, the reply read after it must show the final text."""
    seen: list[tuple[str, str]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        claim = claims.get(event_id)
        replies = replies_to(slack, channel, ts)
        sample = (claim.status if claim else "none", _status(replies[0]) if replies else "none")
        if not seen or seen[-1] != sample:
            seen.append(sample)
        if sample[0] == "answered":
            return seen
        time.sleep(0.05)
    raise AssertionError(f"never answered: {seen}")


def _outcomes_until_answered(worker, event_id: str, since: int) -> list[str]:
    worker.wait_for_log(60, since, 1, where=lambda e: e.get("outcome") == "answered", message="job ended",
                        event_id=event_id)
    return [e["outcome"] for e in worker.logged(since, message="job ended", event_id=event_id)]


def _ask_while_slack_refuses_updates(deployment, slack, openai_server, channel: str) -> tuple[str, str, int]:
    """The question's ts and event id, and the worker's log mark from before it was asked."""
    since = deployment.worker.log_mark()
    openai_server.reply = Script(text=ANSWER, chunk_chars=8, delta_delay=0.01)
    slack.rate_limit_next("chat.update", count=1000, retry_after=1)  # until the test says otherwise
    ts = slack.add_message(channel, ASKER, "answer me through the refusals")
    event = message_event(channel, ASKER, "answer me through the refusals", ts, event_id=new_event_id())
    assert deployment.bot.send_event(event).status == 200
    return ts, event["event_id"], since


def _refusals_end_and_the_final_lands(slack, claims, worker, channel, ts, event_id, since) -> list[str]:
    """Slack takes writes again (after the last Retry-After); until the claim is answered, it never is
    while the reply lacks its final text. The outcomes of the event's jobs, question first."""
    slack.rate_limit_next("chat.update", count=0)
    seen = _watch_until_answered(slack, claims, channel, ts, event_id)
    assert all(reply == "done" for claim, reply in seen if claim == "answered"), seen
    outcomes = _outcomes_until_answered(worker, event_id, since)
    assert outcomes[0] == "handed_off" and outcomes[-1] == "answered", outcomes
    return outcomes


@pytest.fixture
def refusals_end_with_the_test(slack):
    yield
    slack.rate_limit_next("chat.update", count=0)  # also when the test failed while Slack was refusing


@pytest.mark.slack_429
def test_a_final_slack_refuses_past_the_deadline_lands_later_from_a_delivery_job_paid_once(
        deployment, slack, openai_server, claims, refusals_end_with_the_test):
    channel, worker = "D-landed-final", deployment.worker
    ts, event_id, since = _ask_while_slack_refuses_updates(deployment, slack, openai_server, channel)
    worker.wait_for_log(30, since, message="final handed on", event_id=event_id)  # its deadline passed
    assert claims.get(event_id).status == "delivering", "not done while its final text is not in Slack"
    [waiting] = replies_to(slack, channel, ts)
    assert _status(waiting) == "streaming"
    outcomes = _refusals_end_and_the_final_lands(slack, claims, worker, channel, ts, event_id, since)
    # (handed_back: the delivery job's first worker ran out of time too; the load decides.)
    assert set(outcomes[1:-1]) <= {"handed_back"}, outcomes
    kinds = [e["kind"] for e in worker.logged(since, message="job received", event_id=event_id)]
    assert kinds == ["question"] + ["final"] * (len(outcomes) - 1)

    [reply] = wait_answer(slack, channel, ts, timeout=5)
    assert (reply["ts"], reply["text"], _status(reply)) == (waiting["ts"], ANSWER, "done")
    assert not [b for b in reply["blocks"] if b["type"] == "actions"], "no Stop button left"
    assert len(openai_server.requests) == 1, "the model was asked once"
    updates = _updates(slack, channel)
    [final] = [c for c in updates if c.status == 200
               and c.params.get("metadata", {}).get("event_payload", {}).get("status") == "done"]
    assert final.at > max(c.at for c in updates if c.status == 429), "it landed once the refusals ended"
    claim = claims.get(event_id)
    assert (claim.status, claim.reply_ts, claim.attempts) == ("answered", reply["ts"], 1)


@pytest.mark.slack_429
def test_a_delivery_job_slack_still_refuses_goes_back_to_pubsub_and_lands_on_its_redelivery(
        deployment, slack, openai_server, claims, refusals_end_with_the_test):
    channel, worker = "D-landed-back", deployment.worker
    ts, event_id, since = _ask_while_slack_refuses_updates(deployment, slack, openai_server, channel)
    worker.wait_for_log(30, since, where=lambda e: e.get("outcome") == "handed_back", message="job ended",
                        event_id=event_id)
    claim = claims.get(event_id)
    assert claim.status == "delivering" and claim.lease_until <= time.time(), "free for the redelivery"
    outcomes = _refusals_end_and_the_final_lands(slack, claims, worker, channel, ts, event_id, since)
    assert set(outcomes[1:-1]) == {"handed_back"}, outcomes
    [reply] = wait_answer(slack, channel, ts, timeout=5)
    assert (reply["text"], _status(reply)) == (ANSWER, "done")
    assert len(openai_server.requests) == 1, "the model was asked once"


def test_a_placeholder_orphaned_by_a_crash_is_removed_by_the_redelivery(deployment, slack, openai_server, claims,
                                                                       pubsub):
    channel = "D-landed-orphan"
    openai_server.reply = Script(text="Answered in a reply of its own.", delta_delay=0.01)
    ts = slack.add_message(channel, ASKER, "did the last worker crash?")
    event_id = new_event_id()
    # A worker took the job, posted its placeholder as the bot, and died before recording it in the claim.
    assert claims.acquire(event_id, "crashed-worker", 0.01, 3600).outcome == "acquired"
    orphan = WebClient(token=BOT_TOKEN, base_url=slack.base_url).chat_postMessage(
        channel=channel, thread_ts=ts, text=PLACEHOLDER_TEXT, blocks=streaming_blocks(""),
        metadata=reply_metadata(ReplyTag(asker=ASKER, question_ts=ts), "streaming"))["ts"]
    since = deployment.worker.log_mark()
    # Pub/Sub delivers the unacknowledged job again.
    job = encode_job(Ask(event_id=event_id, team_id="T1", channel=channel, channel_type="im", user=ASKER,
                         text="did the last worker crash?", ts=ts, thread_ts=ts))
    pubsub.publisher().publish(pubsub.topic_path(deployment.topic), job, event_id=event_id).result(timeout=10)

    parts = wait_answer(slack, channel, ts, timeout=30)
    assert jobs_ended(deployment.worker, event_id, 1, since) == ["answered"]
    assert [p["text"] for p in parts] == ["Answered in a reply of its own."]
    assert parts[0]["ts"] != orphan
    assert slack.get(channel, orphan) is None, "the orphan is gone"
    assert [m["ts"] for m in slack.messages(channel) if m.get("bot_id")] == [parts[0]["ts"]]
    claim = claims.get(event_id)
    assert (claim.status, claim.reply_ts, claim.attempts) == ("answered", parts[0]["ts"], 2)


def test_a_malformed_delivery_job_is_refused_and_writes_nothing(deployment, slack):
    before = len(slack.calls)
    for data in (b"{}", b'{"v":1,"kind":"final","event_id":"Ev1","handed_off_by":"w","writes":[{}]}'):
        push = json.dumps({"message": {"data": base64.b64encode(data).decode(), "messageId": "m-final",
                                       "attributes": {"kind": "final"}}, "subscription": "s"}).encode()
        response = deployment.worker.post(push, "application/json", query=f"?token={WORKER_TOKEN}")
        assert response.status == 400
    assert len(slack.calls) == before
