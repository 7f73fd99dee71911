#!/usr/bin/env python
"""Acknowledgement and streaming benchmark for the Slack bot's real entry point.

Starts FakeSlack and FakeOpenAI (standins/) in this process and one bot
process (``functions-framework --target=slack_bot``, through tests/harness.py's
BotProcess), warms the bot with one answered event, then fires N signed DM
``message`` events at once from N client threads, one fresh TCP connection per
request (no keep-alive), and reports:

* acknowledgement latency (around each HTTP POST) and non-200 answers;
* event -> placeholder, event -> first model text visible, event -> final text,
  all from FakeSlack's record of the bot's calls (``Call.at`` is
  ``time.monotonic()`` of this process, the same clock as the send times);
* answers completed with the exact expected text, chat.update calls per answer,
  429s; peak memory (VmHWM) of gunicorn's master and worker; CPU used.

``--server-timing`` runs the entry point through bench/_timed_entry.py, which
wraps ``main.slack_bot`` and logs when each request entered and left the
handler, to split the acknowledgement into queueing and handler time;
``--ack-only`` additionally replaces the dispatcher with a no-op, so only the
acknowledgement path runs (no answers; for investigation only).

    python bench/ack_bench.py [--n 200] [--concurrency N] [--interval 0.8] [--practice]

Exit status: 0 when every event was acknowledged with 200 and every answer
completed with the expected text, 1 otherwise, 2 when the setup failed.
See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT / "tests"), str(ROOT), str(ROOT / "bench")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from harness import BotProcess, bot_env  # noqa: E402
from common import (  # noqa: E402  (bench/common.py)
    Burst, Shot, Tracker, add_model_options, bot_overrides, expected_ok, make_shots, run_setup, start_standins,
    warm_up,
)
from measures import cpu_seconds, descendants, memory_report, mib, row, summary  # noqa: E402  (bench/measures.py)
from lifecycle import delta as _delta, git_commit, run_main, signals_ignored, stop_all  # noqa: E402  (bench/lifecycle.py)


# --------------------------------------------------------------------------- options
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--n", type=int, default=200, help="concurrent events (one answer each)")
    p.add_argument("--concurrency", type=int, default=None, help="client threads (default: N)")
    p.add_argument("--interval", type=float, default=0.8, help="STREAM_UPDATE_INTERVAL (production default 0.8)")
    p.add_argument("--practice", action="store_true", help="practice mode: no model API, PracticeStream answers")
    p.add_argument("--practice-token-delay", type=float, default=0.04,
                   help="PRACTICE_TOKEN_DELAY with --practice (production default 0.04)")
    add_model_options(p)
    p.add_argument("--threads", type=int, default=None,
                   help="gunicorn THREADS for the bot (default: BotProcess's 16)")
    p.add_argument("--workers", type=int, default=None,
                   help="gunicorn WORKERS (processes) for the bot (default: functions-framework's 1)")
    p.add_argument("--dispatch-workers", type=int, default=None,
                   help="DISPATCH_WORKERS (default: unset, the production default)")
    p.add_argument("--log-level", default="INFO", help="bot LOG_LEVEL (production default INFO)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the answers")
    p.add_argument("--ack-timeout", type=float, default=30.0, help="socket timeout of one event POST")
    p.add_argument("--stock-backlog", action="store_true",
                   help="keep the stand-ins' listen backlogs (FakeOpenAI: 5) instead of raising them to 1024")
    p.add_argument("--server-timing", action="store_true",
                   help="run the entry point through bench/_timed_entry.py to time queueing vs handler")
    p.add_argument("--ack-only", action="store_true",
                   help="with --server-timing: the dispatcher does nothing (no answers); acknowledgement path only")
    p.add_argument("--py-spy", metavar="BIN", default=None,
                   help="path of a py-spy binary: sample the bot worker during the burst (threads holding "
                        "the GIL only) and print where its time went")
    p.add_argument("--py-spy-out", metavar="FILE", default=None,
                   help="keep py-spy's collapsed stacks (raw format) in FILE")
    p.add_argument("--switch-interval", type=float, default=None,
                   help="with --server-timing: sys.setswitchinterval() in the bot worker (experiment; default 0.005)")
    p.add_argument("--slack-latency", type=float, default=0.0,
                   help="seconds FakeSlack waits before answering any call (real Slack: ~0.05-0.2 s); "
                        "the warm-up ack then shows what the first request's auth.test costs")
    p.add_argument("--chat-update-per-minute", type=float, default=None,
                   help="make FakeSlack enforce this rate on chat.update (Slack's Tier 3 is ~50/min per "
                        "workspace); default: no limit")
    p.add_argument("--keep-log", action="store_true", help="keep the bot's log file and print its path")
    p.add_argument("--json-only", action="store_true", help="print only the JSON line")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error("--n must be at least 1")
    args.concurrency = args.concurrency or args.n
    if args.ack_only or args.switch_interval is not None:
        args.server_timing = True
    return args


# --------------------------------------------------------------------------- processes
def timed_bot_process(env: dict[str, str], log_path: Path) -> BotProcess:
    """The bot running bench/_timed_entry.py (a timing wrapper around main.slack_bot)."""
    return BotProcess(env, log_path, source=str(ROOT / "bench" / "_timed_entry.py"))


def read_server_timing(log_path: Path, shots: dict[str, Shot]) -> int:
    by_id = {s.event_id: s for s in shots.values()}
    seen = 0
    for line in log_path.read_text(errors="replace").splitlines():
        if '"bench_timing"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        shot = by_id.get(entry.get("bench_timing"))
        if shot is not None:
            shot.entered, shot.left = entry["entered"], entry["left"]
            seen += 1
    return seen


# --------------------------------------------------------------------------- the run
def run(args: argparse.Namespace) -> int:
    say, stack, log_dir = run_setup(args, "ack_bench")
    log_path = log_dir / "bot.log"
    bot = None
    burst = None
    try:
        slack, openai, total_chars = start_standins(args, stack)
        overrides = bot_overrides(args, log_dir)
        if args.workers:
            overrides["WORKERS"] = str(args.workers)
        if args.ack_only:
            overrides["BENCH_ACK_ONLY"] = "1"
        if args.switch_interval is not None:
            overrides["BENCH_SWITCH_INTERVAL"] = str(args.switch_interval)
        env = bot_env(slack.base_url, None if args.practice else openai.base_url, **overrides)
        bot = (timed_bot_process if args.server_timing else BotProcess)(env, log_path)
        stack.append(bot.stop)
        master = bot.process.pid
        threads_setting = int(env.get("THREADS") or 16)

        # --- warm-up: the first request pays auth.test, the first answer pays the imports
        warm = warm_up(bot.port, slack, total_chars, args.ack_timeout, args.timeout, bot.logs,
                       wait=not args.ack_only)
        warm_ack_ms = (warm.end - warm.start) * 1000
        workers = descendants(master)
        cpu_before = {pid: cpu_seconds(pid) for pid in [master, *workers]}
        own_before = os.times()
        calls_before = len(slack.calls)
        if args.py_spy:
            spy_out = Path(args.py_spy_out or (log_dir / "py-spy.txt"))
            spy = subprocess.Popen([args.py_spy, "record", "--pid", str(workers[0]), "--gil", "--nonblocking",
                                    "--format", "raw", "--rate", "200", "--output", str(spy_out)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
            stack.append(lambda: _stop_spy(spy))
            time.sleep(1.0)  # let it attach
            if spy.poll() is not None:
                raise RuntimeError(f"py-spy exited: {spy.stderr.read().decode(errors='replace')[-500:]}")

        # --- the burst
        shots = make_shots(slack, args.n, total_chars, args.practice)
        by_channel = {s.channel: s for s in shots}
        tracker = Tracker(slack, by_channel, calls_before)
        burst = Burst(bot.port, shots, args.concurrency, args.ack_timeout)
        burst.run(tracker, args.timeout, answers=not args.ack_only)
        wall_start, acks_done, wall = burst.wall_start, burst.acks_done, burst.wall
        spy_text = None
        if args.py_spy:
            _stop_spy(spy)
            spy_text = spy_summary(spy_out)

        own_after = os.times()
        cpu_after = {pid: cpu_seconds(pid) for pid in [master, *workers]}
        memory = memory_report(master)
        timed = read_server_timing(log_path, by_channel) if args.server_timing else 0
        auth_tests = tracker.methods.get("auth.test", 0)
    finally:
        with signals_ignored():  # no second Ctrl-C/TERM in the middle of stopping things
            if burst is not None:
                burst.abort()
            stop_all(stack, "ack_bench")
            if not args.keep_log:
                for leftover in (log_path, log_dir / "py-spy.txt", *log_dir.glob("claims.sqlite3*")):
                    leftover.unlink(missing_ok=True)
                try:
                    log_dir.rmdir()
                except OSError:
                    pass

    # --- numbers
    acked = [s for s in shots if s.end is not None and s.start is not None and s.error is None]
    ack = summary([s.end - s.start for s in acked])
    connect = summary([s.connected - s.start for s in acked if s.connected])
    not_200 = sum(1 for s in shots if s.status != 200)
    ack_within = {f"{limit}ms": sum(1 for s in shots if s.status == 200 and (s.end - s.start) * 1000 <= limit)
                  for limit in (100, 1000, 3000)}
    errors = sorted({s.error for s in shots if s.error})
    placeholder = summary([s.placeholder_at - s.start for s in shots if s.placeholder_at and s.start])
    first_text = summary([s.first_text_at - s.start for s in shots if s.first_text_at and s.start])
    final = summary([s.final_at - s.start for s in shots if s.final_at and s.start])
    completed = sum(1 for s in shots if s.final_at is not None)
    exact = sum(1 for s in shots if expected_ok(s, args.practice))
    updates = [s.updates for s in shots if s.final_at is not None]
    server = {}
    if args.server_timing:
        both = [s for s in shots if s.entered is not None and s.start is not None]
        server = {
            "timed_requests": timed,
            "queue_ms": summary([s.entered - s.connected for s in both if s.connected]),
            "handler_ms": summary([s.left - s.entered for s in both]),
            "after_handler_ms": summary([s.end - s.left for s in both if s.end]),
        }
    cpu = {"bot_master_s": _delta(cpu_before.get(master), cpu_after.get(master)),
           "bot_worker_s": round(sum(_delta(cpu_before.get(p), cpu_after.get(p)) or 0 for p in workers), 2),
           "bench_process_s": round((own_after.user - own_before.user) + (own_after.system - own_before.system), 2)}
    result = {
        "bench": "ack_bench", "commit": git_commit(),
        "n": args.n, "concurrency": args.concurrency, "interval": args.interval,
        "mode": "practice" if args.practice else f"model/{args.api}",
        "model_script": None if args.practice else {
            "first_token_delay": args.first_token_delay, "deltas": math.ceil(total_chars / args.chunk_chars),
            "chunk_chars": args.chunk_chars, "delta_delay": args.delta_delay},
        "threads": threads_setting, "workers": int(env.get("WORKERS") or 1),
        "switch_interval": args.switch_interval, "dispatch_workers": args.dispatch_workers, "cpus": os.cpu_count(),
        "ack_only": args.ack_only, "slack_latency": args.slack_latency,
        "warmup_ack_ms": round(warm_ack_ms, 1),
        "ack_ms": ack, "ack_within": ack_within, "connect_ms": connect, "not_200": not_200, "errors": errors,
        "placeholder_ms": placeholder, "first_text_ms": first_text, "final_ms": final,
        "completed": completed, "exact": exact,
        "updates_per_answer": {"mean": round(statistics.fmean(updates), 2) if updates else None,
                               "max": max(updates) if updates else None},
        "rate_limited_429": tracker.rate_limited,
        "auth_test_calls_during_burst": auth_tests,
        "slack_calls_during_burst": dict(sorted(tracker.methods.items())),
        "memory_kib": {"worker_hwm": memory["worker_hwm_kib"], "master_hwm": memory["master_hwm_kib"],
                       "sum_hwm": memory["sum_hwm_kib"],
                       "worker_threads_at_end": [w["threads"] for w in memory["workers"]]},
        "cpu_s": cpu, "acks_wall_s": round(acks_done - wall_start, 3), "wall_s": round(wall, 2),
        "server": server,
    }
    ok = not_200 == 0 and (args.ack_only or exact == args.n)
    result["ok"] = ok

    say(render(result, args))
    if spy_text:
        say(spy_text)
        if args.py_spy_out:
            say(f"py-spy collapsed stacks: {spy_out}")
    if args.keep_log:
        say(f"bot log: {log_path}")
    print(json.dumps(result, ensure_ascii=False, separators=(",", ":")))
    return 0 if ok else 1


def _stop_spy(spy) -> None:
    if spy.poll() is None:
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()


# Buckets for py-spy's stacks (frames look like "func (path/file.py:line)"): the first bucket
# with a needle found anywhere in the stack wins.
SPY_BUCKETS = (
    ("ack: inside slack_bot()", ("slack_bot (main.py:",)),
    ("ack: gunicorn/Flask request thread, outside slack_bot()", ("handle (gunicorn/workers/gthread.py:",)),
    ("gunicorn main loop (accept, poll, finish)", ("Arbiter.spawn_worker", "init_process (gunicorn/")),
    ("answer: StreamingReply writer thread (chat.update)", ("StreamingReply._run (",)),
    ("answer: StreamingReply.append (wakes the writer)", ("StreamingReply.append (",)),
    ("answer: openai stream (SSE read + pydantic events)", ("(openai/", "(pydantic", "(httpx2/", "(httpcore2/",
                                                          "(httpx/", "(httpcore/")),
    ("answer: slack_sdk calls (placeholder, final)", ("(slack_sdk/",)),
    ("answer: responder/model code", ("(responder.py:", "(client.py:", "(streams.py:")),
    ("thread start/stop, futures", ("(threading.py:", "(concurrent/futures")),
)


def spy_summary(path: Path, top: int = 12) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as error:
        return f"  py-spy: no output ({error})"
    total, buckets, leaves = 0, {}, {}
    for line in lines:
        stack, _, count = line.rpartition(" ")
        try:
            n = int(count)
        except ValueError:
            continue
        total += n
        frames = stack.split(";")
        leaf = frames[-1] if frames else "?"
        leaves[leaf] = leaves.get(leaf, 0) + n
        name = "other"
        joined = ";".join(frames)
        for bucket, needles in SPY_BUCKETS:
            if any(needle in joined for needle in needles):
                name = bucket
                break
        buckets[name] = buckets.get(name, 0) + n
    if not total:
        return "  py-spy: no samples"
    out = [f"  py-spy (worker, samples holding the GIL: {total}):"]
    out += [f"    {100 * n / total:5.1f}%  {name}" for name, n in sorted(buckets.items(), key=lambda kv: -kv[1])]
    out.append("    top innermost frames:")
    out += [f"    {100 * n / total:5.1f}%  {leaf}" for leaf, n in sorted(leaves.items(), key=lambda kv: -kv[1])[:top]]
    return "\n".join(out)


def render(r: dict, args) -> str:
    if r["model_script"]:
        m = r["model_script"]
        mode = (f"model ({args.api}): first token {m['first_token_delay'] * 1000:.0f} ms, {m['deltas']} deltas x "
                f"{m['chunk_chars']} chars every {m['delta_delay'] * 1000:.0f} ms")
    else:
        mode = f"practice mode, PRACTICE_TOKEN_DELAY={args.practice_token_delay}"
    lines = [
        f"ack_bench  N={r['n']}  concurrency={r['concurrency']}  STREAM_UPDATE_INTERVAL={r['interval']}  "
        f"THREADS={r['threads']}  WORKERS={r['workers']}  DISPATCH_WORKERS={r['dispatch_workers']}  cpus={r['cpus']}"
        + ("  [ack-only]" if r["ack_only"] else "")
        + (f"  switchinterval={r['switch_interval']}" if r["switch_interval"] is not None else ""),
        f"  {mode}" + (f", FakeSlack latency {r['slack_latency'] * 1000:.0f} ms" if r["slack_latency"] else "")
        + f"   (commit {r['commit']})",
        f"  {'':<30}{'p50':>9}{'p99':>9}{'max':>9}   (ms)",
        row("ack latency (HTTP POST)", r["ack_ms"], f"non-200: {r['not_200']}   warm-up ack {r['warmup_ack_ms']:.1f} ms"),
        row("  of which TCP connect", r["connect_ms"]),
        f"  {'acked with 200 within':<30}100 ms: {r['ack_within']['100ms']}/{r['n']}   1 s: "
        f"{r['ack_within']['1000ms']}/{r['n']}   3 s (Slack's limit): {r['ack_within']['3000ms']}/{r['n']}",
    ]
    if r["server"]:
        s = r["server"]
        lines += [row("  queued (connect->handler)", s["queue_ms"]),
                  row("  in slack_bot handler", s["handler_ms"]),
                  row("  handler exit->client done", s["after_handler_ms"])]
    if not r["ack_only"]:
        lines += [
            row("event -> placeholder", r["placeholder_ms"]),
            row("event -> first model text", r["first_text_ms"]),
            row("event -> final text", r["final_ms"]),
            f"  answers: {r['completed']}/{r['n']} completed, {r['exact']}/{r['n']} with the exact expected text",
            f"  chat.update per answer: mean {r['updates_per_answer']['mean']}, max {r['updates_per_answer']['max']}"
            f"   429s: {r['rate_limited_429']}   auth.test during burst: {r['auth_test_calls_during_burst']}",
        ]
    else:
        lines.append(f"  Slack calls during the burst: {r['slack_calls_during_burst'] or 'none'}")
    mem = r["memory_kib"]
    lines += [
        f"  peak RSS (VmHWM): worker {mib(mem['worker_hwm'])}, master {mib(mem['master_hwm'])}, "
        f"sum {mib(mem['sum_hwm'])}   worker threads at end: {mem['worker_threads_at_end']}",
        f"  CPU: bot worker {r['cpu_s']['bot_worker_s']} s, bench process (clients + stand-ins) "
        f"{r['cpu_s']['bench_process_s']} s, over {r['wall_s']} s wall (acks done after {r['acks_wall_s']} s)",
    ]
    if r["errors"]:
        lines.append(f"  request errors: {r['errors'][:5]}")
    lines.append(f"  result: {'OK' if r['ok'] else 'FAILED'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    return run_main("ack_bench", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
