"""The usage ledger's running sums ("tallies"): what the month report and the budget checks read, so that
neither scans the month's entries (10,000 entries took 2.5 s to read from Firestore, 170 ms from SQLite).

Each entry adds to a few tallies of its month and workspace, in the same transaction (SQLite) or batch
(Firestore) that stores it, and only if it was stored: recording an entry again changes no tally.

- ``("outcome", word)``: every entry, budget refusals and practice answers included;
- for the answers that can spend (not refused, not practice): ``("all", "")``, ``("user", U…)``,
  ``("channel", C…)``, ``("model", name)``, ``("day", "01".."31")``, and one of
  ``("completed_output", bucket)`` / ``("stopped_output", bucket)``: how many answers ended with about
  that many output tokens (two significant digits), for the estimate of what Stop saved.

Costs are summed as integers of picodollars (10⁻¹² USD): exact for every price with up to six
decimals per 1M tokens, and Firestore's ``Increment`` adds integers exactly (floats it would not). A
finer cost is rounded up to the next picodollar in the tallies (its entry keeps it exact), so a budget
never sees less than was spent.
"""
from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_CEILING, Decimal
from typing import Iterable

from threadwise.state.usage_records import COUNTERS, Tally, TallyKey, UsageEntry, UsageOutcome

SPENDING_OUTCOMES = frozenset(UsageOutcome) - {UsageOutcome.BUDGET_REFUSED, UsageOutcome.PRACTICE}


def pico(cost: Decimal) -> int:
    return int(cost.scaleb(12).to_integral_value(ROUND_CEILING))


def output_bucket(tokens: int) -> int:
    """``tokens`` to two significant digits, rounded down (1,234 → 1,200): a few hundred buckets at most."""
    if tokens < 100:
        return tokens
    step = 10 ** (len(str(tokens)) - 2)
    return tokens // step * step


def contributions(entry: UsageEntry) -> list[tuple[TallyKey, Tally]]:
    """What one entry adds, tally by tally (its month and workspace are the entry's)."""
    one = Tally(answers=1, input_tokens=entry.input_tokens, cached_input_tokens=entry.cached_input_tokens,
                output_tokens=entry.output_tokens, reasoning_tokens=entry.reasoning_tokens,
                cost_pico=0 if entry.cost_usd is None else pico(entry.cost_usd),
                unpriced_answers=int(entry.cost_usd is None), estimated_answers=int(entry.estimated))
    added = [(("outcome", entry.outcome.value), one)]
    if entry.outcome not in SPENDING_OUTCOMES:
        return added
    added += [(("all", ""), one), (("user", entry.user), one), (("channel", entry.channel), one),
              (("model", entry.model), one), (("day", f"{entry.ended.day:02d}"), one)]
    if entry.outcome in (UsageOutcome.COMPLETED, UsageOutcome.STOPPED):
        added.append(((f"{entry.outcome.value}_output", str(output_bucket(entry.output_tokens))), Tally(answers=1)))
    return added


def summarize(entries: Iterable[UsageEntry], year: int, month: int) -> dict[TallyKey, Tally]:
    """The month's tallies from its entries (over every workspace given): what a store keeps running."""
    sums: dict[TallyKey, list[int]] = {}  # mutable while adding: 10,000 entries in ~60 ms, not ~200
    for entry in entries:
        if (entry.ended.year, entry.ended.month) != (year, month):
            continue
        for key, tally in contributions(entry):
            counters = sums.setdefault(key, [0] * len(COUNTERS))
            for index, value in enumerate(tally.__dict__.values()):  # a dataclass's fields, in their order
                counters[index] += value
    return {key: Tally(*counters) for key, counters in sums.items()}


def merge(tallies: dict[TallyKey, Tally], added: Iterable[tuple[TallyKey, Tally]]) -> None:
    for key, tally in added:
        tallies[key] = tallies[key] + tally if key in tallies else tally


def tally_of(data: dict) -> Tally:
    """A stored tally (a row's or a document's counters), typed again."""
    return replace(Tally(), **{name: int(data.get(name) or 0) for name in COUNTERS})


def spent_tally(*, workspace: str | None, user: str | None, channel: str | None) -> TallyKey | None:
    """The tally that holds what these filters spent, or None when none does (a user in one channel)."""
    if user is not None and channel is not None:
        return None
    if user is not None:
        return ("user", user)
    if channel is not None:
        return ("channel", channel)
    return ("all", "")
