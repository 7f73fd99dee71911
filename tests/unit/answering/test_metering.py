"""The answer's ledger entry: how each ending maps to an outcome, what the entry holds and costs, that it is
stored once per answer, and that a ledger that fails never breaks the answer."""
from __future__ import annotations

import datetime
import logging
import shutil
from decimal import Decimal

import pytest

from threadwise.answering.metering import AnswerEnd, Meter, Spending, ledger_outcome, record, usage_entry
from threadwise.answering.outcomes import AnswerStatus
from threadwise.config import load_settings
from threadwise.model.types import Usage
from threadwise.slack.events import Ask
from threadwise.state.sqlite import SqliteStore
from threadwise.state.stop_records import StopReason, StopSignal
from threadwise.state.usage_records import UTC, UsageOutcome
from threadwise.usage.prices import load_price_table

ASK = Ask("Ev1", "T1", "C1", "channel", "U1", "what is up?", "1785542399.000200", "1785542399.000100")
STARTED = datetime.datetime(2026, 7, 31, 23, 59, tzinfo=UTC)
DONE, ERROR = AnswerStatus.DONE, AnswerStatus.ERROR


def model_settings(**more):
    return load_settings({"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-1", "OPENAI_API_KEY": "sk-x",
                          "OPENAI_MODEL": "gpt-5-mini", **more}).model


class Used:
    """What the answer loop reads of a model stream: its usage and tool calls."""

    def __init__(self, usage, tool_calls=None):
        self.usage, self.tool_calls = usage, tool_calls or {}


@pytest.mark.parametrize("end, practice, expected", [
    (AnswerEnd(DONE, None), False, UsageOutcome.COMPLETED),
    (AnswerEnd(ERROR, None), False, UsageOutcome.ERROR),
    (AnswerEnd(DONE, StopSignal(StopReason.STOPPED, "U2")), False, UsageOutcome.STOPPED),
    (AnswerEnd(ERROR, StopSignal(StopReason.STOPPED)), False, UsageOutcome.STOPPED),  # the Stop cut the stream
    (AnswerEnd(DONE, StopSignal(StopReason.DELETED)), False, UsageOutcome.DELETED),
    (AnswerEnd(DONE, StopSignal(StopReason.SUPERSEDED)), False, UsageOutcome.SUPERSEDED),
    (AnswerEnd(DONE, StopSignal(StopReason.TAKEN_OVER)), False, None),  # the new owner records it
    (AnswerEnd(DONE, None), True, UsageOutcome.PRACTICE),
    (AnswerEnd(DONE, StopSignal(StopReason.STOPPED)), True, UsageOutcome.PRACTICE),
    (AnswerEnd(DONE, None, UsageOutcome.BUDGET_REFUSED), False, UsageOutcome.BUDGET_REFUSED),
    (AnswerEnd(DONE, None, UsageOutcome.BUDGET_REFUSED), True, UsageOutcome.BUDGET_REFUSED),
])
def test_every_ending_has_its_outcome(end, practice, expected):
    assert ledger_outcome(end, practice) is expected


def test_spending_sums_every_stream_and_is_estimated_if_any_was():
    spending = Spending()
    assert spending.usage() == Usage(0, 0) and spending.tool_calls() == {}
    spending.add(Used(Usage(100, 10, 40, 5), {"web_search": 1}))
    spending.add(Used(None))  # a stream that never got going
    spending.add(Used(Usage(200, 20, estimated=True), {"web_search": 2, "search_notion": 1}))
    assert spending.usage() == Usage(300, 30, 40, 5, estimated=True)
    assert spending.tool_calls() == {"web_search": 3, "search_notion": 1}


def test_the_entry_holds_the_answers_facts_and_costs_it_at_the_tables_price():
    prices = load_price_table()
    entry = usage_entry(ASK, model_settings(), Usage(3000, 1500, 1000, 1000), {"web_search": 2}, STARTED,
                        UsageOutcome.COMPLETED, prices)
    assert (entry.entry_id, entry.workspace, entry.channel, entry.user, entry.thread_ts) == (
        "Ev1", "T1", "C1", "U1", "1785542399.000100")
    assert (entry.model, entry.api, entry.started, entry.outcome, entry.estimated) == (
        "gpt-5-mini", "responses", STARTED, UsageOutcome.COMPLETED, False)
    assert (entry.input_tokens, entry.cached_input_tokens, entry.output_tokens, entry.reasoning_tokens) == (
        3000, 1000, 1500, 1000)
    # gpt-5-mini: $0.25 input, $0.025 cached input, $2.00 output per 1M tokens
    assert entry.cost_usd == Decimal("0.003525") == (2000 * Decimal("0.25") + 1000 * Decimal("0.025")
                                                     + 1500 * Decimal("2")) / 1_000_000
    assert dict(entry.tool_calls) == {"web_search": 2}
    assert STARTED < entry.ended <= datetime.datetime.now(UTC)


def test_an_unpriced_model_costs_unknown_never_zero_and_practice_costs_nothing():
    prices = load_price_table()
    unpriced = usage_entry(ASK, model_settings(OPENAI_MODEL="a-model-nobody-priced"), Usage(10, 10), {}, STARTED,
                           UsageOutcome.COMPLETED, prices)
    assert unpriced.cost_usd is None and unpriced.input_tokens == 10
    practice = usage_entry(ASK, model_settings(PRACTICE_MODE="true"), Usage(10, 10, estimated=True), {}, STARTED,
                           UsageOutcome.PRACTICE, prices)
    assert (practice.model, practice.cost_usd, practice.estimated) == ("practice", Decimal(0), True)


def test_recorded_once_per_answer_and_a_failing_ledger_never_breaks_the_answer(tmp_path, caplog):
    folder = tmp_path / "store"
    folder.mkdir()
    store = SqliteStore(str(folder / "ledger.sqlite3"))
    meter = Meter(store, load_price_table)
    spending = Spending()
    spending.add(Used(Usage(100, 10)))
    first = record(ASK, model_settings(), meter, spending, AnswerEnd(DONE, None), STARTED)
    again = record(ASK, model_settings(), meter, spending, AnswerEnd(ERROR, None), STARTED)  # a redelivery
    assert first is not None and again is not None
    assert [e.outcome for e in store.usage_in_month(*_month(first.ended))] == [UsageOutcome.COMPLETED]
    shutil.rmtree(folder)  # the ledger cannot be written now
    with caplog.at_level(logging.ERROR):
        record(ASK, model_settings(), meter, spending, AnswerEnd(DONE, None), STARTED)  # must not raise
    assert any(r.getMessage().startswith("could not record usage") for r in caplog.records)


def test_a_taken_over_answer_records_nothing(tmp_path):
    store = SqliteStore(str(tmp_path / "ledger.sqlite3"))
    entry = record(ASK, model_settings(), Meter(store, load_price_table), Spending(),
                   AnswerEnd(DONE, StopSignal(StopReason.TAKEN_OVER)), STARTED)
    assert entry is None and store.usage_in_month(*_month(datetime.datetime.now(UTC))) == []
    store.close()


def _month(moment: datetime.datetime) -> tuple[int, int]:
    return moment.year, moment.month
