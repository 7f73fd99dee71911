"""Context beyond the thread: the channel's canvas and Slack messages linked in the question.

The canvas is read like a shared file (it downloads as HTML). A pasted link
to a Slack message (``https://<team>.slack.com/archives/<channel>/p<ts>``)
brings that message and its thread — only when the asker can see that
conversation, and, for a private conversation, only when the answer stays
as private (a DM with the bot, or the same conversation).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from threadwise import logs
from threadwise.model.fences import fence
from threadwise.slack.events import Ask, SlackFile, unescape
from slack_client import SlackGateway
from threadwise.slack.messages import SlackMessage

log = logs.get(__name__)

MAX_LINKS = 3
MAX_LINKED_CHARS = 8_000  # per linked thread
_LINK = re.compile(
    r"https://[A-Za-z0-9-]+(?:\.enterprise)?\.slack\.com/archives/([CGD][A-Z0-9]{2,})/p(\d{16})"
    r"(?:\?[^\s|>]*?thread_ts=(\d{10}\.\d{6}))?"
)


@dataclass(frozen=True)
class MessageLink:
    channel: str
    ts: str
    thread_ts: str | None


@dataclass(frozen=True)
class LinkedContext:
    texts: list[str]  # blocks of text added to the question, each marked as linked content
    notes: list[str]  # what could not be used, said under the answer


def message_links(text: str) -> list[MessageLink]:
    links: list[MessageLink] = []
    for channel, digits, thread_ts in _LINK.findall(text or ""):
        link = MessageLink(channel, f"{digits[:10]}.{digits[10:]}", thread_ts or None)
        if link not in links:
            links.append(link)
    return links[:MAX_LINKS]


def channel_canvas(ask: Ask, slack: SlackGateway) -> SlackFile | None:
    """The channel's canvas as a file to read, when the question is asked in a channel that has one."""
    if ask.channel_type == "im":
        return None
    info = slack.conversation(ask.channel)
    canvas = ((info or {}).get("properties") or {}).get("canvas") or {}
    file_id = canvas.get("file_id")
    if not isinstance(file_id, str) or canvas.get("is_empty"):
        return None
    file = slack.file_info(file_id)
    if file is None:
        return None
    return SlackFile(file.id, f"channel canvas “{file.name}”", file.mimetype, file.filetype, file.size, file.url)


def read_links(ask: Ask, slack: SlackGateway, private_answer: bool) -> LinkedContext:
    texts: list[str] = []
    notes: list[str] = []
    for link in message_links(ask.text):
        where = slack.conversation(link.channel)
        if where is None:
            notes.append("I could not open a linked message (I am not in that conversation).")
            continue
        private = bool(where.get("is_private") or where.get("is_im") or where.get("is_mpim"))
        if private and not slack.is_member(link.channel, ask.user):
            notes.append("A linked message is in a conversation you are not in, so I did not read it.")
            continue
        if private and not private_answer and link.channel != ask.channel:
            notes.append("A linked message is in a private conversation, so I did not bring it into this "
                         "channel; ask me in a DM to use it.")
            continue
        thread = slack.message_with_thread(link.channel, link.thread_ts or link.ts)
        if not thread or all(m.ts != link.ts for m in thread):
            notes.append("I could not read a linked message (it may be deleted, or I am not in that channel).")
            continue
        texts.append(_as_text(link, where, thread, slack))
    return LinkedContext(texts, notes)


def _as_text(link: MessageLink, where: dict, thread: list[SlackMessage], slack: SlackGateway) -> str:
    name = f"#{where['name']}" if where.get("name") and not where.get("is_im") else "a direct message"
    lines = []
    for message in thread:
        author = "the assistant" if slack.is_own(message) else f"<@{message.user}>" if message.user else "a bot"
        mark = " (the linked message)" if message.ts == link.ts else ""
        lines.append(f"{author}{mark}: {unescape(message.text)}")
    body = "\n".join(lines)
    if len(body) > MAX_LINKED_CHARS:
        body = body[:MAX_LINKED_CHARS] + " […cut]"
    # Fenced like file content (a token the message cannot know): material to answer from, not instructions.
    return fence(f"Linked Slack message in {name}", body)
