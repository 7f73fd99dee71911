"""Ledger entries for App Home's tests and bench: a month of answers by a few people, recorded beforehand."""
from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

from threadwise.state.usage_records import UsageEntry, UsageOutcome

UTC = datetime.timezone.utc
_ids = itertools.count(1)


def entry(user: str, cost: str | None, *, channel: str = "CGENERAL", model: str = "gpt-5-mini",
          ended: datetime.datetime | None = None, outcome: UsageOutcome = UsageOutcome.COMPLETED,
          input_tokens: int = 1000, output_tokens: int = 500, workspace: str = "T1") -> UsageEntry:
    ended = ended or datetime.datetime.now(UTC)
    return UsageEntry(
        entry_id=f"EvHome{next(_ids):08d}{ended.timestamp():.0f}", workspace=workspace, channel=channel, user=user,
        thread_ts="1700000000.000100", model=model, api="responses", input_tokens=input_tokens,
        cached_input_tokens=0, output_tokens=output_tokens, reasoning_tokens=0, tool_calls={},
        started=ended - datetime.timedelta(seconds=2), ended=ended, outcome=outcome,
        cost_usd=None if cost is None else Decimal(cost), estimated=outcome is UsageOutcome.STOPPED)


def last_month(now: datetime.datetime | None = None) -> datetime.datetime:
    now = now or datetime.datetime.now(UTC)
    return now.replace(day=1, hour=12, minute=0, second=0, microsecond=0) - datetime.timedelta(days=1)
