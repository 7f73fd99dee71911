"""The usage ledger's cost on an answer (issue 15): milliseconds added before the first words and after the
final text, on SQLite and on the Firestore emulator.

One bot process per backend (``functions-framework --target=slack_bot`` through tests/harness.py, as the
tests run it) answers ``--answers`` DM questions one after another against the stand-ins. Each answer's
``usage stored`` debug line says how long building its entry took (outcome, tokens, price: ``build_ms``) and
how long ``record_usage`` took (``store_ms``); both run after the final text is in Slack. The same answer
without a ledger would do neither, so their sum is what recording adds to an answer (the comparison with
recording switched off, made inside each answer). Before the first words the answer loop does only
``Spending()`` and ``spending.add(stream)``; that is timed here in-process, and the import of
``answering/metering.py`` (paid once per instance, with the answer loop's first import) in a fresh
interpreter. Nothing of the ledger runs on the acknowledgement path (``import main`` loads none of it:
tests/e2e/test_cold_start.py).

    python bench/ledger_bench.py                  # 25 answers on SQLite and on the Firestore emulator
    python bench/ledger_bench.py --answers 40 --no-firestore
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

from common import ROOT, FakeOpenAI, FakeSlack, Script, harness
from lifecycle import run_main, signals_deferred, stop_all
from measures import pct

NAME = "ledger_bench"
TOOL_RESULT_CHARS = 12_000  # TOOL_RESULT_CHARS' default
IMPORT_PROBE = """
import time
import threadwise.answering.outcomes, threadwise.config, threadwise.model.types, threadwise.slack.events
import threadwise.state.stop_records, threadwise.state.store, threadwise.logs  # (loaded before: the claims)
began = time.perf_counter()
import threadwise.answering.metering
print((time.perf_counter() - began) * 1000)
"""


def answer_times(backend: str, env: dict, slack: FakeSlack, openai: FakeOpenAI, count: int, log_dir: Path,
                 stack: list) -> list[dict]:
    """``count`` answers, one at a time, each one's ``usage stored`` line."""
    bot = harness.BotProcess(harness.bot_env(slack.base_url, openai.base_url, OPENAI_MODEL="gpt-5-mini", **env),
                             log_dir / f"bot-{backend}.log", slack=slack)
    stack.append(bot.stop)
    channel = f"DLEDGER{backend.upper()}"
    slack.add_channel(channel, members=[slack.bot_user_id, "UBENCH"])
    lines = []
    for number in range(count):
        openai.reply = Script(text="An answer of a few words, " * 8, chunk_chars=16,
                              usage={"cached_tokens": 64, "reasoning_tokens": 4})
        ts = slack.add_message(channel, "UBENCH", f"question {number}")
        event = harness.message_event(channel, "UBENCH", f"question {number}", ts)
        since = bot.log_mark()
        assert bot.send_event(event).status == 200
        [line] = bot.wait_for_log(timeout=30, since=since, message="usage stored", event_id=event["event_id"])
        lines.append(line)
    bot.stop()
    return lines


def before_first_words_ms() -> tuple[float, float, float]:
    """In-process: Spending() and one add (per answer); counting what a tool round sends (an answer with
    tools: the tools' instructions once, then each result, before the model's next request); the metering
    module's import (per instance)."""
    from prompts import DATA_NOT_INSTRUCTIONS
    from threadwise.answering.metering import Spending
    from threadwise.model.tokens import estimate_tokens

    def per_answer():
        Spending().add(None)

    result = ("lorem ipsum dolor sit amet " * 1000)[:TOOL_RESULT_CHARS]

    def tool_round():
        estimate_tokens(DATA_NOT_INSTRUCTIONS) + estimate_tokens("search_slack" + '{"query": "x"}') + \
            estimate_tokens(result)

    runs = 20000
    per_answer_ms = timeit.timeit(per_answer, number=runs) / runs * 1000
    tool_round_ms = timeit.timeit(tool_round, number=runs // 20) / (runs // 20) * 1000
    imports = [float(subprocess.run([sys.executable, "-c", IMPORT_PROBE], cwd=ROOT, capture_output=True, text=True,
                                    check=True).stdout) for _ in range(5)]
    return per_answer_ms, tool_round_ms, sorted(imports)[len(imports) // 2]


def report(backend: str, lines: list[dict]) -> None:
    warm = lines[1:]  # the first answer also reads the price table and imports the usage room: shown apart
    build = [line["build_ms"] for line in warm]
    store = [line["store_ms"] for line in warm]
    total = [b + s for b, s in zip(build, store)]
    print(f"{backend:>9}  answers {len(warm):3d} (+1 first)   after the final text, ms: "
          f"build median {pct(build, 50):.2f} p95 {pct(build, 95):.2f} | record_usage median {pct(store, 50):.2f} "
          f"p95 {pct(store, 95):.2f} | total median {pct(total, 50):.2f} p95 {pct(total, 95):.2f} | "
          f"first answer {lines[0]['build_ms'] + lines[0]['store_ms']:.2f}")


def run(args) -> int:
    stack: list = []
    log_dir = Path(tempfile.mkdtemp(prefix=f"{NAME}_"))
    try:
        slack = FakeSlack(bot_token=harness.BOT_TOKEN)
        slack.start()
        stack.append(slack.stop)
        openai = FakeOpenAI(api_key=harness.OPENAI_KEY)
        openai.start()
        stack.append(openai.stop)
        # The stand-in's answers at full speed: the bench measures the ledger, not streaming.
        unthrottled = {"SLACK_RATE_LIMITS": harness.UNTHROTTLED, "LOG_LEVEL": "DEBUG"}
        results = {"sqlite": answer_times("sqlite", {**unthrottled, "SQLITE_PATH": str(log_dir / "store.sqlite3")},
                                          slack, openai, args.answers + 1, log_dir, stack)}
        if not args.no_firestore:
            from firestore_emulator import FirestoreEmulator  # tests/firestore_emulator.py

            with signals_deferred():
                emulator = FirestoreEmulator(log_dir=str(log_dir))
                stack.append(emulator.stop)
                emulator.start()
            results["firestore"] = answer_times(
                "firestore", {**unthrottled, **emulator.env, "STORE": "firestore", "FIRESTORE_COLLECTION": "ledger"},
                slack, openai, args.answers + 1, log_dir, stack)
        per_answer, tool_round, module_import = before_first_words_ms()
        print("Before the acknowledgement: nothing (import main loads no ledger code).")
        print(f"Before the first words: {per_answer * 1000:.2f} µs an answer (Spending and its add); "
              f"{tool_round * 1000:.1f} µs a tool round (counting a {TOOL_RESULT_CHARS:,}-character result and the "
              f"tools' instructions); {module_import:.2f} ms once an instance (importing answering/metering.py "
              "with the answer loop)")
        for backend, lines in results.items():
            report(backend, lines)
        return 0
    finally:
        stop_all(stack, NAME)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=25, help="answers measured per backend (after a first one)")
    parser.add_argument("--no-firestore", action="store_true", help="SQLite only (no Firestore emulator)")
    sys.exit(run_main(NAME, run, parser.parse_args()))
