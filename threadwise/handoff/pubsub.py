"""Answer jobs over Pub/Sub: the bytes of a job, publishing one, reading a push delivery.

``DISPATCH=pubsub``: ``slack_bot`` publishes the ``Ask`` and acknowledges
Slack only once Pub/Sub has stored it, so an acknowledged question is never
lost; ``slack_worker`` receives it as a push delivery and answers it.

A job carries only what the worker needs to answer, never a token or a key:
the worker reads its own secrets from its own settings.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import threading
import time
import typing
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Mapping

from threadwise import logs
from threadwise.slack.events import Ask, SlackFile

log = logs.get(__name__)

JOB_VERSION = 1
# Slack has to hear back within 3 s; what is left after verifying and parsing
# goes to the publish. A publish that is not confirmed in time is reported as
# failed, Slack retries the event, and the claim on event_id keeps a late
# duplicate from being answered twice.
DEFAULT_PUBLISH_TIMEOUT = 2.0

_TOPIC_PATH = re.compile(r"^projects/([^/]+)/topics/([^/]+)$")
# Pub/Sub's own rules for a topic ID, so a typo fails at start-up, not on the first question.
_TOPIC_ID = re.compile(r"^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$")
_PROJECT_ID = re.compile(r"^[a-z][a-z0-9\-]{4,28}[a-z0-9]$|^[a-z0-9.\-]+:[a-z][a-z0-9\-]{4,28}[a-z0-9]$")

_ASK_FIELDS = {f.name: f for f in dataclasses.fields(Ask)}
_ASK_TYPES = typing.get_type_hints(Ask)
# Fields an answer cannot do without; the others may legitimately be empty.
_NON_EMPTY = ("event_id", "channel", "user", "text", "ts", "thread_ts")


class BadJob(ValueError):
    """A job or a push delivery that cannot be read; the message says why (and holds no data)."""


class PublishFailed(RuntimeError):
    """Pub/Sub did not confirm the job in time; do not acknowledge Slack, so that it retries."""


# -- the job on the wire ----------------------------------------------------------------------


def encode_job(ask: Ask) -> bytes:
    """An ``Ask`` as compact UTF-8 JSON, with the format version under ``"v"``."""
    job = {"v": JOB_VERSION, **dataclasses.asdict(ask)}
    return json.dumps(job, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_job(data: bytes) -> Ask:
    """The inverse of ``encode_job``; anything else raises ``BadJob``.

    Keys this version does not know are ignored, so that a publisher deployed
    ahead of its worker can add an optional field without breaking delivery.
    """
    job = json_object(data, "job")
    version = job.get("v")
    if type(version) is not int:
        raise BadJob("job has no version field v")
    if version != JOB_VERSION:
        raise BadJob(f"job version {version} is not supported (expected {JOB_VERSION})")

    values: dict[str, Any] = {"files": _decode_files(job.get("files", []))}
    for name, spec in _ASK_FIELDS.items():
        if name == "files":
            continue
        if name not in job:
            if spec.default is dataclasses.MISSING:
                raise BadJob(f"job is missing field {name}")
            continue
        value = job[name]
        allowed = typing.get_args(_ASK_TYPES[name]) or (_ASK_TYPES[name],)  # str | None → (str, NoneType)
        # type() rather than isinstance(): True must not pass for a string field, nor 1 for a bool.
        if type(value) not in allowed:
            names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            raise BadJob(f"job field {name} must be {names}, not {type(value).__name__}")
        if name in _NON_EMPTY and not value:
            raise BadJob(f"job field {name} is empty")
        values[name] = value
    return Ask(**values)


def json_object(data: bytes, what: str) -> dict:
    """``data`` as a JSON object, or ``BadJob`` saying what it is not (never what it holds)."""
    try:
        job = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadJob(f"{what} is not UTF-8 JSON") from None
    if not isinstance(job, dict):
        raise BadJob(f"{what} must be a JSON object")
    return job


def _decode_files(raw: Any) -> tuple[SlackFile, ...]:
    if not isinstance(raw, list):
        raise BadJob("job field files must be a list")
    files = []
    for item in raw:
        if not isinstance(item, dict):
            raise BadJob("job field files must hold objects")
        try:
            values = {f.name: item[f.name] for f in dataclasses.fields(SlackFile)}
        except KeyError as missing:
            raise BadJob(f"a file in the job is missing {missing.args[0]}") from None
        if any(type(values[k]) is not str for k in ("id", "name", "mimetype", "filetype", "url")) \
                or type(values["size"]) is not int:
            raise BadJob("a file in the job has a field of the wrong type")
        files.append(SlackFile(**values))
    return tuple(files)


# -- publishing -------------------------------------------------------------------------------


def topic_path(project: str | None, topic: str) -> str:
    """``PUBSUB_TOPIC`` as a full path: a short topic ID needs the project, a full path does not."""
    topic = (topic or "").strip()
    full = _TOPIC_PATH.match(topic)
    if full:
        project_in_path, topic_id = full.groups()
        if project and project != project_in_path:
            raise ValueError(f"PUBSUB_TOPIC names project {project_in_path!r}, but the project is {project!r}")
        project = project_in_path
    else:
        topic_id = topic
        if "/" in topic_id:
            raise ValueError(f"PUBSUB_TOPIC must be a topic ID or projects/PROJECT/topics/TOPIC, not {topic!r}")
        if not project:
            raise ValueError("PUBSUB_TOPIC is a short topic ID; also set the project (or use projects/P/topics/T)")
    if not _TOPIC_ID.match(topic_id) or topic_id.lower().startswith("goog"):
        raise ValueError(f"{topic_id!r} is not a valid Pub/Sub topic ID")
    if not _PROJECT_ID.match(project):
        raise ValueError(f"{project!r} is not a valid Google Cloud project ID")
    return f"projects/{project}/topics/{topic_id}"


class PubSubPublisher:
    """Publishes answer jobs, one message per question, and waits until Pub/Sub has it.

    The client is created on first use, not at import: gunicorn imports the app
    and then forks, and gRPC channels do not survive a fork. It honours
    ``PUBSUB_EMULATOR_HOST`` (the client library reads it itself).
    """

    def __init__(self, project: str | None, topic: str, timeout: float = DEFAULT_PUBLISH_TIMEOUT):
        self.topic_path = topic_path(project, topic)
        self._timeout = timeout
        self._client = None
        self._lock = threading.Lock()

    def publish(self, ask: Ask) -> str:
        """Publish the job; returns Pub/Sub's message ID. Raises ``PublishFailed``."""
        return self._publish(encode_job(ask), ask.event_id)

    def publish_final(self, final) -> str:
        """Publish a delivery job (``final_jobs.FinalDelivery``): an answer's final text, for another worker."""
        from threadwise.handoff.final_jobs import KIND, encode_final

        return self._publish(encode_final(final), final.event_id, kind=KIND)

    def _publish(self, data: bytes, event_id: str, **attributes: str) -> str:
        started = time.monotonic()
        try:
            client = self._get_client()
            future = client.publish(self.topic_path, data, event_id=event_id, **attributes)
            message_id = future.result(timeout=self._timeout)
        except FutureTimeout:
            raise PublishFailed(f"Pub/Sub did not confirm the job within {self._timeout:g} s") from None
        except Exception as error:  # google.api_core errors, transport errors, a closed client
            raise PublishFailed(f"publishing to Pub/Sub failed: {type(error).__name__}: {error}") from error
        log.info("job published", event_id=event_id, message_id=message_id, **attributes,
                 publish_ms=round((time.monotonic() - started) * 1000, 1))
        return message_id

    def warm_up(self) -> None:
        """Create the client now (channel, credentials) so the first question does not pay for it."""
        self._get_client()

    def _get_client(self):
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from google.api_core import exceptions, retry
                    from google.cloud import pubsub_v1

                    # Transient errors are retried, but only within our own
                    # timeout (the library's default keeps trying for 60 s): no
                    # publish should linger after we have told Slack to retry.
                    transient = retry.if_exception_type(
                        exceptions.Aborted, exceptions.Cancelled, exceptions.DeadlineExceeded,
                        exceptions.InternalServerError, exceptions.ResourceExhausted,
                        exceptions.ServiceUnavailable, exceptions.Unknown,
                    )
                    options = pubsub_v1.types.PublisherOptions(
                        retry=retry.Retry(initial=0.05, maximum=0.5, multiplier=2, predicate=transient,
                                          timeout=self._timeout),
                        timeout=self._timeout,
                    )
                    # One message per batch, sent at once: a question should not
                    # wait up to max_latency for company it will rarely have.
                    self._client = pubsub_v1.PublisherClient(
                        batch_settings=pubsub_v1.types.BatchSettings(max_messages=1, max_latency=0),
                        publisher_options=options,
                    )
        return self._client


# -- push deliveries --------------------------------------------------------------------------


@dataclass(frozen=True)
class PushDelivery:
    message_id: str
    data: bytes
    attributes: Mapping[str, str]
    delivery_attempt: int | None  # only when the subscription has a dead-letter policy
    subscription: str
    publish_time: str | None = None


def parse_push(body: bytes) -> PushDelivery:
    """A Pub/Sub push request body (the default, wrapped format) → ``PushDelivery``; else ``BadJob``."""
    try:
        envelope = json.loads(body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body)
    except (UnicodeDecodeError, ValueError, TypeError, RecursionError):
        raise BadJob("push body is not UTF-8 JSON") from None
    if not isinstance(envelope, dict):
        raise BadJob("push body must be a JSON object")
    message = envelope.get("message")
    if not isinstance(message, dict):
        raise BadJob("push body has no message object")

    message_id = message.get("messageId", message.get("message_id"))
    if not isinstance(message_id, str) or not message_id:
        raise BadJob("push message has no messageId")
    encoded = message.get("data")
    if not isinstance(encoded, str) or not encoded:
        raise BadJob("push message has no data")
    data = _b64decode(encoded)

    attributes = message.get("attributes", {})
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        raise BadJob("push message attributes must map strings to strings")

    attempt = envelope.get("deliveryAttempt", envelope.get("delivery_attempt"))
    if attempt is not None and (type(attempt) is not int or attempt < 1):
        raise BadJob("push deliveryAttempt must be a positive integer")
    subscription = envelope.get("subscription", "")
    if not isinstance(subscription, str):
        raise BadJob("push subscription must be a string")
    publish_time = message.get("publishTime", message.get("publish_time"))
    return PushDelivery(
        message_id=message_id,
        data=data,
        attributes=dict(attributes),
        delivery_attempt=attempt,
        subscription=subscription,
        publish_time=publish_time if isinstance(publish_time, str) else None,
    )


def _b64decode(encoded: str) -> bytes:
    # Pub/Sub sends standard base64; proto3 JSON readers accept the URL-safe alphabet too.
    for altchars in (None, b"-_"):
        try:
            return base64.b64decode(encoded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    raise BadJob("push message data is not valid base64")
