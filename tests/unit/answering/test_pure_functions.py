"""Pure functions whose edge cases are cheaper to pin down directly than over HTTP."""
from threadwise.answering.model_input import trim_to_budget, QuestionTooLong
from threadwise.model.tokens import estimate_tokens
from threadwise.model.types import Turn
from threadwise.slack.events import strip_mention
from threadwise.slack.reply_format import close_open_fence, open_fence, reopening_line, split_point
from scripts.env_yaml import parse as parse_env_yaml

import pytest


def test_cjk_counts_at_least_one_token_per_character():
    chinese = "高麗菜包的英文翻譯是什麼" * 10
    assert estimate_tokens(chinese) >= len(chinese)
    english = "the quick brown fox jumps over the lazy dog " * 10
    # Real tokenizers give ~1 token per 4-5 English characters; we stay above that.
    assert estimate_tokens(english) >= len(english) / 4


def test_trim_drops_oldest_turns_and_keeps_the_question():
    turns = [Turn("user", "old " * 300), Turn("assistant", "mid " * 300), Turn("user", "question?")]
    trimmed = trim_to_budget("system", turns, budget=500)
    assert trimmed.turns[-1].text == "question?"
    assert trimmed.dropped_turns >= 1
    assert trimmed.estimated_tokens <= 500


def test_question_alone_over_budget_is_refused():
    with pytest.raises(QuestionTooLong):
        trim_to_budget("system", [Turn("user", "x" * 5000)], budget=500)


def test_strip_mention_only_removes_the_bot():
    assert strip_mention("<@UBOT> ask <@U2> about it", "UBOT") == "ask <@U2> about it"


def test_fences_are_tracked_and_reopened():
    head = "text\n```python\nprint(1)\n"
    assert open_fence(head) == "```"
    assert close_open_fence(head).endswith("```")
    assert reopening_line(head) == "```python\n"
    assert open_fence("```\ncode\n```\n") is None


def test_split_prefers_paragraphs_then_lines():
    text = ("a" * 70 + "\n\n") + ("b" * 50)
    cut = split_point(text, 100)
    assert text[:cut].endswith("\n\n")


def test_env_yaml_parsing():
    values = parse_env_yaml("# c\nA: one\nB: 'two words'\nC: x # comment\n")
    assert values == {"A": "one", "B": "two words", "C": "x"}


def test_slack_escapes_are_undone_for_the_model():
    assert strip_mention("<@UBOT> is 1 &lt; 2 &amp;&amp; 3 &gt; 2?", "UBOT") == "is 1 < 2 && 3 > 2?"
