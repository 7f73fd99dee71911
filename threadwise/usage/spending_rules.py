"""The answer loop's checks on who may spend what: its three hooks (``answering/responder.py``).

- ``turned_away(ask)``, before the placeholder: ALLOWED_CHANNELS / ALLOWED_USERS (``allowlists.py``).
  Elsewhere the bot says so once per conversation and nothing more happens: no placeholder, no model
  request, nothing spent.
- ``refusal(ask, estimated_tokens)``, after the placeholder and before the model request: the monthly
  budgets (``budgets.py``) against what was spent plus this answer's worst case, reserved in this
  process until the answer is settled (``reservations.py``). A sentence when refused.
- ``after_answer(ask)``, once the answer's usage is recorded: the reservation is let go, and a budget
  this answer took past BUDGET_ALERT_PERCENT gets its admins' DM, once a month.

"Once" is a marker in the store, made with the claims' atomic create-if-absent (``create_claim``):
whichever process, retry or restart gets there first sends the message, the others find it there.
The markers expire on their own (the claims' TTL) after the month, or after NOT_ENABLED_TTL.

A model without a price, with budgets set: its worst case is unknown, and an unknown amount cannot be
kept within a limit. The answer is refused (with a sentence naming the missing price, and a WARNING in
the log), never let through as if it cost $0: a budget is set to cap spending, and a cap that quietly
stops working when the model changes is no cap. No budget set: nothing is checked at all.
"""
from __future__ import annotations

import datetime
import threading
from typing import TYPE_CHECKING, Callable

from threadwise import logs
from threadwise.config.groups import ModelSettings, UsageSettings
from threadwise.slack.events import Ask
from threadwise.slack.reply_format import STATUS_DONE, ReplyTag, error_marker, final_blocks, reply_metadata
from threadwise.usage import allowlists, budget_words
from threadwise.usage.budgets import (Budget, budgets_for, month_of, next_reset, past_alert, percent_of,
                                      seconds_until, worst_case)
from threadwise.usage.reservations import Reservations

if TYPE_CHECKING:
    from slack_client import SlackGateway
    from threadwise.state.store import Store
    from threadwise.usage.prices import PriceTable

log = logs.get(__name__)

NOT_ENABLED_TTL = 90 * 86400.0  # a conversation told "not enabled" stays told for 90 days
MARKER_MARGIN = 86400.0  # an alert's marker outlives its month by a day (clocks differ a little)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class SpendingRules:
    def __init__(self, usage: UsageSettings, model: ModelSettings, slack: SlackGateway, store: Callable[[], Store],
                 prices: Callable[[], PriceTable], clock: Callable[[], datetime.datetime] = utc_now):
        self._usage = usage
        self._model = model
        self._slack = slack
        self._store = store  # callables: the store and the price table are built on first use (cold start)
        self._prices = prices
        self._clock = clock
        self._reservations = Reservations()
        self._lock = threading.Lock()
        self._watching: dict[str, tuple[Budget, ...]] = {}  # answer → budgets it may take past the alert line
        self._told_no_admins = False

    # --- before the placeholder -----------------------------------------------------------------------
    def turned_away(self, ask: Ask) -> bool:
        """True when the bot is not enabled for this ask (it has said so in the thread, once)."""
        why = allowlists.refusal_of(self._usage, ask.channel, ask.user)
        if why is None:
            return False
        # Told once per thread; about a person, once per person in it (someone else may be allowed there).
        marker = f"not-enabled:{ask.team_id}:{ask.channel}:{ask.thread_ts}"
        if why is allowlists.NotAllowed.USER:
            marker += f":{ask.user}"
        try:
            first = self._store().create_claim(marker, NOT_ENABLED_TTL)
        except Exception:  # unsure whether it was said: stay quiet rather than say it twice
            log.warning("could not check the not-enabled marker", event_id=ask.event_id, exc_info=True)
            return True
        if first:
            text = error_marker(allowlists.sentence(why, ask.channel, self._usage.admin_users))
            self._slack.post_until_landed(ask.channel, ask.thread_ts, text, final_blocks(text),
                                          reply_metadata(ReplyTag(asker=ask.user, question_ts=ask.ts), STATUS_DONE))
        log.info("not enabled here", event_id=ask.event_id, channel=ask.channel, why=str(why), told=first)
        return True

    # --- before the model request ---------------------------------------------------------------------
    def refusal(self, ask: Ask, estimated_tokens: int) -> str | None:
        """None: the answer may call the model (its worst case is now reserved); else the sentence."""
        if self._model.practice_mode:
            return None  # practice mode spends nothing
        budgets = budgets_for(self._usage, ask.team_id, ask.channel, ask.user)
        if not budgets:
            return None
        model = self._model.openai_model
        price = self._prices().price_of(model)
        if price is None:
            log.warning("budgets are set but the model has no price: answer refused", event_id=ask.event_id,
                        model=model)
            return budget_words.unpriced_refusal(model, self._usage.admin_users)
        worst = worst_case(estimated_tokens, self._model.max_output_tokens, price)
        now = self._clock()
        year, month = month_of(now)
        store = self._store()
        admission = self._reservations.admit(
            ask.event_id, budgets, worst,
            lambda wanted: store.spent_in_month_each(year, month, [budget.filters() for budget in wanted]))
        alert_line = self._usage.budget_alert_percent
        near = tuple(s.budget for s in admission.standings
                     if past_alert(s.committed + worst, s.budget.limit, alert_line))
        if near:  # only these can pass the alert line with this answer: the others are not read again after it
            with self._lock:
                self._watching[ask.event_id] = near
        refusing = admission.refusing
        if refusing is None:
            return None
        log.info("budget refused the answer", event_id=ask.event_id, budget=str(refusing.budget.scope),
                 spent=str(refusing.committed), limit=str(refusing.budget.limit), worst_case=str(worst))
        return budget_words.refusal(refusing, worst, next_reset(year, month), self._usage.admin_users,
                                    private=ask.channel_type == "im")

    # --- after the answer is recorded -----------------------------------------------------------------
    def after_answer(self, ask: Ask) -> None:
        """Let the reservation go; DM the admins about a budget this answer took past the alert line."""
        self._reservations.settle(ask.event_id)
        with self._lock:
            budgets = self._watching.pop(ask.event_id, ())
        if not budgets:
            return
        try:
            self._alert_past_line(budgets)
        except Exception:  # an alert is not worth the answer's end: logged, and the next answer tries
            log.warning("budget alert failed", event_id=ask.event_id, exc_info=True)

    def _alert_past_line(self, budgets: tuple[Budget, ...]) -> None:
        admins = sorted(self._usage.admin_users)
        if not admins:
            if not self._told_no_admins:
                self._told_no_admins = True
                log.warning("a budget passed its alert line but ADMIN_USERS is empty: nobody to tell")
            return
        now = self._clock()
        year, month = month_of(now)
        store = self._store()
        reset = next_reset(year, month)
        for budget in budgets:
            spent = store.spent_in_month(year, month, **budget.filters())
            if not past_alert(spent, budget.limit, self._usage.budget_alert_percent):
                continue
            marker = f"budget-alert:{year:04d}-{month:02d}:{budget.key}"
            if not store.create_claim(marker, seconds_until(now, reset) + MARKER_MARGIN):
                log.info("budget alert already sent this month", budget=str(budget.scope))  # (here or elsewhere)
                continue
            text = budget_words.alert(budget, spent, percent_of(spent, budget.limit), reset)
            sent = [admin for admin in admins if self._slack.send_dm(admin, text)]
            log.info("budget alert sent", budget=str(budget.scope), admins=len(admins), delivered=len(sent))
