"""Done means landed (issue 13), in-process: ClaimedAnswers over a real SqliteStore, the real answer loop
(practice mode) and the real SlackGateway against FakeSlack, which refuses chat.update with 429s."""
from __future__ import annotations

import time

import pytest

from threadwise.runtime import answer_services
from threadwise.handoff.final_jobs import FinalDelivery, decode_final, encode_final
from inprocess import ask_in, claims, clock, eventually, gateway, gateway_for, practice_settings  # noqa: F401
from threadwise.handoff.claims import ClaimedAnswers, JobOutcome
from threadwise.slack.reply_format import PLACEHOLDER_TEXT, ReplyTag, reply_metadata
from threadwise.state.sqlite import SqliteStore

pytestmark = pytest.mark.in_process

TTL = 3600.0
DEADLINE = 1.5  # seconds a worker may spend; every refused chat.update holds Slack's refusal for 1 s


def _worker(slack, claims, hand_on=None) -> ClaimedAnswers:
    """One worker process: its own gateway (and write budget), the shared claims."""
    services = answer_services(practice_settings(slack), gateway_for(slack), "You are a test.")
    return ClaimedAnswers(claims, services, lease_seconds=30, claim_ttl=TTL, hand_on=hand_on)


def _bot_messages(slack, channel):
    return [m for m in slack.messages(channel) if m.get("bot_id")]


def _status(message) -> str:
    return message["metadata"]["event_payload"]["status"]


def _refuse_updates(slack) -> None:
    slack.rate_limit_next("chat.update", count=1000, retry_after=1)


def _accept_updates(slack) -> None:
    slack.rate_limit_next("chat.update", count=0)  # (the last 429 still holds for its Retry-After)


@pytest.fixture(autouse=True)
def _refusals_end_with_the_test(slack):
    yield
    _accept_updates(slack)  # also when the test failed while Slack was refusing


def test_a_final_refused_past_the_deadline_is_handed_on_and_landed_by_the_next_worker(slack, channel, claims):
    handed: list[FinalDelivery] = []
    ask = ask_in(slack, channel)
    _refuse_updates(slack)
    started = time.monotonic()
    assert _worker(slack, claims, handed.append).answer(ask, give_up_at=started + DEADLINE) == JobOutcome.HANDED_OFF
    assert time.monotonic() - started < DEADLINE + 2, "it stopped retrying at its deadline (+ one Retry-After)"
    [reply] = _bot_messages(slack, channel)
    assert _status(reply) == "streaming", "Slack has not taken the final text"
    claim = claims.get(ask.event_id)
    assert (claim.status, claim.reply_ts) == ("delivering", reply["ts"]), "not done: its final is on its way"
    [final] = handed
    assert final.event_id == ask.event_id and final.handed_off_by == claim.owner
    [write] = final.writes
    assert (write.channel, write.ts, write.metadata["event_payload"]["status"]) == (channel, reply["ts"], "done")
    assert "What is a mutant?" in write.text
    assert decode_final(encode_final(final)) == final, "it travels as a job"

    _accept_updates(slack)
    assert _worker(slack, claims).deliver(decode_final(encode_final(final))) == JobOutcome.ANSWERED
    [landed] = _bot_messages(slack, channel)
    assert (landed["ts"], landed["text"], _status(landed)) == (reply["ts"], write.text, "done")
    assert claims.get(ask.event_id).status == "answered"
    # The question delivered again meanwhile, or later: never answered (nor paid for) twice.
    assert _worker(slack, claims).answer(ask) == JobOutcome.DUPLICATE


def test_a_question_delivered_again_while_its_final_is_on_its_way_does_nothing(slack, channel, claims):
    handed: list[FinalDelivery] = []
    ask = ask_in(slack, channel)
    _refuse_updates(slack)
    _worker(slack, claims, handed.append).answer(ask, give_up_at=time.monotonic() + DEADLINE)
    calls = len(slack.calls)
    assert _worker(slack, claims, handed.append).answer(ask) == JobOutcome.DELIVERING
    assert slack.calls[calls:] == [] and len(handed) == 1
    _accept_updates(slack)


def test_a_delivery_slack_still_refuses_is_handed_back_to_pubsub(slack, channel, claims):
    handed: list[FinalDelivery] = []
    ask = ask_in(slack, channel)
    _refuse_updates(slack)
    _worker(slack, claims, handed.append).answer(ask, give_up_at=time.monotonic() + DEADLINE)
    again = _worker(slack, claims, handed.append)
    assert again.deliver(handed[0], give_up_at=time.monotonic() + DEADLINE) == JobOutcome.HANDED_BACK
    assert len(handed) == 1, "no new job: Pub/Sub delivers the same one again"
    claim = claims.get(ask.event_id)
    assert claim.status == "delivering" and claim.lease_until <= time.time(), "free for the redelivery"
    _accept_updates(slack)
    assert again.deliver(handed[0]) == JobOutcome.ANSWERED
    assert _status(_bot_messages(slack, channel)[0]) == "done"


def test_without_pubsub_a_final_refused_for_good_is_logged_with_its_event_and_not_done(slack, channel, claims,
                                                                                      caplog):
    ask = ask_in(slack, channel)
    _refuse_updates(slack)
    # (DISPATCH=thread retries for 15 minutes; the deadline here stands for the end of those retries)
    assert _worker(slack, claims).answer(ask, give_up_at=time.monotonic() + DEADLINE) == JobOutcome.UNLANDED
    _accept_updates(slack)
    [error] = [r for r in caplog.records if r.getMessage() == "final text not landed; giving up on it"]
    assert error.levelname == "ERROR" and error.fields["event_id"] == ask.event_id
    assert claims.get(ask.event_id).status == "answering", "an answer not in Slack is not done"


def test_a_reply_the_person_deleted_ends_the_job_as_done(slack, channel, claims):
    ask = ask_in(slack, channel)
    answers = _worker(slack, claims)
    opened = answers.open(ask)
    slack.delete(channel, opened.opened.placeholder_ts)
    assert answers.complete(opened) == JobOutcome.ANSWERED
    assert _bot_messages(slack, channel) == []
    assert claims.get(ask.event_id).status == "answered"


def test_a_delivery_for_an_answer_already_done_writes_nothing(slack, channel, claims):
    ask = ask_in(slack, channel)
    assert _worker(slack, claims).answer(ask) == JobOutcome.ANSWERED
    [reply] = _bot_messages(slack, channel)
    stale = FinalDelivery(ask.event_id, "w-old", (responder_write(channel, reply["ts"], "an older text"),))
    calls = len(slack.calls)
    assert _worker(slack, claims).deliver(stale) == JobOutcome.DUPLICATE
    assert slack.calls[calls:] == []


def responder_write(channel, ts, text):
    from threadwise.slack.landing import PendingWrite

    return PendingWrite(channel, ts, text, [{"type": "markdown", "text": text}], None)


# --- placeholders orphaned by a crash ----------------------------------------------------------


def _orphan(slack, gateway, ask, status="streaming", question=None) -> str:
    """A placeholder the bot posted (through the real gateway, as the bot) for ``ask``."""
    tag = ReplyTag(asker=ask.user, question_ts=question or ask.ts)
    return gateway.post(ask.channel, ask.thread_ts, PLACEHOLDER_TEXT, [], reply_metadata(tag, status)).ts


def test_a_redelivery_deletes_the_placeholder_a_dead_worker_never_recorded(slack, channel, gateway, claims, clock):
    ask = ask_in(slack, channel)
    earlier = ask_in(slack, channel, "an earlier question")
    claims.acquire(ask.event_id, "dead-worker", 30, TTL)
    orphan = _orphan(slack, gateway, ask)  # …and it died before store.set_reply
    other_question = _orphan(slack, gateway, ask, question=earlier.ts)  # (still being answered elsewhere)
    written = _orphan(slack, gateway, ask, status="done")  # a finished reply is no orphan, whatever made it
    clock.advance(31)
    assert _worker(slack, claims).answer(ask) == JobOutcome.ANSWERED
    replies = {m["ts"]: m for m in _bot_messages(slack, channel)}
    assert orphan not in replies, "the orphan is gone"
    assert other_question in replies and written in replies, "other replies stay"
    [answer] = [m for ts, m in replies.items() if ts not in (other_question, written)]
    assert "What is a mutant?" in answer["text"] and _status(answer) == "done"
    claim = claims.get(ask.event_id)
    assert (claim.reply_ts, claim.attempts) == (answer["ts"], 2)


def test_a_worker_taken_over_while_posting_deletes_its_own_placeholder(slack, channel, claims, clock, tmp_path):
    ask = ask_in(slack, channel)

    class TakenOverWhilePosting(SqliteStore):
        """The store as the stalled worker finds it: its lease ran out while it posted, and a
        redelivery took the claim (the real transitions decide; the test only moves time)."""

        def set_reply(self, event_id, owner, reply_ts):
            clock.advance(31)
            assert claims.acquire(event_id, "next-worker", 30, TTL).outcome == "acquired"
            return super().set_reply(event_id, owner, reply_ts)

    stalled = _worker(slack, TakenOverWhilePosting(str(tmp_path / "claims.sqlite3"), now=clock))
    assert stalled.answer(ask) == JobOutcome.TAKEN_OVER
    assert _bot_messages(slack, channel) == [], "no second reply beside the new owner's"
    assert claims.get(ask.event_id).owner == "next-worker"
