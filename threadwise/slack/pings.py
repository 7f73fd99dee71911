"""No answer pings a channel or a group: special mentions in the model's text are shown, not sent.

Slack notifies a whole channel or group for control sequences in a message:
``<!here>``, ``<!channel>``, ``<!everyone>`` (``<!group>`` is an old synonym
of ``<!channel>``) and user groups ``<!subteam^ID>``, each also with a
``|label`` (Slack's message-formatting reference). The model can write them:
it was asked to, or a document told it to. Every text the bot posts goes
through ``quiet``, which shows such a mention as ``@here`` with an invisible
WORD JOINER (U+2060) after the ``@``: it reads the same, is no control
sequence, and cannot match a plain ``@here`` either (which the ``markdown``
block's translation is not documented to leave alone). The HTML-escaped
forms (``&lt;!here&gt;``) are treated the same way, since a Markdown reader
decodes entities. Mentions of one person (``<@U…>``) stay: the model
addresses people that way in a thread, as the system prompt asks.

Native streaming appends pieces that Slack joins, so a mention could be built
across two pieces (``<!chan`` + ``nel>``): ``stream_safe`` holds back a tail
that more text could still turn into a mention, until it is complete or the
answer ends.
"""
from __future__ import annotations

import re

WORD_JOINER = "\u2060"
_NAMES = ("here", "channel", "everyone", "group")
_SPECIAL = re.compile(r"(?:<|&lt;)!(here|channel|everyone|group|subteam\^[A-Za-z0-9]+)(?:\|([^<>\n]*?))?(?:>|&gt;)",
                      re.IGNORECASE)
_PLAIN = re.compile(r"(?<![\w@])@(here|channel|everyone)\b", re.IGNORECASE)
_UNCLOSED = re.compile(r"(?:<|&lt;)([^<>\n]*)$")  # an opening with no closing after it yet
_PARTIAL_ENTITY = re.compile(r"&(?:l|lt|g|gt)?$")  # the start of "&lt;" or "&gt;"
_PARTIAL_PLAIN = re.compile(r"(?<![\w@])@([A-Za-z]*)$")


def quiet(text: str) -> str:
    """``text`` with every channel, here, everyone and user-group mention shown but not live."""
    text = _SPECIAL.sub(_shown, text)
    return _PLAIN.sub(lambda match: "@" + WORD_JOINER + match.group(1), text)


def stream_safe(text: str) -> str:
    """``quiet(text)`` up to where more text could still complete a mention. Growing ``text`` only
    grows the result: what was streamed stays a prefix of what follows."""
    return quiet(text[:_held_from(text)])


def _shown(match: re.Match) -> str:
    name, label = match.group(1), (match.group(2) or "").strip().lstrip("@")
    if not label and name.lower().startswith("subteam^"):
        label = name.split("^", 1)[1]  # a user group without its name: its id
    return "@" + WORD_JOINER + (label or name.lower())


def _held_from(text: str) -> int:
    """Where an unfinished mention may begin at the end of ``text`` (``len(text)``: nowhere)."""
    starts = [len(text)]
    unclosed = _UNCLOSED.search(text)
    if unclosed and _could_become_special(unclosed.group(1)):
        starts.append(unclosed.start())
    entity = _PARTIAL_ENTITY.search(text)
    if entity:
        starts.append(entity.start())
    plain = _PARTIAL_PLAIN.search(text)
    if plain and any(name.startswith(plain.group(1).lower()) for name in _NAMES[:3]):
        starts.append(plain.start())  # (also a whole "@here": the next letter decides whether it is one)
    return min(starts)


def _could_become_special(body: str) -> bool:
    """Whether what follows an opening ``<`` could still grow into a special mention."""
    if not body:
        return True
    if not body.startswith("!") or "&gt;" in body:  # (closed by "&gt;": quiet has seen it whole)
        return False
    name = re.sub(r"&(?:g|gt)?$", "", body[1:]).split("|", 1)[0].lower()
    if "|" not in body and any(full.startswith(name) for full in (*_NAMES, "subteam^")):
        return True
    return name in _NAMES or re.fullmatch(r"subteam\^[a-z0-9]*", name) is not None
