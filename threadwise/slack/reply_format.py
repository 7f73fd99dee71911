"""What a bot reply looks like in Slack: blocks, metadata, markers and splitting.

Model output is standard Markdown, so it goes into Slack's own ``markdown``
block, which renders code blocks, bold, links, lists and headings natively;
no hand-written Markdown→mrkdwn converter to get wrong. The ``text`` field
carries the same Markdown (it is what notifications, search and
``conversations.replies`` show), which is why a part is kept under the
~4,000-character limit that ``chat.update`` enforces on ``text``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from threadwise.slack.events import ABORTED_EVENT_TYPE, REPLY_EVENT_TYPE
from threadwise.slack.pings import quiet

# The Stop button's action_id is a contract (DESIGN.md), the same as the Stop shortcut's callback_id;
# the interactions registry routes it to the Stop handler.
STOP_BUTTON_ACTION_ID = "abort_openai_api"

PLACEHOLDER_TEXT = "_Thinking…_"
THINKING_STATUS = "is thinking…"  # the thread status (assistant.threads.setStatus) when no placeholder is posted
CURSOR = " …"
# Room left in a part for a closing fence, the cursor and an end marker.
PART_LIMIT = 3800
TEXT_LIMIT = 4000

STATUS_STREAMING = "streaming"
STATUS_CONTINUED = "continued"  # a full part; the answer goes on in the next message
STATUS_DONE = "done"
STATUS_STOPPING = "stopping"  # flagged by Stop; the streaming loop has not ended it yet
STATUS_STOPPED = "stopped"
STATUS_ERROR = "error"

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.MULTILINE)


@dataclass(frozen=True)
class ReplyTag:
    """Who a reply belongs to; written into every part's metadata."""

    asker: str
    question_ts: str
    answer_ts: str | None = None  # ts of the first part, for continuation parts
    part: int = 1


def reply_metadata(tag: ReplyTag, status: str, **extra: str) -> dict:
    payload = {"asker": tag.asker, "question": tag.question_ts, "status": status}
    if tag.answer_ts:
        payload["answer"] = tag.answer_ts
        payload["part"] = tag.part
    payload.update(extra)
    return {"event_type": REPLY_EVENT_TYPE, "event_payload": payload}


def aborted_metadata(payload: dict, stopped_by: str, reason: str, status: str = STATUS_STOPPING) -> dict:
    return {
        "event_type": ABORTED_EVENT_TYPE,
        "event_payload": {**payload, "status": status, "stopped_by": stopped_by, "reason": reason},
    }


def stop_button_block() -> dict:
    return {
        "type": "actions",
        "block_id": "threadwise_stop",
        "elements": [
            {
                "type": "button",
                "action_id": STOP_BUTTON_ACTION_ID,
                "text": {"type": "plain_text", "text": "Stop", "emoji": True},
                "style": "danger",
                "value": "stop",
            }
        ],
    }


# Every text of a reply becomes Slack's blocks and ``text`` here, and goes through pings.quiet on the
# way: what the model writes never pings a channel or a group (issue 16).
def streaming_blocks(text: str, status: str | None = None) -> list[dict]:
    """A part still being written: its text with a cursor (or what the model is doing), and the Stop button."""
    shown = text + CURSOR if text else (f"_{status}_" if status else PLACEHOLDER_TEXT)
    return [{"type": "markdown", "text": quiet(shown)}, stop_button_block()]


def final_blocks(text: str) -> list[dict]:
    return [{"type": "markdown", "text": quiet(text) or " "}]


def fallback_text(text: str) -> str:
    """The ``text`` field: the same Markdown, bounded by Slack's limit."""
    if not text:
        return PLACEHOLDER_TEXT
    text = quiet(text)
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def sources_section(citations) -> str:
    """Web pages the answer cites, as links under it (Markdown: the markdown block renders them)."""
    lines = []
    for number, citation in enumerate(citations, 1):
        title = " ".join(citation.title.replace("[", "(").replace("]", ")").split()) or citation.url
        url = citation.url.replace(")", "%29").replace(" ", "%20")
        lines.append(f"{number}. [{title}]({url})")
    return "\n\n**Sources**\n" + "\n".join(lines) if lines else ""


def stopped_marker(stopped_by: str | None, reason: str) -> str:
    if reason == "superseded":
        return "_⏹ Stopped: a newer question in this thread is being answered._"
    if reason == "deleted":
        return "_⏹ Stopped._"
    who = f" by <@{stopped_by}>" if stopped_by else ""
    return f"_⏹ Stopped{who}._"


def error_marker(sentence: str) -> str:
    return f"_⚠️ {sentence}_"


def with_marker(text: str, marker: str) -> str:
    text = close_open_fence(text)
    return f"{text}\n\n{marker}" if text.strip() else marker


def open_fence(text: str) -> str | None:
    """The fence (``` or ~~~ run) still open at the end of ``text``, if any."""
    opened: str | None = None
    for match in _FENCE.finditer(text):
        fence = match.group(1)
        if opened is None:
            opened = fence
        elif fence[0] == opened[0] and len(fence) >= len(opened):
            opened = None
    return opened


def close_open_fence(text: str) -> str:
    fence = open_fence(text)
    if fence is None:
        return text
    return text + ("" if text.endswith("\n") else "\n") + fence


def split_point(text: str, limit: int) -> int:
    """Where to end a part of at most ``limit`` characters: a paragraph, a line, a word."""
    if len(text) <= limit:
        return len(text)
    floor = int(limit * 0.6)
    for separator in ("\n\n", "\n", " "):
        cut = text.rfind(separator, floor, limit)
        if cut != -1:
            return cut + len(separator)
    return limit


def reopening_line(head: str) -> str:
    """The fence line that re-opens, in the next part, a code block ``head`` leaves open.

    A part that ends inside a code block is closed with its fence and the next
    part re-opens it, so both messages render as code; no character of the
    answer is lost or repeated, only fence lines are added.
    """
    fence = open_fence(head)
    if fence is None:
        return ""
    for line in reversed(head.splitlines()):
        if line.lstrip().startswith(fence):
            return line.strip() + "\n"
    return fence + "\n"
