"""TokenCounts: OpenAI's four counts, nested as OpenAI nests them (cached in input, reasoning in output)."""
from __future__ import annotations

import pytest

from threadwise.usage.tokens import TokenCounts

pytestmark = pytest.mark.in_process


def test_zero_by_default_and_summed_per_field():
    assert TokenCounts() == TokenCounts(0, 0, 0, 0)
    first, second = TokenCounts(3000, 1000, 1500, 1000), TokenCounts(400, 0, 20, 0)
    assert first + second == TokenCounts(input=3400, cached_input=1000, output=1520, reasoning=1000)
    assert sum([first, second], TokenCounts()) == first + second, "a tool loop's requests add up"


@pytest.mark.parametrize("counts, said", [
    (dict(input=-1), r"input must be a whole number of tokens, not -1"),
    (dict(output=1.5), r"output must be a whole number of tokens, not 1.5"),
    (dict(reasoning=True), r"reasoning must be a whole number"),
    (dict(input=10, cached_input=11), r"cached_input \(11\) is part of input \(10\)"),
    (dict(output=5, reasoning=6), r"reasoning \(6\) is part of output \(5\)"),
])
def test_counts_that_cannot_be_are_refused(counts, said):
    with pytest.raises(ValueError, match=said):
        TokenCounts(**counts)


def test_frozen():
    with pytest.raises(AttributeError):
        TokenCounts().input = 1  # type: ignore[misc]
