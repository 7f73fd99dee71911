"""Socket Mode: how fast envelopes are acknowledged, and how long the bot is deaf after a drop.

Starts the Slack, Socket Mode and (practice-mode) answer path on 127.0.0.1 — FakeSlack, FakeSocketMode
and ``python -m threadwise.transports.socket_mode`` — then:

1. delivers 10 DM questions one at a time, then ``--n`` at once, as ``events_api`` envelopes and measures, from the
   stand-in's own records, envelope sent → acknowledgement received, and that every question
   was answered exactly once;
2. cuts the connection ``--drops`` times (a TCP reset, as a network failure does) and measures
   drop → the next connection open (``hello`` sent), then the same after Slack's
   ``disconnect`` (``refresh_requested``).

    .venv/bin/python bench/socket_bench.py [--n 50] [--drops 3]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT / "tests"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from flows import replies_to  # noqa: E402
from harness import SocketModeProcess, bot_env, message_event  # noqa: E402
from lifecycle import git_commit, run_main, stop_all  # noqa: E402
from measures import print_latencies  # noqa: E402
from standins.slack_api import FakeSlack  # noqa: E402
from standins.slack_socket_mode import FakeSocketMode  # noqa: E402

APP_TOKEN = "xapp-1-AAPP-1-0123456789-socket-bench"


def _finished(slack: FakeSlack, channel: str, ts: str) -> bool:
    parts = replies_to(slack, channel, ts)
    return bool(parts) and parts[-1]["metadata"]["event_payload"].get("status") == "done"


def _reconnect_time(socket_mode: FakeSocketMode, cut) -> float:
    opened = socket_mode.connections_opened
    began = time.monotonic()
    cut()
    socket_mode.wait_for_connections(1, timeout=60, opened_at_least=opened + 1)
    return time.monotonic() - began


def run(args) -> int:
    stack: list = []
    try:
        slack = FakeSlack(bot_token="xoxb-test").start()
        stack.append(slack.stop)
        socket_mode = FakeSocketMode(app_token=APP_TOKEN).start()
        stack.append(socket_mode.stop)
        socket_mode.attach(slack)
        folder = Path(tempfile.mkdtemp(prefix="socket-bench-"))
        bot = SocketModeProcess(bot_env(slack.base_url, None, SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET=None,
                                        LOG_LEVEL="WARNING", SQLITE_PATH=str(folder / "claims.sqlite3")),
                                folder / "bot.log")
        stack.append(bot.stop)
        socket_mode.wait_for_connections(1, timeout=60)

        one_by_one = []
        for number in range(10):  # the first pays the answer path's imports, as on a cold instance
            channel = f"DSINGLE{number:02d}"
            ts = slack.add_message(channel, "UASKER", "one question")
            envelope_id = socket_mode.deliver_event(message_event(channel, "UASKER", "one question", ts))
            socket_mode.wait_for_ack(envelope_id, timeout=30)
            one_by_one.append(socket_mode.ack_for(envelope_id).at - socket_mode.sent_of(envelope_id).at)
            time.sleep(0.2)

        questions = []
        for number in range(args.n):
            channel = f"DBENCH{number:04d}"
            ts = slack.add_message(channel, "UASKER", f"question {number}")
            questions.append((channel, ts, message_event(channel, "UASKER", f"question {number}", ts)))
        envelope_ids = [socket_mode.deliver_event(body) for _, _, body in questions]
        for envelope_id in envelope_ids:
            socket_mode.wait_for_ack(envelope_id, timeout=30)
        acks = [socket_mode.ack_for(e).at - socket_mode.sent_of(e).at for e in envelope_ids]
        slack.wait_for(lambda: all(_finished(slack, c, ts) for c, ts, _ in questions), timeout=120)
        exact = sum(1 for c, ts, _ in questions if len(replies_to(slack, c, ts)) == 1)

        drops = [_reconnect_time(socket_mode, socket_mode.drop_connections) for _ in range(args.drops)]
        refreshes = [_reconnect_time(socket_mode, lambda: socket_mode.send_disconnect("refresh_requested"))
                     for _ in range(args.drops)]
    finally:
        stop_all(stack, "socket_bench")

    print(f"socket_bench  commit {git_commit()}  n={args.n}  drops={args.drops}")
    print_latencies([("one envelope at a time ×10: sent → acknowledged", one_by_one),
                     (f"{args.n} envelopes at once: sent → acknowledged", acks),
                     ("TCP reset → connected again", drops),
                     ("disconnect refresh_requested → new connection", refreshes)])
    print(f"answered exactly once: {exact}/{args.n}")
    ok = exact == args.n
    print("result:", "OK" if ok else "NOT ALL ANSWERED ONCE")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--drops", type=int, default=3)
    sys.exit(run_main("socket_bench", run, parser.parse_args()))
