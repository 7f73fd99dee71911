"""Delivery jobs on the wire (final_jobs): versioned JSON that carries chat.update arguments, and nothing
else is accepted."""
from __future__ import annotations

import json

import pytest

from threadwise.handoff.final_jobs import FINAL_VERSION, KIND, FinalDelivery, decode_final, encode_final
from threadwise.slack.landing import PendingWrite
from threadwise.handoff.job_wire import BadJob

pytestmark = pytest.mark.in_process

WRITE = PendingWrite("D1", "1700000000.000100", "The answer ✓", [{"type": "markdown", "text": "The answer ✓"}],
                     {"event_type": "assistant_reply", "event_payload": {"status": "done"}})
FINAL = FinalDelivery("Ev1", "host-1-abc", (WRITE, PendingWrite("D1", "1700000000.000200", "part 2", [], None)))


def test_a_delivery_job_round_trips_as_compact_versioned_json():
    data = encode_final(FINAL)
    job = json.loads(data)
    assert (job["v"], job["kind"], job["event_id"]) == (FINAL_VERSION, KIND, "Ev1")
    assert "✓" in data.decode("utf-8") and b", " not in data and b": " not in data
    assert decode_final(data) == FINAL


def _with(**changes) -> bytes:
    job = json.loads(encode_final(FINAL))
    job.update(changes)
    return json.dumps(job).encode()


@pytest.mark.parametrize("data, error", [
    (b"\xff", "delivery job is not UTF-8 JSON"),
    (b"[]", "delivery job must be a JSON object"),
    (_with(v=2), "delivery job version 2 is not supported (expected 1)"),
    (_with(v="1"), "delivery job version '1' is not supported (expected 1)"),
    (_with(kind=None), "not a delivery job"),
    (_with(event_id=""), "delivery job needs event_id and handed_off_by"),
    (_with(handed_off_by=3), "delivery job needs event_id and handed_off_by"),
    (_with(writes=[]), "delivery job has no writes"),
    (_with(writes=["x"]), "a delivery job's write must be an object"),
    (_with(writes=[{"channel": "D1", "ts": "1.2", "blocks": []}]), "a delivery job's write needs channel, ts and text"),
    (_with(writes=[{"channel": "D1", "ts": "1.2", "text": "t", "blocks": ["b"]}]),
     "a delivery job's blocks must be a list of objects"),
    (_with(writes=[{"channel": "D1", "ts": "1.2", "text": "t", "blocks": [], "metadata": "m"}]),
     "a delivery job's metadata must be an object or null"),
])
def test_anything_else_is_refused_saying_why(data, error):
    with pytest.raises(BadJob) as refused:
        decode_final(data)
    assert str(refused.value) == error
