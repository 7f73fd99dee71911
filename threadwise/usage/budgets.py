"""Monthly budgets, decided: which limits apply to an answer, its worst case, and whether it may go ahead.

Pure: no store, no clock, no Slack. ``usage/spending_rules.py`` reads what was spent and acts on the
decisions made here; the sentences people read are in ``budget_words.py``.

The rule (issue 15, LiteLLM's "budget reservation" and OpenAI's cookbook): an answer may start only
if, for every budget it falls under, what was spent this month plus what answers still being written
have set aside plus this answer's worst case stays within the limit. The worst case is the input at
the input price (no cache discount assumed) plus the output cap at the output price. Months are UTC
calendar months, as the ledger counts them.
"""
from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from threadwise.config.groups import UsageSettings
from threadwise.usage.prices import ModelPrice, cost_of
from threadwise.usage.tokens import TokenCounts

# When MAX_OUTPUT_TOKENS is unset nothing bounds an answer's output, so its worst case is an estimate:
# LiteLLM's for the same case (``DEFAULT_MAX_OUTPUT_TOKENS_FALLBACK`` in its budget_reservation.py,
# COST_FACTS §2). Setting MAX_OUTPUT_TOKENS makes the worst case a true bound.
OUTPUT_CAP_FALLBACK = 16_384


class Scope(str, enum.Enum):
    """Whose money a budget is. The values are words in logs and in the alert markers' keys."""

    USER = "user"
    CHANNEL = "channel"
    WORKSPACE = "workspace"

    def __str__(self) -> str:
        return self.value


# When several budgets are over, the broadest is named: raising a narrower one would not let the answer
# through while a broader one is still spent.
BROADEST_FIRST = (Scope.WORKSPACE, Scope.CHANNEL, Scope.USER)


@dataclass(frozen=True)
class Budget:
    """One limit as it applies to one answer: whose (``subject``: the user, channel or workspace id)."""

    scope: Scope
    subject: str
    workspace: str
    limit: Decimal

    @property
    def key(self) -> str:
        """Names this budget across processes (the alert's marker): workspace, scope and subject."""
        return f"{self.workspace}:{self.scope}:{self.subject}"

    def filters(self) -> dict[str, str]:
        """The ledger's filters for what was spent against it (``spent_in_month`` keywords)."""
        found = {"workspace": self.workspace} if self.workspace else {}
        if self.scope is Scope.USER:
            found["user"] = self.subject
        elif self.scope is Scope.CHANNEL:
            found["channel"] = self.subject
        return found


def budgets_for(settings: UsageSettings, workspace: str, channel: str, user: str) -> tuple[Budget, ...]:
    """The budgets an answer by ``user`` in ``channel`` falls under, broadest first; () when none is set."""
    limits = {Scope.WORKSPACE: (settings.budget_workspace_monthly_usd, workspace),
              Scope.CHANNEL: (settings.budget_channel_monthly_usd, channel),
              Scope.USER: (settings.budget_user_monthly_usd, user)}
    return tuple(Budget(scope, subject, workspace, limit)
                 for scope in BROADEST_FIRST for limit, subject in [limits[scope]] if limit is not None)


def worst_case(estimated_input_tokens: int, max_output_tokens: int | None, price: ModelPrice) -> Decimal:
    """The most one model request of this answer can cost: every input token at the full input price
    (a cache hit only makes it cheaper) and the whole output cap at the output price."""
    cap = max_output_tokens or OUTPUT_CAP_FALLBACK
    return cost_of(TokenCounts(input=max(estimated_input_tokens, 0), output=cap), price)


@dataclass(frozen=True)
class Standing:
    """A budget's state when an answer asks to start: recorded spending and what running answers set aside."""

    budget: Budget
    spent: Decimal
    reserved: Decimal = Decimal(0)

    @property
    def committed(self) -> Decimal:
        return self.spent + self.reserved


def first_over(standings: list[Standing] | tuple[Standing, ...], worst: Decimal) -> Standing | None:
    """The budget that refuses this answer (the broadest, when several do), or None: it may start.
    An answer whose worst case reaches exactly the limit still fits."""
    over = [s for s in standings if s.committed + worst > s.budget.limit]
    return min(over, key=lambda s: BROADEST_FIRST.index(s.budget.scope)) if over else None


def past_alert(spent: Decimal, limit: Decimal, percent: int) -> bool:
    """Spending has reached ``percent`` of the limit (BUDGET_ALERT_PERCENT): the admins are told."""
    return spent * 100 >= limit * percent


def percent_of(spent: Decimal, limit: Decimal) -> int:
    """The share spent, in whole percent, rounded down (82.9 % is "82 %": never alarm early)."""
    return int(spent * 100 / limit)


def month_of(moment: datetime.datetime) -> tuple[int, int]:
    """The UTC calendar month ``moment`` falls in (an aware datetime; the ledger's months are UTC)."""
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is needed: months are counted in UTC")
    utc = moment.astimezone(datetime.timezone.utc)
    return utc.year, utc.month


def next_reset(year: int, month: int) -> datetime.date:
    """When the month's budgets start again from zero: the 1st of the next month (00:00 UTC)."""
    return datetime.date(year + 1, 1, 1) if month == 12 else datetime.date(year, month + 1, 1)


def seconds_until(moment: datetime.datetime, day: datetime.date) -> float:
    """From ``moment`` to 00:00 UTC of ``day`` (how long a month's marker must live)."""
    start = datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc)
    return max((start - moment).total_seconds(), 0.0)


def usd(amount: Decimal) -> str:
    """Dollars and cents for people ("$9.87"); the ledger keeps the exact amount."""
    return f"${amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"
