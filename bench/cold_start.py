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
that group, also on errors, Ctrl-C and SIGTERM. Part (a) is in cold_start_imports.py, the
printed report in cold_start_report.py.

    python bench/cold_start.py [--repeat 5] [--no-dev-server]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
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
from cold_start_imports import import_runs  # noqa: E402  (bench/cold_start_imports.py: part (a))
from cold_start_report import pyc_state, render, stats  # noqa: E402  (bench/cold_start_report.py)
from standins.openai_api import FakeOpenAI, Script  # noqa: E402
from standins.slack_api import FakeSlack  # noqa: E402


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


def main(argv=None) -> int:
    return run_main("cold_start", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
