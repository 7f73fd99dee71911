"""The month report (usage/report.py) and the ledger's CSV (usage/csv_export.py): the sums every view shows."""
from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest

from threadwise.state.usage_records import UsageEntry, UsageOutcome
from threadwise.usage.csv_export import HEADER, ledger_csv
from threadwise.usage.report import month_report

pytestmark = pytest.mark.in_process

UTC = datetime.timezone.utc


def entry(number: int, *, user="U1", channel="C1", model="gpt-4o", day=6, cost: str | None = "0.01",
          outcome=UsageOutcome.COMPLETED, output=100, estimated=False, month=12) -> UsageEntry:
    ended = datetime.datetime(2026, month, day, 10, 0, number % 60, tzinfo=UTC)
    return UsageEntry(f"Ev{number}", "T1", channel, user, "1.1", model, "responses", 1000, 200, output, 20, {},
                      ended - datetime.timedelta(seconds=3), ended, outcome,
                      None if cost is None else Decimal(cost), estimated)


def test_totals_split_by_user_channel_model_and_day():
    entries = [entry(1), entry(2, user="U2", day=7, cost="0.03"), entry(3, channel="C2", model="gpt-5", day=7),
               entry(4, user="U2", cost=None, model="mystery-model")]
    report = month_report(entries, 2026, 12)
    assert report.total.answers == 4
    assert report.total.cost_usd == Decimal("0.05")  # the unknown cost adds nothing and is counted apart
    assert report.total.unpriced_answers == 1 and report.unpriced_models == {"mystery-model"}
    assert report.total.input_tokens == 4000 and report.total.cached_input_tokens == 800
    assert report.total.output_tokens == 400 and report.total.reasoning_tokens == 80
    assert report.by_user["U1"].answers == 2 and report.by_user["U2"].cost_usd == Decimal("0.03")
    assert report.by_channel["C2"].answers == 1 and report.by_model["gpt-5"].cost_usd == Decimal("0.01")
    assert len(report.daily_cost_usd) == 31
    assert report.daily_cost_usd[5] == Decimal("0.01") and report.daily_cost_usd[6] == Decimal("0.04")
    assert report.people == 2
    assert [name for name, _ in report.top("user")] == ["U2", "U1"]  # by cost, then tokens


def test_refusals_and_practice_spend_nothing_and_make_nobody_a_user():
    entries = [entry(1), entry(2, user="U9", outcome=UsageOutcome.BUDGET_REFUSED, cost="0"),
               entry(3, user="U8", outcome=UsageOutcome.PRACTICE, cost="0")]
    report = month_report(entries, 2026, 12)
    assert report.total.answers == 1 and report.people == 1
    assert report.by_outcome[UsageOutcome.BUDGET_REFUSED].answers == 1
    assert report.by_outcome[UsageOutcome.PRACTICE].answers == 1
    assert "U9" not in report.by_user and "U8" not in report.by_user


def test_entries_of_another_month_are_left_out():
    report = month_report([entry(1), entry(2, month=11)], 2026, 12)
    assert report.total.answers == 1 and len(report.daily_cost_usd) == 31
    assert len(month_report([], 2026, 11).daily_cost_usd) == 30


def test_output_saved_by_stop_compares_with_the_median_completed_answer():
    entries = [entry(1, output=100), entry(2, output=300), entry(3, output=500),
               entry(4, outcome=UsageOutcome.STOPPED, output=50),
               entry(5, outcome=UsageOutcome.STOPPED, output=400)]  # longer than typical: saved nothing
    assert month_report(entries, 2026, 12).output_tokens_saved_by_stop == 250
    assert month_report([entry(4, outcome=UsageOutcome.STOPPED)], 2026, 12).output_tokens_saved_by_stop == 0


def test_csv_has_the_contract_header_and_one_row_per_entry():
    text = ledger_csv([entry(1, cost="0.0001234567"), entry(2, cost=None, estimated=True,
                                                              outcome=UsageOutcome.STOPPED)])
    lines = text.splitlines()
    assert lines[0] == ("time,user,channel,model,input_tokens,cached_tokens,output_tokens,reasoning_tokens,"
                        "cost_usd,outcome,estimated")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == HEADER
    assert rows[0] == {"time": "2026-12-06T10:00:01Z", "user": "U1", "channel": "C1", "model": "gpt-4o",
                       "input_tokens": "1000", "cached_tokens": "200", "output_tokens": "100",
                       "reasoning_tokens": "20", "cost_usd": "0.000123", "outcome": "completed",
                       "estimated": "false"}
    assert rows[1]["cost_usd"] == "" and rows[1]["estimated"] == "true" and rows[1]["outcome"] == "stopped"
    assert ledger_csv([]).splitlines() == [lines[0]]
