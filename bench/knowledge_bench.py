#!/usr/bin/env python
"""Knowledge-source benchmark: what each source adds to the time until the first model text shows in Slack.

Starts FakeSlack, FakeOpenAI, FakeNotion, FakeGitHub and FakeGoogle
(tests/standins) in this process and one bot process (functions-framework
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
import random
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

from harness import BotProcess, bot_env, message_event, sign  # noqa: E402  (tests/harness.py)
from common import (  # noqa: E402  (bench/common.py)
    ASKER, FINAL_STATUSES, Shot, git_commit, post_event, run_main, signals_deferred, signals_ignored,
    stop_all, summary,
)
from standins.github_api import FakeGitHub  # noqa: E402
from standins.notion_api import FakeNotion  # noqa: E402
from standins.openai_api import FakeOpenAI, Script  # noqa: E402
from standins.slack_api import FakeSlack  # noqa: E402
import harness  # noqa: E402

USER_TOKEN = "xoxp-knowledge-bench"
NOTION_TOKEN = "secret_notion_bench"
GITHUB_TOKEN = "ghp_knowledge_bench"
GITHUB_ORG = "acme"
WORDS = ("release plan budget review customer region payment service latency deploy window owner team "
         "incident report metric target quarter roadmap feature backlog sprint design proposal decision "
         "meeting notes action item follow up migration database schema index query cache memory worker "
         "queue retry timeout alert dashboard support ticket contract renewal pricing discount forecast "
         "hiring onboarding training policy security audit access review vendor invoice").split()
SEARCH_WORDS = {"slack": "zebrafish", "notion": "okapi", "github": "quokka", "drive": "capybara"}
WEB_CITATIONS = (("https://example.org/news", "Release notes"), ("https://example.org/blog", "Blog"))
WEB_NOTE = ("web search: the model stand-in's web_search_call adds no search latency of its own, so this row "
            "measures only our side (status update, citations, Sources list)")


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


# --------------------------------------------------------------------------- content
def prose(rng: random.Random, chars: int, line: int | None = None) -> str:
    """Plain words (no markup, no PDF-special characters), exactly ``chars`` long, wrapped at ``line``."""
    text, col = "", 0
    while len(text) < chars:
        word = rng.choice(WORDS)
        sep = "" if not text else ("\n" if line and col + 1 + len(word) > line else " ")
        col = len(word) if sep == "\n" else col + len(sep) + len(word)
        text += sep + word
    text = text[:chars]
    return text[:-1] + "." if text[-1].isspace() else text


def answer_text(n: int, key: str, total: int) -> str:
    """The model's answer for question ``n``: ``total`` characters, different for every question."""
    head = f"Answer {n} about {key}: "
    return head + prose(random.Random(n), max(1, total - len(head)))


def canvas_html(rng: random.Random, size: int) -> str:
    parts = ["<html><head><style>p{margin:0}</style></head><body><h1>Team handbook</h1>"]
    section = 0
    while sum(map(len, parts)) < size - 200:
        section += 1
        parts.append(f"<h2>Section {section}</h2><p>{prose(rng, 300)}</p>"
                     f"<ul><li>{prose(rng, 60)}</li><li>{prose(rng, 60)}</li></ul>")
    parts.append("</body></html>")
    return "".join(parts)


@dataclass
class Documents:
    text_file: bytes
    pdf: bytes
    pdf_chars: int
    docx: bytes
    docx_chars: int
    image: bytes
    canvas: str


def make_documents(max_chars: int = 20_000) -> Documents:
    from document_text import docx_text, pdf_text
    from test_documents import make_docx, make_pdf, para, text_page  # the tests' own PDF/Word writers

    rng = random.Random(7)
    text_file = prose(rng, 20_000, line=80).encode()
    pages = [text_page(*prose(rng, 23 * 84, line=84).split("\n")) for _ in range(10)]
    pdf = make_pdf(pages)
    pdf_chars = len(pdf_text(pdf, 1_000_000))
    docx = make_docx("".join(para(prose(rng, 195)) for _ in range(100)))
    docx_chars = len(docx_text(docx, 1_000_000))
    for name, chars in (("text file", len(text_file)), ("PDF", pdf_chars), ("docx", docx_chars)):
        if chars > max_chars:  # would be cut and noted under the answer; keep the expected text exact
            raise RuntimeError(f"the {name} has {chars} characters of text, over FILE_MAX_CHARS={max_chars}")
    image = b"\x89PNG\r\n\x1a\n" + rng.randbytes(200 * 1024 - 8)
    return Documents(text_file, pdf, pdf_chars, docx, docx_chars, image, canvas_html(rng, 10 * 1024))


# --------------------------------------------------------------------------- the world
@dataclass
class World:
    slack: FakeSlack
    openai: FakeOpenAI
    notion: FakeNotion
    github: FakeGitHub
    google: object | None
    docs: Documents
    args: argparse.Namespace
    counter: int = 0

    def next(self) -> int:
        self.counter += 1
        return self.counter


@dataclass
class Question:
    channel: str
    text: str
    files: list = field(default_factory=list)
    mention: bool = False


@dataclass
class Scenario:
    number: int
    key: str
    label: str
    build: object  # (world, n) -> Question
    tool: str | None = None  # function name the model calls first
    citations: tuple = ()
    sources: int = 0  # lines expected under **Sources**
    base: str = "baseline"


def _dm(world: World, n: int, text: str, files: list | None = None) -> Question:
    return Question(f"DK{n:06d}", text, files or [])


def _mention(world: World, n: int, canvas: bool) -> Question:
    channel = f"CK{n:06d}"
    world.slack.set_channel(channel, name=f"team-{n}", members=[ASKER, "UBOT"])
    if canvas:
        world.slack.add_canvas(channel, "Team handbook", world.docs.canvas)
    return Question(channel, f"<@UBOT> what do the rules say about deploys? (question {n})", mention=True)


def _linked(world: World, n: int) -> Question:
    source = f"CL{n:06d}"
    slack = world.slack
    slack.set_channel(source, name=f"incidents-{n}", members=["UALICE", "UBOB"])
    root = slack.add_message(source, "UALICE", f"Incident {n}: payments are failing for some customers")
    for k in range(5):
        slack.add_message(source, "UBOB" if k % 2 else "UALICE",
                          f"update {k + 1}: {prose(random.Random(n * 10 + k), 160)}", thread_ts=root)
    link = slack.permalink(source, root)
    return _dm(world, n, f"what was decided in <{link}|this thread>? (question {n})")


def _file(world: World, name: str, data: bytes, mimetype: str, filetype: str):
    return world.slack.add_file(name, data, mimetype, filetype)


PDF_MIME = "application/pdf"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def scenarios() -> list[Scenario]:
    def tool_scenario(number, key, label, name, sources=3):
        return Scenario(number, key, label, lambda w, n: _dm(w, n, f"what do we know about this? (question {n})"),
                        tool=name, sources=sources)

    return [
        Scenario(1, "baseline", "DM, no files, direct answer",
                 lambda w, n: _dm(w, n, f"what is the plan for this week? (question {n})")),
        Scenario(2, "text", "DM + 20 KB text file",
                 lambda w, n: _dm(w, n, f"summarise the notes (question {n})",
                                  [_file(w, "notes.txt", w.docs.text_file, "text/plain", "text")])),
        Scenario(3, "pdf", "DM + 10-page PDF",
                 lambda w, n: _dm(w, n, f"summarise the report (question {n})",
                                  [_file(w, "report.pdf", w.docs.pdf, PDF_MIME, "pdf")])),
        Scenario(4, "docx", "DM + .docx (~20 KB text)",
                 lambda w, n: _dm(w, n, f"summarise the document (question {n})",
                                  [_file(w, "notes.docx", w.docs.docx, DOCX_MIME, "docx")])),
        Scenario(5, "image", "DM + 200 KB PNG",
                 lambda w, n: _dm(w, n, f"what is in this picture? (question {n})",
                                  [_file(w, "chart.png", w.docs.image, "image/png", "png")])),
        Scenario(6, "channel", "@mention, channel without canvas", lambda w, n: _mention(w, n, canvas=False)),
        Scenario(7, "canvas", "@mention, channel with 10 KB canvas", lambda w, n: _mention(w, n, canvas=True),
                 base="channel"),
        Scenario(8, "link", "DM + Slack link (thread of 5)", _linked),
        Scenario(9, "web", "web search (2 citations)",
                 lambda w, n: _dm(w, n, f"is the new release out? (question {n})"),
                 citations=WEB_CITATIONS, sources=len(WEB_CITATIONS)),
        tool_scenario(10, "slack", "tool: Slack search (3 matches)", "search_slack"),
        tool_scenario(11, "notion", "tool: Notion (3 pages x 5 blocks)", "search_notion"),
        tool_scenario(12, "github", "tool: GitHub (3 issues)", "search_github"),
        tool_scenario(13, "drive", "tool: Drive (3 Docs)", "search_google_drive"),
    ]


def seed_sources(world: World, drive_ready: bool) -> None:
    """What the tools find: 3 items each, behind one search word that nothing else contains."""
    slack, rng = world.slack, random.Random(11)
    word = SEARCH_WORDS["slack"]
    slack.set_channel("CSEARCH01", name="engineering", members=[ASKER, "UADMIN", "UALICE"])
    for k in range(3):
        slack.add_message("CSEARCH01", "UALICE", f"the {word} rollout, note {k + 1}: {prose(rng, 200)}")
    for k in range(3):
        world.notion.add_page(f"{SEARCH_WORDS['notion']} handbook part {k + 1}",
                              [("heading_1", f"Part {k + 1}")] + [("paragraph", prose(rng, 250)) for _ in range(4)])
    for k in range(3):
        world.github.add_issue("acme/api", 100 + k, f"{SEARCH_WORDS['github']} fails on start, case {k + 1}",
                               prose(rng, 600))
    if drive_ready:
        from standins.google_api import DOC

        for k in range(3):
            world.google.add_file(f"{SEARCH_WORDS['drive']} plan {k + 1}", DOC, prose(rng, 2_000),
                                  [{"type": "anyone", "role": "reader"}])


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


# --------------------------------------------------------------------------- output
def _num(value, width: int, digits: int = 1, sign: bool = False) -> str:
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:>+{width}.{digits}f}" if sign else f"{value:>{width}.{digits}f}"


def render(r: dict, active: list[Scenario], args) -> str:
    m = r["model_script"]
    d = r["documents"]
    numbers = r["scenarios"]
    by_key = {s.key: s for s in active}
    p50 = {k: v["first_text_ms"]["p50"] for k, v in numbers.items()}
    lines = [
        f"knowledge_bench  repeat={r['repeat']}  DISPATCH=thread  STREAM_UPDATE_INTERVAL={r['interval']}  "
        f"THREADS=16  (commit {r['commit']})",
        f"  model stand-in: first token {m['first_token_delay'] * 1000:.0f} ms, {m['deltas']} deltas x "
        f"{m['chunk_chars']} chars every {m['delta_delay'] * 1000:.0f} ms; a tool call also comes after "
        f"{m['first_token_delay'] * 1000:.0f} ms, and the second request answers after another "
        f"{m['first_token_delay'] * 1000:.0f} ms",
        f"  machine: {r['cpus']} CPUs, load average {r['loadavg_start'][0]:.2f} at the start, "
        f"{r['loadavg_end'][0]:.2f} at the end; one bot process, all stand-ins in this process on 127.0.0.1",
        f"  documents: text {d['text_bytes']:,} B; PDF {d['pdf_bytes']:,} B with {d['pdf_chars']:,} chars of text; "
        f"docx {d['docx_bytes']:,} B with {d['docx_chars']:,} chars; PNG {d['image_bytes']:,} B; "
        f"canvas {d['canvas_html_bytes']:,} B of HTML",
        "  times in ms from the event POST; 'added' is the first-text p50 minus that of the row in 'vs';",
        "  '1st use' is the first question of that kind in the process (before the measured ones);",
        f"  p99 is the nearest rank (with n={r['repeat']} it is the largest)",
        "",
        f" {'#':>2}  {'scenario':<36}{'n':>4}{'first text p50':>16}{'p99':>8}{'added p50':>11}{'vs':>4}"
        f"{'final p50':>11}{'Slack calls':>13}{'model reqs':>12}{'1st use':>9}",
    ]
    for key, v in numbers.items():
        s = by_key[key]
        base = by_key.get(s.base)
        added = (p50[key] - p50[s.base]) if key != s.base and base and p50.get(key) is not None \
            and p50.get(s.base) is not None else None
        lines.append(
            f" {s.number:>2}  {s.label:<36}{v['n']:>4}{_num(v['first_text_ms']['p50'], 16)}"
            f"{_num(v['first_text_ms']['p99'], 8)}{_num(added, 11, sign=True)}"
            f"{(str(base.number) if base and key != s.base else '-'):>4}{_num(v['final_ms']['p50'], 11)}"
            f"{_num(v['slack_calls_per_answer'], 13)}{_num(v['model_requests_per_answer'], 12)}"
            f"{_num(v['first_use_first_text_ms'], 9)}")
    tools = [s for s in active if s.tool and numbers[s.key]["first_text_ms"]["p50"] is not None]
    if tools and p50.get("baseline") is not None:
        lines += ["", f"tool rows: the added time includes a second model request with its own "
                      f"{m['first_token_delay'] * 1000:.0f} ms first token (the stand-in's delay);",
                  "  added minus that = our tool overhead; of it, the tool round (running the tool and sending the",
                  "  second request) and the wait from the model's first delta until Slack shows it (the status",
                  "  update, e.g. '_Searching Notion…_', took the last update slot: STREAM_UPDATE_INTERVAL):",
                  f"    {'':<36}{'added-300':>10}{'tool round':>12}{'delta->visible':>16}   (p50, ms)"]
        for s in tools:
            added = p50[s.key] - p50["baseline"]
            v = numbers[s.key]
            lines.append(f"    {s.label:<36}{_num(added - m['first_token_delay'] * 1000, 10, sign=True)}"
                         f"{_num(v['tool_round_ms']['p50'], 12)}{_num(v['model_first_delta_to_visible_ms']['p50'], 16)}")
    lines += ["", "where the time went (p50, ms): event -> first model request arrives | tool round (first model "
                  "response done -> second request arrives) |",
              "  model's first text delta sent -> that text visible in Slack | per answer: file downloads, "
              "requests to Notion/GitHub/Google",
              f" {'#':>2}  {'scenario':<36}{'event->model':>13}{'tool round':>12}{'delta->visible':>16}"
              f"{'file GETs':>11}{'provider reqs':>15}"]
    for key, v in numbers.items():
        s = by_key[key]
        lines.append(f" {s.number:>2}  {s.label:<36}{_num(v['event_to_model_request_ms']['p50'], 13)}"
                     f"{_num(v['tool_round_ms']['p50'], 12)}{_num(v['model_first_delta_to_visible_ms']['p50'], 16)}"
                     f"{_num(v['file_downloads_per_answer'], 11)}{_num(v['provider_requests_per_answer'], 15)}")
    lines += ["", "Slack API calls per answer, by method (mean):"]
    for key, v in numbers.items():
        methods = ", ".join(f"{name} {count:g}" for name, count in v["slack_methods_per_answer"].items())
        lines.append(f" {by_key[key].number:>2}  {key:<9} {methods}")
    if "web" in numbers:
        lines += ["", f"note: {WEB_NOTE}"]
    for key, why in r["skipped"].items():
        lines.append(f"skipped: {key}: {why}")
    problems = [(key, p) for key, v in numbers.items() for p in v["problems"]]
    for key, problem in problems:
        lines.append(f"problem: {key}: {problem}")
    lines.append(f"answers: {sum(v['exact'] for v in numbers.values())}/{sum(v['n'] for v in numbers.values())} "
                 f"measured answers with the exact expected text; bot log lines WARNING or worse: "
                 f"{r['log_warnings_or_errors']}")
    lines.append(f"result: {'OK' if r['ok'] else 'FAILED'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    return run_main("knowledge_bench", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
