"""The usage ledger's running sums on both backends (SQLite, Firestore in its emulator): every stored entry
adds to its month's tallies once, so the month report and spent_in_month equal what the entries say
without reading them — and recording an entry again changes no sum."""
from __future__ import annotations

import datetime
import random
from decimal import Decimal

import pytest

from threadwise.state.usage_records import Tally, UsageOutcome
from threadwise.state.usage_tallies import output_bucket, pico, summarize
from threadwise.usage.report import ledger_month_report, month_report
from store_cases import make_store  # noqa: F401  (the fixture, on both backends)
from test_store_usage import JULY_LAST, entry

UTC = datetime.timezone.utc


def a_month(count: int, seed: int = 7) -> list:
    """Entries of July 2026 in two workspaces, every outcome, some unpriced and estimated, one in August."""
    rng = random.Random(seed)
    made = []
    for n in range(count):
        outcome = rng.choice(list(UsageOutcome))
        made.append(entry(
            f"Ev{n}", workspace=rng.choice(["T1", "T1", "T2"]), user=rng.choice(["U1", "U2", "U3", "U4"]),
            channel=rng.choice(["C1", "C2", "D9"]), model=rng.choice(["gpt-5-mini", "gpt-5", "unpriced-model"]),
            output_tokens=(out := rng.randrange(0, 3000)), reasoning_tokens=out // 2, estimated=n % 5 == 0,
            outcome=outcome, ended=JULY_LAST - datetime.timedelta(hours=rng.randrange(24 * 31)),
            cost_usd=None if n % 4 == 0 else Decimal(rng.randrange(0, 10**6)).scaleb(-9)))
    made.append(entry("august", ended=JULY_LAST + datetime.timedelta(seconds=1), cost_usd=Decimal("9")))
    return made


def test_the_running_sums_are_the_entries_sums(make_store):
    store, entries = make_store(), a_month(60)
    for each in entries:
        assert store.record_usage(each)
    july = [e for e in entries if e.entry_id != "august"]
    assert store.usage_tallies(2026, 7) == summarize(july, 2026, 7)
    assert store.usage_tallies(2026, 7, "T2") == summarize([e for e in july if e.workspace == "T2"], 2026, 7)
    assert ledger_month_report(store, 2026, 7) == month_report(store.usage_in_month(2026, 7), 2026, 7)
    assert ledger_month_report(store, 2026, 7, "T1") == month_report([e for e in july if e.workspace == "T1"], 2026, 7)

    spending = [e for e in july if e.outcome not in (UsageOutcome.BUDGET_REFUSED, UsageOutcome.PRACTICE)]
    for filters in (dict(), dict(workspace="T1"), dict(user="U2"), dict(workspace="T2", user="U2"),
                    dict(channel="C1"), dict(workspace="T1", channel="D9"), dict(user="U1", channel="C2")):
        expected = sum((e.cost_usd for e in spending if e.cost_usd is not None
                        and all(getattr(e, name) == value for name, value in filters.items())), Decimal(0))
        assert store.spent_in_month(2026, 7, **filters) == expected, filters
    assert store.spent_in_month(2026, 8) == Decimal(9)


def test_recording_an_entry_again_changes_no_sum(make_store):
    first, second = make_store(), make_store()  # two instances, one store: a redelivered job
    assert first.record_usage(entry("Ev1", cost_usd=Decimal("0.25")))
    before = first.usage_tallies(2026, 7)
    assert not second.record_usage(entry("Ev1", cost_usd=Decimal("7"), output_tokens=9999))
    assert second.usage_tallies(2026, 7) == before
    assert second.spent_in_month(2026, 7, workspace="T1", user="U1") == Decimal("0.25")
    assert before[("all", "")] == Tally(answers=1, input_tokens=3000, cached_input_tokens=1000, output_tokens=1500,
                                        reasoning_tokens=1000, cost_pico=250_000_000_000)


def test_refusals_and_practice_count_as_outcomes_only(make_store):
    store = make_store()
    store.record_usage(entry("refused", outcome=UsageOutcome.BUDGET_REFUSED, cost_usd=Decimal(0), input_tokens=0,
                             cached_input_tokens=0, output_tokens=0, reasoning_tokens=0))
    store.record_usage(entry("practice", outcome=UsageOutcome.PRACTICE, cost_usd=Decimal(0), user="U2"))
    tallies = store.usage_tallies(2026, 7)
    assert set(tallies) == {("outcome", "budget_refused"), ("outcome", "practice")}
    report = ledger_month_report(store, 2026, 7)
    assert report.people == 0 and report.total.answers == 0 and set(report.by_outcome) == {
        UsageOutcome.BUDGET_REFUSED, UsageOutcome.PRACTICE}


def test_sums_are_exact_and_an_unknown_cost_is_not_zero(make_store):
    store = make_store()
    for n in range(10):  # 0.1 ten times: 1.0 exactly (floats would say 0.9999999999999999)
        store.record_usage(entry(f"k{n}", cost_usd=Decimal("0.1"), ended=JULY_LAST - datetime.timedelta(hours=n)))
    store.record_usage(entry("tiny", cost_usd=Decimal("0.000000125"), user="U2"))
    store.record_usage(entry("unknown", cost_usd=None, model="unpriced-model", user="U3"))
    assert store.spent_in_month(2026, 7) == Decimal("1.000000125")
    assert store.spent_in_month(2026, 7, workspace="T1", user="U3") == Decimal(0)
    report = ledger_month_report(store, 2026, 7)
    assert report.total.cost_usd == Decimal("1.000000125") and report.total.unpriced_answers == 1
    assert report.unpriced_models == {"unpriced-model"} and report.by_model["unpriced-model"].answers == 1
    assert report.daily_cost_usd[30] == Decimal("1.000000125") - Decimal("0.1") * sum(
        1 for n in range(10) if (JULY_LAST - datetime.timedelta(hours=n)).day != 31)


def test_a_cost_finer_than_a_picodollar_is_rounded_up_in_the_sums():
    assert pico(Decimal("0.000000125")) == 125_000
    assert pico(Decimal("1E-13")) == 1 and pico(Decimal(0)) == 0, "never less than was spent"
    assert pico(Decimal("71.640412345678")) == 71_640_412_345_678


@pytest.mark.parametrize("tokens, bucket", [(0, 0), (99, 99), (100, 100), (109, 100), (1234, 1200), (98765, 98000)])
def test_output_tokens_are_counted_to_two_significant_digits(tokens, bucket):
    assert output_bucket(tokens) == bucket
