"""Thread history → model input, within a token budget.

Slack is the memory: the thread, read back with ``conversations.replies``, is
the conversation. The bot's own replies become ``assistant`` turns, people
become ``user`` turns (prefixed with their mention when several people talk),
and the new question comes last, exactly once. The turns and the input are the
model room's types; tokens are counted with its offline, conservative
estimate (``threadwise.model.tokens``), so that a budget we think fits really does.
"""
from __future__ import annotations

import re

from threadwise.slack.events import Ask, strip_mention, unescape
from threadwise.slack.reply_format import PLACEHOLDER_TEXT
from threadwise.model.fences import fence
from threadwise.model.tokens import estimate_tokens, turn_tokens
from threadwise.model.types import ModelInput, Turn
from threadwise.slack.messages import SlackMessage

# Our own end markers ("_⏹ Stopped…_", "_⚠️ …_") are for people, not for the model.
_MARKER_TAIL = re.compile(r"\n*_(?:⏹|⚠️)[^\n]*_\s*$")


class QuestionTooLong(Exception):
    def __init__(self, tokens: int, budget: int):
        super().__init__(f"question needs ~{tokens} tokens, budget is {budget}")
        self.tokens = tokens
        self.budget = budget


def history_turns(messages: list[SlackMessage], ask: Ask, bot_user_id: str, is_own,
                  file_texts: dict | None = None, file_images: dict | None = None) -> list[Turn]:
    """The thread before the question as turns, consecutive bot parts merged; files
    shared in a message (already read, by file id) follow that message's text."""
    file_texts = file_texts or {}
    file_images = file_images or {}
    earlier = [m for m in messages if _before(m, ask, is_own) and m.subtype not in _SKIPPED_SUBTYPES]
    speakers = {m.user for m in earlier if not is_own(m) and m.user} | {ask.user}
    several = len(speakers) > 1
    turns: list[Turn] = []
    for message in earlier:
        if is_own(message):
            text = _MARKER_TAIL.sub("", unescape(message.text)).strip()
            if not text or text == PLACEHOLDER_TEXT:
                continue
            if turns and turns[-1].role == "assistant":
                turns[-1] = Turn("assistant", turns[-1].text + text)
            else:
                turns.append(Turn("assistant", text))
            continue
        text = _with_files(strip_mention(message.text, bot_user_id), message.files, file_texts)
        if not text and not _images_of(message.files, file_images):
            continue
        turns.append(Turn("user", _speaker_prefix(message.user, several) + text,
                          _images_of(message.files, file_images)))
    turns.append(Turn("user", _speaker_prefix(ask.user, several) + _with_files(ask.text, ask.files, file_texts),
                      _images_of(ask.files, file_images)))
    return turns


def earlier_files(messages: list[SlackMessage], ask: Ask, is_own) -> list:
    """Files people shared in the thread up to and including the question, newest first."""
    shared = [f for m in messages if _ts(m.ts) < _ts(ask.ts) and not is_own(m) for f in m.files]
    return list(ask.files) + shared[::-1]


def _images_of(files, file_images: dict) -> tuple[str, ...]:
    return tuple(image.data_url for image in (file_images.get(f.id) for f in files) if image)


def _with_files(text: str, files, file_texts: dict) -> str:
    # Fenced as a file's content, so the model reads it as data, not as instructions: the fence
    # carries a token the file cannot know, so the file cannot end it early.
    attached = [fence(f"Content of the file {t.name}", t.text)
                for t in (file_texts.get(f.id) for f in files) if t]
    return "\n\n".join(part for part in [text, *attached] if part)


def trim_to_budget(system_prompt: str, turns: list[Turn], budget: int) -> ModelInput:
    """Drop the oldest turns until the input fits; the question itself is never dropped."""
    costs = [turn_tokens(t) for t in turns]
    fixed = estimate_tokens(system_prompt) + costs[-1]
    if fixed > budget:
        raise QuestionTooLong(fixed, budget)
    total = fixed + sum(costs[:-1])
    start = 0
    while total > budget and start < len(turns) - 1:
        total -= costs[start]
        start += 1
    return ModelInput(system_prompt, turns[start:], dropped_turns=start, estimated_tokens=total)


def drop_older_half(model_input: ModelInput) -> ModelInput | None:
    """For when the model's real count disagrees with our estimate: keep the newer half."""
    history = model_input.turns[:-1]
    if not history:
        return None
    drop = (len(history) + 1) // 2
    turns = model_input.turns[drop:]
    tokens = estimate_tokens(model_input.system_prompt) + sum(turn_tokens(t) for t in turns)
    return ModelInput(model_input.system_prompt, turns, model_input.dropped_turns + drop, tokens)


_SKIPPED_SUBTYPES = {"channel_join", "channel_leave", "group_join", "group_leave", "channel_topic",
                     "channel_purpose", "channel_name", "pinned_item", "unpinned_item"}


def _speaker_prefix(user: str | None, several: bool) -> str:
    return f"<@{user}>: " if several and user else ""


def _before(message: SlackMessage, ask: Ask, is_own) -> bool:
    """Before the question in the thread; or a part of our answer to an earlier question, posted after it
    (the question waited for that answer: answering/turns.py), which it reads as coming first."""
    if _ts(message.ts) < _ts(ask.ts):
        return True
    question = message.metadata.payload.get("question") if message.metadata and is_own(message) else None
    return bool(question) and _ts(str(question)) < _ts(ask.ts)


def _ts(value: str) -> tuple[int, int]:
    seconds, _, micros = value.partition(".")
    try:
        return int(seconds), int(micros or 0)
    except ValueError:
        return (0, 0)
