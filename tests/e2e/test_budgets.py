"""Monthly budgets through main.slack_bot (issue 15, item 3): over a budget no request reaches OpenAI and the
asker reads one sentence; under it the answer comes; an admin is told once when a budget passes 80 %.

What was spent is set up by recording ledger entries into the bot's own store beforehand (``record_usage``,
the only way entries are written). The stand-in's model is priced by a MODEL_PRICES file of the test's own.
"""
from __future__ import annotations

import datetime
import itertools
import json
import uuid
from decimal import Decimal

import pytest

from flows import ASKER, say, shared_channel, wait_answer
from standins.openai_api import Script
from threadwise.state.firestore import FirestoreStore
from threadwise.state.sqlite import SqliteStore
from threadwise.state.usage_records import UsageEntry, UsageOutcome

_admins = itertools.count(1)
# $10 per 1M input tokens, $200 per 1M output tokens: with MAX_OUTPUT_TOKENS=1000 an answer's worst case is
# a little over $0.20, so $9.87 spent leaves no room for it and $5.00 does.
PRICES = {"models": {"test-model": {"input": 10, "cached_input": 5, "output": 200, "checked": "2026-12-06",
                                    "source": "the tests' own price"}}}


def spend(store, amount: str, *, user: str = ASKER, channel: str = "C0THER", workspace: str = "T1") -> None:
    """An answer of this month that cost ``amount`` (recorded as the ledger records one)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    store.record_usage(UsageEntry(
        entry_id=f"Ev{uuid.uuid4().hex[:10]}", workspace=workspace, channel=channel, user=user,
        thread_ts="1700000000.000100", model="test-model", api="responses", input_tokens=1000,
        cached_input_tokens=0, output_tokens=1000, reasoning_tokens=0, tool_calls={},
        started=now - datetime.timedelta(seconds=3), ended=now, outcome=UsageOutcome.COMPLETED,
        cost_usd=Decimal(amount), estimated=False))


@pytest.fixture
def budgeted(bots, tmp_path):
    """A bot of its own with a $10 user budget, an admin of the test's own (the stand-in's DMs outlive a
    test) and a priced model; its store; the admin."""
    admin = f"UADMIN{next(_admins):04d}"
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(PRICES))
    path = tmp_path / "store.sqlite3"

    def start(own: str = "budget", **settings: str):
        return bots.get(own=f"{own}-{tmp_path.name}", SQLITE_PATH=str(path), MODEL_PRICES=str(prices),
                        MAX_OUTPUT_TOKENS="1000", BUDGET_USER_MONTHLY_USD="10", ADMIN_USERS=admin, **settings)

    return start, SqliteStore(str(path)), admin


def last_line(parts: list[dict]) -> str:
    return parts[-1]["text"].splitlines()[-1]


def test_over_the_user_budget_no_request_and_one_sentence(budgeted, slack, openai_server, channel):
    start, store, admin = budgeted
    bot = start()
    spend(store, "9.87")
    ts, _ = say(bot, slack, channel, "one more question")
    parts = wait_answer(slack, channel, ts)
    sentence = last_line(parts)
    assert "Your monthly Threadwise budget is almost spent ($9.87 of $10.00 this month" in sentence, sentence
    assert "starts again on 1 " in sentence and "(UTC)" in sentence and f"<@{admin}>" in sentence
    assert parts[-1]["metadata"]["event_payload"]["status"] == "error"
    assert openai_server.requests == [], "no model request is made over a budget"


def test_in_a_channel_the_refusal_keeps_the_askers_spending_to_themselves(budgeted, slack, openai_server):
    """Everyone in a channel reads the thread: the sentence names the budget and points to the Home tab, where
    the asker alone sees the amount (in their DM, above, the amount is in the sentence)."""
    start, store, admin = budgeted
    bot = start()
    spend(store, "9.87")
    channel = shared_channel(slack, ASKER, "UBYSTANDER")
    ts, _ = say(bot, slack, channel, f"<@{slack.bot_user_id}> one more question", channel_type="channel",
                event_type="app_mention")
    sentence = last_line(wait_answer(slack, channel, ts))
    assert "Your monthly Threadwise budget is almost spent (your Home tab in Threadwise shows how much)" in sentence
    assert "$" not in sentence, sentence
    assert openai_server.requests == []


def test_under_the_user_budget_the_answer_comes(budgeted, slack, openai_server, channel):
    start, store, admin = budgeted
    bot = start()
    spend(store, "5.00")
    spend(store, "9.99", user="USOMEONEELSE")  # another person's spending is not the asker's budget
    openai_server.reply = Script(text="Here is the answer.")
    ts, _ = say(bot, slack, channel, "a question")
    parts = wait_answer(slack, channel, ts)
    assert parts[-1]["text"] == "Here is the answer."
    assert len(openai_server.requests) == 1


def admin_dms(slack, admin: str) -> list[dict]:
    dm = slack.dm_with(admin)
    return [m for m in slack.messages(dm) if m.get("bot_id") == slack.bot_id] if dm else []


def test_the_admin_is_told_once_when_a_budget_passes_80_percent(budgeted, slack, openai_server, channel):
    """Two answers past the line, in two processes sharing the store (another instance, or a restart):
    one DM. The marker is in the store, not in a process's memory."""
    start, store, admin = budgeted
    first, second = start("alert-a"), start("alert-b")
    spend(store, "8.20")
    for bot in (first, second):
        ts, _ = say(bot, slack, channel, "still under the limit")
        assert not last_line(wait_answer(slack, channel, ts)).startswith("_⚠️")
    first.wait_for_log(message="budget alert sent")
    second.wait_for_log(message="budget alert already sent this month")  # (its answer's last step)
    dms = admin_dms(slack, admin)
    assert len(dms) == 1, dms
    text = dms[0]["text"]
    assert text.startswith(f"Threadwise: <@{ASKER}>'s monthly budget is 82 % spent ($8.20 of $10.00)"), text
    assert "BUDGET_USER_MONTHLY_USD" in text and "1 " in text
    assert [c.params["users"] for c in slack.calls_of("conversations.open") if c.params["users"] == admin] == [admin]


def test_a_refusal_alerts_too(budgeted, slack, openai_server, channel):
    start, store, admin = budgeted
    bot = start()
    spend(store, "10.50")
    ts, _ = say(bot, slack, channel, "over the limit")
    assert "is spent ($10.50 of $10.00 this month)" in last_line(wait_answer(slack, channel, ts))
    dms = slack.wait_for(lambda fake: admin_dms(fake, admin))
    assert "105 % spent" in dms[0]["text"]
    assert openai_server.requests == []


def test_practice_mode_is_never_refused(bots, slack, tmp_path, channel):
    path = tmp_path / "store.sqlite3"
    bot = bots.get(practice=True, own=f"practice-{tmp_path.name}", SQLITE_PATH=str(path), PRACTICE_MODE="true",
                   BUDGET_USER_MONTHLY_USD="1")
    spend(SqliteStore(str(path)), "5.00")
    ts, _ = say(bot, slack, channel, "practice question")
    assert "budget" not in wait_answer(slack, channel, ts)[-1]["text"]


def test_an_unpriced_model_with_budgets_is_refused_with_a_sentence(bots, slack, openai_server, tmp_path, channel):
    bot = bots.get(own=f"unpriced-{tmp_path.name}", SQLITE_PATH=str(tmp_path / "s.sqlite3"),
                   BUDGET_WORKSPACE_MONTHLY_USD="100")  # test-model: not in the shipped price table
    ts, _ = say(bot, slack, channel, "a question")
    sentence = last_line(wait_answer(slack, channel, ts))
    assert "“test-model” has no price" in sentence and "MODEL_PRICES" in sentence and "your Slack admin" in sentence
    assert openai_server.requests == []


def test_over_a_budget_on_firestore(bots, slack, openai_server, channel, tmp_path, firestore_emulator):
    """The same refusal and alert with STORE=firestore (the emulator): spending read from Firestore's ledger,
    the alert's once-a-month marker made there."""
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(PRICES))
    collection = f"budget_{uuid.uuid4().hex[:10]}"
    admin = f"UADMIN{next(_admins):04d}"
    bot = bots.get(own=f"firestore-{tmp_path.name}", STORE="firestore", FIRESTORE_COLLECTION=collection,
                   MODEL_PRICES=str(prices), MAX_OUTPUT_TOKENS="1000", BUDGET_USER_MONTHLY_USD="10",
                   ADMIN_USERS=admin, **firestore_emulator.env)
    store = FirestoreStore(collection=collection, client=firestore_emulator.client())
    spend(store, "9.87")
    ts, _ = say(bot, slack, channel, "one more question")
    assert "is almost spent ($9.87 of $10.00 this month" in last_line(wait_answer(slack, channel, ts))
    assert openai_server.requests == []
    assert "98 % spent" in slack.wait_for(lambda fake: admin_dms(fake, admin))[0]["text"]
    marker = store.get(f"budget-alert:{datetime.datetime.now(datetime.timezone.utc):%Y-%m}:T1:user:{ASKER}")
    assert marker is not None, "the once-a-month marker is in Firestore"
