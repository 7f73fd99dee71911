"""How fast the offline playground is ready, and what a person waits for there.

Starts ``python -m playground`` (the page, the Slack stand-in and the real bot in practice mode)
``--starts`` times and measures spawn → the "open http://…" line; then, in one playground, asks
``--questions`` DM questions one after another through the page's own API and follows each the
way the page does (long-polling ``/api/state``): question posted → the bot's placeholder on the
page → its first words → the finished answer. Practice mode streams a word every
``PRACTICE_TOKEN_DELAY`` (default 0.04 s) after a first-token pause of 8 words, and the bot
updates the message every ``STREAM_UPDATE_INTERVAL`` (default 0.8 s) within Slack's budget for
``chat.update`` (Tier 3, ~50 a minute, burst 3; the playground keeps the production budget): those,
not the playground, set most of the times below. After the first answer the budget paces the
updates, so later answers show their first words about a second after the question.

    .venv/bin/python bench/playground_bench.py [--starts 3] [--questions 10]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT / "tests"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from browser import PlaygroundProcess  # noqa: E402
from lifecycle import git_commit, run_main  # noqa: E402
from measures import print_latencies  # noqa: E402

ADA, DM = "U0PLAYADA", "D0PLAYADA"


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url + "api/messages", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _follow(url: str, question: str, asked_at: float, since: int) -> tuple[dict, int]:
    """Long-polls like the page until the answer to ``question`` is finished; returns the times seen."""
    seen: dict[str, float] = {}
    while "final" not in seen:
        with urllib.request.urlopen(f"{url}api/state?person={ADA}&since={since}", timeout=60) as response:
            snapshot = json.loads(response.read())
        since = snapshot["version"]
        now = time.monotonic() - asked_at
        dm = next(c for c in snapshot["conversations"] if c["id"] == DM)
        replies = [m for m in dm["messages"] if m.get("thread_ts") == question and m["ts"] != question]
        if not replies:
            continue
        seen.setdefault("placeholder", now)
        text = replies[-1].get("text", "")
        if text.strip() and "Thinking…" not in text:  # the answer's first words, not the placeholder
            seen.setdefault("first_text", now)
        streaming = any(b.get("type") == "actions" for b in replies[-1].get("blocks") or [])
        if "to get real answers" in text and not streaming:
            seen["final"] = now
    return seen, since


def run(args) -> int:
    folder = Path(tempfile.mkdtemp(prefix="playground-bench-"))
    starts = []
    for number in range(args.starts):
        began = time.monotonic()
        playground = PlaygroundProcess(folder / f"start-{number}.log")
        starts.append(time.monotonic() - began)
        if number < args.starts - 1:
            playground.stop()
    phases: dict[str, list[float]] = {"placeholder": [], "first_text": [], "final": []}
    try:
        since = -1
        for number in range(args.questions):
            asked_at = time.monotonic()
            ts = _post(playground.url, {"person": ADA, "channel": DM, "text": f"Question number {number}"})["ts"]
            seen, since = _follow(playground.url, ts, asked_at, since)
            for phase, value in seen.items():
                phases[phase].append(value)
    finally:
        playground.stop()
    print(f"playground_bench  commit {git_commit()}  starts={args.starts}  questions={args.questions}")
    print_latencies([("spawn → page ready (bot + stand-in up)", starts),
                     ("question → placeholder on the page", phases["placeholder"]),
                     ("question → first words on the page", phases["first_text"]),
                     ("question → finished answer on the page", phases["final"])], 40)
    ok = len(phases["final"]) == args.questions
    print("result:", "OK" if ok else "MISSING ANSWERS")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--questions", type=int, default=10)
    sys.exit(run_main("playground_bench", run, parser.parse_args()))
