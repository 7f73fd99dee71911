"""Reading fenced untrusted text back out of a model request (threadwise.model.fences' format)."""
from __future__ import annotations

import re


def fenced(text: str, label: str) -> str:
    """What the fence labelled ``label`` holds; AssertionError when there is no such fence, closed."""
    opening = re.search(r"^\[" + re.escape(label) + r" · untrusted text, fence ([0-9a-f]{16})\]\n", text, re.MULTILINE)
    assert opening, f"no fence labelled {label!r} in {text[:300]!r}"
    closing = f"\n[End of untrusted text, fence {opening.group(1)}]"
    assert closing in text[opening.end() - 1:], f"the fence labelled {label!r} is not closed"
    return text[opening.end():text.index(closing, opening.end() - 1)]
