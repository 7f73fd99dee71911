#!/usr/bin/env python
"""Acknowledgement and streaming benchmark for the Slack bot's real entry point.

Starts FakeSlack and FakeOpenAI (tests/standins) in this process and one bot
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
import http.client
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT / "tests"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import harness  # noqa: E402  (tests/harness.py)
from harness import OPENAI_KEY, BotProcess, bot_env, message_event, sign  # noqa: E402
from standins import openai_api as openai_standin  # noqa: E402
from standins import slack_api as slack_standin  # noqa: E402
from standins.openai_api import FakeOpenAI, Script  # noqa: E402
from standins.slack_api import FakeSlack  # noqa: E402

PLACEHOLDER_TEXT = "_Thinking…_"  # reply_format.PLACEHOLDER_TEXT
FINAL_STATUSES = ("done", "error", "stopped")
ASKER = "UBENCH"
FILLER = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt "
          "ut labore et dolore magna aliqua ")


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
    p.add_argument("--first-token-delay", type=float, default=0.3, help="model: seconds before the first delta")
    p.add_argument("--deltas", type=int, default=200, help="model: number of text deltas per answer")
    p.add_argument("--chunk-chars", type=int, default=4, help="model: characters per delta")
    p.add_argument("--delta-delay", type=float, default=0.02, help="model: seconds between deltas")
    p.add_argument("--api", choices=("responses", "chat"), default="responses", help="OPENAI_API")
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


# --------------------------------------------------------------------------- numbers
def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (p99 of 50 samples is the largest)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values_s: list[float]) -> dict:
    ms = [v * 1000 for v in values_s]
    if not ms:
        return {"n": 0, "p50": None, "p99": None, "max": None, "mean": None}
    return {"n": len(ms), "p50": round(pct(ms, 50), 1), "p99": round(pct(ms, 99), 1),
            "max": round(max(ms), 1), "mean": round(statistics.fmean(ms), 1)}


def fmt(value, width=9) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.1f}"


# --------------------------------------------------------------------------- processes
def proc_status(pid: int) -> dict:
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
    except OSError:
        pass
    return fields


def kib(value: str | None) -> int | None:
    return int(value.split()[0]) if value else None


def children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    kids += [int(x) for x in f.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return sorted(set(kids))


def descendants(pid: int) -> list[int]:
    out, todo = [], children(pid)
    while todo:
        kid = todo.pop(0)
        out.append(kid)
        todo += children(kid)
    return out


def cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    except (OSError, IndexError, ValueError):
        return None


def memory_report(master: int) -> dict:
    workers = descendants(master)
    report = {"master_pid": master, "master_hwm_kib": kib(proc_status(master).get("VmHWM")),
              "master_rss_kib": kib(proc_status(master).get("VmRSS")), "workers": []}
    for pid in workers:
        status = proc_status(pid)
        report["workers"].append({"pid": pid, "hwm_kib": kib(status.get("VmHWM")),
                                  "rss_kib": kib(status.get("VmRSS")), "threads": int(status.get("Threads", "0"))})
    report["worker_hwm_kib"] = sum(w["hwm_kib"] or 0 for w in report["workers"]) or None
    report["sum_hwm_kib"] = (report["master_hwm_kib"] or 0) + (report["worker_hwm_kib"] or 0)
    return report


class TimedBotProcess(BotProcess):
    """BotProcess running bench/_timed_entry.py (a timing wrapper around main.slack_bot)."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.port = harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log_path
        self.env = env
        self._log = open(log_path, "wb")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI_"))}
        full_env.update(env)
        full_env.setdefault("THREADS", "16")
        self.process = subprocess.Popen(
            [harness.FUNCTIONS_FRAMEWORK, "--target=slack_bot", f"--source={ROOT / 'bench' / '_timed_entry.py'}",
             f"--port={self.port}", "--host=127.0.0.1"],
            cwd=ROOT, env=full_env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_until_listening()


# --------------------------------------------------------------------------- one event
@dataclass
class Shot:
    index: int
    channel: str
    event_id: str
    question: str
    question_ts: str
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    expected: str | None = None
    # client-side times (time.monotonic())
    start: float | None = None
    connected: float | None = None
    sent: float | None = None
    status_line: float | None = None
    end: float | None = None
    status: int | None = None
    error: str | None = None
    # server-side (from --server-timing)
    entered: float | None = None
    left: float | None = None
    # what FakeSlack saw
    reply_ts: str | None = None
    placeholder_at: float | None = None
    first_text_at: float | None = None
    final_at: float | None = None
    final_text: str | None = None
    final_status: str | None = None
    updates: int = 0
    rate_limited: int = 0


def question_for(index: int, channel: str, total_chars: int) -> str:
    """A question whose echo ("Echo: " + question) is exactly ``total_chars`` long when possible."""
    head = f"bench question {index} from {channel}: "
    want = max(len(head) + 1, total_chars - len("Echo: "))
    text = head
    while len(text) < want:
        text += FILLER
    text = text[:want]
    if text[-1] == " ":
        text = text[:-1] + "."
    return text


def post_event(port: int, shot: Shot, timeout: float, start_gate: threading.Barrier | None) -> Shot:
    if start_gate is not None:
        try:
            start_gate.wait(timeout=60)
        except threading.BrokenBarrierError:
            pass
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        shot.start = time.monotonic()
        conn.connect()
        shot.connected = time.monotonic()
        conn.request("POST", "/", body=shot.body, headers=shot.headers)
        shot.sent = time.monotonic()
        response = conn.getresponse()
        shot.status_line = time.monotonic()
        response.read()
        shot.end = time.monotonic()
        shot.status = response.status
    except Exception as error:  # a refused/timed-out request is a result, not a crash
        shot.end = time.monotonic()
        shot.error = f"{type(error).__name__}: {error}"
    finally:
        conn.close()
    return shot


def build_shot(index: int, channel: str, slack: FakeSlack, total_chars: int, tag: str) -> Shot:
    question = question_for(index, channel, total_chars)
    ts = slack.add_message(channel, ASKER, question)  # the thread exists before Slack delivers the event
    event_id = f"EvB{tag}{index:06d}"
    payload = message_event(channel, ASKER, question, ts, event_id=event_id)
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Connection": "close", "X-Bench-Id": event_id,
               **sign(body)}
    return Shot(index, channel, event_id, question, ts, body, headers)


# --------------------------------------------------------------------------- FakeSlack's record
class Tracker:
    """Reads FakeSlack's call log incrementally and fills in each Shot's reply times."""

    def __init__(self, slack: FakeSlack, shots: dict[str, Shot], start_index: int):
        self.slack = slack
        self.shots = shots  # by channel
        self.index = start_index
        self.rate_limited = 0
        self.methods: dict[str, int] = {}

    def poll(self) -> None:
        new = self.slack.calls[self.index:]  # list slicing is atomic; calls are only appended
        self.index += len(new)
        for call in new:
            self.methods[call.method] = self.methods.get(call.method, 0) + 1
            if call.status == 429:
                self.rate_limited += 1
            shot = self.shots.get(call.params.get("channel"))
            if shot is None:
                continue
            ok = call.status == 200 and call.response.get("ok")
            if call.method == "chat.postMessage":
                if call.status == 429:
                    shot.rate_limited += 1
                if ok and shot.reply_ts is None:
                    shot.reply_ts = call.response.get("ts")
                    shot.placeholder_at = call.at
            elif call.method == "chat.update":
                if call.params.get("ts") != shot.reply_ts and shot.reply_ts is not None:
                    continue
                shot.updates += 1
                if call.status == 429:
                    shot.rate_limited += 1
                if not ok:
                    continue
                text = call.params.get("text")
                if shot.first_text_at is None and text and text != PLACEHOLDER_TEXT:
                    shot.first_text_at = call.at
                payload = (call.params.get("metadata") or {}).get("event_payload") or {}
                if payload.get("status") in FINAL_STATUSES and shot.final_at is None:
                    shot.final_at = call.at
                    shot.final_text = text
                    shot.final_status = payload.get("status")

    def done(self) -> bool:
        return all(s.final_at is not None for s in self.shots.values())


def expected_ok(shot: Shot, practice: bool) -> bool:
    if shot.final_text is None or shot.final_status != "done":
        return False
    if practice:  # PracticeStream's text: a fixed preamble that quotes the question
        return shot.final_text.startswith("🧪 *Practice mode*") and shot.question[:300] in shot.final_text
    return shot.final_text == shot.expected


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
class Interrupted(Exception):
    pass


def _on_signal(signum, _frame):
    raise Interrupted(f"signal {signum}")


def git_commit() -> str | None:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "--",
                                "*.py", ":!bench", ":!tests"], capture_output=True, text=True, timeout=10).stdout
        return (head + ("+dirty" if dirty.strip() else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None


def run(args: argparse.Namespace) -> int:
    say = (lambda *a, **k: None) if args.json_only else print
    if not args.stock_backlog:
        # The stand-ins stand in for Slack's and OpenAI's front ends, which do not drop
        # connections under a burst of 200; FakeOpenAI's default backlog of 5 does (SYN
        # retries cost ~1 s each), which would measure the stand-in, not the bot.
        slack_standin._Server.request_queue_size = 1024
        openai_standin._Server.request_queue_size = 1024

    stack: list = []  # things to stop, last first
    log_dir = Path(tempfile.mkdtemp(prefix="ack_bench_"))
    log_path = log_dir / "bot.log"
    bot = None
    pool = None
    gate = None
    try:
        slack = FakeSlack(bot_token=harness.BOT_TOKEN)
        slack.start()
        stack.append(slack.stop)
        if args.slack_latency:
            slack.set_latency("*", args.slack_latency)
        if args.chat_update_per_minute:
            slack.enforce_tiers({"chat.update": args.chat_update_per_minute})
        openai = None
        total_chars = args.deltas * args.chunk_chars
        if not args.practice:
            openai = FakeOpenAI(api_key=OPENAI_KEY)
            openai.start()
            stack.append(openai.stop)
            # Default text is "Echo: <question>", so every answer is distinct and checkable.
            openai.reply = Script(chunk_chars=args.chunk_chars, first_token_delay=args.first_token_delay,
                                  delta_delay=args.delta_delay)
        overrides = {
            "STREAM_UPDATE_INTERVAL": str(args.interval),
            "DISPATCH_WORKERS": str(args.dispatch_workers) if args.dispatch_workers else None,
            "LOG_LEVEL": args.log_level,
            "OPENAI_API": args.api,
        }
        if args.practice:
            overrides["PRACTICE_TOKEN_DELAY"] = str(args.practice_token_delay)
        if args.threads:
            overrides["THREADS"] = str(args.threads)
        if args.workers:
            overrides["WORKERS"] = str(args.workers)
        if args.ack_only:
            overrides["BENCH_ACK_ONLY"] = "1"
        if args.switch_interval is not None:
            overrides["BENCH_SWITCH_INTERVAL"] = str(args.switch_interval)
        env = bot_env(slack.base_url, None if args.practice else openai.base_url, **overrides)
        bot = (TimedBotProcess if args.server_timing else BotProcess)(env, log_path)
        stack.append(bot.stop)
        master = bot.process.pid
        threads_setting = int(env.get("THREADS") or 16)

        # --- warm-up: the first request pays auth.test, the first answer pays the imports
        warm = build_shot(0, "DWARM0", slack, total_chars, "W")
        tracker = Tracker(slack, {warm.channel: warm}, 0)
        post_event(bot.port, warm, args.ack_timeout, None)
        if warm.status != 200:
            raise RuntimeError(f"warm-up event not acknowledged: {warm.status} {warm.error}\n{bot.logs()[-3000:]}")
        if not args.ack_only:
            deadline = time.monotonic() + args.timeout
            while not tracker.done() and time.monotonic() < deadline:
                tracker.poll()
                time.sleep(0.05)
            if not tracker.done():
                raise RuntimeError(f"warm-up answer did not complete in {args.timeout}s\n{bot.logs()[-3000:]}")
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
        shots = [build_shot(i + 1, f"DB{i + 1:06d}", slack, total_chars, "") for i in range(args.n)]
        for shot in shots:
            shot.expected = None if args.practice else "Echo: " + shot.question
        by_channel = {s.channel: s for s in shots}
        tracker = Tracker(slack, by_channel, calls_before)
        gate = threading.Barrier(args.concurrency) if args.concurrency == args.n and args.n > 1 else None
        pool = ThreadPoolExecutor(max_workers=args.concurrency, thread_name_prefix="client")
        wall_start = time.monotonic()
        futures = [pool.submit(post_event, bot.port, s, args.ack_timeout, gate) for s in shots]
        deadline = time.monotonic() + args.timeout
        while not all(f.done() for f in futures) and time.monotonic() < deadline:
            tracker.poll()
            time.sleep(0.02)
        acks_done = time.monotonic()
        if not args.ack_only:
            while not tracker.done() and time.monotonic() < deadline:
                tracker.poll()
                time.sleep(0.05)
        tracker.poll()
        wall = time.monotonic() - wall_start
        pool.shutdown(wait=False, cancel_futures=True)
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
        # No second Ctrl-C/TERM in the middle of stopping things.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        if gate is not None:
            gate.abort()  # client threads still waiting to start give up at once
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        for stop in reversed(stack):
            try:
                stop()
            except Exception as error:  # keep stopping the rest
                print(f"ack_bench: stopping failed: {error!r}", file=sys.stderr)
        if not args.keep_log:
            for leftover in (log_path, log_dir / "py-spy.txt"):
                leftover.unlink(missing_ok=True)
            try:
                log_dir.rmdir()
            except OSError:
                pass
        for sig, handler in previous.items():
            signal.signal(sig, handler)

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
    ("answer: responder/llm code", ("(responder.py:", "(llm.py:")),
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


def _delta(before, after):
    if before is None or after is None:
        return None
    return round(after - before, 2)


def render(r: dict, args) -> str:
    def row(name, s, extra=""):
        return f"  {name:<30}{fmt(s['p50'])}{fmt(s['p99'])}{fmt(s['max'])}   {extra}".rstrip()

    mib = lambda k: "-" if not k else f"{k / 1024:.1f} MiB"  # noqa: E731
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
    args = parse_args(argv)
    # Explicitly, also for SIGINT: a shell starting us in the background may have it ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    try:
        return run(args)
    except (KeyboardInterrupt, Interrupted) as stop:
        print(f"ack_bench: interrupted ({stop or 'Ctrl-C'}); everything started was stopped", file=sys.stderr)
        return 130
    except Exception:
        import traceback

        traceback.print_exc()
        print("ack_bench: setup failed; everything started was stopped", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
