#!/usr/bin/env python
"""Pub/Sub hand-off benchmark: slack_bot publishes, slack_worker answers pushes, on the emulators.

Wires one deployment the way tests/e2e/test_pubsub_e2e.py does: the Pub/Sub and
Firestore emulators, FakeSlack and FakeOpenAI (standins/) in this
process, one ``slack_bot`` process (``DISPATCH=pubsub``, ``STORE=firestore``,
``WORKER_AUTH=token``) and one ``slack_worker`` process (functions-framework),
a fresh topic and a push subscription (ack deadline 600 s) to the worker.
After one answered warm-up event it runs

* ``--sequential`` questions (default 10) one after another, each answered
  before the next is sent: the latency of a single question;
* a burst of ``--n`` signed DM events (default 50) at once, from N client
  threads, one fresh TCP connection each;

and reports, for each: acknowledgement latency (which now includes publishing
to Pub/Sub and waiting for its confirmation), publish latency as the bot logs
it (``"job published"``, ``publish_ms``), event -> placeholder, event -> first
model text visible, event -> final text, answers completed with the exact
text, chat.update calls per answer; then peak memory (VmHWM) of both
processes and CPU used during the burst.

The emulator pushes only 2-3 messages at a time per subscription, so under a
burst the end-to-end numbers measure the emulator's push queue, not the bot.

    python bench/pubsub_bench.py [--n 50] [--sequential 10] [--interval 0.8]

Exit status: 0 when every event was acknowledged with 200 and every answer
completed with the expected text, 1 otherwise, 2 when the setup failed, 130
when interrupted. See bench/README.md. The numbers of a phase and the printed report are in
pubsub_report.py.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT / "tests"), str(ROOT), str(ROOT / "bench")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from harness import BotProcess, bot_env, free_port  # noqa: E402  (tests/harness.py)
from common import (  # noqa: E402  (bench/common.py)
    Burst, Tracker, add_model_options, bot_overrides, make_shots, run_setup, start_standins, warm_up,
)
from measures import cpu_seconds, descendants, memory_report  # noqa: E402  (bench/measures.py)
from lifecycle import (  # noqa: E402  (bench/lifecycle.py)
    delta, git_commit, remove_logs, run_main, signals_deferred, signals_ignored, stop_all,
)
from emulators import start_emulators  # noqa: E402  (bench/emulators.py)
from pubsub_report import phase_numbers, render  # noqa: E402  (bench/pubsub_report.py)

WORKER_TOKEN = "bench-worker-push-secret-0123456789"
ACK_DEADLINE = 600


# --------------------------------------------------------------------------- options
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--n", type=int, default=50, help="concurrent events in the burst (0: no burst)")
    p.add_argument("--concurrency", type=int, default=None, help="client threads for the burst (default: N)")
    p.add_argument("--sequential", type=int, default=10,
                   help="questions sent one after another before the burst, each answered before the next (0: none)")
    p.add_argument("--interval", type=float, default=0.8, help="STREAM_UPDATE_INTERVAL (production default 0.8)")
    p.add_argument("--practice", action="store_true", help="practice mode: no model API, PracticeStream answers")
    p.add_argument("--practice-token-delay", type=float, default=0.04,
                   help="PRACTICE_TOKEN_DELAY with --practice (production default 0.04)")
    add_model_options(p)
    p.add_argument("--threads", type=int, default=None,
                   help="gunicorn THREADS for slack_bot (default: BotProcess's 16)")
    p.add_argument("--worker-threads", type=int, default=None,
                   help="gunicorn THREADS for slack_worker (default: BotProcess's 16)")
    p.add_argument("--claim-lease", type=float, default=None,
                   help="CLAIM_LEASE_SECONDS (default: unset, the production default)")
    p.add_argument("--log-level", default="INFO", help="LOG_LEVEL of both processes (production default INFO)")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds to wait for the answers of the burst (and for each sequential one)")
    p.add_argument("--ack-timeout", type=float, default=30.0, help="socket timeout of one event POST")
    p.add_argument("--pause", type=float, default=0.5,
                   help="seconds between sequential questions (lets the worker finish the previous push)")
    p.add_argument("--stock-backlog", action="store_true",
                   help="keep the stand-ins' listen backlogs (FakeOpenAI: 5) instead of raising them to 1024")
    p.add_argument("--slack-latency", type=float, default=0.0,
                   help="seconds FakeSlack waits before answering any call (real Slack: ~0.05-0.2 s)")
    p.add_argument("--chat-update-per-minute", type=float, default=None,
                   help="make FakeSlack enforce this rate on chat.update (Slack's Tier 3 is ~50/min per "
                        "workspace); default: no limit")
    p.add_argument("--keep-log", action="store_true",
                   help="keep the logs (slack_bot, slack_worker, Firestore emulator) and print their folder")
    p.add_argument("--json-only", action="store_true", help="print only the JSON line")
    args = p.parse_args(argv)
    if args.n < 0 or args.sequential < 0 or args.n + args.sequential < 1:
        p.error("--n and --sequential must not be negative, and one of them must be at least 1")
    args.concurrency = args.concurrency or max(args.n, 1)
    return args


# --------------------------------------------------------------------------- the deployment
class Deployment:
    """Both emulators, a topic, slack_worker, slack_bot and the push subscription; ``stop``s on ``stack``.

    Every start runs with signals deferred, so that what it started is on the
    stack before a Ctrl-C can interrupt (the emulators' Java children included:
    their ``stop`` ends the whole process group).
    """

    def __init__(self, args, slack, openai, log_dir: Path, stack: list):
        run_id = f"{os.getpid()}-{int(time.time())}"
        self.pubsub, self.firestore = start_emulators(log_dir, stack)
        self.topic = f"bench-jobs-{run_id}"
        self.subscription = f"bench-push-{run_id}"
        self.pubsub.create_topic(self.topic)
        overrides = bot_overrides(args, extra={
            "DISPATCH": "pubsub", "PUBSUB_TOPIC": self.topic, "STORE": "firestore",
            "FIRESTORE_COLLECTION": f"bench_claims_{run_id.replace('-', '_')}",
            "WORKER_AUTH": "token", "WORKER_TOKEN": WORKER_TOKEN,
            "CLAIM_LEASE_SECONDS": str(args.claim_lease) if args.claim_lease else None,
            **self.pubsub.env, **self.firestore.env,
        })
        self.env = bot_env(slack.base_url, None if args.practice else openai.base_url, **overrides)
        bot_env_ = dict(self.env, **({"THREADS": str(args.threads)} if args.threads else {}))
        worker_env = dict(self.env, **({"THREADS": str(args.worker_threads)} if args.worker_threads else {}))
        self.bot_threads = int(bot_env_.get("THREADS") or 16)
        self.worker_threads = int(worker_env.get("THREADS") or 16)
        self.worker_port = free_port()
        with signals_deferred():
            self.worker = BotProcess(worker_env, log_dir / "worker.log", target="slack_worker", port=self.worker_port)
            stack.append(self.worker.stop)
        with signals_deferred():
            self.bot = BotProcess(bot_env_, log_dir / "bot.log")
            stack.append(self.bot.stop)
        self.pubsub.create_push_subscription(self.subscription, self.topic,
                                             f"http://127.0.0.1:{self.worker_port}/?token={WORKER_TOKEN}",
                                             ack_deadline=ACK_DEADLINE)

    def logs(self) -> str:
        return f"--- slack_bot\n{self.bot.logs()[-2000:]}\n--- slack_worker\n{self.worker.logs()[-2000:]}"

    def cpu_pids(self) -> dict[str, list[int]]:
        """Processes whose CPU time is counted, by part (gunicorn master + workers; gcloud + Java)."""
        firestore_leader = self.firestore._process.pid if self.firestore._process else None
        return {
            "slack_bot": [self.bot.process.pid, *descendants(self.bot.process.pid)],
            "slack_worker": [self.worker.process.pid, *descendants(self.worker.process.pid)],
            "pubsub_emulator": [self.pubsub.process.pid, *descendants(self.pubsub.process.pid)],
            "firestore_emulator": ([firestore_leader, *descendants(firestore_leader)] if firestore_leader else []),
        }


def log_entries(text: str) -> list[dict]:
    entries = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                entries.append(json.loads(line))
            except ValueError:
                pass
    return entries


def cpu_snapshot(pids: dict[str, list[int]]) -> dict[str, dict[int, float | None]]:
    return {part: {pid: cpu_seconds(pid) for pid in group} for part, group in pids.items()}


# --------------------------------------------------------------------------- the run
def run(args: argparse.Namespace) -> int:
    say, stack, log_dir = run_setup(args, "pubsub_bench")
    burst = None
    sequential_shots: list = []
    sequential_methods: dict = {}
    burst_shots: list = []
    burst_tracker = None
    try:
        slack, openai, total_chars = start_standins(args, stack)
        deployment = Deployment(args, slack, openai, log_dir, stack)
        bot, worker = deployment.bot, deployment.worker

        # --- warm-up: auth.test, the Pub/Sub and Firestore clients, the worker's imports
        warm = warm_up(bot.port, slack, total_chars, args.ack_timeout, args.timeout, deployment.logs)
        warm_ack_ms = (warm.end - warm.start) * 1000

        # --- one question at a time
        for i in range(1, args.sequential + 1):
            shots = make_shots(slack, 1, total_chars, args.practice, prefix="DS", tag="S", first=i)
            tracker = Tracker(slack, {shots[0].channel: shots[0]}, len(slack.calls))
            burst = Burst(bot.port, shots, 1, args.ack_timeout)
            burst.run(tracker, args.timeout)
            sequential_shots += shots
            for method, count in tracker.methods.items():
                sequential_methods[method] = sequential_methods.get(method, 0) + count
            if not tracker.done():
                break  # the next one would only wait as long again
            time.sleep(args.pause)

        # --- the burst
        pids = deployment.cpu_pids()
        cpu_before = cpu_snapshot(pids)
        own_before = os.times()
        if args.n:
            burst_shots = make_shots(slack, args.n, total_chars, args.practice)
            burst_tracker = Tracker(slack, {s.channel: s for s in burst_shots}, len(slack.calls))
            burst = Burst(bot.port, burst_shots, args.concurrency, args.ack_timeout)
            burst.run(burst_tracker, args.timeout)
        own_after = os.times()
        cpu_after = cpu_snapshot(pids)
        memory = {"slack_bot": memory_report(bot.process.pid), "slack_worker": memory_report(worker.process.pid)}
        time.sleep(0.3)  # the last "job received"/"job published" lines reach the log files
        bot_log, worker_log = log_entries(bot.logs()), log_entries(worker.logs())
    finally:
        with signals_ignored():  # no second Ctrl-C/TERM in the middle of stopping things
            if burst is not None:
                burst.abort()
            stop_all(stack, "pubsub_bench")
            if not args.keep_log:
                remove_logs(log_dir)

    # --- numbers
    warm_publish = [e.get("publish_ms") for e in bot_log
                    if e.get("message") == "job published" and e.get("event_id") == warm.event_id]
    sequential = (phase_numbers(sequential_shots, args.practice, bot_log, worker_log, sequential_methods)
                  if args.sequential else None)
    burst_numbers = (phase_numbers(burst_shots, args.practice, bot_log, worker_log, burst_tracker.methods)
                     if args.n else None)
    if burst_numbers is not None:
        burst_numbers["acks_wall_s"] = round(burst.acks_done - burst.wall_start, 3)
        burst_numbers["wall_s"] = round(burst.wall, 2)
        burst_numbers["slack_calls"] = dict(sorted(burst_tracker.methods.items()))
    cpu = {part: round(sum(delta(cpu_before[part].get(pid), cpu_after[part].get(pid)) or 0 for pid in group), 2)
           for part, group in pids.items()}
    cpu["bench_process"] = round((own_after.user - own_before.user) + (own_after.system - own_before.system), 2)
    severities = {name: sum(1 for e in entries if e.get("severity") in ("WARNING", "ERROR", "CRITICAL"))
                  for name, entries in (("slack_bot", bot_log), ("slack_worker", worker_log))}
    result = {
        "bench": "pubsub_bench", "commit": git_commit(),
        "n": args.n, "concurrency": args.concurrency, "sequential": args.sequential, "interval": args.interval,
        "mode": "practice" if args.practice else f"model/{args.api}",
        "model_script": None if args.practice else {
            "first_token_delay": args.first_token_delay, "deltas": math.ceil(total_chars / args.chunk_chars),
            "chunk_chars": args.chunk_chars, "delta_delay": args.delta_delay},
        "bot_threads": deployment.bot_threads, "worker_threads": deployment.worker_threads,
        "ack_deadline_s": ACK_DEADLINE, "claim_lease_s": args.claim_lease, "cpus": os.cpu_count(),
        "slack_latency": args.slack_latency,
        "warmup_ack_ms": round(warm_ack_ms, 1), "warmup_publish_ms": warm_publish[0] if warm_publish else None,
        "sequential_run": sequential, "burst": burst_numbers,
        "memory_kib": {part: {"worker_hwm": m["worker_hwm_kib"], "master_hwm": m["master_hwm_kib"],
                              "sum_hwm": m["sum_hwm_kib"]} for part, m in memory.items()},
        "cpu_s_during_burst": cpu if args.n else None,
        "log_warnings_or_errors": severities,
        "emulator_push_note": "the Pub/Sub emulator pushes only 2-3 messages at a time per subscription",
    }
    ok = all(phase["not_200"] == 0 and phase["exact"] == phase["n"]
             for phase in (sequential, burst_numbers) if phase is not None)
    result["ok"] = ok

    say(render(result, args))
    if args.keep_log:
        say(f"logs: {log_dir}")
    print(json.dumps(result, ensure_ascii=False, separators=(",", ":")))
    return 0 if ok else 1


def main(argv=None) -> int:
    return run_main("pubsub_bench", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
