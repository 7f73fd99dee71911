"""knowledge_bench's printed report: the table of scenarios and where the time went."""
from __future__ import annotations

from knowledge_world import WEB_NOTE, Scenario

# --------------------------------------------------------------------------- output
def _num(value, width: int, digits: int = 1, sign: bool = False) -> str:
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:>+{width}.{digits}f}" if sign else f"{value:>{width}.{digits}f}"


def render(r: dict, active: list[Scenario], args) -> str:
    m = r["model_script"]
    d = r["documents"]
    numbers = r["scenarios"]
    by_key = {s.key: s for s in active}
    p50 = {k: v["first_text_ms"]["p50"] for k, v in numbers.items()}
    lines = [
        f"knowledge_bench  repeat={r['repeat']}  DISPATCH=thread  STREAM_UPDATE_INTERVAL={r['interval']}  "
        f"THREADS=16  (commit {r['commit']})",
        f"  model stand-in: first token {m['first_token_delay'] * 1000:.0f} ms, {m['deltas']} deltas x "
        f"{m['chunk_chars']} chars every {m['delta_delay'] * 1000:.0f} ms; a tool call also comes after "
        f"{m['first_token_delay'] * 1000:.0f} ms, and the second request answers after another "
        f"{m['first_token_delay'] * 1000:.0f} ms",
        f"  machine: {r['cpus']} CPUs, load average {r['loadavg_start'][0]:.2f} at the start, "
        f"{r['loadavg_end'][0]:.2f} at the end; one bot process, all stand-ins in this process on 127.0.0.1",
        f"  documents: text {d['text_bytes']:,} B; PDF {d['pdf_bytes']:,} B with {d['pdf_chars']:,} chars of text; "
        f"docx {d['docx_bytes']:,} B with {d['docx_chars']:,} chars; PNG {d['image_bytes']:,} B; "
        f"canvas {d['canvas_html_bytes']:,} B of HTML",
        "  times in ms from the event POST; 'added' is the first-text p50 minus that of the row in 'vs';",
        "  '1st use' is the first question of that kind in the process (before the measured ones);",
        f"  p99 is the nearest rank (with n={r['repeat']} it is the largest)",
        "",
        f" {'#':>2}  {'scenario':<36}{'n':>4}{'first text p50':>16}{'p99':>8}{'added p50':>11}{'vs':>4}"
        f"{'final p50':>11}{'Slack calls':>13}{'model reqs':>12}{'1st use':>9}",
    ]
    for key, v in numbers.items():
        s = by_key[key]
        base = by_key.get(s.base)
        added = (p50[key] - p50[s.base]) if key != s.base and base and p50.get(key) is not None \
            and p50.get(s.base) is not None else None
        lines.append(
            f" {s.number:>2}  {s.label:<36}{v['n']:>4}{_num(v['first_text_ms']['p50'], 16)}"
            f"{_num(v['first_text_ms']['p99'], 8)}{_num(added, 11, sign=True)}"
            f"{(str(base.number) if base and key != s.base else '-'):>4}{_num(v['final_ms']['p50'], 11)}"
            f"{_num(v['slack_calls_per_answer'], 13)}{_num(v['model_requests_per_answer'], 12)}"
            f"{_num(v['first_use_first_text_ms'], 9)}")
    tools = [s for s in active if s.tool and numbers[s.key]["first_text_ms"]["p50"] is not None]
    if tools and p50.get("baseline") is not None:
        lines += ["", f"tool rows: the added time includes a second model request with its own "
                      f"{m['first_token_delay'] * 1000:.0f} ms first token (the stand-in's delay);",
                  "  added minus that = our tool overhead; of it, the tool round (running the tool and sending the",
                  "  second request) and the wait from the model's first delta until Slack shows it (the status",
                  "  update, e.g. '_Searching Notion…_', took the last update slot: STREAM_UPDATE_INTERVAL):",
                  f"    {'':<36}{'added-300':>10}{'tool round':>12}{'delta->visible':>16}   (p50, ms)"]
        for s in tools:
            added = p50[s.key] - p50["baseline"]
            v = numbers[s.key]
            lines.append(f"    {s.label:<36}{_num(added - m['first_token_delay'] * 1000, 10, sign=True)}"
                         f"{_num(v['tool_round_ms']['p50'], 12)}{_num(v['model_first_delta_to_visible_ms']['p50'], 16)}")
    lines += ["", "where the time went (p50, ms): event -> first model request arrives | tool round (first model "
                  "response done -> second request arrives) |",
              "  model's first text delta sent -> that text visible in Slack | per answer: file downloads, "
              "requests to Notion/GitHub/Google",
              f" {'#':>2}  {'scenario':<36}{'event->model':>13}{'tool round':>12}{'delta->visible':>16}"
              f"{'file GETs':>11}{'provider reqs':>15}"]
    for key, v in numbers.items():
        s = by_key[key]
        lines.append(f" {s.number:>2}  {s.label:<36}{_num(v['event_to_model_request_ms']['p50'], 13)}"
                     f"{_num(v['tool_round_ms']['p50'], 12)}{_num(v['model_first_delta_to_visible_ms']['p50'], 16)}"
                     f"{_num(v['file_downloads_per_answer'], 11)}{_num(v['provider_requests_per_answer'], 15)}")
    lines += ["", "Slack API calls per answer, by method (mean):"]
    for key, v in numbers.items():
        methods = ", ".join(f"{name} {count:g}" for name, count in v["slack_methods_per_answer"].items())
        lines.append(f" {by_key[key].number:>2}  {key:<9} {methods}")
    if "web" in numbers:
        lines += ["", f"note: {WEB_NOTE}"]
    for key, why in r["skipped"].items():
        lines.append(f"skipped: {key}: {why}")
    problems = [(key, p) for key, v in numbers.items() for p in v["problems"]]
    for key, problem in problems:
        lines.append(f"problem: {key}: {problem}")
    lines.append(f"answers: {sum(v['exact'] for v in numbers.values())}/{sum(v['n'] for v in numbers.values())} "
                 f"measured answers with the exact expected text; bot log lines WARNING or worse: "
                 f"{r['log_warnings_or_errors']}")
    lines.append(f"result: {'OK' if r['ok'] else 'FAILED'}")
    return "\n".join(lines)
