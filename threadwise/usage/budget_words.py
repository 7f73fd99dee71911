"""What people read about budgets: the refusal in the thread and the alert in an admin's DM.

One sentence each, saying whose budget, how much of it is spent, when it starts again and who can
change it. Pure functions of the decisions in ``budgets.py``.
"""
from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Iterable

from threadwise.usage.budgets import Budget, Scope, Standing, usd

SETTING = {Scope.USER: "BUDGET_USER_MONTHLY_USD", Scope.CHANNEL: "BUDGET_CHANNEL_MONTHLY_USD",
           Scope.WORKSPACE: "BUDGET_WORKSPACE_MONTHLY_USD"}


def ask_whom(admins: Iterable[str]) -> str:
    """ADMIN_USERS as mentions ("<@U1> or <@U2>"), or "your Slack admin" when none is set."""
    mentions = [f"<@{user}>" for user in sorted(admins)]
    if not mentions:
        return "your Slack admin"
    return mentions[0] if len(mentions) == 1 else ", ".join(mentions[:-1]) + " or " + mentions[-1]


def day(date: datetime.date) -> str:
    return f"{date.day} {date:%B}"  # "1 January": no zero padding, whatever the platform's strftime


def _whose_for_asker(scope: Scope) -> str:
    return {Scope.USER: "Your", Scope.CHANNEL: "This channel's", Scope.WORKSPACE: "The workspace's"}[scope]


def refusal(standing: Standing, worst: Decimal, reset: datetime.date, admins: Iterable[str],
            private: bool = True) -> str:
    """The asker's sentence when a budget refuses the answer (no model request is made). ``private``: only the
    asker reads the thread (their DM with the bot). Elsewhere a person's own spending is not shown to the
    channel: the sentence points to their Home tab, which shows it to them alone."""
    budget = standing.budget
    spent, limit = usd(standing.committed), usd(budget.limit)
    if budget.scope is Scope.USER and not private:
        state = "is spent (your Home tab in Threadwise shows how much)"
        if standing.committed < budget.limit:
            state = "is almost spent (your Home tab in Threadwise shows how much)"
    elif standing.committed >= budget.limit:
        state = f"is spent ({spent} of {limit} this month)"
    else:  # some is left, but less than an answer may cost
        state = f"is almost spent ({spent} of {limit} this month; an answer may cost up to {usd(worst)})"
    return (f"{_whose_for_asker(budget.scope)} monthly Threadwise budget {state}, so I can't answer until it "
            f"starts again on {day(reset)} (UTC); ask {ask_whom(admins)} if it should be raised.")


def unpriced_refusal(model: str, admins: Iterable[str]) -> str:
    """Budgets are set but the model has no price: its worst case is unknown, so no budget can be kept."""
    return (f"I can't check this answer against the monthly budget: the model “{model}” has no price in "
            f"Threadwise's price table; ask {ask_whom(admins)} to add it to the file MODEL_PRICES names.")


def _whose_for_admin(budget: Budget) -> str:
    if budget.scope is Scope.USER:
        return f"<@{budget.subject}>'s"
    if budget.scope is Scope.CHANNEL:
        return f"<#{budget.subject}>'s"
    return "The workspace's"


def alert(budget: Budget, spent: Decimal, percent: int, reset: datetime.date) -> str:
    """The DM each admin gets once per budget per month when spending passes BUDGET_ALERT_PERCENT."""
    after = ("answers there are refused" if budget.scope is not Scope.USER else "their questions are refused")
    if budget.scope is Scope.WORKSPACE:
        after = "every question is refused"
    return (f"Threadwise: {_whose_for_admin(budget)} monthly budget is {percent} % spent ({usd(spent)} of "
            f"{usd(budget.limit)}). Once it is spent, {after} until it starts again on {day(reset)} (UTC); "
            f"to allow more, raise {SETTING[budget.scope]}.")
