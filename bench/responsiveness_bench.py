#!/usr/bin/env python
"""Issue 13's figures: how soon people see answers, stops and finals while Slack's tiers are enforced.

Starts FakeSlack (enforcing tests/slack_tiers.py: each workspace-wide tier its per-minute rate with a
burst of the same size, chat.postMessage about one a second per channel) and FakeOpenAI in this
process, and the bot with its DEFAULT settings (no SLACK_RATE_LIMITS, STREAM_UPDATE_INTERVAL unset,
i.e. 0.8 s, LOG_LEVEL INFO): one ``slack_bot`` process (``DISPATCH=thread``), or with ``--pubsub``
slack_bot publishing to the Pub/Sub emulator and ``--workers`` slack_worker processes answering its
pushes (responsiveness_pubsub.py). After one answered warm-up question it runs the scenarios
(responsiveness_scenarios.py; all of them unless some are chosen):

  --quiet       one person, ``--repeats`` times: a question answered, then a long one stopped
  --busy        ``--others`` long answers streaming elsewhere, one stopped, one short answer among them
  --crowd       ``--crowd-n`` people asking at once (distinct channels)
  --big-crowd   ``--big-crowd-n`` people asking at once

and prints issue 13's table, each figure next to its goal, then one JSON line. What is measured
does not depend on how the bot shows an answer (responsiveness_watch.py): a placeholder or a thread
status, text by chat.update or chat.postMessage, the whole answer in one post. Stop is the asker's
click on the reply's Stop button, or the *Stop generating* shortcut on their question when no reply
shows one yet. Times of the model's side are FakeOpenAI's (last delta written, stream closed).

    python bench/responsiveness_bench.py [--quick] [--quiet] [--busy] [--crowd] [--big-crowd]
    python bench/responsiveness_bench.py --pubsub --workers 4        # quiet Stop and 50 at once

Exit status: 0 when every answer ended (none lost) and no secret was in the logs, 1 otherwise, 2 when
the setup failed, 130 when interrupted. Goals missed do not change it: a benchmark prints numbers.
See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT / "tests"), str(ROOT), str(ROOT / "bench")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import harness  # noqa: E402  (tests/harness.py)
from harness import OPENAI_KEY, BotProcess, bot_env  # noqa: E402
from common import add_model_options, run_setup  # noqa: E402  (bench/common.py)
from lifecycle import (  # noqa: E402  (bench/lifecycle.py)
    add_run_options, git_commit, remove_logs, run_main, signals_deferred, signals_ignored, stop_all,
)
from log_scan import leaks_in, secrets_of  # noqa: E402  (tests/log_scan.py)
from responsiveness_pubsub import PubSubDeployment  # noqa: E402
from responsiveness_report import as_json, figures, render, rounded  # noqa: E402
from responsiveness_scenarios import World, busy, crowd, quiet, seconds_of  # noqa: E402
from responsiveness_watch import ask  # noqa: E402
from slack_tiers import SLACK_BURSTS, SLACK_TIERS, enforce_slack_tiers  # noqa: E402  (tests/slack_tiers.py)
from standins.openai_api import FakeOpenAI, Script  # noqa: E402
from standins.slack_api import FakeSlack  # noqa: E402

SCENARIOS = ("quiet", "busy", "crowd", "big_crowd")
# The full run and --quick (a smoke run, under a minute); an option given on the command line wins.
FULL = dict(repeats=10, rounds=3, others=20, crowd_n=50, big_crowd_n=200, deltas=200, long_deltas=600,
            short_deltas=30, stop_after=2.0, pause=4.0, answer_timeout=40.0, wait_per_answer=2.0, drain=120.0)
QUICK = dict(repeats=1, rounds=1, others=4, crowd_n=5, big_crowd_n=10, deltas=40, long_deltas=160,
             short_deltas=10, stop_after=1.0, pause=2.5, answer_timeout=10.0, wait_per_answer=1.2, drain=5.0)

HELP = dict(repeats="quiet: how many times one question is answered and one stopped",
            rounds="busy: how many rounds", others="busy: long answers streaming elsewhere",
            crowd_n="crowd: questions at once", big_crowd_n="big crowd: questions at once",
            long_deltas="deltas of a long answer (the stopped ones, busy's others)",
            short_deltas="deltas of busy's short answer",
            stop_after="Stop is pressed this many seconds after the question, once the model streams",
            pause="seconds the bot's own write budget gets to refill before each scenario, repeat and round",
            answer_timeout="seconds to wait for one answer (and the base of a crowd's wait)",
            wait_per_answer="seconds a crowd's wait grows by per question",
            drain="seconds at the end for answers still running, before they count as lost")


# --------------------------------------------------------------------------- options
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for name in SCENARIOS:
        p.add_argument(f"--{name.replace('_', '-')}", action="store_true", help="run this scenario (default: all)")
    p.add_argument("--quick", action="store_true", help="small sizes and short answers: a smoke run under a minute")
    p.add_argument("--pubsub", action="store_true",
                   help="DISPATCH=pubsub on the emulators (default scenarios: --quiet and --crowd)")
    p.add_argument("--workers", type=int, default=4, help="slack_worker processes with --pubsub")
    sizes = p.add_argument_group("sizes and times (default: the full run's, or --quick's)")
    for name, full in FULL.items():
        if name == "deltas":
            continue  # add_model_options' (an answer's length: deltas x chunk chars)
        sizes.add_argument(f"--{name.replace('_', '-')}", type=type(full), default=None,
                           help=f"{HELP[name]} (full run {full}, --quick {QUICK[name]})")
    add_model_options(p)  # --first-token-delay, --deltas (an answer's), --chunk-chars, --delta-delay, --api
    p.set_defaults(deltas=None)
    p.add_argument("--ack-timeout", type=float, default=30.0, help="socket timeout of one event POST")
    add_run_options(p)
    args = p.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    chosen = [name for name in SCENARIOS if getattr(args, name)]
    args.scenarios = chosen or (["quiet", "crowd"] if args.pubsub else list(SCENARIOS))
    args.answer_chars = args.deltas * args.chunk_chars
    args.long_chars = args.long_deltas * args.chunk_chars
    args.short_chars = args.short_deltas * args.chunk_chars
    if args.workers < 1 or min(args.repeats, args.rounds, args.others, args.crowd_n, args.big_crowd_n) < 1:
        p.error("--workers and every size must be at least 1")
    return args


# --------------------------------------------------------------------------- the run
def start(args, stack: list, log_dir: Path):
    """The stand-ins and the bot's processes: (slack, openai, the Slack-facing BotProcess, every process)."""
    slack = FakeSlack(bot_token=harness.BOT_TOKEN)
    slack.start()
    stack.append(slack.stop)
    enforce_slack_tiers(slack)  # before the bot's first call: as in production
    openai = FakeOpenAI(api_key=OPENAI_KEY)
    openai.start()
    stack.append(openai.stop)
    # "Echo: <question>": every answer distinct and checkable; its length is the question's.
    openai.reply = Script(chunk_chars=args.chunk_chars, first_token_delay=args.first_token_delay,
                          delta_delay=args.delta_delay)
    # The production defaults: no SLACK_RATE_LIMITS, no STREAM_UPDATE_INTERVAL, LOG_LEVEL INFO, the SDK's retries.
    env = bot_env(slack.base_url, openai.base_url, LOG_LEVEL="INFO", OPENAI_API=args.api, PRACTICE_TOKEN_DELAY=None,
                  OPENAI_MAX_RETRIES=None)
    if args.pubsub:
        deployment = PubSubDeployment(env, slack, args.workers, log_dir, stack)
        return slack, openai, deployment.bot, deployment.processes
    env["SQLITE_PATH"] = str(log_dir / "claims.sqlite3")  # this run's claims only (event ids repeat across runs)
    with signals_deferred():
        bot = BotProcess(env, log_dir / "bot.log", slack=slack)
        stack.append(bot.stop)
    return slack, openai, bot, [bot]


def warm_up(world: World) -> None:
    """One question answered: imports, auth.test, the first model stream."""
    watch = world.watch()
    answer = world.answer(watch, "CWARM0001", 0, world.args.answer_chars, "W")
    ask(world.bot.port, answer, world.args.ack_timeout)
    if answer.shot.status != 200 or not watch.wait(lambda: answer.final_at is not None, 60):
        raise RuntimeError(f"warm-up question not answered (ack {answer.shot.status} {answer.shot.error})\n"
                           f"{world.bot.logs()[-3000:]}")


def run(args: argparse.Namespace) -> int:
    run_start = time.monotonic()
    commit = git_commit()
    say, stack, log_dir = run_setup(args, "responsiveness_bench")
    results: dict = {}
    processes: list = []
    leaks = []
    try:
        slack, openai, bot, processes = start(args, stack, log_dir)
        world = World(slack, openai, bot, args, say)
        warm_up(world)
        say(f"responsiveness_bench: {', '.join(args.scenarios)}  ({dispatch_text(args)})")
        for name in args.scenarios:
            began = time.monotonic()
            if name == "quiet":
                results[name] = quiet(world)
            elif name == "busy":
                results[name] = busy(world)
            else:
                n = args.crowd_n if name == "crowd" else args.big_crowd_n
                results[name] = crowd(world, n, "N" if name == "crowd" else "H")
            results[name]["scenario_s"] = round(time.monotonic() - began, 1)
            say(f"  ({name}: {results[name]['scenario_s']} s)")
        results["lost"] = world.lost(args.drain)
        results["refused_total"] = dict(sorted(world.refused.items()))
    finally:
        with signals_ignored():  # no second Ctrl-C/TERM in the middle of stopping things
            stop_all(stack, "responsiveness_bench")
            leaks = [leak for p in processes for leak in leaks_in(p.log_path, secrets_of(p.env))]
            if not args.keep_log:
                remove_logs(log_dir)
    results["leaks"] = len(leaks)
    rows = figures(results, args.pubsub)
    say(render(rows, header(args, commit)))
    for leak in leaks[:5]:
        say(f"  secret in a log: {leak}")
    say(f"  whole run {time.monotonic() - run_start:.1f} s")
    if args.keep_log:
        say(f"logs: {log_dir}")
    ok = results["lost"] == 0 and not leaks
    print(json.dumps({"bench": "responsiveness_bench", "commit": commit, "commit_at_end": git_commit(),
                      "dispatch": "pubsub" if args.pubsub else "thread",
                      "workers": args.workers if args.pubsub else None, "quick": args.quick,
                      "scenarios": args.scenarios, "figures": as_json(rows), "raw": rounded(results), "ok": ok},
                     ensure_ascii=False, separators=(",", ":"), default=str))
    return 0 if ok else 1


def dispatch_text(args) -> str:
    return f"DISPATCH=pubsub, {args.workers} slack_worker" if args.pubsub else "DISPATCH=thread"


def header(args, commit: str | None) -> str:
    tiers = ", ".join(f"{m} {rate}/min burst {SLACK_BURSTS[m]}" for m, rate in SLACK_TIERS.items())
    return (f"responsiveness_bench  {dispatch_text(args)}  commit {commit}  cpus={os.cpu_count()}"
            f"{'  --quick' if args.quick else ''}\n"
            f"  FakeSlack enforces tests/slack_tiers.py: {tiers} (chat.postMessage per channel)\n"
            f"  bot: default settings (no SLACK_RATE_LIMITS, STREAM_UPDATE_INTERVAL 0.8, LOG_LEVEL INFO)\n"
            f"  model ({args.api}): first token {args.first_token_delay} s, {args.chunk_chars} chars every"
            f" {args.delta_delay} s; answers {args.answer_chars} chars ({seconds_of(args, args.deltas)} s),"
            f" long {args.long_chars} ({seconds_of(args, args.long_deltas)} s), short {args.short_chars}"
            f" ({seconds_of(args, args.short_deltas)} s); Stop {args.stop_after} s after the question")


def main(argv=None) -> int:
    return run_main("responsiveness_bench", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
