"""The ledger as CSV, for finance: one line per answer, the columns fixed by the design card's contract.

The same text goes to a terminal (``./scripts/usage --csv``) and, as a file, to an admin's DM (App Home's
export button), so a spreadsheet made from either lines up with the other.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Iterable

from threadwise.state.usage_records import UsageEntry

# DESIGN.md, Contracts: "the CSV's first line is exactly" this.
HEADER = ("time", "user", "channel", "model", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens",
          "cost_usd", "outcome", "estimated")
_MICRO = Decimal("0.000001")


def ledger_csv(entries: Iterable[UsageEntry]) -> str:
    """``time`` is when the answer ended (ISO 8601, UTC, the moment that decides its month); IDs as Slack gives
    them; cost with 6 decimals, empty when the model's price is unknown (never 0); ``estimated`` true/false."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for entry in entries:
        writer.writerow((
            entry.ended.isoformat(timespec="seconds").replace("+00:00", "Z"),
            entry.user,
            entry.channel,
            entry.model,
            entry.input_tokens,
            entry.cached_input_tokens,
            entry.output_tokens,
            entry.reasoning_tokens,
            "" if entry.cost_usd is None else f"{entry.cost_usd.quantize(_MICRO):f}",
            entry.outcome.value,
            "true" if entry.estimated else "false",
        ))
    return out.getvalue()
