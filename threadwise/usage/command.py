"""``./scripts/usage [--month YYYY-MM] [--csv]``: the month's usage report, or the month's ledger as CSV,
from the store the bot is configured with (STORE, SQLITE_PATH, FIRESTORE_COLLECTION, GOOGLE_CLOUD_PROJECT or
FIRESTORE_EMULATOR_HOST). It reads only those settings and SEAT_PRICE_USD: no Slack or OpenAI credentials.

Exit status: 0 printed; 1 the store could not be read; 2 a bad option or setting (one sentence, no traceback).
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
import threading
from typing import Callable, Mapping, TextIO

from threadwise.config.env import ConfigError
from threadwise.config.groups import StateSettings
from threadwise.config.load import load_store_settings, load_usage_settings
from threadwise.usage.csv_export import ledger_csv
from threadwise.usage.report import ledger_month_report
from threadwise.usage.text_report import month_name, text_report

DEFAULT_TIMEOUT = 30.0  # seconds: an unreachable Firestore is retried by its client for minutes
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class UsageCommandError(Exception):
    """A sentence for the operator, and the exit status."""

    def __init__(self, sentence: str, status: int):
        super().__init__(sentence)
        self.status = status


def parse_month(text: str | None, today: datetime.date) -> tuple[int, int]:
    if text is None:
        return today.year, today.month
    found = _MONTH.fullmatch(text.strip())
    if not found or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1:
        raise UsageCommandError(f"--month must be a month as YYYY-MM (like {today:%Y-%m}), not {text!r}.", 2)
    return int(found[1]), int(found[2])


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year, month - 1) if month > 1 else (year - 1, 12)


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None, out: TextIO = sys.stdout,
         err: TextIO = sys.stderr, today: Callable[[], datetime.date] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./scripts/usage", description=(
        "Prints a month's usage report (default: the current month, UTC), or the month's ledger as CSV, "
        "from the store the bot is configured with."))
    parser.add_argument("--month", metavar="YYYY-MM", help="the calendar month (UTC); default: this month")
    parser.add_argument("--csv", action="store_true", help="the ledger's entries as CSV instead of the report")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"give up on a store that does not answer (default {DEFAULT_TIMEOUT:g})")
    args = parser.parse_args(argv)  # a bad option: argparse's usage line and exit status 2
    env = os.environ if env is None else env
    try:
        today_utc = today() if today else datetime.datetime.now(datetime.timezone.utc).date()
        year, month = parse_month(args.month, today_utc)
        try:
            state, usage = load_store_settings(env), load_usage_settings(env)
        except ConfigError as error:
            raise UsageCommandError(str(error), 2) from None
        if args.csv:
            entries = _read(state, args.timeout, lambda store: store.usage_in_month(year, month))
            out.write(ledger_csv(entries))
            if not entries:
                err.write(f"No answers were recorded in {month_name(year, month)}: the CSV has its header only.\n")
        else:
            report, previous = _read(state, args.timeout, lambda store: (
                ledger_month_report(store, year, month), store.spent_in_month(*previous_month(year, month))))
            out.write(text_report(report, previous, usage.seat_price_usd))
    except UsageCommandError as error:
        err.write(f"{error}\n")
        return error.status
    return 0


def _read(state: StateSettings, timeout: float, read):
    """``read(store)`` on the configured store, within ``timeout`` seconds, with a sentence for what fails."""
    where = _where(state)
    if state.store == "sqlite" and not os.path.exists(state.sqlite_path):
        raise UsageCommandError(f"There is no usage ledger at {where}: check SQLITE_PATH (the bot's store).", 1)
    result: list = []

    def run() -> None:
        from threadwise.state.backends import STORE_BACKENDS  # Firestore's client loads only when it is used

        try:
            store = STORE_BACKENDS[state.store].open(state)
            try:
                result.append(("ok", read(store)))
            finally:
                store.close()
        except Exception as error:  # a store's failures are many (auth, network, a locked file): say which
            result.append(("failed", error))

    # A thread of its own, so that a store whose client retries for minutes cannot hold the terminal.
    reader = threading.Thread(target=run, name="usage-read", daemon=True)
    reader.start()
    reader.join(timeout)
    if not result:
        raise UsageCommandError(f"The usage ledger at {where} did not answer within {timeout:g} s.", 1)
    outcome, value = result[0]
    if outcome == "failed":
        reason = " ".join(str(value).split()) or type(value).__name__
        raise UsageCommandError(f"Could not read the usage ledger at {where}: {reason[:300]}", 1)
    return value


def _where(state: StateSettings) -> str:
    if state.store == "sqlite":
        return f"{state.sqlite_path} (STORE=sqlite)"
    return (f"Firestore collection {state.firestore_collection}_usage (STORE=firestore, project "
            f"{state.google_cloud_project or 'from the environment'})")


if __name__ == "__main__":
    sys.exit(main())
