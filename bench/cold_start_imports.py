"""cold_start's part (a): ``import main`` in a fresh interpreter, plain, then with what the first
question imports, then under ``-X importtime``; each child in a process group of its own."""
from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from cold_start_report import stats
from lifecycle import signals_deferred

ROOT = Path(__file__).resolve().parent.parent

WATCHED = ("openai", "google", "pypdf", "requests")  # must not be imported by `import main`
ALSO_SHOWN = ("slack_sdk", "httpx", "pydantic", "sqlite3", "flask", "functions_framework",
              "threadwise.handoff.claims", "threadwise.answering.responder", "threadwise.model.client",
              "threadwise.state.store", "threadwise.handoff.pubsub")

# What the first question imports on top of `import main` (Runtime.answers, the dispatcher, llm._client).
LAZY = (("answer modules (handoff.threads, handoff.claims, responder, model.client, state, knowledge.registry)",
         ("threadwise.handoff.threads", "threadwise.handoff.claims", "threadwise.answering.responder",
          "threadwise.model.client", "threadwise.state.store", "threadwise.state.sqlite",
          "threadwise.knowledge.registry")),
        ("openai + httpx2 (the model client)", ("httpx2", "openai")))

CHILD = r"""
import json, sys, time
before = set(sys.modules)  # what the interpreter and site (.pth files) loaded
t0 = time.perf_counter()
import main
t1 = time.perf_counter()
mods = set(sys.modules)
def present(name, among):
    return sorted(m for m in among if m == name or m.startswith(name + "."))
lazy = {}
if sys.argv[1:] == ["lazy"]:  # what the first question imports later (not with -X importtime)
    for label, names in %(lazy)r:
        t = time.perf_counter()
        for name in names:
            __import__(name)
        lazy[label] = time.perf_counter() - t
print("COLD_START_RESULT " + json.dumps({
    "import_s": t1 - t0, "lazy_s": lazy,
    "modules": len(mods), "modules_before": len(before),
    "watched": {name: present(name, mods - before) for name in %(watched)r},
    "watched_before": {name: present(name, before) for name in %(watched)r},
    "also": {name: name in mods for name in %(also)r},
}))
""" % {"watched": WATCHED, "also": ALSO_SHOWN, "lazy": LAZY}


def parse_importtime(stderr: str) -> dict[str, tuple[int, int]]:
    """``-X importtime`` lines -> {module: (self µs, cumulative µs)} (the first import of each name)."""
    out: dict[str, tuple[int, int]] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        try:
            self_us, cumulative_us, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
            out.setdefault(name, (int(self_us), int(cumulative_us)))
        except ValueError:
            continue
    return out


# --------------------------------------------------------------------------- (a) import main
def import_runs(args, env: dict, stack: list) -> dict:
    plain, processes, importtime, lazy = [], [], [], {}
    checks = None
    for mode in ("plain", "lazy", "importtime"):
        for _ in range(args.repeat):
            command = [sys.executable] + {"plain": ["-c", CHILD], "lazy": ["-c", CHILD, "lazy"],
                                          "importtime": ["-X", "importtime", "-c", CHILD]}[mode]
            started = time.monotonic()
            with signals_deferred():
                child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True, start_new_session=True)
                stack.append(lambda c=child: _kill_group(c))
            out, err = child.communicate(timeout=120)
            wall = time.monotonic() - started
            stack.pop()
            line = next((x for x in out.splitlines() if x.startswith("COLD_START_RESULT ")), None)
            if child.returncode != 0 or line is None:
                raise RuntimeError(f"import main failed ({child.returncode}):\n{err[-3000:]}")
            result = json.loads(line.split(" ", 1)[1])
            if mode == "importtime":
                importtime.append(parse_importtime(err))
            elif mode == "lazy":
                for label, seconds in result["lazy_s"].items():
                    lazy.setdefault(label, []).append(seconds)
            else:
                plain.append(result["import_s"])
                processes.append(wall)
                checks = checks or result
    names = set().union(*importtime)
    medians = {name: (statistics.median(run[name][0] for run in importtime if name in run),
                      statistics.median(run[name][1] for run in importtime if name in run)) for name in names}
    top_cumulative = sorted(medians.items(), key=lambda kv: -kv[1][1])[:args.top]
    top_self = sorted(medians.items(), key=lambda kv: -kv[1][0])[:5]
    main_cum = [run.get("main", (0, 0))[1] / 1e6 for run in importtime]
    return {
        "import_ms": stats(plain),
        "first_question_imports_ms": {label: stats(values) for label, values in lazy.items()},
        "interpreter_run_ms": stats(processes),
        "importtime_main_cumulative_ms": stats(main_cum),
        "top_cumulative": [{"module": n, "cumulative_ms": round(c / 1000, 1), "self_ms": round(s / 1000, 1)}
                           for n, (s, c) in top_cumulative],
        "top_self": [{"module": n, "self_ms": round(s / 1000, 1)} for n, (s, c) in top_self],
        "modules_after_import": checks["modules"],
        "modules_before_import": checks["modules_before"],
        "watched": checks["watched"],
        "watched_before": checks["watched_before"],
        "also": checks["also"],
        "runs_import_ms": [round(v * 1000, 1) for v in plain],
    }


def _kill_group(child) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()
