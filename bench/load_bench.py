#!/usr/bin/env python
"""N concurrent @mentions in channels against the Slack stand-in with and without Slack's rate limits.

Starts FakeSlack and FakeOpenAI (standins/) in this process and one bot
process (``functions-framework --target=slack_bot`` through tests/harness.py's
BotProcess), warms the bot with one answered @mention, then fires N signed
``app_mention`` events at once (one client thread and one TCP connection each),
spread over K channels (``--channels``, default N: one channel each; K=1 puts
every question in one channel, where ``chat.postMessage`` is limited to about
one a second).

``--slack-limits`` makes FakeSlack enforce Slack's tiers (429 + Retry-After:
chat.update, chat.delete and conversations.replies 50 a minute with a burst of
3 for the workspace, chat.postMessage 60 a minute per channel with a burst of 1)
and runs the bot with its production write budget (SLACK_RATE_LIMITS unset,
i.e. config/slack_limits.DEFAULT_LIMITS). Without it FakeSlack limits nothing and the
bot runs with the "unthrottled" SLACK_RATE_LIMITS (harness.UNTHROTTLED)
(``--bot-limits`` chooses otherwise).

Prints: answers completed with the exact final text, 429s, acknowledgement
and event -> placeholder / first model text / final text p50/p99, Slack
writes per answer (chat.update + chat.postMessage), peak memory (VmHWM) of the
gunicorn worker and master, and wall times. The last line is one JSON object.

    python bench/load_bench.py --n 50 [--channels K] [--slack-limits]

Exit status: 0 when every event was acknowledged with 200 and every answer
completed with the exact text, 1 otherwise, 2 when the setup failed, 130 when
interrupted. See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT / "tests"), str(ROOT), str(ROOT / "bench")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import harness  # noqa: E402  (tests/harness.py)
from harness import BotProcess, bot_env  # noqa: E402
from common import (  # noqa: E402  (bench/common.py)
    ASKER, Burst, Shot, ThreadTracker, add_model_options, bot_overrides, mention_shot, post_event, run_setup,
    start_standins, wait_answers,
)
from measures import (  # noqa: E402  (bench/measures.py)
    cpu_seconds, descendants, memory_report, mib, pss_kib, row, summary,
)
from lifecycle import delta as _delta, git_commit, run_main, signals_ignored, stop_all  # noqa: E402  (bench/lifecycle.py)

# Slack's tiers as FakeSlack enforces them with --slack-limits (per minute, burst); chat.postMessage per channel.
SLACK_TIERS = {"chat.update": 50, "chat.postMessage": 60, "chat.delete": 50, "conversations.replies": 50}
SLACK_BURST = {"chat.update": 3, "chat.postMessage": 1, "chat.delete": 3, "conversations.replies": 3}
PER_CHANNEL = ("chat.postMessage",)
WRITES = ("chat.update", "chat.postMessage")


# --------------------------------------------------------------------------- options
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--n", type=int, default=50, help="concurrent @mentions (one answer each)")
    p.add_argument("--channels", type=int, default=None, help="spread them over K channels (default: N)")
    p.add_argument("--slack-limits", action="store_true",
                   help="FakeSlack enforces Slack's tiers (429 + Retry-After) and the bot runs with its "
                        "production write budget")
    p.add_argument("--bot-limits", choices=("production", "unthrottled"), default=None,
                   help="the bot's SLACK_RATE_LIMITS: production = unset (slack_limits.DEFAULT_LIMITS), "
                        "unthrottled = harness.UNTHROTTLED (default: production with --slack-limits, "
                        "else unthrottled)")
    p.add_argument("--interval", type=float, default=0.8, help="STREAM_UPDATE_INTERVAL (production default 0.8)")
    add_model_options(p)
    p.add_argument("--threads", type=int, default=None, help="gunicorn THREADS (default: BotProcess's 16)")
    p.add_argument("--dispatch-workers", type=int, default=None,
                   help="DISPATCH_WORKERS (default: unset, the production default 64)")
    p.add_argument("--log-level", default="INFO", help="bot LOG_LEVEL (production default INFO)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds to wait for the answers (default: from N, K and the limits; printed)")
    p.add_argument("--ack-timeout", type=float, default=30.0, help="socket timeout of one event POST")
    p.add_argument("--slack-latency", type=float, default=0.0, help="seconds FakeSlack waits before each answer")
    p.add_argument("--stock-backlog", action="store_true",
                   help="keep the stand-ins' listen backlogs (FakeOpenAI: 5) instead of raising them to 1024")
    p.add_argument("--keep-log", action="store_true", help="keep the bot's log file and print its path")
    p.add_argument("--json-only", action="store_true", help="print only the JSON line")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error("--n must be at least 1")
    args.channels = args.channels or args.n
    if not 1 <= args.channels <= args.n:
        p.error("--channels must be between 1 and N")
    args.bot_limits = args.bot_limits or ("production" if args.slack_limits else "unthrottled")
    args.timeout_source = "given" if args.timeout else "from N"
    args.timeout = args.timeout or default_timeout(args)
    # what common.start_standins reads
    args.practice, args.chat_update_per_minute = False, None
    return args


def default_timeout(args) -> float:
    """Long enough for the slowest pace the limits allow, with room to spare.

    Unlimited, 200 answers take 15-25 s. Limited, every answer needs at least
    one chat.update (its final text) out of ~45 a minute (the bot spends 90 % of
    Slack's 50), and each channel gets ~54 placeholders a minute.
    """
    stream_s = args.first_token_delay + args.deltas * args.delta_delay
    if not (args.slack_limits or args.bot_limits == "production"):
        return 120.0 + 0.5 * args.n
    per_channel = math.ceil(args.n / args.channels)
    updates_s = args.n / (SLACK_TIERS["chat.update"] * 0.9 / 60)
    posts_s = per_channel / (SLACK_TIERS["chat.postMessage"] * 0.9 / 60)
    return round(1.5 * max(updates_s, posts_s) + stream_s + 120.0)


# --------------------------------------------------------------------------- warm-up
def warm_up(bot, slack, total_chars: int, args) -> Shot:
    """One @mention in a channel of its own, acknowledged and answered with the exact text."""
    channel = "CWARM0001"
    slack.set_channel(channel, name="warm-up", members=[ASKER, "UBOT"])
    warm = mention_shot(0, channel, slack, total_chars, "W")
    tracker = ThreadTracker(slack, [warm], 0)
    post_event(bot.port, warm, args.ack_timeout, None)
    if warm.status != 200:
        raise RuntimeError(f"warm-up event not acknowledged: {warm.status} {warm.error}\n{bot.logs()[-3000:]}")
    wait_answers(tracker, time.monotonic() + min(args.timeout, 120))
    if not tracker.done():
        raise RuntimeError(f"warm-up answer did not complete\n{bot.logs()[-3000:]}")
    if warm.final_text != warm.expected:
        raise RuntimeError(f"warm-up answer not the expected text: {warm.final_text[:120]!r}…")
    return warm


def warning_lines(text: str) -> list[str]:
    """The bot's JSON log lines of severity WARNING or worse (rate-limit pauses show up here)."""
    out = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("severity") in ("WARNING", "ERROR", "CRITICAL"):
            out.append(entry.get("message", line)[:100])
    return out


# --------------------------------------------------------------------------- the run
def run(args: argparse.Namespace) -> int:
    run_start = time.monotonic()
    commit = git_commit()  # the code the bot imports at its start; checked again at the end
    say, stack, log_dir = run_setup(args, "load_bench")
    log_path = log_dir / "bot.log"
    burst = None
    try:
        slack, openai, total_chars = start_standins(args, stack)
        overrides = bot_overrides(args, log_dir, {
            # None removes the key bot_overrides sets: the production default budget.
            "SLACK_RATE_LIMITS": None if args.bot_limits == "production" else harness.UNTHROTTLED,
        })
        env = bot_env(slack.base_url, openai.base_url, **overrides)
        bot = BotProcess(env, log_path)
        stack.append(bot.stop)
        master = bot.process.pid
        if args.slack_limits:  # before the warm-up: the bot's first calls meet the limits as in production
            slack.enforce_tiers(SLACK_TIERS, SLACK_BURST, per_channel=PER_CHANNEL)

        # --- warm-up: auth.test, the openai import, the first channel answer
        warm = warm_up(bot, slack, total_chars, args)
        warm_ack_ms = (warm.end - warm.start) * 1000
        if args.slack_limits or args.bot_limits == "production":
            time.sleep(5.0)  # both token buckets (the bot's and FakeSlack's) refill after the warm-up's writes

        channels = [f"CL{k:05d}" for k in range(1, args.channels + 1)]
        for channel in channels:
            slack.set_channel(channel, name=f"load-{channel[2:]}", members=[ASKER, "UBOT"])
        shots = [mention_shot(i, channels[(i - 1) % args.channels], slack, total_chars, "")
                 for i in range(1, args.n + 1)]
        workers = descendants(master)
        cpu_before = {pid: cpu_seconds(pid) for pid in [master, *workers]}
        own_before = os.times()
        limited_before = slack.ratelimited_count
        model_before = len(openai.requests)
        tracker = ThreadTracker(slack, shots, len(slack.calls))

        # --- the burst
        burst = Burst(bot.port, shots, args.n, args.ack_timeout)
        burst.run(tracker, args.timeout)
        own_after = os.times()
        cpu_after = {pid: cpu_seconds(pid) for pid in [master, *workers]}
        memory = memory_report(master)
        pss = {"master": pss_kib(master), "worker": sum(pss_kib(pid) or 0 for pid in descendants(master)) or None}
        ratelimited_count = slack.ratelimited_count - limited_before
        model_requests = openai.requests[model_before:]
        model_outcomes: dict[str, int] = {}
        for rec in model_requests:
            model_outcomes[str(rec.outcome)] = model_outcomes.get(str(rec.outcome), 0) + 1
        warnings = warning_lines(bot.logs())
    finally:
        with signals_ignored():  # no second Ctrl-C/TERM in the middle of stopping things
            if burst is not None:
                burst.abort()
            stop_all(stack, "load_bench")
            if not args.keep_log:
                for leftover in (log_path, *log_dir.glob("claims.sqlite3*")):
                    leftover.unlink(missing_ok=True)
                try:
                    log_dir.rmdir()
                except OSError:
                    pass
    run_wall = time.monotonic() - run_start

    # --- numbers
    acked = [s for s in shots if s.end is not None and s.start is not None and s.error is None]
    not_200 = sum(1 for s in shots if s.status != 200)
    ack_within = {f"{limit}ms": sum(1 for s in shots if s.status == 200 and (s.end - s.start) * 1000 <= limit)
                  for limit in (100, 1000, 3000)}
    completed = sum(1 for s in shots if s.final_at is not None)
    exact = sum(1 for s in shots if s.final_status == "done" and s.final_text == s.expected)
    finished = [s for s in shots if s.final_at is not None]
    updates = [s.updates for s in finished]
    posts = [tracker.posts.get(s.event_id, 0) for s in finished]
    writes = [u + p for u, p in zip(updates, posts)]
    last_final = max((s.final_at for s in finished), default=None)

    def stat(values):
        return {"mean": round(statistics.fmean(values), 2) if values else None,
                "min": min(values) if values else None, "max": max(values) if values else None}

    cpu = {"bot_master_s": _delta(cpu_before.get(master), cpu_after.get(master)),
           "bot_worker_s": round(sum(_delta(cpu_before.get(p), cpu_after.get(p)) or 0 for p in workers), 2),
           "bench_process_s": round((own_after.user - own_before.user) + (own_after.system - own_before.system), 2)}
    result = {
        "bench": "load_bench", "commit": commit, "commit_at_end": git_commit(), "n": args.n, "channels": args.channels,
        "slack_limits": args.slack_limits, "bot_limits": args.bot_limits,
        "slack_tiers": {m: [SLACK_TIERS[m], SLACK_BURST[m]] for m in SLACK_TIERS} if args.slack_limits else None,
        "interval": args.interval, "dispatch_workers": args.dispatch_workers, "threads": int(env.get("THREADS") or 16),
        "cpus": os.cpu_count(),
        "model_script": {"first_token_delay": args.first_token_delay, "deltas": math.ceil(total_chars / args.chunk_chars),
                         "chunk_chars": args.chunk_chars, "delta_delay": args.delta_delay, "api": args.api},
        "timeout_s": args.timeout, "timeout_source": args.timeout_source,
        "warmup_ack_ms": round(warm_ack_ms, 1),
        "ack_ms": summary([s.end - s.start for s in acked]), "ack_within": ack_within, "not_200": not_200,
        "errors": sorted({s.error for s in shots if s.error}),
        "placeholder_ms": summary([s.placeholder_at - s.start for s in shots if s.placeholder_at and s.start]),
        "first_text_ms": summary([s.first_text_at - s.start for s in shots if s.first_text_at and s.start]),
        "final_ms": summary([s.final_at - s.start for s in finished if s.start]),
        "completed": completed, "exact": exact,
        "not_exact": [{"event": s.event_id, "status": s.final_status, "text": (s.final_text or "")[:80]}
                      for s in shots if s.final_at is not None and not (s.final_status == "done"
                                                                          and s.final_text == s.expected)][:5],
        "writes_per_answer": stat(writes), "updates_per_answer": stat(updates), "posts_per_answer": stat(posts),
        "rate_limited_429": ratelimited_count, "rate_limited_by_method": tracker.rate_limited_by_method,
        "slack_calls_during_burst": dict(sorted(tracker.methods.items())),
        "model_requests": len(model_requests), "model_outcomes": dict(sorted(model_outcomes.items())),
        "model_not_completed": [
            {"outcome": rec.outcome, "status": rec.status, "deltas_sent": rec.deltas_sent,
             "ms_after_burst": round((rec.started_at - burst.wall_start) * 1000),
             "lasted_ms": round(((rec.finished_at or rec.started_at) - rec.started_at) * 1000)}
            for rec in model_requests if rec.outcome != "completed"][:5],
        "bot_log_warnings": len(warnings),
        "bot_log_warning_kinds": dict(sorted({m: warnings.count(m) for m in set(warnings)}.items())),
        "memory_kib": {"worker_hwm": memory["worker_hwm_kib"], "master_hwm": memory["master_hwm_kib"],
                       "sum_hwm": memory["sum_hwm_kib"],
                       "worker_threads_at_end": [w["threads"] for w in memory["workers"]],
                       "worker_pss_end": pss["worker"], "master_pss_end": pss["master"]},
        "cpu_s": cpu,
        "acks_wall_s": round(burst.acks_done - burst.wall_start, 3),
        "last_final_s": round(last_final - burst.wall_start, 2) if last_final else None,
        "burst_wall_s": round(burst.wall, 2), "run_wall_s": round(run_wall, 1),
    }
    ok = not_200 == 0 and exact == args.n
    result["ok"] = ok
    say(render(result))
    if args.keep_log:
        say(f"bot log: {log_path}")
    print(json.dumps(result, ensure_ascii=False, separators=(",", ":")))
    return 0 if ok else 1


def render(r: dict) -> str:
    m = r["model_script"]
    n = r["n"]
    if r["slack_limits"]:
        tiers = ", ".join(f"{k} {v[0]}/min burst {v[1]}" for k, v in r["slack_tiers"].items())
        limits = f"FakeSlack enforces Slack's tiers ({tiers}; chat.postMessage per channel)"
    else:
        limits = "FakeSlack enforces no limits"
    budget = ("production defaults (SLACK_RATE_LIMITS unset)" if r["bot_limits"] == "production"
              else "unthrottled (harness.UNTHROTTLED)")
    w, u, p = r["writes_per_answer"], r["updates_per_answer"], r["posts_per_answer"]
    mem = r["memory_kib"]
    lines = [
        f"load_bench  N={n} @mentions in K={r['channels']} channel{'s' if r['channels'] != 1 else ''}  "
        f"STREAM_UPDATE_INTERVAL={r['interval']}  THREADS={r['threads']}  DISPATCH_WORKERS={r['dispatch_workers']}  "
        f"cpus={r['cpus']}   (commit {r['commit']})",
        f"  model ({m['api']}): first token {m['first_token_delay'] * 1000:.0f} ms, {m['deltas']} deltas x "
        f"{m['chunk_chars']} chars every {m['delta_delay'] * 1000:.0f} ms",
        f"  {limits}",
        f"  bot write budget: {budget}   timeout {r['timeout_s']:.0f} s ({r['timeout_source']})",
        f"  {'':<30}{'p50':>9}{'p99':>9}{'max':>9}   (ms)",
        row("ack latency (HTTP POST)", r["ack_ms"], f"non-200: {r['not_200']}   warm-up ack {r['warmup_ack_ms']:.1f} ms"),
        f"  {'acked with 200 within':<30}100 ms: {r['ack_within']['100ms']}/{n}   1 s: "
        f"{r['ack_within']['1000ms']}/{n}   3 s (Slack's limit): {r['ack_within']['3000ms']}/{n}",
        row("event -> placeholder", r["placeholder_ms"]),
        row("event -> first model text", r["first_text_ms"]),
        row("event -> final text", r["final_ms"]),
        f"  answers: {r['completed']}/{n} completed, {r['exact']}/{n} with the exact expected text",
        f"  429s seen by FakeSlack: {r['rate_limited_429']}"
        + (f" {r['rate_limited_by_method']}" if r["rate_limited_by_method"] else ""),
        f"  Slack writes per answer: mean {w['mean']}, min {w['min']}, max {w['max']}"
        f"   (chat.update mean {u['mean']}, max {u['max']}; chat.postMessage mean {p['mean']}, max {p['max']})",
        f"  Slack calls during the burst: {r['slack_calls_during_burst']}",
        f"  model requests seen by FakeOpenAI: {r['model_requests']}, outcomes {r['model_outcomes']}"
        + (f"   not completed: {r['model_not_completed']}" if r["model_not_completed"] else ""),
        f"  peak RSS (VmHWM): worker {mib(mem['worker_hwm'])}, master {mib(mem['master_hwm'])}, "
        f"sum {mib(mem['sum_hwm'])}   worker threads at end: {mem['worker_threads_at_end']}",
        f"  Pss at the end (shared pages split between them): worker {mib(mem['worker_pss_end'])}, "
        f"master {mib(mem['master_pss_end'])}, sum {mib((mem['worker_pss_end'] or 0) + (mem['master_pss_end'] or 0))}",
        f"  CPU: bot worker {r['cpu_s']['bot_worker_s']} s, bench process (clients + stand-ins) "
        f"{r['cpu_s']['bench_process_s']} s",
        f"  wall: acks done after {r['acks_wall_s']} s, last final text after {r['last_final_s']} s; "
        f"whole run (start, warm-up, burst, stop) {r['run_wall_s']} s   bot log WARNING+: {r['bot_log_warnings']}",
    ]
    if r["bot_log_warning_kinds"]:
        lines.append(f"  bot log WARNING+ messages: {r['bot_log_warning_kinds']}")
    if r["errors"]:
        lines.append(f"  request errors: {r['errors'][:5]}")
    if r["not_exact"]:
        lines.append(f"  not as expected: {r['not_exact']}")
    if r["commit_at_end"] != r["commit"]:
        lines.append(f"  WARNING: the code changed during the run (commit {r['commit']} at the start, "
                     f"{r['commit_at_end']} at the end)")
    lines.append(f"  result: {'OK' if r['ok'] else 'FAILED'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    return run_main("load_bench", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
