"""A month of the usage ledger, summed: what App Home, ``./scripts/usage`` and the budget alerts show.

Built from the month's entries (``UsageLedger.usage_in_month``) in one pass; nothing here reads a store
or Slack, so every view of the numbers (the Home tab, the terminal report) shows the same figures.

Costs are exact decimals; an entry whose price was unknown adds its tokens and counts in
``unpriced_answers``, never $0 in ``cost_usd`` (a total that hides them would look complete).
"""
from __future__ import annotations

import calendar
import statistics
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable

from threadwise.state.usage_records import UsageEntry, UsageOutcome

SPENDING_OUTCOMES = frozenset(UsageOutcome) - {UsageOutcome.BUDGET_REFUSED, UsageOutcome.PRACTICE}


@dataclass
class Totals:
    """Sums over some entries (all of a month, one user's, one channel's, one model's…)."""

    answers: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = Decimal(0)  # the known costs only
    unpriced_answers: int = 0  # answers whose model had no price: their cost is unknown, not 0
    estimated_answers: int = 0  # answers whose tokens were counted locally (no usage from the provider)

    def add(self, entry: UsageEntry) -> None:
        self.answers += 1
        self.input_tokens += entry.input_tokens
        self.cached_input_tokens += entry.cached_input_tokens
        self.output_tokens += entry.output_tokens
        self.reasoning_tokens += entry.reasoning_tokens
        if entry.cost_usd is None:
            self.unpriced_answers += 1
        else:
            self.cost_usd += entry.cost_usd
        self.estimated_answers += entry.estimated

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class MonthReport:
    year: int
    month: int
    total: Totals = field(default_factory=Totals)
    by_user: dict[str, Totals] = field(default_factory=dict)
    by_channel: dict[str, Totals] = field(default_factory=dict)
    by_model: dict[str, Totals] = field(default_factory=dict)
    by_outcome: dict[UsageOutcome, Totals] = field(default_factory=dict)
    daily_cost_usd: list[Decimal] = field(default_factory=list)  # index 0 = the 1st of the month (UTC)
    unpriced_models: set[str] = field(default_factory=set)
    # Stopped answers' output short of a typical completed answer's (the month's median): an estimate of
    # the output tokens Stop saved. 0 when the month has no completed answer to compare with.
    output_tokens_saved_by_stop: int = 0

    @property
    def people(self) -> int:
        """People whose questions were answered (practice and budget refusals aside)."""
        return sum(1 for totals in self.by_user.values() if totals.answers)

    def top(self, kind: str, count: int = 5) -> list[tuple[str, Totals]]:
        """The ``count`` largest of ``by_user``/``by_channel``/``by_model``, by cost then tokens."""
        rows = getattr(self, f"by_{kind}").items()
        return sorted(rows, key=lambda row: (row[1].cost_usd, row[1].tokens), reverse=True)[:count]


def month_report(entries: Iterable[UsageEntry], year: int, month: int) -> MonthReport:
    """Sum the month's entries. Practice answers and budget refusals count in ``by_outcome`` only: they
    spent nothing, and a person who was only refused did not use the bot."""
    report = MonthReport(year, month, daily_cost_usd=[Decimal(0)] * calendar.monthrange(year, month)[1])
    completed_outputs: list[int] = []
    stopped_outputs: list[int] = []
    for entry in entries:
        if (entry.ended.year, entry.ended.month) != (year, month):
            continue
        report.by_outcome.setdefault(entry.outcome, Totals()).add(entry)
        if entry.outcome not in SPENDING_OUTCOMES:
            continue
        report.total.add(entry)
        report.by_user.setdefault(entry.user, Totals()).add(entry)
        report.by_channel.setdefault(entry.channel, Totals()).add(entry)
        report.by_model.setdefault(entry.model, Totals()).add(entry)
        if entry.cost_usd is None:
            report.unpriced_models.add(entry.model)
        else:
            report.daily_cost_usd[entry.ended.day - 1] += entry.cost_usd
        if entry.outcome is UsageOutcome.COMPLETED:
            completed_outputs.append(entry.output_tokens)
        elif entry.outcome is UsageOutcome.STOPPED:
            stopped_outputs.append(entry.output_tokens)
    if completed_outputs:
        typical = int(statistics.median(completed_outputs))
        report.output_tokens_saved_by_stop = sum(max(0, typical - spent) for spent in stopped_outputs)
    return report
