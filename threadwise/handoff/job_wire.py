"""The jobs on the wire: a question (an ``Ask``) as the JSON a Pub/Sub message carries, and the push
request Pub/Sub delivers it in. Anything that does not read as one raises ``BadJob``, whose message
says what is wrong and never holds the data (it is logged)."""
from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import typing
from dataclasses import dataclass
from typing import Any, Mapping

from threadwise.slack.events import Ask, SlackFile

JOB_VERSION = 1

_ASK_FIELDS = {f.name: f for f in dataclasses.fields(Ask)}
_ASK_TYPES = typing.get_type_hints(Ask)
# Fields an answer cannot do without; the others may legitimately be empty.
_NON_EMPTY = ("event_id", "channel", "user", "text", "ts", "thread_ts")


class BadJob(ValueError):
    """A job or a push delivery that cannot be read; the message says why (and holds no data)."""


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
