"""Production shape, end to end, on the real emulators:
signed event → slack_bot → Pub/Sub emulator → push → slack_worker → stand-in Slack,
with claims in the Firestore emulator. Faults: a worker killed mid-answer,
duplicate and concurrent deliveries, a Slack retry after a lost delivery."""
from __future__ import annotations

import base64
import itertools
import json
import threading

import pytest

from firestore_emulator import FirestoreEmulator
from flows import ASKER, replies_to, wait_answer
from harness import BOT_TOKEN, BotProcess, bot_env, free_port, message_event, new_event_id
from log_scan import assert_logged_masked, secret_echoing_failure
from pubsub_emulator import PubSubEmulator
from standins.openai_api import Script

WORKER_TOKEN = "worker-push-secret-0123456789"
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def pubsub():
    emulator = PubSubEmulator()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def firestore():
    emulator = FirestoreEmulator().start()
    yield emulator
    emulator.stop()


class Deployment:
    """slack_bot and slack_worker processes wired through their own topic and subscription."""

    def __init__(self, tmp, slack, openai_server, pubsub, firestore, **settings: str):
        number = next(_numbers)
        self._tmp = tmp
        self.topic = f"jobs-{number}"
        self.collection = f"claims_{number}"
        self.env = bot_env(
            slack.base_url, openai_server.base_url,
            DISPATCH="pubsub", PUBSUB_TOPIC=self.topic, STORE="firestore",
            FIRESTORE_COLLECTION=self.collection, CLAIM_LEASE_SECONDS="5",
            WORKER_AUTH="token", WORKER_TOKEN=WORKER_TOKEN,
            **{**pubsub.env, **firestore.env, **settings},
        )
        pubsub.create_topic(self.topic)
        self.worker_port = free_port()
        self.worker = self.start_worker()
        self.bot = BotProcess(self.env, tmp / f"bot-{number}.log")
        pubsub.create_push_subscription(f"push-{number}", self.topic,
                                        f"http://127.0.0.1:{self.worker_port}/?token={WORKER_TOKEN}",
                                        ack_deadline=600)
        self.workers = [self.worker]

    def start_worker(self) -> BotProcess:
        worker = BotProcess(self.env, self._tmp / f"worker-{self.worker_port}.log", target="slack_worker",
                            port=self.worker_port)
        if hasattr(self, "workers"):
            self.workers.append(worker)
        return worker

    def stop(self):
        self.bot.stop()
        for worker in self.workers:
            worker.stop()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, slack, openai_server, pubsub, firestore):
    deployed = Deployment(tmp_path_factory.mktemp("pubsub"), slack, openai_server, pubsub, firestore)
    yield deployed
    deployed.stop()


def jobs_ended(worker, event_id, count, since=0) -> list[str]:
    """Until the worker has ended ``count`` jobs of the event for good (one it found busy comes back later:
    Pub/Sub delivers it again); their outcomes. After that, nothing of theirs writes to Slack any more."""
    ended = worker.wait_for_log(60, since, count, where=lambda e: e.get("outcome") != "busy",
                                message="job ended", event_id=event_id)
    return [e["outcome"] for e in ended]


def push_of(channel: str, text: str, ts: str) -> bytes:
    """The body of a Pub/Sub push carrying a question job, as the front end hands it to a worker."""
    from threadwise.slack.events import Ask
    from threadwise.handoff.job_wire import encode_job

    job = encode_job(Ask(event_id=new_event_id(), team_id="T1", channel=channel, channel_type="im",
                         user=ASKER, text=text, ts=ts, thread_ts=ts))
    return json.dumps({"message": {"data": base64.b64encode(job).decode(), "messageId": f"m-{ts}",
                                   "attributes": {}}, "subscription": "projects/p/subscriptions/s"}).encode()


def ask(deployment, slack, channel, text, **headers):
    ts = slack.add_message(channel, ASKER, text)
    event = message_event(channel, ASKER, text, ts, event_id=new_event_id())
    response = deployment.bot.send_event(event, headers=headers or None)
    return ts, event, response


def test_event_goes_through_pubsub_to_the_worker(deployment, slack, openai_server):
    channel = "D-ps-1"
    openai_server.reply = Script(text="Answered by the worker.", chunk_chars=3, delta_delay=0.01)
    ts, _, response = ask(deployment, slack, channel, "hello through Pub/Sub")
    assert response.status == 200
    parts = wait_answer(slack, channel, ts, timeout=30)
    assert [p["text"] for p in parts] == ["Answered by the worker."]
    assert "job received" in deployment.worker.logs()
    assert "job published" in deployment.bot.logs()


def test_worker_killed_mid_answer_is_resumed_in_the_same_message(deployment, slack, openai_server):
    channel = "D-ps-kill"
    text = " ".join(f"piece{i}" for i in range(300))
    openai_server.reply = Script(text=text, chunk_chars=6, delta_delay=0.02)
    since = deployment.worker.log_mark()
    ts, event, _ = ask(deployment, slack, channel, "a long answer please")
    slack.wait_for(lambda s: any(p["text"].startswith("piece") for p in replies_to(s, channel, ts)), timeout=30)
    first_reply = replies_to(slack, channel, ts)[0]["ts"]
    deployment.worker.kill()
    deployment.worker = deployment.start_worker()
    parts = wait_answer(slack, channel, ts, timeout=90)
    # (The killed worker's log ends mid-answer; the new one appends to the same file.)
    assert jobs_ended(deployment.worker, event["event_id"], 1, since) == ["answered"]
    assert [p["ts"] for p in parts] == [first_reply]  # the same message, no second reply
    assert parts[0]["text"] == text  # and the final text is complete
    placeholders = [c for c in slack.calls_of("chat.postMessage") if c.params.get("channel") == channel]
    assert len(placeholders) == 1


def test_duplicate_events_at_the_same_moment_are_answered_once(deployment, slack, openai_server):
    channel = "D-ps-dup"
    openai_server.reply = Script(text="just once", delta_delay=0.01)
    ts = slack.add_message(channel, ASKER, "duplicate delivery")
    event = message_event(channel, ASKER, "duplicate delivery", ts, event_id=new_event_id())
    second_bot = BotProcess(deployment.env, deployment._tmp / f"bot-second-{channel}.log")
    since = deployment.worker.log_mark()
    try:
        threads = [threading.Thread(target=target.send_event, args=(event,))
                   for target in (deployment.bot, second_bot, deployment.bot)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_answer(slack, channel, ts, timeout=30)
        # Each delivery was published as a job of its own; every one has reached the worker and ended.
        assert sorted(jobs_ended(deployment.worker, event["event_id"], 3, since)) == ["answered", "duplicate",
                                                                                      "duplicate"]
        assert len([c for c in slack.calls_of("chat.postMessage") if c.params.get("channel") == channel]) == 1
        assert len(replies_to(slack, channel, ts)) == 1
    finally:
        second_bot.stop()


def test_concurrent_pushes_to_two_workers_answer_once(deployment, slack, openai_server):
    channel = "D-ps-conc"
    openai_server.reply = Script(text="one of two " * 30, chunk_chars=3, delta_delay=0.03)  # ~3 s: they overlap
    ts = slack.add_message(channel, ASKER, "two workers")
    push = push_of(channel, "two workers", ts)
    other = BotProcess(deployment.env, deployment._tmp / "worker-other.log", target="slack_worker")
    statuses = []
    try:
        other.post(b"{}", "application/json")  # warm: both workers are ready when the push arrives

        def deliver(worker):
            statuses.append(worker.post(push, "application/json", query=f"?token={WORKER_TOKEN}").status)

        threads = [threading.Thread(target=deliver, args=(w,)) for w in (deployment.worker, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(statuses) == [200, 429]  # one answers, the other is told to come back later
        assert len(replies_to(slack, channel, ts)) == 1
        # The redelivery that comes later finds the answer done and acknowledges it.
        assert deployment.worker.post(push, "application/json", query=f"?token={WORKER_TOKEN}").status == 200
        assert len(replies_to(slack, channel, ts)) == 1
    finally:
        other.stop()


def test_slack_retry_after_a_lost_delivery_is_answered_once(deployment, slack, openai_server):
    channel = "D-ps-retry"
    openai_server.reply = Script(text="answered on the retry")
    ts = slack.add_message(channel, ASKER, "did you get this?")
    event = message_event(channel, ASKER, "did you get this?", ts, event_id=new_event_id())
    since = deployment.worker.log_mark()
    # The first delivery never reached us; Slack retries it.
    assert deployment.bot.send_event(event, headers={"X-Slack-Retry-Num": "1",
                                                     "X-Slack-Retry-Reason": "http_timeout"}).status == 200
    wait_answer(slack, channel, ts, timeout=30)
    assert deployment.bot.send_event(event, headers={"X-Slack-Retry-Num": "2",
                                                     "X-Slack-Retry-Reason": "http_timeout"}).status == 200
    assert jobs_ended(deployment.worker, event["event_id"], 2, since) == ["answered", "duplicate"]
    assert len([c for c in slack.calls_of("chat.postMessage") if c.params.get("channel") == channel]) == 1


def test_a_secret_inside_an_exception_the_worker_logs_is_masked(deployment, slack, openai_server):
    channel = "D-ps-secret"
    openai_server.reply = Script(text="first")
    first, _, _ = ask(deployment, slack, channel, "one")
    wait_answer(slack, channel, first, timeout=30)
    slack.fail_next("conversations.replies", secret_echoing_failure(BOT_TOKEN))
    follow_up = slack.add_message(channel, ASKER, "two", thread_ts=first)
    event = message_event(channel, ASKER, "two", follow_up, thread_ts=first, event_id=new_event_id())
    assert deployment.bot.send_event(event).status == 200
    assert wait_answer(slack, channel, follow_up, timeout=30)[-1]["metadata"]["event_payload"]["status"] == "error"
    assert_logged_masked(deployment.worker, BOT_TOKEN)


def test_a_question_that_cannot_be_handed_off_gets_503_so_slack_retries(tmp_path, slack, openai_server, pubsub,
                                                                       channel):
    """Pub/Sub refuses the job (here: its topic does not exist yet): the bot answers 503 without
    X-Slack-No-Retry, so Slack delivers the event again; that retry, once the job can be
    handed off, is answered — nothing lost."""
    topic = f"jobs-missing-{next(_numbers)}"
    env = bot_env(slack.base_url, openai_server.base_url, DISPATCH="pubsub", PUBSUB_TOPIC=topic,
                  SQLITE_PATH=str(tmp_path / "claims.sqlite3"), WORKER_AUTH="token", WORKER_TOKEN=WORKER_TOKEN,
                  **pubsub.env)
    openai_server.reply = Script(text="Here now.")
    bot = BotProcess(env, tmp_path / "bot.log")
    try:
        ts = slack.add_message(channel, ASKER, "is anyone there?")
        event = message_event(channel, ASKER, "is anyone there?", ts, event_id=new_event_id())
        response = bot.send_event(event)
        assert response.status == 503, response.body
        assert "X-Slack-No-Retry" not in response.headers
        bot.wait_for_log(message="hand-off failed; Slack will retry", event_id=event["event_id"])

        pubsub.create_topic(topic)
        worker_port = free_port()
        worker = BotProcess(env, tmp_path / "worker.log", target="slack_worker", port=worker_port)
        try:
            pubsub.create_push_subscription(f"push-{topic}", topic,
                                            f"http://127.0.0.1:{worker_port}/?token={WORKER_TOKEN}", ack_deadline=600)
            retry = bot.send_event(event, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"})
            assert retry.status == 200
            assert [p["text"] for p in wait_answer(slack, channel, ts, timeout=30)] == ["Here now."]
        finally:
            worker.stop()
    finally:
        bot.stop()


def test_unauthenticated_or_malformed_pushes_are_rejected(deployment, slack):
    before = len(slack.calls)
    assert deployment.worker.post(b"{}", "application/json").status == 401
    assert deployment.worker.post(b"{}", "application/json", query="?token=wrong").status == 401
    assert deployment.worker.post(b"not json", "application/json", query=f"?token={WORKER_TOKEN}").status == 400
    bad = json.dumps({"message": {"data": base64.b64encode(b"{}").decode(), "messageId": "x"}}).encode()
    assert deployment.worker.post(bad, "application/json", query=f"?token={WORKER_TOKEN}").status == 400
    assert len(slack.calls) == before


@pytest.mark.slack_429
def test_stop_reaches_the_worker_through_the_store_while_slack_refuses_updates(deployment, slack, openai_server):
    """The Stop is handled by slack_bot, the answer runs in slack_worker: the stop record in Firestore
    reaches it (acknowledged), not the answer's next chat.update, which Slack refuses meanwhile."""
    from harness import stop_button_payload

    channel = "D-ps-stop"
    openai_server.reply = Script(text=" ".join(f"word{i}" for i in range(600)), chunk_chars=6, delta_delay=0.02)
    since = deployment.bot.log_mark()
    ts, event, _ = ask(deployment, slack, channel, "a long answer to stop")
    reply = slack.wait_for(lambda s: next((p for p in replies_to(s, channel, ts) if p["text"].startswith("word")),
                                          None), timeout=30)
    request = openai_server.requests[-1]
    first = len(slack.calls)
    slack.rate_limit_next("chat.update", count=1, retry_after=6)
    slack.wait_for(lambda s: any(c.method == "chat.update" and c.status == 429 for c in s.calls[first:]), timeout=10)
    assert deployment.bot.send_interaction(stop_button_payload(channel, ASKER, reply)).status == 200
    openai_server.wait_for(lambda f: request.outcome is not None, timeout=3)
    assert request.outcome == "client_closed"
    assert deployment.bot.logged(since, message="answer stopped", reached="signal")
    final = wait_answer(slack, channel, ts, timeout=20)[-1]
    assert final["metadata"]["event_type"] == "aborted" and final["text"].endswith(f"_⏹ Stopped by <@{ASKER}>._")
    assert jobs_ended(deployment.worker, event["event_id"], 1) == ["answered"]
