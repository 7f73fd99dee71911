"""./scripts/usage end to end: the script itself in a process of its own, against a store whose entries
were recorded through the store (SQLite on a file; Firestore in its emulator), with no Slack or OpenAI
setting in its environment."""
from __future__ import annotations

import datetime
import os
import subprocess
import uuid
from decimal import Decimal

import pytest

from harness import ROOT, free_port
from threadwise.state.firestore import FirestoreStore
from threadwise.state.sqlite import SqliteStore
from threadwise.state.usage_records import UsageEntry, UsageOutcome

UTC = datetime.timezone.utc
HEADER = ("time,user,channel,model,input_tokens,cached_tokens,output_tokens,reasoning_tokens,cost_usd,outcome,"
          "estimated")


def entry(entry_id: str, ended: datetime.datetime, **changes) -> UsageEntry:
    values = dict(entry_id=entry_id, workspace="T1", channel="C1", user="U1", thread_ts="1.0", model="gpt-5-mini",
                  api="responses", input_tokens=3000, cached_input_tokens=1000, output_tokens=1500,
                  reasoning_tokens=1000, tool_calls={"web_search": 1}, started=ended - datetime.timedelta(seconds=9),
                  ended=ended, outcome=UsageOutcome.COMPLETED, cost_usd=Decimal("0.003275"), estimated=False)
    return UsageEntry(**{**values, **changes})


ENTRIES = [
    entry("Ev1", datetime.datetime(2026, 7, 1, 8, 30, 5, 250000, tzinfo=UTC)),
    entry("Ev2", datetime.datetime(2026, 7, 15, 23, 59, 59, tzinfo=UTC), user="U2", channel="D0A1",
          model="mystery-model", cost_usd=None, outcome=UsageOutcome.STOPPED, estimated=True, output_tokens=40,
          reasoning_tokens=0),
    entry("Ev3", datetime.datetime(2026, 7, 2, 1, 0, tzinfo=UTC), cost_usd=Decimal("0.0000001234"),
          outcome=UsageOutcome.ERROR),
    entry("Ev4", datetime.datetime(2026, 6, 30, 23, 0, tzinfo=UTC), cost_usd=Decimal("2")),  # June
]
JULY_CSV = HEADER + "\n" + "\n".join([
    "2026-07-01T08:30:05Z,U1,C1,gpt-5-mini,3000,1000,1500,1000,0.003275,completed,false",
    "2026-07-02T01:00:00Z,U1,C1,gpt-5-mini,3000,1000,1500,1000,0.000000,error,false",
    "2026-07-15T23:59:59Z,U2,D0A1,mystery-model,3000,1000,40,0,,stopped,true",
]) + "\n"


def usage(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """./scripts/usage with only these settings: nothing of Slack or OpenAI, nor of the test's environment."""
    clean = {name: value for name, value in os.environ.items()
             if name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    return subprocess.run([str(ROOT / "scripts" / "usage"), *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def sqlite_ledger(tmp_path_factory) -> dict:
    path = str(tmp_path_factory.mktemp("usage") / "ledger.sqlite3")
    store = SqliteStore(path)
    for each in ENTRIES:
        store.record_usage(each)
    return {"SQLITE_PATH": path}


def test_the_csv_of_a_month(sqlite_ledger):
    done = usage(sqlite_ledger, "--month", "2026-07", "--csv")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == JULY_CSV
    assert done.stdout.splitlines()[0] == HEADER, "the contract's header, exactly"


def test_another_month_is_another_selection(sqlite_ledger):
    done = usage(sqlite_ledger, "--csv", "--month", "2026-06")
    assert done.stdout == HEADER + "\n2026-06-30T23:00:00Z,U1,C1,gpt-5-mini,3000,1000,1500,1000,2.000000,completed," \
                                   "false\n"


def test_the_report_of_a_month(sqlite_ledger):
    done = usage({**sqlite_ledger, "SEAT_PRICE_USD": "30"}, "--month", "2026-07")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Threadwise usage, July 2026 (UTC)\n")
    assert "Answers      3 for 2 people" in done.stdout
    assert "Cost         $0.0033 + unknown" in done.stdout
    assert "no price for mystery-model" in done.stdout
    assert "Last month   $2.00 (June 2026)" in done.stdout
    assert ("2 people used Threadwise this month; ChatGPT Business for them would cost $30 × 2 = $60.00; "
            "Threadwise cost $0.0033") in done.stdout


def test_an_empty_month_says_so(sqlite_ledger):
    report = usage(sqlite_ledger, "--month", "2025-12")
    assert report.returncode == 0 and "No answers were recorded in December 2025." in report.stdout
    csv = usage(sqlite_ledger, "--month", "2025-12", "--csv")
    assert (csv.returncode, csv.stdout) == (0, HEADER + "\n")
    assert csv.stderr == "No answers were recorded in December 2025: the CSV has its header only.\n"


def test_the_current_month_by_default(sqlite_ledger):
    now = datetime.datetime.now(UTC)
    SqliteStore(sqlite_ledger["SQLITE_PATH"]).record_usage(entry("now", now))
    done = usage(sqlite_ledger, "--csv")
    assert done.stdout.splitlines()[1:] == [f"{now:%Y-%m-%dT%H:%M:%S}Z,U1,C1,gpt-5-mini,3000,1000,1500,1000,"
                                            "0.003275,completed,false"]


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "26-07", "July", "2026-7", "0000-01"])
def test_a_malformed_month_is_one_sentence(sqlite_ledger, month):
    done = usage(sqlite_ledger, "--month", month)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"--month must be a month as YYYY-MM (like {datetime.datetime.now(UTC):%Y-%m}), " \
                          f"not {month!r}.\n"


def test_a_missing_ledger_or_a_bad_setting_is_one_sentence(tmp_path):
    missing = usage({"SQLITE_PATH": str(tmp_path / "nowhere.sqlite3")})
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr == f"There is no usage ledger at {tmp_path / 'nowhere.sqlite3'} (STORE=sqlite): check " \
                             "SQLITE_PATH (the bot's store).\n"
    assert not (tmp_path / "nowhere.sqlite3").exists(), "reading creates no store"
    wrong = usage({"STORE": "mongo"})
    assert (wrong.returncode, wrong.stderr) == (2, "STORE must be one of sqlite, firestore, not 'mongo'\n")


def test_firestore_the_same_csv_and_report(firestore_emulator):
    collection = f"usage_{uuid.uuid4().hex[:10]}"
    store = FirestoreStore(collection=collection, client=firestore_emulator.client())
    for each in ENTRIES:
        store.record_usage(each)
    store.close()
    env = {"STORE": "firestore", "FIRESTORE_COLLECTION": collection, **firestore_emulator.env}
    csv = usage(env, "--month", "2026-07", "--csv")
    assert (csv.returncode, csv.stdout, csv.stderr) == (0, JULY_CSV, "")
    report = usage(env, "--month", "2026-07")
    assert report.returncode == 0 and "Answers      3 for 2 people" in report.stdout
    assert "Last month   $2.00 (June 2026)" in report.stdout


def test_an_unreachable_firestore_is_one_sentence_in_time():
    port = free_port()  # nothing listens there
    done = usage({"STORE": "firestore", "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{port}",
                  "GOOGLE_CLOUD_PROJECT": "nowhere"}, "--timeout", "3")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == ("The usage ledger at Firestore collection threadwise_claims_usage (STORE=firestore, "
                           "project nowhere) did not answer within 3 s.\n")
