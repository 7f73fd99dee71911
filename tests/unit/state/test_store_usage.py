"""The usage ledger on both backends (SQLite, and Firestore in its emulator): one entry per answer,
read back exactly, by UTC calendar month, summed without unknown costs — and never a message text."""
from __future__ import annotations

import dataclasses
import datetime
import json
from contextlib import closing
from decimal import Decimal

import pytest

from threadwise.state.sqlite import SqliteStore
from threadwise.state.usage_ledger import month_filters, sqlite_select
from threadwise.state.usage_records import ENTRY_FIELDS, UsageEntry, UsageOutcome
from store_cases import make_store  # noqa: F401  (the fixture, on both backends)

UTC = datetime.timezone.utc
JULY_LAST = datetime.datetime(2026, 7, 31, 23, 59, 59, tzinfo=UTC)
AUGUST_FIRST = datetime.datetime(2026, 8, 1, 0, 0, 0, tzinfo=UTC)
# Every field a ledger entry has: ids, names, numbers, times. Adding one means looking at this list.
NO_TEXT_FIELDS = {"entry_id", "workspace", "channel", "user", "thread_ts", "model", "api", "input_tokens",
                  "cached_input_tokens", "output_tokens", "reasoning_tokens", "tool_calls", "started", "ended",
                  "outcome", "cost_usd", "estimated"}


def entry(entry_id: str = "Ev1", *, ended: datetime.datetime = JULY_LAST, **changes) -> UsageEntry:
    values = dict(
        entry_id=entry_id, workspace="T1", channel="C1", user="U1", thread_ts="1785542399.000100",
        model="gpt-5-mini", api="responses", input_tokens=3000, cached_input_tokens=1000, output_tokens=1500,
        reasoning_tokens=1000, tool_calls={"web_search": 2, "notion_search": 1},
        started=ended - datetime.timedelta(seconds=12.345678), ended=ended, outcome=UsageOutcome.COMPLETED,
        cost_usd=Decimal("0.003275"), estimated=False)
    return UsageEntry(**{**values, **changes})


def test_every_field_reads_back_as_it_was_written(make_store):
    store = make_store()
    full = entry("Ev1", tool_calls={"web_search": 3, "github_search": 1, "drive_search": 2},
                 cost_usd=Decimal("0.000000125"), outcome=UsageOutcome.SUPERSEDED, estimated=True, api="chat")
    unpriced = entry("Ev2", model="a-model-without-a-price", cost_usd=None, tool_calls={},
                     outcome=UsageOutcome.PRACTICE, ended=JULY_LAST - datetime.timedelta(days=3))
    assert store.record_usage(full) and store.record_usage(unpriced)

    back = store.usage_in_month(2026, 7)
    assert back == [unpriced, full], "oldest first"
    assert back[1].cost_usd == Decimal("0.000000125") and type(back[1].cost_usd) is Decimal, "exact, not a float"
    assert back[0].cost_usd is None, "an unknown price stays unknown, never $0"
    assert dict(back[1].tool_calls) == {"web_search": 3, "github_search": 1, "drive_search": 2}
    assert back[1].outcome is UsageOutcome.SUPERSEDED and back[1].estimated is True
    assert back[1].ended == JULY_LAST and back[1].ended.tzinfo == UTC
    assert back[1].started == JULY_LAST - datetime.timedelta(seconds=12.345678), "to the microsecond"


def test_every_outcome_is_stored_as_its_word(make_store):
    store = make_store()
    for n, outcome in enumerate(UsageOutcome):
        store.record_usage(entry(f"Ev{n}", outcome=outcome, ended=JULY_LAST - datetime.timedelta(minutes=n)))
    assert {e.outcome for e in store.usage_in_month(2026, 7)} == set(UsageOutcome)
    assert {row["outcome"] for row in _stored_rows(store)} == {
        "completed", "stopped", "deleted", "superseded", "error", "budget_refused", "practice"}


def test_recording_an_answer_twice_counts_it_once(make_store):
    first, second = make_store(), make_store()  # two instances, one store: a redelivered job
    assert first.record_usage(entry("Ev1"))
    assert not second.record_usage(entry("Ev1", output_tokens=9999, cost_usd=Decimal("5")))
    assert first.usage_in_month(2026, 7) == [entry("Ev1")], "the first entry wins"
    assert second.spent_in_month(2026, 7) == Decimal("0.003275")


def test_months_are_utc_calendar_months_by_the_end(make_store):
    store = make_store()
    store.record_usage(entry("last-second-of-july", ended=JULY_LAST))
    store.record_usage(entry("first-second-of-august", ended=AUGUST_FIRST))
    # 01:30 in Paris on August 1st is 23:30 UTC on July 31st: July.
    store.record_usage(entry("paris", ended=datetime.datetime(2026, 8, 1, 1, 30, tzinfo=datetime.timezone(
        datetime.timedelta(hours=2)))))
    # Started in July, ended in August: counts when it ended.
    store.record_usage(entry("across", ended=AUGUST_FIRST + datetime.timedelta(seconds=5)))
    store.record_usage(entry("new-year", ended=datetime.datetime(2027, 1, 1, tzinfo=UTC)))

    assert [e.entry_id for e in store.usage_in_month(2026, 7)] == ["paris", "last-second-of-july"]
    assert [e.entry_id for e in store.usage_in_month(2026, 8)] == ["first-second-of-august", "across"]
    assert [e.entry_id for e in store.usage_in_month(2027, 1)] == ["new-year"]
    assert store.usage_in_month(2026, 12) == [] and store.usage_in_month(2026, 6) == []
    assert store.spent_in_month(2026, 7) == Decimal("0.006550")
    with pytest.raises(ValueError):
        store.usage_in_month(2026, 13)


def test_the_months_queries_filter_by_workspace_user_and_channel(make_store):
    store = make_store()
    for entry_id, workspace, user, channel, cost in [
            ("a", "T1", "U1", "C1", "0.10"), ("b", "T1", "U1", "C2", "0.20"), ("c", "T1", "U2", "C1", "0.40"),
            ("d", "T2", "U1", "C1", "0.80"), ("e", "T2", "U3", "C3", "1.60")]:
        store.record_usage(entry(entry_id, workspace=workspace, user=user, channel=channel, cost_usd=Decimal(cost),
                                 ended=JULY_LAST - datetime.timedelta(hours=ord(entry_id))))
    assert [e.entry_id for e in store.usage_in_month(2026, 7, workspace="T2")] == ["e", "d"]
    assert [e.entry_id for e in store.usage_in_month(2026, 7, workspace="T9")] == []
    assert store.spent_in_month(2026, 7) == Decimal("3.10")
    assert store.spent_in_month(2026, 7, workspace="T1") == Decimal("0.70")
    assert store.spent_in_month(2026, 7, user="U1") == Decimal("1.10"), "a user across workspaces"
    assert store.spent_in_month(2026, 7, workspace="T1", user="U1") == Decimal("0.30")
    assert store.spent_in_month(2026, 7, channel="C1") == Decimal("1.30")
    assert store.spent_in_month(2026, 7, workspace="T1", user="U1", channel="C2") == Decimal("0.20")
    assert store.spent_in_month(2026, 7, user="U9") == Decimal(0)
    assert store.spent_in_month(2026, 8) == Decimal(0)
    # A budget check's reads at once, in order: one running total each, or the entries where none holds it.
    assert store.spent_in_month_each(2026, 7, [
        {"workspace": "T1", "user": "U1"}, {"workspace": "T1", "channel": "C1"}, {"workspace": "T1"},
        {"workspace": "T9", "user": "U1"}, {"user": "U1"}, {"workspace": "T1", "user": "U1", "channel": "C2"},
        {"workspace": "T2", "user": "U1"}]) == [Decimal("0.30"), Decimal("0.50"), Decimal("0.70"), Decimal(0),
                                                  Decimal("1.10"), Decimal("0.20"), Decimal("0.80")]
    assert store.spent_in_month_each(2026, 7, []) == []


def test_the_sum_leaves_unknown_costs_out_and_stays_exact(make_store):
    store = make_store()
    for n in range(10):  # 0.1 ten times is 1.0 in decimals, 0.9999999999999999 in floats
        store.record_usage(entry(f"known{n}", cost_usd=Decimal("0.1"), ended=JULY_LAST - datetime.timedelta(hours=n)))
    store.record_usage(entry("unknown", cost_usd=None))
    store.record_usage(entry("free", cost_usd=Decimal("0"), outcome=UsageOutcome.PRACTICE))
    spent = store.spent_in_month(2026, 7)
    assert spent == Decimal("1.0") and type(spent) is Decimal
    assert store.spent_in_month(2026, 7, user="U1") == Decimal("1.0")
    store.record_usage(entry("unknown-in-june", cost_usd=None, ended=JULY_LAST - datetime.timedelta(days=40)))
    assert store.spent_in_month(2026, 6) == Decimal(0), "a month of unknown costs: nothing known spent"


def test_an_entry_holds_no_text(make_store):
    assert set(ENTRY_FIELDS) == NO_TEXT_FIELDS
    with pytest.raises(TypeError):
        entry(text="the question")  # no such field, so no way to store one
    store = make_store()
    store.record_usage(entry("Ev1"))
    (row,) = _stored_rows(store)
    assert set(row) == NO_TEXT_FIELDS | {"month"}, "the stored form has nothing more either"
    assert row["month"] == "2026-07" and row["cost_usd"] == "0.003275"
    assert row["ended"] == "2026-07-31T23:59:59.000000+00:00"


def test_the_stored_form_is_plain(make_store):
    """A process on other code reads it: decimal strings without exponents, ISO times, ints, a map."""
    store = make_store()
    store.record_usage(entry("tiny", cost_usd=Decimal("1.25E-7")))
    (row,) = _stored_rows(store)
    assert row["cost_usd"] == "0.000000125"
    assert type(row["input_tokens"]) is int and dict(row["tool_calls"]) == {"notion_search": 1, "web_search": 2}
    assert datetime.datetime.fromisoformat(row["started"]) == JULY_LAST - datetime.timedelta(seconds=12.345678)


def test_an_entry_refuses_what_a_ledger_must_not_hold():
    for wrong in (dict(entry_id=""), dict(input_tokens=-1), dict(output_tokens=1.5), dict(reasoning_tokens=True),
                  dict(tool_calls={"web_search": -1}), dict(cost_usd=0.1), dict(cost_usd=Decimal("-0.01")),
                  dict(cost_usd=Decimal("NaN")), dict(outcome="finished"),
                  dict(started=datetime.datetime(2026, 7, 31, 23, 0))):
        with pytest.raises(ValueError):
            entry(**wrong)
    with pytest.raises(ValueError):
        entry(ended=datetime.datetime(2026, 7, 31, 23, 0))  # naive: which month would it be?


def test_an_entry_is_frozen_and_owns_its_tool_calls():
    calls = {"web_search": 1}
    made = entry(tool_calls=calls)
    calls["web_search"] = 5
    assert made.tool_calls == {"web_search": 1}
    with pytest.raises(TypeError):
        made.tool_calls["web_search"] = 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.cost_usd = Decimal(0)


@pytest.mark.parametrize("filters", [dict(), dict(workspace="T1"), dict(user="U1"), dict(channel="C1"),
                                     dict(workspace="T1", user="U1", channel="C1")])
def test_sqlite_answers_every_month_query_from_an_index(tmp_path, filters):
    store = SqliteStore(str(tmp_path / "claims.sqlite3"))
    sql, params = sqlite_select("cost_usd", month_filters(2026, 7, **filters))
    with closing(store._connect()) as db:
        plan = " ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "USING INDEX usage_month_" in plan and "SCAN" not in plan, plan


def _stored_rows(store) -> list[dict]:
    """The entries as the backend holds them (a row's columns, a document's fields)."""
    if isinstance(store, SqliteStore):
        with closing(store._connect()) as db:
            cursor = db.execute("SELECT * FROM usage")
            names = [column[0] for column in cursor.description]
            rows = [dict(zip(names, row)) for row in cursor.fetchall()]
        return [{**row, "tool_calls": json.loads(row["tool_calls"])} for row in rows]
    return [doc.to_dict() for doc in store._usage().stream()]
