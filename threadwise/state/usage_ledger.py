"""The usage ledger in both store backends: one entry per answer, read back by calendar month.

The stored form is plain, so a process on other code (a report script, the previous release during
a deploy) reads it without this module: ISO 8601 strings for times (UTC, to the microsecond, so
they also sort), ints for tokens, the outcome's word, the cost as a decimal string (exact: money is
never a float here; absent when the price is unknown), the tool calls as a name → count map (JSON
text in SQLite). Each entry also carries its month key (``2026-07``, the UTC month of ``ended``):
both month queries select on it with equalities only, so SQLite answers them from an index and
Firestore from its automatic single-field indexes, with no composite index to deploy and no scan.

Recording is idempotent by entry id (the answer's event id): the first entry wins, like a stop
record, so a redelivered job cannot count an answer twice.
"""
from __future__ import annotations

import datetime
import json
from contextlib import closing
from decimal import Decimal
from typing import Any, Iterable

from threadwise.state.firestore_documents import document_id
from threadwise.state.usage_records import ENTRY_FIELDS, UsageEntry, month_key

# Created with the claims table (sqlite.py). The indexes start with the month: every query names it.
SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    entry_id            TEXT PRIMARY KEY,
    month               TEXT NOT NULL,
    workspace           TEXT NOT NULL,
    channel             TEXT NOT NULL,
    user                TEXT NOT NULL,
    thread_ts           TEXT NOT NULL,
    model               TEXT NOT NULL,
    api                 TEXT NOT NULL,
    input_tokens        INTEGER NOT NULL,
    cached_input_tokens INTEGER NOT NULL,
    output_tokens       INTEGER NOT NULL,
    reasoning_tokens    INTEGER NOT NULL,
    tool_calls          TEXT NOT NULL,
    started             TEXT NOT NULL,
    ended               TEXT NOT NULL,
    outcome             TEXT NOT NULL,
    cost_usd            TEXT,
    estimated           INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_month_workspace ON usage (month, workspace, ended);
CREATE INDEX IF NOT EXISTS usage_month_user ON usage (month, user);
CREATE INDEX IF NOT EXISTS usage_month_channel ON usage (month, channel)
"""
_COLUMNS = ("month",) + ENTRY_FIELDS


def stored(entry: UsageEntry) -> dict[str, Any]:
    """The entry as both backends store it (SQLite then turns the map into JSON and the flag into 0/1)."""
    return {
        "month": entry.month,
        "entry_id": entry.entry_id,
        "workspace": entry.workspace,
        "channel": entry.channel,
        "user": entry.user,
        "thread_ts": entry.thread_ts,
        "model": entry.model,
        "api": entry.api,
        "input_tokens": entry.input_tokens,
        "cached_input_tokens": entry.cached_input_tokens,
        "output_tokens": entry.output_tokens,
        "reasoning_tokens": entry.reasoning_tokens,
        "tool_calls": dict(entry.tool_calls),
        "started": _iso(entry.started),
        "ended": _iso(entry.ended),
        "outcome": entry.outcome.value,  # the word, as every release reads it
        "cost_usd": None if entry.cost_usd is None else format(entry.cost_usd, "f"),  # "0.000125", never "1.25E-4"
        "estimated": entry.estimated,
    }


def entry_of(data: dict[str, Any]) -> UsageEntry:
    """A stored entry, typed again."""
    return UsageEntry(
        entry_id=data["entry_id"], workspace=data["workspace"], channel=data["channel"], user=data["user"],
        thread_ts=data["thread_ts"], model=data["model"], api=data["api"],
        input_tokens=int(data["input_tokens"]), cached_input_tokens=int(data["cached_input_tokens"]),
        output_tokens=int(data["output_tokens"]), reasoning_tokens=int(data["reasoning_tokens"]),
        tool_calls={str(name): int(count) for name, count in (data.get("tool_calls") or {}).items()},
        started=datetime.datetime.fromisoformat(data["started"]),
        ended=datetime.datetime.fromisoformat(data["ended"]),
        outcome=data["outcome"],
        cost_usd=None if data.get("cost_usd") is None else Decimal(data["cost_usd"]),
        estimated=bool(data["estimated"]),
    )


def month_filters(year: int, month: int, **equal: str | None) -> dict[str, str]:
    """The month key and every filter given (None: not filtered), as field → value."""
    return {"month": month_key(year, month), **{name: value for name, value in equal.items() if value is not None}}


def sqlite_select(columns: str, filters: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """A SELECT on the month's rows matching ``filters`` (names from ``month_filters``, never from input)."""
    where = " AND ".join(f"{name} = ?" for name in filters)
    return f"SELECT {columns} FROM usage WHERE {where}", tuple(filters.values())


def known_costs_sum(costs: Iterable[str | None]) -> Decimal:
    """Unknown costs (None) are left out: "unknown" is not $0, and the budgets see it as such."""
    return sum((Decimal(cost) for cost in costs if cost is not None), Decimal(0))


class SqliteUsageLedger:
    """Mixed into ``SqliteStore``: needs its ``_connect``."""

    def record_usage(self, entry: UsageEntry) -> bool:
        row = stored(entry)
        row["tool_calls"] = json.dumps(row["tool_calls"], sort_keys=True)
        row["estimated"] = int(row["estimated"])
        with closing(self._connect()) as db:
            inserted = db.execute(
                f"INSERT OR IGNORE INTO usage ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                tuple(row[name] for name in _COLUMNS)).rowcount
        return inserted == 1

    def usage_in_month(self, year: int, month: int, workspace: str | None = None) -> list[UsageEntry]:
        sql, params = sqlite_select(", ".join(ENTRY_FIELDS), month_filters(year, month, workspace=workspace))
        with closing(self._connect()) as db:
            rows = db.execute(sql + " ORDER BY ended, entry_id", params).fetchall()
        return [_sqlite_entry(row) for row in rows]

    def spent_in_month(self, year: int, month: int, *, workspace: str | None = None, user: str | None = None,
                       channel: str | None = None) -> Decimal:
        sql, params = sqlite_select("cost_usd", month_filters(year, month, workspace=workspace, user=user,
                                                              channel=channel))
        with closing(self._connect()) as db:
            # Summed here, not by SQL's SUM: that would add the costs as floats.
            return known_costs_sum(cost for (cost,) in db.execute(sql, params))


class FirestoreUsageLedger:
    """Mixed into ``FirestoreStore``: one document per answer in ``<collection>_usage``, named after the
    entry id. No TTL policy: the ledger is kept (reports compare months)."""

    def _usage(self):
        return self._client.collection(self._collection.id + "_usage")

    def record_usage(self, entry: UsageEntry) -> bool:
        try:
            self._usage().document(document_id(entry.entry_id)).create(stored(entry))
            return True
        except self._exceptions.AlreadyExists:
            return False  # the first entry wins, as in SQLite

    def usage_in_month(self, year: int, month: int, workspace: str | None = None) -> list[UsageEntry]:
        found = [entry_of(snapshot.to_dict()) for snapshot in
                 self._month_query(month_filters(year, month, workspace=workspace)).stream()]
        # Sorted here: an order_by beside the equalities would need a composite index in production.
        return sorted(found, key=lambda entry: (entry.ended, entry.entry_id))

    def spent_in_month(self, year: int, month: int, *, workspace: str | None = None, user: str | None = None,
                       channel: str | None = None) -> Decimal:
        query = self._month_query(month_filters(year, month, workspace=workspace, user=user, channel=channel))
        # Only the cost field comes back. Summed here: Firestore's sum() would add floats, not decimal strings.
        return known_costs_sum((snapshot.to_dict() or {}).get("cost_usd")
                               for snapshot in query.select(["cost_usd"]).stream())

    def _month_query(self, filters: dict[str, str]):
        query = self._usage()
        for name, value in filters.items():
            query = query.where(filter=self._firestore.FieldFilter(name, "==", value))
        return query


def _sqlite_entry(row: tuple) -> UsageEntry:
    data = dict(zip(ENTRY_FIELDS, row))
    data["tool_calls"] = json.loads(data["tool_calls"])
    return entry_of(data)


def _iso(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="microseconds")  # one width for every entry: the strings sort as times
