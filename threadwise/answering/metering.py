"""The answer's entry in the usage ledger: one per answer, however it ended (issue 15).

The answer loop hands every model stream it opened to a ``Spending``; once the
final text is in Slack, ``record`` turns what they used, how the answer ended
and what it cost into a ``UsageEntry`` and stores it. Recording comes after the
final text on purpose: it must cost the asker nothing before the acknowledgement
or the first words. A ledger that fails is logged, never raised into the answer.
"""
from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Callable

from threadwise import logs
from threadwise.answering.outcomes import AnswerStatus
from threadwise.config import ModelSettings
from threadwise.model.types import ModelStream, Usage
from threadwise.slack.events import Ask
from threadwise.state.stop_records import StopReason, StopSignal
from threadwise.state.usage_records import UTC, UsageEntry, UsageLedger, UsageOutcome

if TYPE_CHECKING:  # the price table is read on the first recording, after the first answer's final text
    from threadwise.usage.prices import PriceTable

log = logs.get(__name__)
PRACTICE_MODEL = "practice"
NO_USAGE = Usage(0, 0)

_STOPPED_BY = {StopReason.STOPPED: UsageOutcome.STOPPED, StopReason.DELETED: UsageOutcome.DELETED,
               StopReason.SUPERSEDED: UsageOutcome.SUPERSEDED}


@dataclass
class Spending:
    """The model streams one answer opened (a context-length retry opens a second): their usage summed,
    reported or estimated, whether the answer completed, failed or was cut."""

    streams: list[ModelStream] = field(default_factory=list)

    def add(self, stream: ModelStream) -> None:
        self.streams.append(stream)

    def usage(self) -> Usage:
        total = NO_USAGE
        for stream in self.streams:
            used = stream.usage
            if used is not None:
                total = total + used
        return total

    def tool_calls(self) -> dict[str, int]:
        calls: dict[str, int] = {}
        for stream in self.streams:
            for name, count in stream.tool_calls.items():
                calls[name] = calls.get(name, 0) + count
        return calls


@dataclass(frozen=True)
class AnswerEnd:
    """How the answer ended, as the answer loop knows it."""

    status: AnswerStatus  # DONE or ERROR
    stop: StopSignal | None  # the reply's: a person's Stop, a delete, a newer question, a lost lease
    ledger_outcome: UsageOutcome | None = None  # set by whoever decided it (a budget's refusal)


@dataclass(frozen=True)
class Meter:
    """Where entries go and what prices them (``runtime.answer_services``). ``prices`` is called on the first
    recording: the price table is read after the first answer's final text, not before its first words."""

    ledger: UsageLedger
    prices: Callable[[], PriceTable]


def ledger_outcome(end: AnswerEnd, practice: bool) -> UsageOutcome | None:
    """The entry's outcome; None when the answer is not this process's to record (its claim was taken
    over: the new owner answers again and records the answer, once, under the same id)."""
    if end.ledger_outcome is not None:
        return end.ledger_outcome
    if end.stop is not None and end.stop.reason is StopReason.TAKEN_OVER:
        return None
    if practice:
        return UsageOutcome.PRACTICE
    if end.stop is not None:
        return _STOPPED_BY[end.stop.reason]
    return UsageOutcome.ERROR if end.status is AnswerStatus.ERROR else UsageOutcome.COMPLETED


def usage_entry(ask: Ask, settings: ModelSettings, used: Usage, tool_calls: dict[str, int],
                started: datetime.datetime, outcome: UsageOutcome, prices: PriceTable | None) -> UsageEntry:
    from threadwise.usage.prices import cost_of
    from threadwise.usage.tokens import TokenCounts

    tokens = TokenCounts(used.input_tokens, used.cached_input_tokens, used.output_tokens, used.reasoning_tokens)
    model = PRACTICE_MODEL if settings.practice_mode else settings.openai_model
    cost: Decimal | None
    if settings.practice_mode:
        cost = Decimal(0)  # nothing was spent: the tokens say what a model would have used
    else:
        price = prices.price_of(model) if prices is not None else None
        cost = None if price is None else cost_of(tokens, price)  # unknown, never $0
    return UsageEntry(
        entry_id=ask.event_id, workspace=ask.team_id, channel=ask.channel, user=ask.user, thread_ts=ask.thread_ts,
        model=model, api=settings.openai_api, input_tokens=tokens.input, cached_input_tokens=tokens.cached_input,
        output_tokens=tokens.output, reasoning_tokens=tokens.reasoning, tool_calls=tool_calls, started=started,
        ended=datetime.datetime.now(UTC), outcome=outcome, cost_usd=cost,
        estimated=used.estimated or settings.practice_mode)


def record(ask: Ask, settings: ModelSettings, meter: Meter | None, spending: Spending, end: AnswerEnd,
           started: datetime.datetime) -> UsageEntry | None:
    """Log the answer's ``usage`` line and store its ledger entry (once per event id: a redelivery stores
    nothing). Returns the entry, or None when there is none to record."""
    outcome = ledger_outcome(end, settings.practice_mode)
    used = spending.usage()
    entry = None
    began = time.perf_counter()
    if outcome is not None:
        try:
            entry = usage_entry(ask, settings, used, spending.tool_calls(), started, outcome,
                                meter.prices() if meter is not None else None)
        except Exception:
            log.error("could not build the usage entry", event_id=ask.event_id, exc_info=True)
    build_ms = round((time.perf_counter() - began) * 1000, 3)
    stopped = end.stop is not None
    log.info(
        "usage",  # the answer's last line: whatever it wrote to Slack is written
        event_id=ask.event_id,
        model=PRACTICE_MODEL if settings.practice_mode else settings.openai_model,
        user=ask.user,
        channel=ask.channel,
        team=ask.team_id,
        input_tokens=used.input_tokens,
        cached_input_tokens=used.cached_input_tokens,
        output_tokens=used.output_tokens,
        reasoning_tokens=used.reasoning_tokens,
        estimated=entry.estimated if entry else used.estimated,
        tool_calls=spending.tool_calls() or None,
        cost_usd=str(entry.cost_usd) if entry and entry.cost_usd is not None else None,
        outcome=str(outcome) if outcome else None,
        status=AnswerStatus.STOPPED if stopped else end.status,
    )
    if entry is not None and meter is not None:
        began = time.perf_counter()
        _store(meter.ledger, entry)
        # What the ledger adds after the final text (bench/ledger_bench.py reads it).
        log.debug("usage stored", event_id=ask.event_id, build_ms=build_ms,
                  store_ms=round((time.perf_counter() - began) * 1000, 3))
    return entry


def _store(ledger: UsageLedger, entry: UsageEntry) -> None:
    try:
        if not ledger.record_usage(entry):
            log.info("usage already recorded", event_id=entry.entry_id)  # a redelivered answer: one entry
    except Exception:
        log.error("could not record usage", event_id=entry.entry_id, exc_info=True)
