"""responsiveness_bench.py's figures: issue 13's table, each figure next to its goal, from the scenarios' raw
numbers (responsiveness_scenarios.py). A figure that never happened within the scenario's wait (a stream
never closed, a reply that never showed it stopped) counts as missed, and is said so."""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

from measures import pct


@dataclass
class Figure:
    name: str
    value: str          # as printed
    goal: str
    met: bool | None    # None: nothing to judge (no goal, or not measured)
    raw: object = None  # the numbers behind it (seconds, counts), for the JSON line


def seconds(values: list) -> dict:
    """median, worst, p50/p99 of the measured values; ``never``: how many did not happen at all."""
    got = [v for v in values if v is not None]
    return {"n": len(values), "never": len(values) - len(got),
            "median": round(statistics.median(got), 3) if got else None,
            "worst": round(max(got), 3) if got else None,
            "p50": round(pct(got, 50), 3) if got else None, "p99": round(pct(got, 99), 3) if got else None}


def _s(value) -> str:
    return "-" if value is None else f"{value:.2f} s"


def median_worst(name: str, values: list, goal_s: float) -> Figure:
    s = seconds(values)
    never = f", {s['never']} of {s['n']} never" if s["never"] else ""
    worst_ok = s["worst"] is not None and s["worst"] <= goal_s and not s["never"]
    return Figure(name, f"median {_s(s['median'])}, worst {_s(s['worst'])}{never}", f"≤ {goal_s:g} s",
                  worst_ok if s["n"] else None, s)


def _ms(value) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def percentile(name: str, values: list, q: int, goal_s: float, of: int, goal: str = "", show=_s) -> Figure:
    """p``q`` over ``of`` answers: an answer that never got there counts as the worst."""
    got = [v for v in values if v is not None]
    missing = of - len(got)
    value = pct(got + [float("inf")] * missing, q) if of else None
    shown = "never" if value == float("inf") else show(value)
    extra = f" ({missing} of {of} never)" if missing else ""
    return Figure(name, shown + extra, goal or f"≤ {goal_s:g} s", None if value is None else value <= goal_s,
                  {"q": q, "value": None if value in (None, float("inf")) else round(value, 4), "missing": missing})


def count(name: str, got: int, goal: int, *, at_most: bool = False, of: int | None = None) -> Figure:
    value = f"{got}/{of}" if of is not None else str(got)
    goal_text = (f"{goal}/{of}" if of is not None else str(goal)) if not at_most else f"{goal}"
    return Figure(name, value, goal_text, got <= goal if at_most else got == goal, got)


# --------------------------------------------------------------------------- the table
def figures(results: dict, pubsub: bool) -> list[Figure]:
    rows: list[Figure] = []
    close_goal = 1.0 if pubsub else 0.3
    if "quiet" in results:
        q = results["quiet"]
        rows += [median_worst("quiet: event → placeholder or status", q["shown"], 1.0),
                 median_worst("quiet: model's last token → whole answer shown", q["last_token_to_shown"], 0.5),
                 median_worst(f"quiet: Stop → model stream closed ({'Pub/Sub' if pubsub else 'thread'})",
                              [s["closed"] for s in q["stops"]], close_goal),
                 median_worst("quiet: Stop → reply shows it stopped", [s["shown"] for s in q["stops"]], 1.0)]
    if "busy" in results:
        rounds = results["busy"]["rounds"]
        others = rounds[0]["others"] if rounds else 0
        rows += [median_worst(f"{others} answers streaming: Stop → stream closed", [r["closed"] for r in rounds], 0.5),
                 median_worst(f"{others} answers streaming: Stop → shown stopped", [r["shown"] for r in rounds], 2.0),
                 median_worst(f"{others} answers streaming: a short answer's last token → shown",
                              [r["short_last_token_to_shown"] for r in rounds], 2.0)]
    for key, final_goal, words in (("crowd", 10.0, True), ("big_crowd", 30.0, False)):
        if key not in results:
            continue
        c = results[key]
        n = c["n"]
        if words:
            rows += [percentile(f"{n} at once: first words p50", c["first_words"], 50, 2.0, n),
                     percentile(f"{n} at once: first words p99", c["first_words"], 99, 5.0, n)]
        rows += [percentile(f"{n} at once: final p99", c["final"], 99, final_goal, n),
                 count(f"{n} at once: exact answers", c["exact"], n, of=n),
                 Figure(f"{n} at once: 429s (per method)",
                        f"{sum(c['refused'].values())} {c['refused'] or ''}".strip(), "-", None, c["refused"])]
    if "crowd" in results:
        c = results["crowd"]
        rows.append(percentile(f"ack p99 at {c['n']}", c["ack"], 99, 0.1, c["n"], "< 100 ms", _ms))
    rows += [count("answers lost", results["lost"], 0, at_most=True),
             count("secret strings in the bot's logs", results["leaks"], 0, at_most=True)]
    return rows


def render(rows: list[Figure], header: str) -> str:
    width = max(len(r.name) for r in rows) + 2
    value_width = max(len(r.value) for r in rows) + 2
    lines = [header, f"  {'figure':<{width}}{'measured':<{value_width}}{'goal':<12}",
             f"  {'-' * (width - 2):<{width}}{'-' * (value_width - 2):<{value_width}}{'-' * 10}"]
    for r in rows:
        verdict = {True: "met", False: "MISSED", None: ""}[r.met]
        lines.append(f"  {r.name:<{width}}{r.value:<{value_width}}{r.goal:<12}{verdict}".rstrip())
    return "\n".join(lines)


def as_json(rows: list[Figure]) -> list[dict]:
    return [asdict(r) for r in rows]


def rounded(value, places: int = 4):
    """The raw numbers for the JSON line, floats to ``places`` decimals (a tenth of a millisecond)."""
    if isinstance(value, float):
        return round(value, places)
    if isinstance(value, dict):
        return {k: rounded(v, places) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, places) for v in value]
    return value
