"""A month of the usage ledger, summed: what App Home, ``./scripts/usage`` and the budget alerts show.

Built from the month's running sums (``ledger_month_report``: the store's ``usage_tallies``, a few hundred
rows or documents however many answers the month had) or, the same way, from entries (``month_report``);
nothing else here reads a store or Slack, so every view of the numbers shows the same figures.

Costs are exact decimals; an entry whose price was unknown adds its tokens and counts in
``unpriced_answers``, never $0 in ``cost_usd`` (a total that hides them would look complete).
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable

from threadwise.state.usage_records import Tally, TallyKey, UsageEntry, UsageLedger, UsageOutcome
from threadwise.state.usage_tallies import SPENDING_OUTCOMES, summarize

__all__ = ["SPENDING_OUTCOMES", "MonthReport", "Totals", "ledger_month_report", "month_report",
           "report_from_tallies"]


# Sums over some entries (all of a month, one user's, one channel's, one model's…): the store's running sums as
# they are read back. ``cost_usd`` is the known costs only; an unknown one counts in ``unpriced_answers``.
Totals = Tally


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
    """Sum the month's entries (the others are left out), exactly as a store's running sums would."""
    return report_from_tallies(summarize(entries, year, month), year, month)


def ledger_month_report(ledger: UsageLedger, year: int, month: int, workspace: str | None = None) -> MonthReport:
    """The month's report from the store's running sums: no entry is read."""
    return report_from_tallies(ledger.usage_tallies(year, month, workspace), year, month)


def report_from_tallies(tallies: dict[TallyKey, Tally], year: int, month: int) -> MonthReport:
    """Practice answers and budget refusals count in ``by_outcome`` only: they spent nothing, and a person who
    was only refused did not use the bot (``usage_tallies.contributions`` decides what counts where)."""
    report = MonthReport(year, month, daily_cost_usd=[Decimal(0)] * calendar.monthrange(year, month)[1])
    outputs: dict[str, list[tuple[int, int]]] = {"completed_output": [], "stopped_output": []}
    for (dimension, key), tally in sorted(tallies.items()):
        if dimension == "all":
            report.total = tally
        elif dimension in ("user", "channel", "model"):
            getattr(report, f"by_{dimension}")[key] = tally
            if dimension == "model" and tally.unpriced_answers:
                report.unpriced_models.add(key)
        elif dimension == "outcome":
            report.by_outcome[UsageOutcome(key)] = tally
        elif dimension == "day" and 1 <= int(key) <= len(report.daily_cost_usd):
            report.daily_cost_usd[int(key) - 1] = tally.cost_usd
        elif dimension in outputs:
            outputs[dimension].append((int(key), tally.answers))
    report.output_tokens_saved_by_stop = _saved_by_stop(outputs["completed_output"], outputs["stopped_output"])
    return report


def _saved_by_stop(completed: list[tuple[int, int]], stopped: list[tuple[int, int]]) -> int:
    """Stopped answers' output short of a typical completed answer's (the median, to two significant digits:
    the tallies count outputs in such buckets). 0 with no completed answer to compare with."""
    count = sum(answers for _, answers in completed)
    if not count:
        return 0
    ordered = sorted(completed)
    typical = (_nth(ordered, (count - 1) // 2) + _nth(ordered, count // 2)) // 2
    return sum(answers * max(0, typical - tokens) for tokens, answers in stopped)


def _nth(buckets: list[tuple[int, int]], index: int) -> int:
    """The ``index``-th smallest output (from 0) of (tokens, answers) buckets sorted by tokens."""
    for tokens, answers in buckets:
        if index < answers:
            return tokens
        index -= answers
    raise IndexError(index)
