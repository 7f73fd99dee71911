"""The month's daily cost as a bar chart drawn with block characters, for the Home tab's code block.

Slack shows an image only from a public URL or a file the viewer may see (AI_SURFACE_FACTS.md C):
text bars need neither a host nor an upload, and read the same in the playground.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Sequence

EIGHTHS = " ▁▂▃▄▅▆▇█"  # index = eighths of a cell filled
ROWS = 4  # the chart's height in lines: 32 levels


def daily_cost_chart(daily: Sequence[Decimal], days_shown: int, money) -> str:
    """Bars for the first ``days_shown`` days (the days so far), one column a day, ``ROWS`` lines high,
    with the top value at the left and the day numbers under the bars. ``money`` formats a Decimal."""
    days = list(daily[:days_shown])
    top = max(days, default=Decimal(0))
    levels = [0 if top <= 0 else int((cost / top * ROWS * 8).to_integral_value()) for cost in days]
    levels = [max(level, 1) if cost > 0 else 0 for level, cost in zip(levels, days)]  # a cent is not nothing
    label = f"{money(top)} "
    pad = " " * len(label)
    lines = []
    for row in range(ROWS - 1, -1, -1):
        cells = "".join(EIGHTHS[min(8, max(0, level - row * 8))] for level in levels)
        lines.append(((label if row == ROWS - 1 else pad) + cells).rstrip())
    lines.append(pad + _axis(len(days)))
    return "\n".join(lines)


def _axis(days: int) -> str:
    """Day numbers under their columns: 1, 5, 10, 15… where they fit."""
    axis = [" "] * days
    for day in [1, *range(5, days + 1, 5)]:
        text = str(day)
        start = day - 1
        if start + len(text) <= days and all(c == " " for c in axis[max(0, start - 1):start + len(text)]):
            axis[start:start + len(text)] = text
    return "".join(axis).rstrip()
