"""Benchmark-only entry point: ``main.slack_bot`` wrapped with timing.

Used by ``bench/ack_bench.py --server-timing``; never deployed. For every
request carrying an ``X-Bench-Id`` header it prints one JSON line with the
``time.monotonic()`` at which the handler was entered and left (CLOCK_MONOTONIC
is system-wide on Linux, so the benchmark compares it with its own send times).
With ``BENCH_ACK_ONLY=1`` the dispatcher is replaced by a no-op, so only the
acknowledgement path runs; ``BENCH_SWITCH_INTERVAL`` sets ``sys.setswitchinterval``
(an experiment on GIL hand-offs, not a production setting).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import main  # noqa: E402  (the real entry point)

_out = sys.stdout
_out_lock = threading.Lock()


class _NoDispatch:
    def submit(self, ask) -> None:
        pass


if os.environ.get("BENCH_SWITCH_INTERVAL"):
    sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL"]))

if os.environ.get("BENCH_ACK_ONLY") == "1":
    main.dispatcher = _NoDispatch()


def slack_bot(request):
    entered = time.monotonic()
    try:
        return main.slack_bot(request)
    finally:
        left = time.monotonic()
        bench_id = request.headers.get("X-Bench-Id")
        if bench_id:
            line = json.dumps({"bench_timing": bench_id, "entered": entered, "left": left,
                               "thread": threading.get_ident()})
            with _out_lock:
                _out.write(line + "\n")
                _out.flush()
