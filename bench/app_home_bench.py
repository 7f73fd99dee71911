"""App Home: from ``app_home_opened`` to ``views.publish`` received by the Slack stand-in, with a month of
10,000 ledger rows (issue 15: the goal is under 1 s).

The real entry point (``main.slack_bot`` under functions-framework, SQLite store) gets signed
``app_home_opened`` events from FakeSlack's own builder; each run is timed from the event's POST to
the moment the stand-in receives the bot's ``views.publish`` for that person. A member's view and an
admin's (two months read, the lists and the chart) are measured apart; the acknowledgement too.

    python bench/app_home_bench.py               # 10,000 rows, 15 runs each
    python bench/app_home_bench.py --rows 50000 --runs 20
"""
from __future__ import annotations

import argparse
import datetime
import tempfile
import time
from pathlib import Path

from common import FakeSlack, harness  # noqa: F401  (puts the repo root and tests/ on sys.path)
from home_ledger import entry  # tests/home_ledger.py
from measures import pct
from slack_tiers import enforce_slack_tiers
from threadwise.state.sqlite import SqliteStore
from threadwise.state.usage_records import UsageOutcome

ADMIN, MEMBER = "UBENCHADMIN", "UBENCHUSER0001"
MODELS = ("gpt-5-mini", "gpt-5", "gpt-4.1", "no-price-model")


def fill(path: str, rows: int) -> float:
    """``rows`` entries this month: 300 people, 60 channels, four models (one without a price)."""
    started = time.monotonic()
    now = datetime.datetime.now(datetime.timezone.utc)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    span = (now - first).total_seconds()
    store = SqliteStore(path)
    try:
        for i in range(rows):
            model = MODELS[i % len(MODELS)]
            store.record_usage(entry(
                MEMBER if i % 300 == 1 else f"UBENCHUSER{i % 300:04d}", None if model == "no-price-model" else "0.0123",
                channel=f"CBENCH{i % 60:03d}", model=model,
                ended=first + datetime.timedelta(seconds=span * i / rows),
                outcome=UsageOutcome.STOPPED if i % 17 == 0 else UsageOutcome.COMPLETED))
    finally:
        store.close()
    return time.monotonic() - started


def one_visit(bot, slack: FakeSlack, user: str) -> tuple[float, float]:
    """(seconds to the 200, seconds until the stand-in received views.publish for ``user``)."""
    body = slack.app_home_opened(user)
    started = time.monotonic()
    response = bot.send_event(body)
    acknowledged = time.monotonic() - started
    assert response.status == 200, response.status
    call = slack.wait_for(lambda: next((c for c in reversed(slack.calls_of("views.publish"))
                                        if c.params.get("user_id") == user and c.at >= started), None), timeout=30)
    assert call.status == 200 and call.response.get("ok"), call.response
    return acknowledged, call.at - started


def show(label: str, seconds: list[float]) -> None:
    ms = [value * 1000 for value in seconds]
    print(f"{label:<46} median {pct(ms, 50):8.1f} ms   p95 {pct(ms, 95):8.1f} ms   max {max(ms):8.1f} ms   "
          f"(n={len(ms)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="app-home-bench-"))
    path = str(folder / "ledger.sqlite3")
    print(f"filling the ledger: {args.rows:,} rows this month …", flush=True)
    print(f"  {fill(path, args.rows):.1f} s")
    slack = FakeSlack().start()
    bot = None
    try:
        enforce_slack_tiers(slack)  # views.publish is Tier 4, as on Slack
        env = harness.bot_env(slack.base_url, None, SQLITE_PATH=path, ADMIN_USERS=ADMIN, LOG_LEVEL="WARNING",
                              BUDGET_USER_MONTHLY_USD="10")
        bot = harness.BotProcess(env, folder / "bot.log", slack=slack)
        one_visit(bot, slack, ADMIN)  # warm: the first visit imports the Home view's modules
        results = {}
        for label, user in (("member", MEMBER), ("admin", ADMIN)):
            runs = [one_visit(bot, slack, user) for _ in range(args.runs)]
            results[label] = runs
        print(f"\nApp Home with {args.rows:,} ledger rows in the month (SQLite), {args.runs} runs each:")
        for label, runs in results.items():
            show(f"{label}: event → views.publish at the stand-in", [r[1] for r in runs])
        show("acknowledgement (all visits)", [r[0] for runs in results.values() for r in runs])
    finally:
        if bot is not None:
            bot.stop()
        slack.stop()


if __name__ == "__main__":
    main()
