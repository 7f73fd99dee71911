"""The month's report as text (./scripts/usage): the figures of MonthReport, said plainly, with an unknown
cost never shown as $0 and the seat comparison in the issue's words."""
from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from threadwise.state.usage_records import UsageEntry, UsageOutcome
from threadwise.usage.report import month_report
from threadwise.usage.text_report import seat_line, text_report, usd

pytestmark = pytest.mark.in_process
UTC = datetime.timezone.utc


def entry(entry_id: str, *, ended: datetime.datetime = datetime.datetime(2026, 7, 31, 12, tzinfo=UTC),
          **changes) -> UsageEntry:
    values = dict(entry_id=entry_id, workspace="T1", channel="C1", user="U1", thread_ts="1.0", model="gpt-5-mini",
                  api="responses", input_tokens=3000, cached_input_tokens=1000, output_tokens=1500,
                  reasoning_tokens=1000, tool_calls={}, started=ended, ended=ended,
                  outcome=UsageOutcome.COMPLETED, cost_usd=Decimal("0.003275"), estimated=False)
    return UsageEntry(**{**values, **changes})


def day(n: int, hour: int = 12) -> datetime.datetime:
    return datetime.datetime(2026, 7, n, hour, tzinfo=UTC)


def july():
    return month_report([
        entry("a", user="UADA", channel="C1", cost_usd=Decimal("1.50"), ended=day(1), output_tokens=1000),
        entry("b", user="UADA", channel="C2", cost_usd=Decimal("0.50"), ended=day(2), output_tokens=1000),
        entry("c", user="UBOB", channel="C1", cost_usd=Decimal("0.25"), ended=day(2), outcome=UsageOutcome.STOPPED,
              output_tokens=200, estimated=True),
        entry("d", user="UCY", channel="C1", model="mystery-model", cost_usd=None, ended=day(3)),
        entry("e", user="UDEE", outcome=UsageOutcome.BUDGET_REFUSED, cost_usd=Decimal(0), ended=day(3)),
        entry("f", user="UADA", ended=datetime.datetime(2026, 8, 1, tzinfo=UTC), cost_usd=Decimal(100)),  # August
    ], 2026, 7)


def test_the_totals_the_seat_line_and_last_month():
    text = text_report(july(), Decimal("1.125"), Decimal(25))
    assert text.startswith("Threadwise usage, July 2026 (UTC)\n")
    assert "Answers      4 for 3 people" in text, "the refused person did not use it; August is not July"
    assert "Tokens       input 12,000 (cached 4,000), output 3,700 (reasoning 4,000)" in text
    assert "Cost         $2.25 + unknown" in text
    assert "1 answer with unknown cost: no price for mystery-model (add it with MODEL_PRICES)" in text
    assert "1 answer with estimated tokens" in text
    assert "Last month   $1.13 (June 2026), +100 % this month" in text
    assert ("3 people used Threadwise this month; ChatGPT Business for them would cost $25 × 3 = $75.00; "
            "Threadwise cost $2.25") in text


def test_the_tables_rank_by_cost_and_say_unknown():
    lines = text_report(july(), Decimal(0), Decimal(25)).splitlines()
    users = lines[lines.index("Top users (of 3)") + 1:lines.index("Top users (of 3)") + 4]
    assert [line.split()[0] for line in users] == ["UADA", "UBOB", "UCY"]
    assert users[0].split()[1:4] == ["$2.00", "2", "answers"]
    assert users[2].split()[1] == "unknown", "an unpriced model's answers cost 'unknown', never $0"
    models = lines[lines.index("Cost by model") + 1:lines.index("Cost by model") + 3]
    assert models[0].split()[:2] == ["gpt-5-mini", "$2.25"] and models[1].split()[:2] == ["mystery-model", "unknown"]
    assert "Last month   $0.00 (June 2026)" in lines


def test_outcomes_and_what_stop_saved():
    text = text_report(july(), Decimal(0), Decimal(25))
    assert "  completed            3" in text
    # The completed answers' median output is 1,000 (two of 1,000, one of 1,500); the stopped one wrote 200.
    assert "  stopped              1  output 200 tokens; Stop saved about 800 output tokens" in text
    assert "  budget_refused       1" in text and "practice" not in text


def test_the_daily_cost_is_drawn_with_block_characters():
    lines = text_report(july(), Decimal(0), Decimal(25)).splitlines()
    daily = lines[lines.index("Daily cost (UTC)") + 1:]
    assert len(daily) == 31 and daily[0] == "  07-01       $1.50  " + "█" * 30
    assert daily[1] == "  07-02       $0.75  " + "█" * 15, "half the widest day, half the bar"
    assert daily[2] == "  07-03       $0.00" and daily[30] == "  07-31       $0.00"


def test_an_empty_month_says_so():
    text = text_report(month_report([], 2026, 2), Decimal("3.5"), Decimal(25))
    assert text == ("Threadwise usage, February 2026 (UTC)\n=====================================\n\n"
                    "No answers were recorded in February 2026.\nLast month   $3.50 (January 2026)\n")


def test_january_compares_with_last_december():
    assert "(December 2025)" in text_report(month_report([], 2026, 1), Decimal(0), Decimal(25))


@pytest.mark.parametrize("amount, shown", [(Decimal(0), "$0.00"), (Decimal("1234.565"), "$1,234.57"),
                                           (Decimal("0.0042"), "$0.0042"), (Decimal("0.000125"), "$0.00013"),
                                           (Decimal("0.01"), "$0.01")])
def test_money_is_rounded_to_cents_but_a_small_cost_is_not_zero(amount, shown):
    assert usd(amount) == shown


def test_the_seat_line_for_one_person_and_a_price_with_cents():
    report = month_report([entry("a", cost_usd=Decimal("0.10"))], 2026, 7)
    assert seat_line(report, Decimal("30.50")) == (
        "1 person used Threadwise this month; ChatGPT Business for them would cost $30.50 × 1 = $30.50; "
        "Threadwise cost $0.10")
