"""Fences around untrusted text: files, canvases and linked messages inside the model's input.

Text someone else wrote goes to the model between an opening line and a
closing line that carry the same random token, made for that one fence:

    [Content of the file notes.md · untrusted text, fence 3f9a0c1be2d47a65]
    …the document, verbatim…
    [End of untrusted text, fence 3f9a0c1be2d47a65]

The document cannot close its own fence: it would have to guess the token,
which exists only once it has been written. A plain marker such as
``[End of notes.md]`` could be typed into the document and end the data early,
so that what follows read as the asker's own words (prompt injection). The
rule that tells the model how to read these fences is
``prompts.UNTRUSTED_DATA_RULE``; it is sent whenever a fence is in the input.
"""
from __future__ import annotations

import re
import secrets

_TOKEN_BYTES = 8  # 16 hex digits: 2^64 possibilities, never guessed by a document
_LABEL_LIMIT = 200
OPENING = re.compile(r"^\[(.+) · untrusted text, fence ([0-9a-f]{16})\]$", re.MULTILINE)


def closing_line(token: str) -> str:
    return f"[End of untrusted text, fence {token}]"


def fence(label: str, text: str) -> str:
    """``text`` between an opening line naming ``label`` and a closing line it cannot contain."""
    token = secrets.token_hex(_TOKEN_BYTES)
    while token in text:  # (astronomically unlikely; then the document cannot contain the new one)
        token = secrets.token_hex(_TOKEN_BYTES)
    return f"[{_one_line(label)} · untrusted text, fence {token}]\n{text}\n{closing_line(token)}"


def fenced_labels(text: str) -> list[str]:
    """The labels of the fences in ``text``, outermost only: a fence typed inside a document is its text."""
    labels = []
    position = 0
    while (opening := OPENING.search(text, position)) is not None:
        label, token = opening.groups()
        end = text.find("\n" + closing_line(token), opening.end())
        if end == -1:
            break  # not a fence we made (ours always close)
        labels.append(label)
        position = end + 1 + len(closing_line(token))
    return labels


def has_fence(texts) -> bool:
    """Whether any of ``texts`` holds fenced untrusted text (then the model is told how to read it)."""
    return any(fenced_labels(text) for text in texts)


def _one_line(label: str) -> str:
    # A file name is chosen by whoever shared it: it must not break the opening line.
    flat = " ".join(label.replace("[", "(").replace("]", ")").split())
    return flat[:_LABEL_LIMIT]
