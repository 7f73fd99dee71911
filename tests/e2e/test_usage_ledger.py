"""Every answer writes one usage ledger entry, however it ended (issue 15), read back from the store the
bot used, on both backends (SQLite, and Firestore in its emulator): exact tokens when OpenAI reported them
(cached and reasoning included) and a cost from the price table; counted locally when it did not (Stop, a
broken stream); the tool loop's requests summed and its tool calls counted; errors, practice mode, Delete
and a newer question each with their outcome; a redelivered event still one entry."""
from __future__ import annotations

import datetime
import time
import uuid

import pytest

from flows import ASKER, replies_to, say, wait_answer
from harness import new_event_id, shortcut_payload, stop_button_payload
from prompts import DATA_NOT_INSTRUCTIONS
from standins.openai_api import Script
from threadwise.model.tokens import estimate_tokens
from threadwise.state.firestore import FirestoreStore
from threadwise.state.sqlite import SqliteStore
from threadwise.state.usage_records import UTC, UsageOutcome
from threadwise.usage.prices import cost_of, load_price_table
from threadwise.usage.tokens import TokenCounts

MODEL = "gpt-5-mini"  # priced in the shipped table
SYSTEM = "be brief"
USER_TOKEN = "xoxp-ledger-test"  # the search_slack tool, for the tool loop
SLOW = dict(text=" ".join(f"token{i}" for i in range(400)), chunk_chars=7, delta_delay=0.02)
_RUN = uuid.uuid4().hex[:8]


class Deployed:
    """A bot on one backend, and the same store opened by the test to read the ledger back."""

    def __init__(self, bot, reader):
        self.bot, self.reader = bot, reader

    def entry(self, event_id: str, timeout: float = 15):
        """The answer's entry, once it is written (after the final text); fails if there are two."""
        deadline = time.monotonic() + timeout
        while True:
            now = datetime.datetime.now(UTC)
            found = [e for e in self.reader.usage_in_month(now.year, now.month) if e.entry_id == event_id]
            assert len(found) <= 1, "one entry per answer"
            if found or time.monotonic() > deadline:
                assert found, f"no ledger entry for {event_id}"
                return found[0]
            time.sleep(0.1)


def _open(request, tmp_path_factory, bots, slack, practice: bool) -> Deployed:
    env = dict(OPENAI_MODEL=MODEL, SYSTEM_PROMPT=SYSTEM, SLACK_USER_TOKEN=USER_TOKEN)
    name = f"ledger-{request.param}-{'practice' if practice else 'model'}"
    slack.user_tokens[USER_TOKEN] = "UADMIN"
    if request.param == "sqlite":
        path = str(tmp_path_factory.mktemp(name) / "store.sqlite3")
        return Deployed(bots.get(practice=practice, own=name, SQLITE_PATH=path, **env), SqliteStore(path))
    emulator = request.getfixturevalue("firestore_emulator")
    collection = f"ledger_{_RUN}_{int(practice)}"
    bot = bots.get(practice=practice, own=name, STORE="firestore", FIRESTORE_COLLECTION=collection,
                   **emulator.env, **env)
    return Deployed(bot, FirestoreStore(collection=collection, client=emulator.client()))


@pytest.fixture(scope="module", params=["sqlite", "firestore"])
def deployed(request, tmp_path_factory, bots, slack):
    return _open(request, tmp_path_factory, bots, slack, practice=False)


@pytest.fixture(scope="module", params=["sqlite", "firestore"])
def practising(request, tmp_path_factory, bots, slack):
    return _open(request, tmp_path_factory, bots, slack, practice=True)


def _ask(deployed, slack, channel, text, **more) -> tuple[str, str]:
    event_id = new_event_id()
    ts, response = say(deployed.bot, slack, channel, text, event_id=event_id, **more)
    assert response.status == 200
    return ts, event_id


def _streaming(slack, channel, question_ts):
    def shown(fake):
        parts = replies_to(fake, channel, question_ts)
        return parts[-1] if parts and parts[-1]["text"].startswith("token") else None

    return slack.wait_for(shown, timeout=10)


def _sent_first(question: str) -> int:
    """The model input's estimate for a question alone in a thread (the bot has a knowledge tool)."""
    return estimate_tokens(SYSTEM) + estimate_tokens(question) + estimate_tokens(DATA_NOT_INSTRUCTIONS)


def test_a_completed_answer_records_the_reported_tokens_and_their_price(deployed, slack, openai_server, channel):
    openai_server.queue(Script(text="A whole answer.", usage={"input_tokens": 1200, "cached_tokens": 400,
                                                             "output_tokens": 50, "reasoning_tokens": 20}))
    before = datetime.datetime.now(UTC)
    ts, event_id = _ask(deployed, slack, channel, "what does it cost?")
    wait_answer(slack, channel, ts)
    entry = deployed.entry(event_id)
    assert (entry.input_tokens, entry.cached_input_tokens, entry.output_tokens, entry.reasoning_tokens) == (
        1200, 400, 50, 20)
    price = load_price_table().price_of(MODEL)
    assert entry.cost_usd == cost_of(TokenCounts(1200, 400, 50, 20), price) > 0
    assert (entry.outcome, entry.estimated, entry.model, entry.api) == (
        UsageOutcome.COMPLETED, False, MODEL, "responses")
    assert (entry.workspace, entry.channel, entry.user, entry.thread_ts) == ("T1", channel, ASKER, ts)
    assert before <= entry.started <= entry.ended <= datetime.datetime.now(UTC)
    assert dict(entry.tool_calls) == {}

    # Slack delivers the event again (a retry): the answer is not repeated, and neither is its entry. (After the
    # first delivery's job has ended: before, its claim is still held and the retry is told another is answering.)
    deployed.bot.wait_for_log(message="job ended", event_id=event_id)
    since = deployed.bot.log_mark()
    say(deployed.bot, slack, channel, "what does it cost?", event_id=event_id)
    deployed.bot.wait_for_log(since=since, message="already answered", event_id=event_id)
    assert deployed.entry(event_id) == entry


def test_a_stopped_answer_is_counted_locally(deployed, slack, openai_server, channel):
    openai_server.queue(Script(**SLOW))
    ts, event_id = _ask(deployed, slack, channel, "talk for a long time")
    reply = _streaming(slack, channel, ts)
    request = openai_server.requests[-1]
    assert deployed.bot.send_interaction(stop_button_payload(channel, ASKER, reply)).status == 200
    parts = wait_answer(slack, channel, ts)
    entry = deployed.entry(event_id)
    openai_server.wait_for(lambda f: request.outcome is not None, timeout=10)
    assert request.client_closed_early and request.usage_reported is None  # OpenAI reported nothing
    assert (entry.outcome, entry.estimated) == (UsageOutcome.STOPPED, True)
    assert entry.input_tokens == _sent_first("talk for a long time")
    shown = " ".join(p["text"] for p in parts).split("\n\n_⏹")[0]
    assert estimate_tokens(shown) <= entry.output_tokens <= estimate_tokens(request.text_sent)
    assert entry.cost_usd == cost_of(TokenCounts(entry.input_tokens, 0, entry.output_tokens, 0),
                                     load_price_table().price_of(MODEL))


def test_a_tool_loop_answer_sums_both_requests_and_counts_its_tool_calls(deployed, slack, openai_server, channel):
    openai_server.queue(Script(tool_calls=(("search_slack", {"query": "freeze"}),),
                               usage={"input_tokens": 300, "cached_tokens": 100}),
                        Script(text="It starts Friday.", usage={"input_tokens": 900, "output_tokens": 30,
                                                                "reasoning_tokens": 10}))
    ts, event_id = _ask(deployed, slack, channel, "when does the freeze start?")
    wait_answer(slack, channel, ts)
    first, second = openai_server.requests[-2:]
    entry = deployed.entry(event_id)
    reported = [first.usage_reported, second.usage_reported]
    assert (entry.input_tokens, entry.cached_input_tokens, entry.output_tokens, entry.reasoning_tokens) == (
        1200, 100, sum(r["output_tokens"] for r in reported), 10)
    assert dict(entry.tool_calls) == {"search_slack": 1}
    assert (entry.outcome, entry.estimated) == (UsageOutcome.COMPLETED, False)


def test_a_model_error_still_counts_what_was_spent(deployed, slack, openai_server, channel):
    openai_server.queue(Script(text="a partial answer before it breaks", chunk_chars=5, break_after=3))
    ts, event_id = _ask(deployed, slack, channel, "break please")
    final = wait_answer(slack, channel, ts)[-1]
    assert final["metadata"]["event_payload"]["status"] == "error"
    entry = deployed.entry(event_id)
    assert (entry.outcome, entry.estimated) == (UsageOutcome.ERROR, True)
    assert entry.input_tokens == _sent_first("break please")
    assert entry.output_tokens == estimate_tokens("a partial answer before it breaks"[:15])


def test_an_error_before_any_token_records_nothing_spent(deployed, slack, openai_server, channel):
    openai_server.queue(Script(status_error="server_error"))
    ts, event_id = _ask(deployed, slack, channel, "fail at once")
    wait_answer(slack, channel, ts)
    entry = deployed.entry(event_id)
    assert (entry.outcome, entry.input_tokens, entry.output_tokens, entry.estimated) == (
        UsageOutcome.ERROR, 0, 0, False)  # a refused request is not billed


def test_a_deleted_answer_and_a_superseded_one(deployed, slack, openai_server, channel):
    openai_server.queue(Script(**SLOW))
    ts, deleted_id = _ask(deployed, slack, channel, "long answer to delete")
    reply = _streaming(slack, channel, ts)
    deployed.bot.send_interaction(shortcut_payload("delete_message", channel, ASKER, reply))
    assert deployed.entry(deleted_id).outcome is UsageOutcome.DELETED

    openai_server.queue(Script(**SLOW), Script(text="the newer answer"))
    first, older_id = _ask(deployed, slack, channel, "first question")
    _streaming(slack, channel, first)
    second, newer_id = _ask(deployed, slack, channel, "actually, this instead", thread_ts=first)
    wait_answer(slack, channel, second)
    older = deployed.entry(older_id)
    assert (older.outcome, older.estimated) == (UsageOutcome.SUPERSEDED, True)
    assert deployed.entry(newer_id).outcome is UsageOutcome.COMPLETED


def test_practice_mode_is_recorded_as_spending_nothing(practising, slack, openai_server, channel):
    ts, event_id = _ask(practising, slack, channel, "practice question")
    wait_answer(slack, channel, ts)
    entry = practising.entry(event_id)
    assert (entry.outcome, entry.model, entry.cost_usd, entry.estimated) == (
        UsageOutcome.PRACTICE, "practice", 0, True)
    assert entry.input_tokens > 0 and entry.output_tokens > 0
    assert openai_server.requests == []
