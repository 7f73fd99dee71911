"""How fast the usage ledger's read side is with a busy month: 10,000 entries (about 200 people,
50 channels, 4 models, some unpriced and some estimated, every outcome), on SQLite and on the
Firestore emulator.

Measured, each ``--repeat`` times: the month report from the store's running sums
(``ledger_month_report``: what App Home and ``./scripts/usage`` do; App Home must publish within 1 s, so
the goal here is under ~300 ms), the same from the month's entries (``usage_in_month`` + ``month_report``,
what the CSV reads), and ``spent_in_month`` for one user, one channel and the workspace (what a budget
check reads before each model call — all three at once with ``spent_in_month_each``: the goal is under
~5 ms). Recording is timed per entry.

    .venv/bin/python bench/usage_report_bench.py [--entries 10000] [--repeat 5] [--backend sqlite|firestore|both]
"""
from __future__ import annotations

import argparse
import datetime
import random
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT / "tests"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from lifecycle import git_commit, run_main, signals_deferred, stop_all  # noqa: E402
from measures import print_latencies  # noqa: E402
from threadwise.state.usage_records import UsageEntry, UsageOutcome  # noqa: E402
from threadwise.usage.report import ledger_month_report, month_report  # noqa: E402

UTC = datetime.timezone.utc
YEAR, MONTH = 2026, 7
WORKSPACE = "TBENCH"
ALONE = 200  # entries recorded one after another before the rest are recorded concurrently
# name → (USD per 1M input, output) or None: unpriced (its cost is unknown)
MODELS = {"gpt-5-mini": (Decimal("0.25"), Decimal("2.00")), "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
          "gpt-5": (Decimal("1.25"), Decimal("10.00")), "a-model-without-a-price": None}
OUTCOMES = [UsageOutcome.COMPLETED] * 85 + [UsageOutcome.STOPPED] * 6 + [UsageOutcome.ERROR] * 2 + [
    UsageOutcome.SUPERSEDED] * 2 + [UsageOutcome.DELETED, UsageOutcome.BUDGET_REFUSED, UsageOutcome.PRACTICE] * 1


def month_of_entries(count: int, seed: int = 15) -> list[UsageEntry]:
    """A realistic month: a few heavy users and channels (Zipf-like), most answers completed."""
    rng = random.Random(seed)
    users = [f"U{n:08d}" for n in range(200)]
    channels = [f"C{n:08d}" for n in range(50)]
    user_weights = [1 / (n + 1) for n in range(len(users))]
    channel_weights = [1 / (n + 1) for n in range(len(channels))]
    entries = []
    for n in range(count):
        ended = datetime.datetime(YEAR, MONTH, 1, tzinfo=UTC) + datetime.timedelta(seconds=rng.randrange(31 * 86400))
        model = rng.choices(list(MODELS), weights=[50, 30, 15, 5])[0]
        outcome = rng.choice(OUTCOMES)
        spends = outcome not in (UsageOutcome.BUDGET_REFUSED, UsageOutcome.PRACTICE)
        input_tokens = rng.randrange(500, 20_000) if spends else 0
        cached = rng.randrange(0, input_tokens // 2 + 1)
        output = (rng.randrange(50, 2_000) if outcome is not UsageOutcome.STOPPED else rng.randrange(0, 300)) \
            if spends else 0
        price = MODELS[model]
        cost = None if price is None else ((input_tokens * price[0] + output * price[1]) / 1_000_000 if spends
                                           else Decimal(0))
        entries.append(UsageEntry(
            entry_id=f"Ev{n:06d}", workspace=WORKSPACE, channel=rng.choices(channels, channel_weights)[0],
            user=rng.choices(users, user_weights)[0], thread_ts=f"{ended.timestamp():.6f}", model=model,
            api="responses", input_tokens=input_tokens, cached_input_tokens=cached, output_tokens=output,
            reasoning_tokens=output // 3, tool_calls={"web_search": 1} if n % 7 == 0 else {},
            started=ended - datetime.timedelta(seconds=rng.uniform(1, 40)), ended=ended, outcome=outcome,
            cost_usd=cost, estimated=outcome is UsageOutcome.STOPPED or n % 97 == 0))
    return entries


def measure(store, entries: list[UsageEntry], repeat: int, workers: int) -> list[tuple[str, list[float]]]:
    alone: list[float] = []
    concurrent: list[float] = []

    def record(entry: UsageEntry, times: list[float]) -> None:
        started = time.perf_counter()
        store.record_usage(entry)
        times.append(time.perf_counter() - started)

    for entry in entries[:ALONE]:  # one answer ending at a time
        record(entry, alone)
    with ThreadPoolExecutor(workers) as pool:  # many at once: the month's tallies are written by all of them
        list(pool.map(lambda entry: record(entry, concurrent), entries[ALONE:]))
    heavy_user = max({e.user for e in entries}, key=lambda u: sum(e.user == u for e in entries))
    heavy_channel = max({e.channel for e in entries}, key=lambda c: sum(e.channel == c for e in entries))
    rows: dict[str, list[float]] = {"record_usage (one at a time)": alone,
                                    f"record_usage ({workers} at a time)": concurrent}
    for _ in range(repeat):
        started = time.perf_counter()
        summed = ledger_month_report(store, YEAR, MONTH, WORKSPACE)
        rows.setdefault("ledger_month_report (running sums)", []).append(time.perf_counter() - started)
        started = time.perf_counter()
        month = store.usage_in_month(YEAR, MONTH, WORKSPACE)
        read = time.perf_counter()
        report = month_report(month, YEAR, MONTH)
        done = time.perf_counter()
        rows.setdefault("usage_in_month (10k rows)", []).append(read - started)
        rows.setdefault("month_report (summing)", []).append(done - read)
        rows.setdefault("usage_in_month + month_report", []).append(done - started)
        for label, filters in (("user", dict(workspace=WORKSPACE, user=heavy_user)),
                               ("channel", dict(workspace=WORKSPACE, channel=heavy_channel)),
                               ("workspace", dict(workspace=WORKSPACE))):
            started = time.perf_counter()
            store.spent_in_month(YEAR, MONTH, **filters)
            rows.setdefault(f"spent_in_month ({label})", []).append(time.perf_counter() - started)
        started = time.perf_counter()  # what a budget check with all three budgets set reads: one round trip
        store.spent_in_month_each(YEAR, MONTH, [dict(workspace=WORKSPACE, user=heavy_user),
                                                dict(workspace=WORKSPACE, channel=heavy_channel),
                                                dict(workspace=WORKSPACE)])
        rows.setdefault("spent_in_month_each (a budget check: user, channel, workspace)", []).append(
            time.perf_counter() - started)
    expected = sum((e.cost_usd for e in entries if e.cost_usd is not None), Decimal(0))
    assert store.spent_in_month(YEAR, MONTH, workspace=WORKSPACE) == expected, "the bench's store disagrees"
    assert len(month) == len(entries) and report.total.answers > 0
    assert summed == report, "the running sums and the entries disagree"
    print(f"  {len(entries)} entries, {report.people} people, ${report.total.cost_usd:.2f}, "
          f"{report.total.unpriced_answers} unpriced, heaviest user {heavy_user}")
    return list(rows.items())


def run(args) -> int:
    from threadwise.state.firestore import FirestoreStore
    from threadwise.state.sqlite import SqliteStore

    entries = month_of_entries(args.entries)
    print(f"usage report bench at {git_commit()}: {args.entries} entries in {YEAR}-{MONTH:02d}, repeat {args.repeat}")
    stack: list = []
    try:
        if args.backend in ("sqlite", "both"):
            with tempfile.TemporaryDirectory() as folder:
                print("SQLite")
                print_latencies(measure(SqliteStore(str(Path(folder) / "ledger.sqlite3")), entries, args.repeat,
                                        workers=4))
        if args.backend in ("firestore", "both"):
            from firestore_emulator import FirestoreEmulator  # tests/firestore_emulator.py

            with signals_deferred():
                emulator = FirestoreEmulator()
                stack.append(emulator.stop)
                emulator.start()
            store = FirestoreStore(collection=f"bench_{uuid.uuid4().hex[:8]}", client=emulator.client())
            stack.append(store.close)
            print("Firestore (emulator)")
            print_latencies(measure(store, entries, args.repeat, workers=16))
    finally:
        stop_all(stack, "usage_report_bench")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backend", choices=("sqlite", "firestore", "both"), default="both")
    sys.exit(run_main("usage_report_bench", run, parser.parse_args()))
