"""Budgets, decided (issue 15, item 3): which limits apply, the worst case of an answer, which budget refuses
and is named, the alert line, UTC month boundaries, and the sentences people read."""
from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from threadwise.config.groups import UsageSettings
from threadwise.usage import budget_words
from threadwise.usage.budgets import (OUTPUT_CAP_FALLBACK, Budget, Scope, Standing, budgets_for, first_over,
                                      month_of, next_reset, past_alert, percent_of, seconds_until, usd, worst_case)
from threadwise.usage.prices import ModelPrice

pytestmark = pytest.mark.in_process

UTC = datetime.timezone.utc
PRICE = ModelPrice(input=Decimal("2.50"), cached_input=Decimal("1.25"), output=Decimal("10.00"),
                   checked=datetime.date(2026, 12, 6))


def settings(**limits) -> UsageSettings:
    return UsageSettings(model_prices=None, **{f"budget_{k}_monthly_usd": Decimal(v) for k, v in limits.items()})


def budget(scope: Scope, limit: str = "10", subject: str = "X") -> Budget:
    return Budget(scope, subject, "T1", Decimal(limit))


def test_only_the_budgets_set_apply_broadest_first():
    assert budgets_for(settings(), "T1", "C1", "U1") == ()
    found = budgets_for(settings(user="10", workspace="500", channel="50"), "T1", "C1", "U1")
    assert [(b.scope, b.subject, b.limit) for b in found] == [
        (Scope.WORKSPACE, "T1", Decimal(500)), (Scope.CHANNEL, "C1", Decimal(50)), (Scope.USER, "U1", Decimal(10))]
    assert [b.filters() for b in found] == [{"workspace": "T1"}, {"workspace": "T1", "channel": "C1"},
                                            {"workspace": "T1", "user": "U1"}]
    assert found[2].key == "T1:user:U1"


def test_worst_case_is_the_input_at_full_price_plus_the_output_cap():
    # 1,000 input tokens at $2.50/M + 4,000 output at $10/M
    assert worst_case(1000, 4000, PRICE) == Decimal("0.0025") + Decimal("0.04")
    # No MAX_OUTPUT_TOKENS: LiteLLM's fallback cap
    assert OUTPUT_CAP_FALLBACK == 16_384
    assert worst_case(0, None, PRICE) == Decimal(16_384) * Decimal(10) / Decimal(1_000_000)


def test_an_answer_fits_up_to_exactly_the_limit():
    standing = Standing(budget(Scope.USER, "10"), spent=Decimal("9.75"), reserved=Decimal("0.05"))
    assert first_over([standing], Decimal("0.20")) is None, "exactly the limit still fits"
    assert first_over([standing], Decimal("0.2000001")) is standing
    assert standing.committed == Decimal("9.80")


def test_reserved_money_counts_as_spent():
    standing = Standing(budget(Scope.USER, "10"), spent=Decimal("5"), reserved=Decimal("4.90"))
    assert first_over([standing], Decimal("0.20")) is standing


def test_the_broadest_budget_over_is_the_one_named():
    user = Standing(budget(Scope.USER, "10"), Decimal("10"))
    channel = Standing(budget(Scope.CHANNEL, "50"), Decimal("50"))
    workspace = Standing(budget(Scope.WORKSPACE, "500"), Decimal("1"))
    assert first_over([user, channel, workspace], Decimal("0.01")) is channel
    assert first_over([user, workspace], Decimal("0.01")) is user
    assert first_over([workspace, user], Decimal("0.01")) is user, "order of the list does not matter"
    full = Standing(budget(Scope.WORKSPACE, "500"), Decimal("500"))
    assert first_over([user, channel, full], Decimal("0.01")) is full


def test_the_alert_line_and_the_percent_shown():
    assert not past_alert(Decimal("7.99"), Decimal(10), 80)
    assert past_alert(Decimal("8.00"), Decimal(10), 80)
    assert past_alert(Decimal("8.00"), Decimal(10), 80) and not past_alert(Decimal("8.00"), Decimal(10), 81)
    assert percent_of(Decimal("8.299"), Decimal(10)) == 82, "rounded down: never alarm early"
    assert percent_of(Decimal("10.50"), Decimal(10)) == 105


def test_months_are_utc_calendar_months():
    # 23:30 on 31 July in New York is already 1 August in UTC: the August budget.
    new_york = datetime.timezone(datetime.timedelta(hours=-4))
    assert month_of(datetime.datetime(2026, 7, 31, 23, 30, tzinfo=new_york)) == (2026, 8)
    assert month_of(datetime.datetime(2026, 7, 31, 23, 59, 59, tzinfo=UTC)) == (2026, 7)
    assert month_of(datetime.datetime(2026, 8, 1, 0, 0, tzinfo=UTC)) == (2026, 8)
    with pytest.raises(ValueError):
        month_of(datetime.datetime(2026, 8, 1))
    assert next_reset(2026, 7) == datetime.date(2026, 8, 1)
    assert next_reset(2026, 12) == datetime.date(2027, 1, 1)
    assert seconds_until(datetime.datetime(2026, 12, 31, 23, 0, tzinfo=UTC), datetime.date(2027, 1, 1)) == 3600


def test_dollars_for_people():
    assert usd(Decimal("9.874")) == "$9.87"
    assert usd(Decimal("9.875")) == "$9.88"
    assert usd(Decimal("1234.5")) == "$1,234.50"


def test_the_refusal_says_whose_budget_how_much_when_and_whom_to_ask():
    reset = datetime.date(2027, 1, 1)
    spent = Standing(budget(Scope.USER, "10"), Decimal("10.20"))
    assert budget_words.refusal(spent, Decimal("0.25"), reset, {"U2", "U1"}) == (
        "Your monthly Threadwise budget is spent ($10.20 of $10.00 this month), so I can't answer until it "
        "starts again on 1 January (UTC); ask <@U1> or <@U2> if it should be raised.")
    almost = Standing(budget(Scope.CHANNEL, "50"), Decimal("49.87"))
    sentence = budget_words.refusal(almost, Decimal("0.25"), reset, ())
    assert sentence.startswith("This channel's monthly Threadwise budget is almost spent ($49.87 of $50.00 this "
                               "month; an answer may cost up to $0.25)")
    assert sentence.endswith("ask your Slack admin if it should be raised.")
    in_channel = budget_words.refusal(spent, Decimal("0.25"), reset, {"U1"}, private=False)
    assert in_channel == ("Your monthly Threadwise budget is spent (your Home tab in Threadwise shows how much), so "
                          "I can't answer until it starts again on 1 January (UTC); ask <@U1> if it should be raised.")
    assert "$" not in budget_words.refusal(Standing(budget(Scope.USER, "10"), Decimal("9.90")), Decimal("0.25"),
                                           reset, (), private=False), "a person's spending stays theirs in a channel"
    assert "$49.87" in budget_words.refusal(almost, Decimal("0.25"), reset, (), private=False)  # the channel's own
    workspace = Standing(budget(Scope.WORKSPACE, "500"), Decimal("500"))
    assert budget_words.refusal(workspace, Decimal("0.25"), reset, {"U1"}).startswith("The workspace's monthly")


def test_the_alert_names_the_budget_and_the_setting_to_raise():
    reset = datetime.date(2026, 9, 1)
    text = budget_words.alert(budget(Scope.USER, "10", "U7"), Decimal("8.20"), 82, reset)
    assert text.startswith("Threadwise: <@U7>'s monthly budget is 82 % spent ($8.20 of $10.00).")
    assert "raise BUDGET_USER_MONTHLY_USD" in text and "1 September (UTC)" in text
    assert budget_words.alert(budget(Scope.CHANNEL, "50", "C9"), Decimal(45), 90, reset).startswith(
        "Threadwise: <#C9>'s monthly budget is 90 % spent")
    assert "BUDGET_WORKSPACE_MONTHLY_USD" in budget_words.alert(budget(Scope.WORKSPACE), Decimal(9), 90, reset)
