"""The usage ledger in both store backends: one entry per answer, read back by calendar month.

The stored form is plain, so a process on other code (a report script, the previous release during
a deploy) reads it without this module: ISO 8601 strings for times (UTC, to the microsecond, so
they also sort), ints for tokens, the outcome's word, the cost as a decimal string (exact: money is
never a float here; absent when the price is unknown), the tool calls as a name → count map (JSON
text in SQLite). Each entry also carries its month key (``2026-07``, the UTC month of ``ended``):
both month queries select on it with equalities only, so SQLite answers them from an index and
Firestore from its automatic single-field indexes, with no composite index to deploy and no scan.

Recording is idempotent by entry id (the answer's event id): the first entry wins, like a stop
record, so a redelivered job cannot count an answer twice. Each stored entry also adds to its month's
running sums (``usage_tallies.py``) in the same transaction or batch: the month report and
``spent_in_month`` read those, a few rows or one document, instead of the month's entries.
"""
from __future__ import annotations

import datetime
import json
from contextlib import closing
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from threadwise.state.firestore_documents import document_id
from threadwise.state.sqlite_transactions import immediate
from threadwise.state.usage_records import ENTRY_FIELDS, UsageEntry, month_key
from threadwise.state.usage_records import COUNTERS, Tally, TallyKey
from threadwise.state.usage_tallies import SPENDING_OUTCOMES, contributions, merge, spent_tally, tally_of

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
CREATE INDEX IF NOT EXISTS usage_month_channel ON usage (month, channel);
CREATE TABLE IF NOT EXISTS usage_tallies (
    month               TEXT NOT NULL,
    workspace           TEXT NOT NULL,
    dimension           TEXT NOT NULL,
    key                 TEXT NOT NULL,
    answers             INTEGER NOT NULL,
    input_tokens        INTEGER NOT NULL,
    cached_input_tokens INTEGER NOT NULL,
    output_tokens       INTEGER NOT NULL,
    reasoning_tokens    INTEGER NOT NULL,
    cost_pico           INTEGER NOT NULL,
    unpriced_answers    INTEGER NOT NULL,
    estimated_answers   INTEGER NOT NULL,
    PRIMARY KEY (month, workspace, dimension, key)
);
CREATE INDEX IF NOT EXISTS usage_tallies_across_workspaces ON usage_tallies (month, dimension, key)
"""
_TALLY_UPSERT = (
    f"INSERT INTO usage_tallies (month, workspace, dimension, key, {', '.join(COUNTERS)}) "
    f"VALUES ({', '.join('?' * (4 + len(COUNTERS)))}) ON CONFLICT (month, workspace, dimension, key) DO UPDATE SET "
    + ", ".join(f"{name} = {name} + excluded.{name}" for name in COUNTERS))
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


def known_costs_sum(rows: Iterable[tuple[str | None, str]]) -> Decimal:
    """The known costs of (cost, outcome) rows that can spend. Unknown costs (None) are left out: "unknown" is
    not $0, and the budgets see it as such. Budget refusals and practice answers spend nothing, as in the sums."""
    spending = {outcome.value for outcome in SPENDING_OUTCOMES}
    return sum((Decimal(cost) for cost, outcome in rows if cost is not None and outcome in spending), Decimal(0))


class SqliteUsageLedger:
    """Mixed into ``SqliteStore``: needs its ``_connect``."""

    def record_usage(self, entry: UsageEntry) -> bool:
        row = stored(entry)
        row["tool_calls"] = json.dumps(row["tool_calls"], sort_keys=True)
        row["estimated"] = int(row["estimated"])
        with closing(self._connect()) as db, immediate(db):
            inserted = db.execute(
                f"INSERT OR IGNORE INTO usage ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                tuple(row[name] for name in _COLUMNS)).rowcount
            if inserted == 1:  # only a new entry adds to the sums
                db.executemany(_TALLY_UPSERT, [(entry.month, entry.workspace, dimension, key,
                                                *(getattr(tally, name) for name in COUNTERS))
                                               for (dimension, key), tally in contributions(entry)])
        return inserted == 1

    def usage_in_month(self, year: int, month: int, workspace: str | None = None) -> list[UsageEntry]:
        sql, params = sqlite_select(", ".join(ENTRY_FIELDS), month_filters(year, month, workspace=workspace))
        with closing(self._connect()) as db:
            rows = db.execute(sql + " ORDER BY ended, entry_id", params).fetchall()
        return [_sqlite_entry(row) for row in rows]

    def usage_tallies(self, year: int, month: int, workspace: str | None = None) -> dict[TallyKey, Tally]:
        filters = month_filters(year, month, workspace=workspace)
        where = " AND ".join(f"{name} = ?" for name in filters)
        tallies: dict[TallyKey, Tally] = {}
        with closing(self._connect()) as db:
            cursor = db.execute(f"SELECT dimension, key, {', '.join(COUNTERS)} FROM usage_tallies WHERE {where}",
                                tuple(filters.values()))
            merge(tallies, (((dimension, key), Tally(*counters)) for dimension, key, *counters in cursor))
        return tallies

    def spent_in_month(self, year: int, month: int, *, workspace: str | None = None, user: str | None = None,
                       channel: str | None = None) -> Decimal:
        tally = spent_tally(workspace=workspace, user=user, channel=channel)
        with closing(self._connect()) as db:
            if tally is None:  # no running sum for these filters: the entries' costs
                filters = month_filters(year, month, workspace=workspace, user=user, channel=channel)
                sql, params = sqlite_select("cost_usd, outcome", filters)
                # Summed here, not by SQL's SUM: that would add the costs as floats.
                return known_costs_sum(db.execute(sql, params))
            filters = month_filters(year, month, workspace=workspace, dimension=tally[0], key=tally[1])
            (pico,) = db.execute(  # integers: SQLite's SUM of them is exact
                "SELECT SUM(cost_pico) FROM usage_tallies WHERE " + " AND ".join(f"{name} = ?" for name in filters),
                tuple(filters.values())).fetchone()
        return Tally(cost_pico=pico or 0).cost_usd

    def spent_in_month_each(self, year: int, month: int, filters: Sequence[Mapping[str, str]]) -> list[Decimal]:
        return [self.spent_in_month(year, month, **each) for each in filters]  # local reads: no round trip to save


class FirestoreUsageLedger:
    """Mixed into ``FirestoreStore``: one document per answer in ``<collection>_usage``, named after the
    entry id. No TTL policy: the ledger is kept (reports compare months)."""

    def _usage(self):
        return self._client.collection(self._collection.id + "_usage")

    def _tallies(self):
        return self._client.collection(self._collection.id + "_usage_tallies")

    def _tally(self, month: str, workspace: str, key: TallyKey):
        return self._tallies().document(document_id("|".join((month, workspace, *key))))

    def record_usage(self, entry: UsageEntry) -> bool:
        # One batch: the create fails when the entry exists, and then none of the increments is applied.
        batch = self._client.batch()
        batch.create(self._usage().document(document_id(entry.entry_id)), stored(entry))
        for key, tally in contributions(entry):
            batch.set(self._tally(entry.month, entry.workspace, key), {
                "month": entry.month, "workspace": entry.workspace, "dimension": key[0], "key": key[1],
                **{name: self._firestore.Increment(getattr(tally, name)) for name in COUNTERS}}, merge=True)
        try:
            batch.commit()
            return True
        except self._exceptions.AlreadyExists:
            return False  # the first entry wins, as in SQLite

    def usage_in_month(self, year: int, month: int, workspace: str | None = None) -> list[UsageEntry]:
        found = [entry_of(snapshot.to_dict()) for snapshot in
                 self._month_query(month_filters(year, month, workspace=workspace)).stream()]
        # Sorted here: an order_by beside the equalities would need a composite index in production.
        return sorted(found, key=lambda entry: (entry.ended, entry.entry_id))

    def usage_tallies(self, year: int, month: int, workspace: str | None = None) -> dict[TallyKey, Tally]:
        tallies: dict[TallyKey, Tally] = {}
        merge(tallies, (((data["dimension"], data["key"]), tally_of(data)) for data in (
            snapshot.to_dict() for snapshot in
            self._month_query(month_filters(year, month, workspace=workspace), self._tallies()).stream())))
        return tallies

    def spent_in_month(self, year: int, month: int, *, workspace: str | None = None, user: str | None = None,
                       channel: str | None = None) -> Decimal:
        tally = spent_tally(workspace=workspace, user=user, channel=channel)
        if tally is None:  # no running sum for these filters: the entries' costs
            query = self._month_query(month_filters(year, month, workspace=workspace, user=user, channel=channel))
            # Only the cost field comes back. Summed here: Firestore's sum() would add floats, not decimal strings.
            return known_costs_sum(((data := snapshot.to_dict() or {}).get("cost_usd"), data.get("outcome"))
                                   for snapshot in query.select(["cost_usd", "outcome"]).stream())
        if workspace is not None:  # one document
            snapshot = self._tally(month_key(year, month), workspace, tally).get(field_paths=["cost_pico"])
            return tally_of(snapshot.to_dict() or {}).cost_usd
        query = self._month_query(month_filters(year, month, dimension=tally[0], key=tally[1]), self._tallies())
        return sum((tally_of(snapshot.to_dict() or {}) for snapshot in query.select(["cost_pico"]).stream()),
                   Tally()).cost_usd

    def spent_in_month_each(self, year: int, month: int, filters: Sequence[Mapping[str, str]]) -> list[Decimal]:
        """The sums that are one running-total document each (a workspace given) are read in one ``get_all``."""
        month_name = month_key(year, month)
        documents: dict[int, Any] = {}
        for index, each in enumerate(filters):
            tally = spent_tally(workspace=each.get("workspace"), user=each.get("user"), channel=each.get("channel"))
            if tally is not None and each.get("workspace") is not None:
                documents[index] = self._tally(month_name, each["workspace"], tally)
        found = {snapshot.reference.path: tally_of(snapshot.to_dict() or {}).cost_usd
                 for snapshot in self._client.get_all(list(documents.values()), field_paths=["cost_pico"])
                 } if documents else {}
        return [found.get(documents[index].path, Decimal(0)) if index in documents
                else self.spent_in_month(year, month, **each) for index, each in enumerate(filters)]

    def _month_query(self, filters: dict[str, str], collection=None):
        query = self._usage() if collection is None else collection
        for name, value in filters.items():
            query = query.where(filter=self._firestore.FieldFilter(name, "==", value))
        return query


def _sqlite_entry(row: tuple) -> UsageEntry:
    data = dict(zip(ENTRY_FIELDS, row))
    data["tool_calls"] = json.loads(data["tool_calls"])
    return entry_of(data)


def _iso(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="microseconds")  # one width for every entry: the strings sort as times
