#!/usr/bin/env python
"""Knowledge-source benchmark: what each source adds to the time until the first model text shows in Slack.

Starts FakeSlack, FakeOpenAI, FakeNotion, FakeGitHub and FakeGoogle
(standins/) in this process and one bot process (functions-framework
through tests/harness.py's BotProcess, ``DISPATCH=thread``) with every
knowledge source switched on: ``SLACK_USER_TOKEN``, ``NOTION_TOKEN``,
``GITHUB_TOKEN`` + ``GITHUB_ORG``, ``GOOGLE_DRIVE_CREDENTIALS`` (a key file)
and ``WEB_SEARCH=true``. After one answered warm-up question it asks, one
question at a time (each answered fully before the next):

 1. a DM question, no files, the model answers directly (the baseline)
 2. the same with a 20,000-byte text file shared
 3. with a 10-page PDF (~1,950 characters of text a page)
 4. with a .docx (~19,500 characters of text)
 5. with a 200 KB image (image/png)
 6. an @mention in a channel without a canvas (the baseline for channels)
 7. an @mention in a channel with a ~10 KB canvas
 8. a DM question with a pasted link to a public channel thread of 5 replies
 9. web search (citations; the stand-in adds no search latency)
10-13. a tool round: the model first calls search_slack / search_notion /
       search_github / search_google_drive, the bot runs it against its
       stand-in, and a second model request answers.

Every scenario is asked once first ("1st use": imports, the Drive token, …),
then ``--repeat`` rounds of all scenarios in turn, so that every scenario sees
the same machine conditions. For each answer it takes, from FakeSlack's call
log (``Call.at`` is ``time.monotonic()`` of this process, the clock the POST
is timed with): event POST -> the first ``chat.update`` whose markdown block
starts with the model's text (not the placeholder, not a status such as
"_Searching Notion…_"), and event -> the final update; plus the Slack API
calls and model requests per answer, and from the stand-ins' records where
the time went (event -> first model request, the tool round, model's first
delta -> visible).

    python bench/knowledge_bench.py [--repeat 10]

Exit status: 0 when every answer completed with the expected text, 1
otherwise, 2 when the setup failed, 130 when interrupted. See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT / "tests"), str(ROOT), str(ROOT / "bench")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import harness  # noqa: E402  (tests/harness.py)
from harness import BotProcess, bot_env, message_event, sign  # noqa: E402
from common import ASKER, FINAL_STATUSES, Shot, post_event  # noqa: E402  (bench/common.py)
from measures import summary  # noqa: E402  (bench/measures.py)
from lifecycle import (  # noqa: E402  (bench/lifecycle.py)
    git_commit, run_main, signals_deferred, signals_ignored, stop_all,
)
from standins.github_api import FakeGitHub  # noqa: E402
from standins.notion_api import FakeNotion  # noqa: E402
from standins.openai_api import FakeOpenAI, Script  # noqa: E402
from standins.slack_api import FakeSlack  # noqa: E402
import harness  # noqa: E402
from knowledge_report import render  # noqa: E402  (bench/knowledge_report.py)
from knowledge_world import (  # noqa: E402  (bench/knowledge_world.py)
    GITHUB_ORG, GITHUB_TOKEN, NOTION_TOKEN, SEARCH_WORDS, USER_TOKEN, WEB_NOTE, Scenario, World, answer_text,
    make_documents, scenarios, seed_sources,
)

# --------------------------------------------------------------------------- options
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--repeat", type=int, default=10, help="measured questions per scenario")
    p.add_argument("--interval", type=float, default=0.8, help="STREAM_UPDATE_INTERVAL (production default 0.8)")
    p.add_argument("--first-token-delay", type=float, default=0.3,
                   help="model: seconds before the first delta (and before a tool call)")
    p.add_argument("--deltas", type=int, default=40, help="model: text deltas per answer")
    p.add_argument("--chunk-chars", type=int, default=4, help="model: characters per delta")
    p.add_argument("--delta-delay", type=float, default=0.02, help="model: seconds between deltas")
    p.add_argument("--only", default=None,
                   help="comma-separated scenario keys to run (baseline always runs); see --list")
    p.add_argument("--skip", default="", help="comma-separated scenario keys to leave out, e.g. drive")
    p.add_argument("--list", action="store_true", help="list the scenario keys and exit")
    p.add_argument("--pause", type=float, default=0.2, help="seconds between questions")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one answer to be final")
    p.add_argument("--keep-log", action="store_true", help="keep the bot's log and print its folder")
    p.add_argument("--json-only", action="store_true", help="print only the JSON line")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


# --------------------------------------------------------------------------- one question
@dataclass
class Result:
    scenario: str
    phase: str  # "warm-up", "first-use", "measured"
    shot: Shot
    answer: str
    sources: int
    reply_ts: str | None = None
    first_text_at: float | None = None
    final_at: float | None = None
    final_text: str | None = None
    final_status: str | None = None
    slack_calls: int = 0
    methods: dict = field(default_factory=dict)
    file_downloads: int = 0
    provider_requests: int = 0
    model: list = field(default_factory=list)  # (started_at, first_delta_at, finished_at) per model request
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def since_post(self, at: float | None) -> float | None:
        return None if at is None or self.shot.start is None else (at - self.shot.start)


def expected_problem(r: Result) -> str | None:
    if r.shot.status != 200:
        return f"event not acknowledged: {r.shot.status} {r.shot.error}"
    if r.final_at is None:
        return "no final update within the timeout"
    if r.final_status != "done":
        return f"final status {r.final_status}: {r.final_text!r:.200}"
    if r.first_text_at is None:
        return "no update showed the model's text"
    text = r.final_text or ""
    if not r.sources:
        return None if text == r.answer else f"unexpected final text: {text!r:.300}"
    head = r.answer + "\n\n**Sources**\n"
    if not text.startswith(head):
        return f"unexpected final text: {text!r:.300}"
    lines = text[len(head):].split("\n")
    if len(lines) != r.sources or not all(line.startswith(f"{i}. [") for i, line in enumerate(lines, 1)):
        return f"expected {r.sources} sources: {text[len(r.answer):]!r:.300}"
    return None


def provider_count(world: World) -> int:
    return len(world.notion.requests) + len(world.github.requests) + (
        len(world.google.requests) if world.google is not None else 0)


def ask(world: World, port: int, scenario: Scenario, phase: str) -> Result:
    args, slack, openai = world.args, world.slack, world.openai
    n = world.next()
    question = scenario.build(world, n)
    answer = answer_text(n, scenario.key, args.deltas * args.chunk_chars)
    timing = dict(first_token_delay=args.first_token_delay, delta_delay=args.delta_delay,
                  chunk_chars=args.chunk_chars)
    openai.reset()  # this question's requests only; nothing left queued by an earlier failure
    scripts = [Script(text=answer, citations=scenario.citations, **timing)]
    if scenario.tool:
        word = SEARCH_WORDS[scenario.key]
        scripts.insert(0, Script(tool_calls=((scenario.tool, {"query": word}),), **timing))
    openai.queue(*scripts)

    extra = {"files": question.files, "subtype": "file_share"} if question.files else {}
    ts = slack.add_message(question.channel, ASKER, question.text, **extra)
    event_id = f"EvK{n:06d}"
    kind = dict(channel_type="channel", event_type="app_mention") if question.mention else {}
    payload = message_event(question.channel, ASKER, question.text, ts, event_id=event_id, **kind, **extra)
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Connection": "close", **sign(body)}
    shot = Shot(n, question.channel, event_id, question.text, ts, body, headers)
    result = Result(scenario.key, phase, shot, answer, scenario.sources)

    index, downloads, providers = len(slack.calls), len(slack.file_downloads), provider_count(world)
    post_event(port, shot, 30.0, None)
    seen: list = []
    deadline = time.monotonic() + args.timeout
    first_chunk = answer[: args.chunk_chars]
    while shot.status == 200 and result.final_at is None and time.monotonic() < deadline:
        new = slack.calls[index:]  # list slicing is atomic; calls are only appended
        index += len(new)
        for call in new:
            seen.append(call)
            if call.params.get("channel") != question.channel or result.final_at is not None:
                continue
            ok = call.status == 200 and call.response.get("ok")
            if call.method == "chat.postMessage" and ok and result.reply_ts is None:
                result.reply_ts = call.response.get("ts")
            elif call.method == "chat.update" and ok and call.params.get("ts") == result.reply_ts:
                blocks = call.params.get("blocks") or []
                shown = blocks[0].get("text", "") if blocks and isinstance(blocks[0], dict) \
                    and blocks[0].get("type") == "markdown" else ""
                if result.first_text_at is None and shown.startswith(first_chunk):
                    result.first_text_at = call.at
                status = ((call.params.get("metadata") or {}).get("event_payload") or {}).get("status")
                if status in FINAL_STATUSES:
                    result.final_at, result.final_text, result.final_status = call.at, shown, status
        time.sleep(0.01)

    window = [c for c in seen if result.final_at is None or c.at <= result.final_at]
    result.slack_calls = len(window)
    for call in window:
        result.methods[call.method] = result.methods.get(call.method, 0) + 1
    result.file_downloads = len(slack.file_downloads) - downloads
    result.provider_requests = provider_count(world) - providers
    result.model = [(r.started_at, r.first_delta_at, r.finished_at) for r in openai.requests
                    if r.path in ("/v1/responses", "/v1/chat/completions")]
    result.problem = expected_problem(result)
    time.sleep(args.pause)
    return result


# --------------------------------------------------------------------------- numbers
def scenario_numbers(results: list[Result], first: Result | None) -> dict:
    done = [r for r in results if r.first_text_at is not None and r.final_at is not None]

    def mean(values):
        return round(statistics.fmean(values), 2) if values else None

    methods: dict[str, float] = {}
    for r in results:
        for method, count in r.methods.items():
            methods[method] = methods.get(method, 0) + count
    to_model = [r.model[0][0] - r.shot.start for r in results if r.model]
    tool_round = [r.model[1][0] - r.model[0][2] for r in results if len(r.model) >= 2 and r.model[0][2]]
    delta_visible = [r.first_text_at - r.model[-1][1] for r in done if r.model and r.model[-1][1]]
    return {
        "n": len(results),
        "exact": sum(1 for r in results if r.ok),
        "first_text_ms": summary([r.since_post(r.first_text_at) for r in done]),
        "final_ms": summary([r.since_post(r.final_at) for r in done]),
        "slack_calls_per_answer": mean([r.slack_calls for r in results]),
        "model_requests_per_answer": mean([len(r.model) for r in results]),
        "file_downloads_per_answer": mean([r.file_downloads for r in results]),
        "provider_requests_per_answer": mean([r.provider_requests for r in results]),
        "slack_methods_per_answer": {m: round(c / len(results), 2) for m, c in sorted(methods.items())},
        "event_to_model_request_ms": summary(to_model),
        "tool_round_ms": summary(tool_round),
        "model_first_delta_to_visible_ms": summary(delta_visible),
        "first_use_first_text_ms": (round(first.since_post(first.first_text_at) * 1000, 1)
                                    if first is not None and first.first_text_at else None),
        "problems": sorted({f"{r.phase} #{r.shot.index}: {r.problem}" for r in results + ([first] if first else [])
                            if r.problem})[:5],
    }


# --------------------------------------------------------------------------- the run
def run(args: argparse.Namespace) -> int:
    say = (lambda *a, **k: None) if args.json_only else print
    all_scenarios = scenarios()
    if args.list:
        for s in all_scenarios:
            print(f"{s.number:>2}  {s.key:<9} {s.label}")
        return 0
    wanted = {k.strip() for k in args.only.split(",")} | {"baseline"} if args.only else {s.key for s in all_scenarios}
    skipped: dict[str, str] = {k.strip(): "left out with --skip" for k in args.skip.split(",") if k.strip()}
    unknown = (wanted | set(skipped)) - {s.key for s in all_scenarios}
    if unknown:
        raise SystemExit(f"knowledge_bench: unknown scenario keys {sorted(unknown)}; see --list")

    stack: list = []
    work = Path(tempfile.mkdtemp(prefix="knowledge_bench_"))
    stack.append(lambda: None if args.keep_log else shutil.rmtree(work, ignore_errors=True))
    results: dict[str, list[Result]] = {}
    first_use: dict[str, Result] = {}
    load_start = os.getloadavg()
    try:
        docs = make_documents()
        with signals_deferred():
            slack = FakeSlack(bot_token=harness.BOT_TOKEN)
            slack.start()
            stack.append(slack.stop)
        with signals_deferred():
            openai = FakeOpenAI(api_key=harness.OPENAI_KEY)
            openai.start()
            stack.append(openai.stop)
        with signals_deferred():
            notion = FakeNotion(token=NOTION_TOKEN)
            notion.start()
            stack.append(notion.stop)
        with signals_deferred():
            github = FakeGitHub(token=GITHUB_TOKEN)
            github.start()
            stack.append(github.stop)
        google, key_file = None, None
        if "drive" in wanted and "drive" not in skipped:
            try:
                from standins.google_api import FakeGoogle

                with signals_deferred():
                    google = FakeGoogle()
                    stack.append(google.stop)
                    google.start()
                key_file = google.write_key_file(work / "drive-key.json")
            except Exception as error:  # the stand-in is someone else's work in progress
                skipped["drive"] = f"the Google stand-in could not be set up ({type(error).__name__}: {error})"
                google = None
        slack.user_tokens[USER_TOKEN] = "UADMIN"
        slack.set_user(ASKER, "asker@example.com")
        world = World(slack, openai, notion, github, google, docs, args)
        seed_sources(world, google is not None)

        env = bot_env(
            slack.base_url, openai.base_url, DISPATCH="thread", STREAM_UPDATE_INTERVAL=str(args.interval),
            LOG_LEVEL="INFO", SQLITE_PATH=str(work / "claims.sqlite3"), WEB_SEARCH="true",
            SLACK_RATE_LIMITS=harness.UNTHROTTLED,  # as it has always measured (the tests' old default)
            SLACK_USER_TOKEN=USER_TOKEN, NOTION_TOKEN=NOTION_TOKEN, NOTION_API_URL=notion.base_url,
            GITHUB_TOKEN=GITHUB_TOKEN, GITHUB_API_URL=github.base_url, GITHUB_ORG=GITHUB_ORG,
            GOOGLE_DRIVE_CREDENTIALS=key_file, GOOGLE_API_URL=google.base_url if google else None,
        )
        with signals_deferred():
            bot = BotProcess(env, work / "bot.log")
            stack.append(bot.stop)

        active = [s for s in all_scenarios if s.key in wanted and s.key not in skipped]
        baseline = next(s for s in all_scenarios if s.key == "baseline")
        warm = ask(world, bot.port, baseline, "warm-up")  # auth.test, the openai import, the first stream
        if not warm.ok:
            raise RuntimeError(f"warm-up answer failed: {warm.problem}\n{bot.logs()[-3000:]}")
        for s in active:  # first use of each source in this process: imports, the Drive token, …
            first_use[s.key] = ask(world, bot.port, s, "first-use")
        for _ in range(args.repeat):  # rounds: every scenario sees the same conditions
            for s in active:
                results.setdefault(s.key, []).append(ask(world, bot.port, s, "measured"))
            if bot.process.poll() is not None:
                raise RuntimeError(f"the bot exited with {bot.process.returncode}\n{bot.logs()[-3000:]}")
        log_entries = [e for e in _entries(bot.logs())]
    finally:
        with signals_ignored():  # no second Ctrl-C/TERM in the middle of stopping things
            stop_all(stack, "knowledge_bench")
    load_end = os.getloadavg()

    numbers = {s.key: scenario_numbers(results[s.key], first_use.get(s.key)) for s in active}
    ok = all(v["exact"] == v["n"] for v in numbers.values()) and all(r.ok for r in first_use.values())
    result = {
        "bench": "knowledge_bench", "commit": git_commit(), "repeat": args.repeat, "interval": args.interval,
        "cpus": os.cpu_count(), "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in load_end],
        "model_script": {"first_token_delay": args.first_token_delay, "deltas": args.deltas,
                         "chunk_chars": args.chunk_chars, "delta_delay": args.delta_delay},
        "documents": {"text_bytes": len(docs.text_file), "pdf_bytes": len(docs.pdf), "pdf_chars": docs.pdf_chars,
                      "docx_bytes": len(docs.docx), "docx_chars": docs.docx_chars, "image_bytes": len(docs.image),
                      "canvas_html_bytes": len(docs.canvas.encode())},
        "scenarios": numbers, "skipped": skipped,
        "log_warnings_or_errors": sum(1 for e in log_entries if e.get("severity") in ("WARNING", "ERROR", "CRITICAL")),
        "web_search_note": WEB_NOTE, "ok": ok,
    }
    say(render(result, active, args))
    if args.keep_log:
        say(f"bot log: {work / 'bot.log'}")
    print(json.dumps(result, ensure_ascii=False, separators=(",", ":")))
    return 0 if ok else 1


def _entries(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def main(argv=None) -> int:
    return run_main("knowledge_bench", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
