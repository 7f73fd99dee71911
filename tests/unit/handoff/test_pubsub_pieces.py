"""The Pub/Sub pieces on their own: the job format, push parsing, and a real round trip through
the Pub/Sub emulator (the worker's authentication: test_pubsub_pieces_auth.py)."""
from __future__ import annotations

import base64
import dataclasses
import json
import time
import urllib.parse

import pytest

from threadwise.handoff import pubsub as pubsub_jobs
from threadwise.slack.events import Ask
from pubsub_emulator import PubSubEmulator, PushReceiver, free_port
from threadwise.handoff.job_wire import BadJob, decode_job, encode_job, parse_push
from threadwise.handoff.pubsub import PublishFailed, PubSubPublisher, topic_path
from threadwise.handoff.worker_auth import PushAuthenticator

ASK = Ask(
    event_id="Ev0123ABCD",
    team_id="T0001",
    channel="C0001",
    channel_type="channel",
    user="U0001",
    text="Wie schreibt man „Grüße“? <@U0002> & 你好 🙂",
    ts="1700000000.000100",
    thread_ts="1699999999.000001",
    needs_participation=True,
)


def job_dict(**changes) -> dict:
    job = json.loads(encode_job(ASK))
    job.update(changes)
    return job


def job_bytes(job: dict) -> bytes:
    return json.dumps(job).encode()


# -- the job format ---------------------------------------------------------------------------


def test_job_round_trip():
    assert decode_job(encode_job(ASK)) == ASK
    plain = dataclasses.replace(ASK, needs_participation=False, thread_ts=ASK.ts, team_id="")
    assert decode_job(encode_job(plain)) == plain


def test_job_holds_the_ask_fields_and_a_version_only():
    job = json.loads(encode_job(ASK))
    assert job.pop("v") == 1
    assert set(job) == {f.name for f in dataclasses.fields(Ask)}
    assert "Grüße" in encode_job(ASK).decode("utf-8")  # UTF-8, not \\u escapes


def test_job_optional_field_defaults_and_unknown_fields_are_ignored():
    job = job_dict(future_field={"x": 1})
    del job["needs_participation"]
    assert decode_job(job_bytes(job)) == dataclasses.replace(ASK, needs_participation=False)


@pytest.mark.parametrize("data, message", [
    (b"\xff\xfe", "not UTF-8 JSON"),
    (b"{not json", "not UTF-8 JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'"text"', "must be a JSON object"),
    (job_bytes({k: v for k, v in job_dict().items() if k != "v"}), "no version"),
    (job_bytes(job_dict(v="1")), "no version"),
    (job_bytes(job_dict(v=2)), "version 2 is not supported"),
    (job_bytes({k: v for k, v in job_dict().items() if k != "channel"}), "missing field channel"),
    (job_bytes(job_dict(text=None)), "field text must be str, not NoneType"),
    (job_bytes(job_dict(ts=1700000000.0001)), "field ts must be str"),
    (job_bytes(job_dict(user=True)), "field user must be str, not bool"),
    (job_bytes(job_dict(needs_participation="true")), "needs_participation must be bool"),
    (job_bytes(job_dict(needs_participation=1)), "needs_participation must be bool"),
    (job_bytes(job_dict(event_id="")), "field event_id is empty"),
    (job_bytes(job_dict(text="")), "field text is empty"),
])
def test_bad_jobs_are_rejected_with_a_reason(data, message):
    with pytest.raises(BadJob, match=message):
        decode_job(data)


def test_bad_job_is_a_value_error():
    assert issubclass(BadJob, ValueError)


@pytest.mark.parametrize("project, topic, expected", [
    ("my-project", "threadwise-jobs", "projects/my-project/topics/threadwise-jobs"),
    (None, "projects/my-project/topics/threadwise-jobs", "projects/my-project/topics/threadwise-jobs"),
    ("my-project", "projects/my-project/topics/jobs", "projects/my-project/topics/jobs"),
    ("", " jobs.v1 ", None),
])
def test_topic_path(project, topic, expected):
    if expected is None:
        with pytest.raises(ValueError, match="also set the project"):
            topic_path(project, topic)
    else:
        assert topic_path(project, topic) == expected


@pytest.mark.parametrize("project, topic, message", [
    ("other-project", "projects/my-project/topics/jobs", "names project"),
    ("my-project", "topics/jobs", "must be a topic ID or"),
    ("my-project", "1jobs", "not a valid Pub/Sub topic ID"),
    ("my-project", "goog-jobs", "not a valid Pub/Sub topic ID"),
    ("My_Project", "jobs", "not a valid Google Cloud project ID"),
])
def test_topic_path_rejects_mistakes(project, topic, message):
    with pytest.raises(ValueError, match=message):
        topic_path(project, topic)


# -- push deliveries --------------------------------------------------------------------------


def push_body(data: bytes = b'{"x":1}', **envelope) -> bytes:
    body = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "messageId": "2070443601311540",
            "publishTime": "2021-02-26T19:13:55.749Z",
            "attributes": {"event_id": "Ev1"},
        },
        "subscription": "projects/p/subscriptions/threadwise-worker",
    }
    body.update(envelope)
    return json.dumps(body).encode()


def test_parse_push_production_shape():
    delivery = parse_push(push_body(encode_job(ASK), deliveryAttempt=3))
    assert delivery.message_id == "2070443601311540"
    assert decode_job(delivery.data) == ASK
    assert delivery.attributes == {"event_id": "Ev1"}
    assert delivery.delivery_attempt == 3
    assert delivery.subscription == "projects/p/subscriptions/threadwise-worker"
    assert delivery.publish_time == "2021-02-26T19:13:55.749Z"


def test_parse_push_emulator_shape():
    # Byte for byte what the emulator (0.8.20) sent in exploration: both key spellings, escaped slashes.
    body = (b'{"subscription":"projects\\/threadwise-test\\/subscriptions\\/push","message":{"publishTime":'
            b'"2026-11-25T11:58:55.096Z","data":"eyJhIjoxfQ==","publish_time":"2026-11-25T11:58:55.096Z",'
            b'"messageId":"1","attributes":{"event_id":"Ev1"},"message_id":"1"}}')
    delivery = parse_push(body)
    assert (delivery.message_id, delivery.data, delivery.delivery_attempt) == ("1", b'{"a":1}', None)
    assert delivery.subscription == "projects/threadwise-test/subscriptions/push"


def test_parse_push_accepts_snake_case_id_missing_attributes_and_url_safe_base64():
    data = b"\xfb\xff\xfe"  # standard base64 "+//+", URL-safe "-__-"
    body = {"message": {"data": base64.urlsafe_b64encode(data).decode(), "message_id": "7"}, "subscription": "s"}
    delivery = parse_push(json.dumps(body).encode())
    assert (delivery.message_id, delivery.data, delivery.attributes) == ("7", data, {})


def _without(key: str) -> bytes:
    body = json.loads(push_body())
    del body["message"][key]
    return json.dumps(body).encode()


@pytest.mark.parametrize("body, message", [
    (b"", "not UTF-8 JSON"),
    (b"{", "not UTF-8 JSON"),
    (b"\xff", "not UTF-8 JSON"),
    (b"[]", "must be a JSON object"),
    (b'{"subscription": "s"}', "no message object"),
    (b'{"message": "hello"}', "no message object"),
    (_without("data"), "no data"),
    (_without("messageId"), "no messageId"),
    (push_body().replace(b'"data": "eyJ4IjoxfQ=="', b'"data": "not base64!"'), "not valid base64"),
    (push_body().replace(b'"data": "eyJ4IjoxfQ=="', b'"data": "eyJ4IjoxfQ"'), "not valid base64"),
    (push_body().replace(b'"data": "eyJ4IjoxfQ=="', b'"data": 5'), "no data"),
    (push_body(deliveryAttempt="2"), "deliveryAttempt"),
    (push_body(deliveryAttempt=0), "deliveryAttempt"),
    (push_body(subscription=["s"]), "subscription must be a string"),
    (push_body().replace(b'{"event_id": "Ev1"}', b'{"event_id": 1}'), "attributes"),
    (push_body().replace(b'{"event_id": "Ev1"}', b'[]'), "attributes"),
])
def test_malformed_push_is_rejected(body, message):
    with pytest.raises(BadJob, match=message):
        parse_push(body)


# -- through the real emulator ----------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator():
    started = PubSubEmulator()
    yield started
    started.stop()
    assert started.remaining() == []


@pytest.fixture
def emulator_env(emulator, monkeypatch):
    for name, value in emulator.env.items():
        monkeypatch.setenv(name, value)
    return emulator


def test_publish_and_push_round_trip(emulator_env):
    emulator = emulator_env
    receiver = PushReceiver()
    try:
        topic = emulator.create_topic("round-trip")
        subscription = emulator.create_push_subscription(
            "round-trip-worker", topic, f"{receiver.base_url}/worker?token=push-secret", ack_deadline=600)
        publisher = PubSubPublisher(emulator.project, "round-trip")
        message_id = publisher.publish(ASK)

        received = receiver.wait_for(1, timeout=20)
        assert len(received) == 1
        push = received[0]
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(push.path).query)
        auth = PushAuthenticator("token", token="push-secret")
        assert auth.check(push.headers.get("Authorization"), query["token"][0]).ok
        assert push.headers["Content-Type"].startswith("application/json")

        delivery = parse_push(push.body)
        assert delivery.message_id == message_id
        assert delivery.subscription == subscription
        assert delivery.attributes == {"event_id": ASK.event_id}
        assert decode_job(delivery.data) == ASK
        time.sleep(1)
        assert len(receiver.received) == 1  # answered 204: delivered once
    finally:
        receiver.stop()


def test_publishing_to_a_missing_topic_fails_clearly(emulator_env):
    publisher = PubSubPublisher(emulator_env.project, "no-such-topic")
    with pytest.raises(PublishFailed, match="NotFound"):
        publisher.publish(ASK)


def test_publish_gives_up_within_its_timeout_when_pubsub_is_unreachable(monkeypatch):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{free_port()}")
    publisher = PubSubPublisher("threadwise-test", "jobs", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(PublishFailed):
        publisher.publish(ASK)
    assert time.monotonic() - started < 3  # the contract: slack_bot must still answer 503 within Slack's 3 s


def test_emulator_stops_with_its_java_child():
    emulator = PubSubEmulator()
    members = emulator.remaining()
    assert len(members) >= 2  # gcloud and java
    emulator.stop()
    assert emulator.remaining() == []
    for pid in members:
        try:
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        assert state == "Z"


def test_publish_timeout_constant_is_under_slacks_three_seconds():
    assert pubsub_jobs.DEFAULT_PUBLISH_TIMEOUT < 3
