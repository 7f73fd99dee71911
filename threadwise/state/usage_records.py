"""What a usage ledger entry says, and what a store offers for them: the interface (the SQLite and
Firestore implementations are in ``usage_ledger.py``).

One entry per answer, however it ended (issue 15): who asked where, which model through which API,
the tokens, the tool calls, when, how it ended, and what it cost. Ids, names and numbers only: an
entry has no field for a message text, so none can be stored by mistake.

A module of the state room, not of ``usage/``: the store must know the entry's type, and the state
room sits below the usage room (an interface lives below its implementations and its users).
"""
from __future__ import annotations

import datetime
import enum
import types
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Mapping, Protocol, Sequence

from threadwise.config.groups import OpenAIApi

UTC = datetime.timezone.utc


class UsageOutcome(str, enum.Enum):
    """How the answer ended. The values are contracts: stored as they are, shown in reports and the
    CSV's ``outcome`` column."""

    COMPLETED = "completed"  # the model's answer, whole
    STOPPED = "stopped"  # a person's Stop
    DELETED = "deleted"  # the reply was deleted while it was written
    SUPERSEDED = "superseded"  # the asker's newer question in the thread ended it
    ERROR = "error"  # the model or Slack failed; what was spent until then still counts
    BUDGET_REFUSED = "budget_refused"  # a budget was spent: no model request was made
    PRACTICE = "practice"  # practice mode: no model request, nothing spent

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class UsageEntry:
    """One answer's usage. Times are UTC (an aware datetime in another zone is moved to UTC, a naive
    one refused): the month an entry counts in is the UTC calendar month of ``ended``."""

    entry_id: str  # the answer's event id: one entry per answer
    workspace: str  # Slack team id
    channel: str
    user: str  # the asker
    thread_ts: str
    model: str
    api: OpenAIApi
    # As OpenAI reports them: cached input is part of input, reasoning part of output.
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    tool_calls: Mapping[str, int]  # tool name (web search, each knowledge tool) → how many calls
    started: datetime.datetime
    ended: datetime.datetime
    outcome: UsageOutcome
    cost_usd: Decimal | None  # None: the model's price is unknown (never $0 for an unknown price)
    estimated: bool  # the tokens were counted locally: the provider reported no usage

    def __post_init__(self) -> None:
        if not self.entry_id:
            raise ValueError("entry_id must not be empty")
        for name in ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens"):
            _require_count(name, getattr(self, name))
        for tool, count in self.tool_calls.items():
            _require_count(f"tool_calls[{tool!r}]", count)
        if self.cost_usd is not None and not (isinstance(self.cost_usd, Decimal) and self.cost_usd.is_finite()
                                              and self.cost_usd >= 0):
            raise ValueError(f"cost_usd must be a finite Decimal ≥ 0 or None, not {self.cost_usd!r}")
        # Frozen all the way down: a ledger entry is a fact, and the caller's dict may change later.
        object.__setattr__(self, "tool_calls", types.MappingProxyType(dict(sorted(self.tool_calls.items()))))
        object.__setattr__(self, "started", _utc("started", self.started))
        object.__setattr__(self, "ended", _utc("ended", self.ended))
        object.__setattr__(self, "outcome", UsageOutcome(self.outcome))

    @property
    def month(self) -> str:
        return month_key(self.ended.year, self.ended.month)


ENTRY_FIELDS = tuple(field.name for field in fields(UsageEntry))


def month_key(year: int, month: int) -> str:
    """The month an entry counts in, as stored beside it (``2026-07``): what the month's queries select on."""
    if not 1 <= month <= 12:
        raise ValueError(f"no month {month}")
    return f"{year:04d}-{month:02d}"


TallyKey = tuple[str, str]  # (dimension, key): ("user", "U1"), ("model", "gpt-5"), ("all", ""): usage_tallies.py


@dataclass(frozen=True)
class Tally:
    """Sums over some entries. ``cost_pico``: their known costs; the unknown ones count in ``unpriced_answers``."""

    answers: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_pico: int = 0
    unpriced_answers: int = 0
    estimated_answers: int = 0

    @property
    def cost_usd(self) -> Decimal:
        return Decimal(self.cost_pico).scaleb(-12)  # picodollars (10⁻¹² USD): see usage_tallies.py

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(*(getattr(self, name) + getattr(other, name) for name in COUNTERS))


COUNTERS = tuple(field.name for field in fields(Tally))


class UsageLedger(Protocol):
    """The store's half: one entry per answer, read back by calendar month (UTC)."""

    def record_usage(self, entry: UsageEntry) -> bool:
        """Store the entry; False (and nothing changed) when an entry with its id is already there."""
        ...

    def usage_in_month(self, year: int, month: int, workspace: str | None = None) -> list[UsageEntry]:
        """The month's entries (by ``ended``, UTC), oldest first."""
        ...

    def usage_tallies(self, year: int, month: int, workspace: str | None = None) -> dict[TallyKey, Tally]:
        """The month's running sums (``usage_tallies.py``), over every workspace unless one is given: what the
        month report is built from without reading the month's entries."""
        ...

    def spent_in_month(self, year: int, month: int, *, workspace: str | None = None, user: str | None = None,
                       channel: str | None = None) -> Decimal:
        """The sum of the month's known costs, for the entries matching every filter given (budget refusals
        and practice answers spend nothing)."""
        ...

    def spent_in_month_each(self, year: int, month: int, filters: Sequence[Mapping[str, str]]) -> list[Decimal]:
        """``spent_in_month(**f)`` for each ``f``, in order, in one round trip where the store can: a budget
        check reads the asker's, the channel's and the workspace's spending at once, before the model is called."""
        ...


def _require_count(name: str, value: object) -> None:
    if type(value) is not int or value < 0:  # bool is an int, and never a count
        raise ValueError(f"{name} must be an int ≥ 0, not {value!r}")


def _utc(name: str, moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), not naive")
    return moment.astimezone(UTC)
