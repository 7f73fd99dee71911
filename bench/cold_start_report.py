"""cold_start's printed report, and the min/median/max its numbers are summarised with."""
from __future__ import annotations

import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stats(values: list[float]) -> dict:
    ms = [v * 1000 for v in values if v is not None]
    if not ms:
        return {"n": 0, "min": None, "median": None, "max": None}
    return {"n": len(ms), "min": round(min(ms), 1), "median": round(statistics.median(ms), 1),
            "max": round(max(ms), 1)}


def pyc_state() -> dict:
    """Which of the project's modules have a .pyc matching their source (PYTHONDONTWRITEBYTECODE stops rewrites)."""
    import importlib.util

    fresh, stale = [], []
    for source in sorted(ROOT.glob("*.py")):
        cached = Path(importlib.util.cache_from_source(str(source)))
        try:
            header = cached.read_bytes()[:16]
            mtime, size = int.from_bytes(header[8:12], "little"), int.from_bytes(header[12:16], "little")
            stat = source.stat()
            ok = mtime == int(stat.st_mtime) & 0xFFFFFFFF and size == stat.st_size & 0xFFFFFFFF
        except OSError:
            ok = False
        (fresh if ok else stale).append(source.stem)
    return {"fresh": len(fresh), "stale_or_missing": stale}


def render(r: dict, args) -> str:
    i = r["import"]
    def s(d: dict) -> str:
        if not d["n"]:
            return f"{'(none)':<45}"
        return f"min {d['min']:>7.1f}   median {d['median']:>7.1f}   max {d['max']:>7.1f}"

    lines = [
        f"cold_start  repeat={r['repeat']}  python {r['python']}  cpus={r['cpus']}   (commit {r['commit']})",
        f"  environment: bot_env with production settings (SLACK_RATE_LIMITS, STREAM_UPDATE_INTERVAL, LOG_LEVEL "
        f"unset), THREADS=16; PYTHONDONTWRITEBYTECODE={'1' if r['pythondontwritebytecode'] else 'unset'}, "
        f"project .pyc up to date for {r['project_pyc']['fresh']} modules, stale/missing: "
        f"{r['project_pyc']['stale_or_missing'] or 'none'}",
        "(a) import main in a fresh interpreter                      (ms)",
        f"  import main (perf_counter)        {s(i['import_ms'])}   runs: {i['runs_import_ms']}",
        f"  interpreter start+import+exit     {s(i['interpreter_run_ms'])}",
        f"  -X importtime: main cumulative    {s(i['importtime_main_cumulative_ms'])}   (importtime's own overhead included)",
        f"  top {len(i['top_cumulative'])} cumulative (median of {r['repeat']} -X importtime runs):",
    ]
    lines += [f"    {m['cumulative_ms']:>7.1f} ms  (self {m['self_ms']:>5.1f})  {m['module']}" for m in i["top_cumulative"]]
    for label, d in i["first_question_imports_ms"].items():
        lines.append(f"  then, as the first question does: {label}: {s(d)}")
    lines.append("  largest self times: " + ", ".join(f"{m['module']} {m['self_ms']:.1f}" for m in i["top_self"]))
    watched = ", ".join(f"{k}: {'LOADED ' + str(v[:4]) if v else 'no'}" for k, v in i["watched"].items())
    lines.append(f"  imported by import main ({i['modules_before_import']} modules before it, "
                 f"{i['modules_after_import']} after): {watched}")
    early = {k: v for k, v in i["watched_before"].items() if v}
    if early:
        lines.append(f"  already in sys.modules before import main (site's .pth namespace stubs): {early}")
    lines.append("  also: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in i["also"].items()))
    for name, sv in r["servers"].items():
        title = ("gunicorn (BotProcess / ./scripts/run: functions-framework, 1 gthread worker)" if name == "gunicorn"
                 else "dev server (functions-framework --debug: Flask/werkzeug, debugger + reloader)")
        lines += [
            f"(b) {title}",
            f"  $ {sv['command']}",
            f"  Popen -> port open                {s(sv['popen_to_port_open_ms'])}",
            f"  Popen -> first 200 (url_verif.)   {s(sv['popen_to_first_200_ms'])}   runs: {sv['runs_first_200_ms']}",
            f"  first app_mention: ack            {s(sv['first_mention_ack_ms'])}   runs: {sv['runs_mention_ack_ms']}",
            f"  first app_mention: placeholder    {s(sv['first_mention_placeholder_ms'])}",
            f"  first app_mention: first text     {s(sv['first_mention_first_text_ms'])}   (model's first token: 300 ms)",
            f"  first app_mention: final text     {s(sv['first_mention_final_ms'])}   exact answers: "
            f"{sv['answers_exact']}/{r['repeat']}",
        ]
    if r["commit_at_end"] != r["commit"]:
        lines.append(f"  WARNING: the code changed during the run (commit {r['commit']} at the start, "
                     f"{r['commit_at_end']} at the end)")
    lines.append(f"  result: {'OK' if r['ok'] else 'FAILED (a watched module is imported by import main)'}")
    return "\n".join(lines)

