#!/usr/bin/env python
"""Cold start of the Slack bot: ``import main`` in a fresh interpreter, and process start -> first 200.

(a) ``import main`` in a fresh interpreter with the bot's environment
    (tests/harness.py's bot_env with the production settings: SLACK_RATE_LIMITS,
    STREAM_UPDATE_INTERVAL, LOG_LEVEL … unset), timed in that interpreter with
    ``time.perf_counter()`` around the import, ``--repeat`` times; then as many
    runs with ``-X importtime``, summarised as the 10 modules with the largest
    cumulative import time (median over the runs). Prints which of ``openai``,
    ``google.*``, ``pypdf`` and ``requests`` are in ``sys.modules`` after the import
    (none should be: they are loaded when an answer needs them).
(b) Process start -> first 200: spawns the command tests/harness.py's BotProcess
    and ./scripts/run use (``functions-framework --target=slack_bot
    --source=main.py``: gunicorn, one gthread worker, THREADS=16) and, with
    ``--dev-server`` too (on by default), the Flask/werkzeug development server
    that ``functions-framework --debug`` starts instead of gunicorn. Every 5 ms it
    tries a signed ``url_verification`` POST (tests/fixtures/url_verification.json)
    until one is answered 200: Popen -> port open (first TCP connect accepted)
    and Popen -> first 200. Then it sends the first real signed ``app_mention``
    on that fresh process and times its acknowledgement (and, from FakeSlack's
    record, the placeholder and the first model text).

Every process it starts runs in a process group of its own and is stopped by
that group, also on errors, Ctrl-C and SIGTERM.

    python bench/cold_start.py [--repeat 5] [--no-dev-server]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT / "tests"), str(ROOT), str(ROOT / "bench")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import harness  # noqa: E402  (tests/harness.py)
from harness import FIXTURES, OPENAI_KEY, bot_env, sign  # noqa: E402
from common import ASKER, ThreadTracker, mention_shot, post_event, wait_answers  # noqa: E402  (bench/common.py)
from lifecycle import (  # noqa: E402  (bench/lifecycle.py)
    git_commit, run_main, signals_deferred, signals_ignored, stop_all,
)
from standins.openai_api import FakeOpenAI, Script  # noqa: E402
from standins.slack_api import FakeSlack  # noqa: E402

WATCHED = ("openai", "google", "pypdf", "requests")  # must not be imported by `import main`
ALSO_SHOWN = ("slack_sdk", "httpx", "pydantic", "sqlite3", "flask", "functions_framework", "jobs", "responder",
              "llm", "store", "pubsub_jobs")

# What the first question imports on top of `import main` (Runtime.answers, the dispatcher, llm._client).
LAZY = (("answer modules (dispatch, jobs, responder, llm, store, tools_enabled)",
         ("dispatch", "jobs", "responder", "llm", "store", "store_sqlite", "tools_enabled")),
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


# --------------------------------------------------------------------------- options
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--repeat", type=int, default=5, help="runs of each measurement")
    p.add_argument("--poll", type=float, default=0.005, help="seconds between url_verification attempts")
    p.add_argument("--start-timeout", type=float, default=60.0, help="seconds to wait for the first 200")
    p.add_argument("--no-dev-server", dest="dev_server", action="store_false",
                   help="skip the functions-framework --debug (Flask/werkzeug) server")
    p.add_argument("--top", type=int, default=10, help="modules shown from -X importtime")
    p.add_argument("--keep-log", action="store_true", help="keep the bots' logs and print their folder")
    p.add_argument("--json-only", action="store_true", help="print only the JSON line")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


# --------------------------------------------------------------------------- helpers
def stats(values: list[float]) -> dict:
    ms = [v * 1000 for v in values if v is not None]
    if not ms:
        return {"n": 0, "min": None, "median": None, "max": None}
    return {"n": len(ms), "min": round(min(ms), 1), "median": round(statistics.median(ms), 1),
            "max": round(max(ms), 1)}


def bot_environment(slack_url: str, openai_url: str, sqlite_path: Path) -> dict[str, str]:
    """What BotProcess passes: this environment minus SLACK_*/OPENAI_*, plus bot_env with production settings."""
    env = bot_env(slack_url, openai_url,
                  # None drops the test suite's values: the production defaults apply.
                  SLACK_RATE_LIMITS=None, STREAM_UPDATE_INTERVAL=None, PRACTICE_TOKEN_DELAY=None, LOG_LEVEL=None,
                  OPENAI_MAX_RETRIES=None, SQLITE_PATH=str(sqlite_path))
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI_"))}
    full.pop("DEBUG", None)  # functions-framework reads DEBUG as --debug
    full.update(env)
    full.setdefault("THREADS", "16")
    return full


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


class Group:
    """A process started in a session of its own, stopped through its process group."""

    def __init__(self, command: list[str], env: dict, log_path: Path):
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.popen_at = time.monotonic()
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def stop(self) -> None:
        if self._log.closed:
            return
        pgid = self.process.pid  # start_new_session: the group id is the leader's pid
        try:
            os.killpg(pgid, signal.SIGTERM)  # gunicorn's master stops its worker; werkzeug's reloader its child
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for _ in range(100):  # until no member of the group is left (the reloader's child may outlive its parent)
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()

    def logs(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")


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


# --------------------------------------------------------------------------- (b) process start -> first 200
def url_verification_request() -> tuple[bytes, dict]:
    body = (FIXTURES / "url_verification.json").read_bytes()
    return body, {"Content-Type": "application/json", "Connection": "close", **sign(body)}


def poll_first_200(port: int, group: Group, args) -> tuple[float | None, float | None, int]:
    """(port open, first 200) as seconds after Popen; the number of attempts."""
    body, headers = url_verification_request()
    challenge = json.loads(body)["challenge"]
    port_open = None
    attempts = 0
    deadline = group.popen_at + args.start_timeout
    while time.monotonic() < deadline:
        if group.process.poll() is not None:
            raise RuntimeError(f"the bot exited with {group.process.returncode}:\n{group.logs()[-3000:]}")
        attempts += 1
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=args.start_timeout)
        try:
            conn.connect()
            if port_open is None:
                port_open = time.monotonic() - group.popen_at
            conn.request("POST", "/", body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if response.status == 200:
                if json.loads(data).get("challenge") != challenge:
                    raise RuntimeError(f"url_verification answered without the challenge: {data[:200]!r}")
                return port_open, time.monotonic() - group.popen_at, attempts
        except (OSError, http.client.HTTPException):
            pass  # not listening yet, or the connection was dropped while the server starts
        finally:
            conn.close()
        time.sleep(args.poll)
    raise RuntimeError(f"no 200 within {args.start_timeout} s:\n{group.logs()[-3000:]}")


def server_runs(name: str, command_for, env: dict, slack: FakeSlack, log_dir: Path, args, stack: list) -> dict:
    port_open, first_200, attempts, mention_ack, placeholder, first_text, final = [], [], [], [], [], [], []
    answers_exact = 0
    for rep in range(1, args.repeat + 1):
        port = harness.free_port()
        run_env = dict(env, SQLITE_PATH=str(log_dir / f"{name}-{rep}.sqlite3"))
        with signals_deferred():
            group = Group(command_for(port), run_env, log_dir / f"{name}-{rep}.log")
            stack.append(group.stop)
        try:
            opened, ready, tries = poll_first_200(port, group, args)
            port_open.append(opened)
            first_200.append(ready)
            attempts.append(tries)
            # --- the first real question on this fresh process
            channel = f"CCOLD{name[:3].upper()}{rep:02d}"
            slack.set_channel(channel, name=f"cold-{name}-{rep}", members=[ASKER, "UBOT"])
            shot = mention_shot(rep, channel, slack, 40, name[:1].upper())
            tracker = ThreadTracker(slack, [shot], len(slack.calls))
            post_event(port, shot, 30.0, None)
            if shot.status != 200:
                raise RuntimeError(f"first app_mention not acknowledged: {shot.status} {shot.error}\n"
                                   f"{group.logs()[-3000:]}")
            mention_ack.append(shot.end - shot.start)
            wait_answers(tracker, time.monotonic() + 30)
            tracker.poll()
            placeholder.append(shot.placeholder_at - shot.start if shot.placeholder_at else None)
            first_text.append(shot.first_text_at - shot.start if shot.first_text_at else None)
            final.append(shot.final_at - shot.start if shot.final_at else None)
            answers_exact += shot.final_status == "done" and shot.final_text == shot.expected
        finally:
            group.stop()
            stack.remove(group.stop)
    return {
        "command": " ".join(command_for(0)).replace("--port=0", "--port=<free>"),
        "popen_to_port_open_ms": stats(port_open), "popen_to_first_200_ms": stats(first_200),
        "attempts": attempts,
        "first_mention_ack_ms": stats(mention_ack), "first_mention_placeholder_ms": stats(placeholder),
        "first_mention_first_text_ms": stats(first_text), "first_mention_final_ms": stats(final),
        "answers_exact": answers_exact,
        "runs_first_200_ms": [round(v * 1000, 1) for v in first_200],
        "runs_mention_ack_ms": [round(v * 1000, 1) for v in mention_ack],
    }


# --------------------------------------------------------------------------- the run
def run(args: argparse.Namespace) -> int:
    say = (lambda *a, **k: None) if args.json_only else print
    stack: list = []
    log_dir = Path(tempfile.mkdtemp(prefix="cold_start_"))
    commit = git_commit()  # checked again at the end
    servers = {}
    try:
        slack = FakeSlack(bot_token=harness.BOT_TOKEN)
        slack.start()
        stack.append(slack.stop)
        openai = FakeOpenAI(api_key=OPENAI_KEY)
        openai.start()
        stack.append(openai.stop)
        # A short answer (10 deltas of 4 characters): the first model text is what is timed.
        openai.reply = Script(chunk_chars=4, first_token_delay=0.3, delta_delay=0.02)
        env = bot_environment(slack.base_url, openai.base_url, log_dir / "import.sqlite3")

        imports = import_runs(args, env, stack)
        ff = harness.FUNCTIONS_FRAMEWORK
        servers["gunicorn"] = server_runs(
            "gunicorn", lambda port: [ff, "--target=slack_bot", "--source=main.py", f"--port={port}",
                                      "--host=127.0.0.1"], env, slack, log_dir, args, stack)
        if args.dev_server:
            servers["dev"] = server_runs(
                "dev", lambda port: [ff, "--target=slack_bot", "--source=main.py", f"--port={port}",
                                     "--host=127.0.0.1", "--debug"], env, slack, log_dir, args, stack)
    finally:
        with signals_ignored():
            stop_all(stack, "cold_start")
            if not args.keep_log:
                for leftover in log_dir.iterdir():
                    leftover.unlink(missing_ok=True)
                log_dir.rmdir()

    pyc = pyc_state()
    result = {"bench": "cold_start", "commit": commit, "commit_at_end": git_commit(), "cpus": os.cpu_count(), "repeat": args.repeat,
              "python": sys.version.split()[0], "pythondontwritebytecode": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
              "project_pyc": pyc, "import": imports, "servers": servers}
    watched_loaded = {k: v for k, v in imports["watched"].items() if v}
    slow = imports["import_ms"]["median"] > 300
    result["ok"] = not watched_loaded
    say(render(result, args))
    if args.keep_log:
        say(f"logs kept in {log_dir}")
    print(json.dumps(result, ensure_ascii=False, separators=(",", ":")))
    if slow:
        print("cold_start: import main takes more than 300 ms (median)", file=sys.stderr)
    return 0 if result["ok"] else 1


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


def main(argv=None) -> int:
    return run_main("cold_start", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
