"""knowledge_bench's world: the documents, channels, sources and the thirteen scenarios it asks."""
from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field

from common import ASKER  # (bench/ and tests/ are on sys.path: knowledge_bench.py puts them there)
from standins.github_api import FakeGitHub
from standins.notion_api import FakeNotion
from standins.openai_api import FakeOpenAI
from standins.slack_api import FakeSlack

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
    from threadwise.answering.documents import docx_text, pdf_text
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
    # The bot is in it: Slack lets a bot read only the channels it is in.
    slack.set_channel(source, name=f"incidents-{n}", members=["UALICE", "UBOB", "UBOT"])
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
