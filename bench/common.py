"""Shared pieces of the benchmarks (bench/ack_bench.py, pubsub_bench.py, load_bench.py, cold_start.py).

Percentiles and summaries, /proc readings (peak memory, CPU), one signed DM
event per question (``Shot``) and its POST, the reading of FakeSlack's call log
(``Tracker``; ``ThreadTracker`` for @mentions, several to a channel), the stand-ins with the model script, a burst of concurrent
events, and stopping everything that was started even on errors and signals.
Importing this module puts the repo root and ``tests/`` on ``sys.path``.
"""
from __future__ import annotations

import http.client
import json
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
from harness import OPENAI_KEY, message_event, sign  # noqa: E402
from standins import openai_api as openai_standin  # noqa: E402
from standins import slack_api as slack_standin  # noqa: E402
from standins.openai_api import FakeOpenAI, Script  # noqa: E402
from standins.slack_api import FakeSlack  # noqa: E402

PLACEHOLDER_TEXT = "_Thinking…_"  # reply_format.PLACEHOLDER_TEXT
FINAL_STATUSES = ("done", "error", "stopped")
ASKER = "UBENCH"
FILLER = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt "
          "ut labore et dolore magna aliqua ")


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
def new_calls(tracker) -> list:
    """FakeSlack's calls since the tracker's last poll, counted in its ``methods`` and ``rate_limited``."""
    new = tracker.slack.calls[tracker.index:]  # list slicing is atomic; calls are only appended
    tracker.index += len(new)
    for call in new:
        tracker.methods[call.method] = tracker.methods.get(call.method, 0) + 1
        if call.status == 429:
            tracker.rate_limited += 1
    return new


def record_update(shot: Shot, call) -> None:
    """Counts one ``chat.update`` call on ``shot``'s reply and fills in its first-text and final times."""
    shot.updates += 1
    if call.status == 429:
        shot.rate_limited += 1
    if not (call.status == 200 and call.response.get("ok")):
        return
    text = call.params.get("text")
    if shot.first_text_at is None and text and text != PLACEHOLDER_TEXT:
        shot.first_text_at = call.at
    payload = (call.params.get("metadata") or {}).get("event_payload") or {}
    if payload.get("status") in FINAL_STATUSES and shot.final_at is None:
        shot.final_at = call.at
        shot.final_text = text
        shot.final_status = payload.get("status")


class Tracker:
    """Reads FakeSlack's call log incrementally and fills in each Shot's reply times."""

    def __init__(self, slack: FakeSlack, shots: dict[str, Shot], start_index: int):
        self.slack = slack
        self.shots = shots  # by channel
        self.index = start_index
        self.rate_limited = 0
        self.methods: dict[str, int] = {}

    def poll(self) -> None:
        for call in new_calls(self):
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
                record_update(shot, call)

    def done(self) -> bool:
        return all(s.final_at is not None for s in self.shots.values())


def expected_ok(shot: Shot, practice: bool) -> bool:
    if shot.final_text is None or shot.final_status != "done":
        return False
    if practice:  # PracticeStream's text: a fixed preamble that quotes the question
        return shot.final_text.startswith("🧪 *Practice mode*") and shot.question[:300] in shot.final_text
    return shot.final_text == shot.expected


# --------------------------------------------------------------------------- @mentions in channels (load_bench, cold_start)
MENTION = "<@UBOT> "  # stripped by the bot (events.strip_mention): the model sees the rest


def mention_shot(index: int, channel: str, slack: FakeSlack, total_chars: int, tag: str) -> Shot:
    """A signed top-level ``app_mention`` (``<@UBOT> question``) in ``channel``; the answer is ``Echo: question``."""
    question = question_for(index, channel, total_chars)
    text = MENTION + question
    ts = slack.add_message(channel, ASKER, text)  # the message exists before Slack delivers the event
    event_id = f"EvL{tag}{index:06d}"
    payload = message_event(channel, ASKER, text, ts, event_type="app_mention", event_id=event_id)
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Connection": "close", "X-Bench-Id": event_id, **sign(body)}
    shot = Shot(index, channel, event_id, question, ts, body, headers)
    shot.expected = "Echo: " + question
    return shot


class ThreadTracker:
    """Reads FakeSlack's call log and fills in each Shot's times; answers are told apart by thread.

    The bot's reply is the first ``chat.postMessage`` in the question's thread
    (``thread_ts`` = the question's ts); its updates are the ``chat.update``
    calls on that reply's ts. Refused calls (429) count as writes too.
    """

    def __init__(self, slack: FakeSlack, shots: list[Shot], start_index: int):
        self.slack = slack
        self.by_thread = {(s.channel, s.question_ts): s for s in shots}
        self.by_reply: dict[tuple[str, str], Shot] = {}
        self.index = start_index
        self.rate_limited = 0
        self.rate_limited_by_method: dict[str, int] = {}
        self.methods: dict[str, int] = {}
        self.posts: dict[str, int] = {}  # event id -> chat.postMessage calls in its thread

    def poll(self) -> None:
        for call in new_calls(self):
            if call.status == 429:
                self.rate_limited_by_method[call.method] = self.rate_limited_by_method.get(call.method, 0) + 1
            channel = call.params.get("channel")
            ok = call.status == 200 and call.response.get("ok")
            if call.method == "chat.postMessage":
                shot = self.by_thread.get((channel, call.params.get("thread_ts")))
                if shot is None:
                    continue
                self.posts[shot.event_id] = self.posts.get(shot.event_id, 0) + 1
                if call.status == 429:
                    shot.rate_limited += 1
                if ok and shot.reply_ts is None:
                    shot.reply_ts = call.response.get("ts")
                    shot.placeholder_at = call.at
                    self.by_reply[(channel, shot.reply_ts)] = shot
            elif call.method == "chat.update":
                shot = self.by_reply.get((channel, call.params.get("ts")))
                if shot is None:
                    continue
                record_update(shot, call)

    def done(self) -> bool:
        return all(s.final_at is not None for s in self.by_thread.values())


# --------------------------------------------------------------------------- options, stand-ins, a burst
def add_model_options(p) -> None:
    """The model script of FakeOpenAI and the API flavour (``--first-token-delay`` … ``--api``)."""
    p.add_argument("--first-token-delay", type=float, default=0.3, help="model: seconds before the first delta")
    p.add_argument("--deltas", type=int, default=200, help="model: number of text deltas per answer")
    p.add_argument("--chunk-chars", type=int, default=4, help="model: characters per delta")
    p.add_argument("--delta-delay", type=float, default=0.02, help="model: seconds between deltas")
    p.add_argument("--api", choices=("responses", "chat"), default="responses", help="OPENAI_API")


def raise_standin_backlogs() -> None:
    # The stand-ins stand in for Slack's and OpenAI's front ends, which do not drop
    # connections under a burst of 200; FakeOpenAI's default backlog of 5 does (SYN
    # retries cost ~1 s each), which would measure the stand-in, not the bot.
    slack_standin._Server.request_queue_size = 1024
    openai_standin._Server.request_queue_size = 1024


def run_setup(args, name: str) -> tuple:
    """The start of a run: ``(say, stack, log_dir)``.

    ``say`` prints (nothing with --json-only); the stand-ins' listen backlogs are
    raised unless --stock-backlog; ``stack`` is the empty list of things to stop,
    last first; ``log_dir`` a fresh temporary folder named after the benchmark.
    """
    say = (lambda *a, **k: None) if args.json_only else print
    if not args.stock_backlog:
        raise_standin_backlogs()
    return say, [], Path(tempfile.mkdtemp(prefix=f"{name}_"))


def bot_overrides(args, log_dir: Path | None = None, extra: dict | None = None) -> dict:
    """``bot_env`` overrides from the common options (--interval, --log-level, --api, --practice-token-delay).

    With ``log_dir`` (one bot process, in-process dispatch): also --dispatch-workers,
    --threads and a claims file of this run only (the default file in /tmp outlives
    the run, and the next run's event IDs, the same ones, would be taken for
    duplicates and not answered). ``extra`` comes last.
    """
    overrides = {"STREAM_UPDATE_INTERVAL": str(args.interval), "LOG_LEVEL": args.log_level, "OPENAI_API": args.api,
                 # The bot's budget as good as off, as these benchmarks have always run (bot_env used to set
                 # it for the tests; they now run the production budget): load_bench.py chooses in ``extra``.
                 "SLACK_RATE_LIMITS": harness.UNTHROTTLED}
    if log_dir is not None:
        overrides["DISPATCH_WORKERS"] = str(args.dispatch_workers) if args.dispatch_workers else None
        overrides["SQLITE_PATH"] = str(log_dir / "claims.sqlite3")
        if args.threads:
            overrides["THREADS"] = str(args.threads)
    if args.practice:
        overrides["PRACTICE_TOKEN_DELAY"] = str(args.practice_token_delay)
    overrides.update(extra or {})
    return overrides


def start_standins(args, stack: list) -> tuple[FakeSlack, FakeOpenAI | None, int]:
    """FakeSlack and (unless ``args.practice``) FakeOpenAI with the model script of ``args``.

    Returns them and the length of every answer (``deltas × chunk_chars``); their
    ``stop`` goes on ``stack``.
    """
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
    return slack, openai, total_chars


def wait_answers(tracker: Tracker, deadline: float) -> None:
    while not tracker.done() and time.monotonic() < deadline:
        tracker.poll()
        time.sleep(0.05)


def warm_up(port: int, slack: FakeSlack, total_chars: int, ack_timeout: float, timeout: float, logs,
            wait: bool = True) -> Shot:
    """One event, acknowledged and (with ``wait``) answered; ``logs()`` goes into the error."""
    warm = build_shot(0, "DWARM0", slack, total_chars, "W")
    tracker = Tracker(slack, {warm.channel: warm}, 0)
    post_event(port, warm, ack_timeout, None)
    if warm.status != 200:
        raise RuntimeError(f"warm-up event not acknowledged: {warm.status} {warm.error}\n{logs()[-3000:]}")
    if wait:
        wait_answers(tracker, time.monotonic() + timeout)
        if not tracker.done():
            raise RuntimeError(f"warm-up answer did not complete in {timeout}s\n{logs()[-3000:]}")
    return warm


def make_shots(slack: FakeSlack, count: int, total_chars: int, practice: bool, prefix: str = "DB",
               tag: str = "", first: int = 1) -> list[Shot]:
    """``count`` questions, each in a DM channel of its own (``DB000001``…), each thread added to FakeSlack."""
    shots = [build_shot(i, f"{prefix}{i:06d}", slack, total_chars, tag) for i in range(first, first + count)]
    for shot in shots:
        shot.expected = None if practice else "Echo: " + shot.question
    return shots


class Burst:
    """The shots POSTed at once: one client thread and one TCP connection each.

    With as many threads as shots (more than one), they wait at a barrier and
    start together. ``run`` reads FakeSlack's log while the acknowledgements
    come in, then until every answer is final (up to ``timeout`` in all).
    """

    def __init__(self, port: int, shots: list[Shot], concurrency: int, ack_timeout: float):
        self.port = port
        self.shots = shots
        self.ack_timeout = ack_timeout
        self.gate = threading.Barrier(concurrency) if concurrency == len(shots) and len(shots) > 1 else None
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="client")
        self.wall_start = self.acks_done = None
        self.wall = None

    def run(self, tracker: Tracker, timeout: float, answers: bool = True) -> None:
        self.wall_start = time.monotonic()
        futures = [self.pool.submit(post_event, self.port, s, self.ack_timeout, self.gate) for s in self.shots]
        deadline = time.monotonic() + timeout
        while not all(f.done() for f in futures) and time.monotonic() < deadline:
            tracker.poll()
            time.sleep(0.02)
        self.acks_done = time.monotonic()
        if answers:
            wait_answers(tracker, deadline)
        tracker.poll()
        self.wall = time.monotonic() - self.wall_start
        self.pool.shutdown(wait=False, cancel_futures=True)

    def abort(self) -> None:
        if self.gate is not None:
            self.gate.abort()  # client threads still waiting to start give up at once
        self.pool.shutdown(wait=False, cancel_futures=True)
