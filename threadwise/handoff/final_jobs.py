"""A delivery job: an answer's final text that Slack refused until its worker had to stop.

The answer is written; only Slack has not taken it yet. The store holds no
message text (DESIGN.md, "State"), so the text travels the way the question
did: in a Pub/Sub message, to the same topic, marked ``kind=final`` in its
attributes. The worker that receives it writes the text (until it lands) and
then finishes the claim; it never calls the model.

Like a question job it is compact UTF-8 JSON with its format version under
``"v"``, and it carries no token or key: only the ``chat.update`` arguments.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from threadwise.slack.landing import PendingWrite
from threadwise.handoff.job_wire import BadJob, json_object

FINAL_VERSION = 1
KIND = "final"  # the ``kind`` attribute (and field) of a delivery job; a question job has none


@dataclass(frozen=True)
class FinalDelivery:
    event_id: str
    handed_off_by: str  # the claim's owner that handed it on; it writes nothing more to the reply
    writes: tuple[PendingWrite, ...]  # oldest first, one per message


def encode_final(final: FinalDelivery) -> bytes:
    job = {
        "v": FINAL_VERSION,
        "kind": KIND,
        "event_id": final.event_id,
        "handed_off_by": final.handed_off_by,
        "writes": [{"channel": w.channel, "ts": w.ts, "text": w.text, "blocks": w.blocks, "metadata": w.metadata}
                   for w in final.writes],
    }
    return json.dumps(job, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_final(data: bytes) -> FinalDelivery:
    """The inverse of ``encode_final``; anything else raises ``BadJob`` (whose message holds no data)."""
    job = json_object(data, "delivery job")
    version = job.get("v")
    if type(version) is not int or version != FINAL_VERSION:
        raise BadJob(f"delivery job version {version!r} is not supported (expected {FINAL_VERSION})")
    if job.get("kind") != KIND:
        raise BadJob("not a delivery job")
    event_id, owner, writes = job.get("event_id"), job.get("handed_off_by"), job.get("writes")
    if not _text(event_id) or not _text(owner):
        raise BadJob("delivery job needs event_id and handed_off_by")
    if not isinstance(writes, list) or not writes:
        raise BadJob("delivery job has no writes")
    return FinalDelivery(event_id, owner, tuple(_write(w) for w in writes))


def _write(raw: Any) -> PendingWrite:
    if not isinstance(raw, dict):
        raise BadJob("a delivery job's write must be an object")
    channel, ts, text, blocks, metadata = (raw.get(k) for k in ("channel", "ts", "text", "blocks", "metadata"))
    if not (_text(channel) and _text(ts) and isinstance(text, str)):
        raise BadJob("a delivery job's write needs channel, ts and text")
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise BadJob("a delivery job's blocks must be a list of objects")
    if metadata is not None and not isinstance(metadata, dict):
        raise BadJob("a delivery job's metadata must be an object or null")
    return PendingWrite(channel, ts, text, blocks, metadata)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)
