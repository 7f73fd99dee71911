"""Drives the real entry point over HTTP: a functions-framework process per configuration,
and signed Slack requests built the way Slack builds them."""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-test"
OPENAI_KEY = "sk-test-key-0123456789abcdefghijklmnop"
FUNCTIONS_FRAMEWORK = str(Path(sys.executable).parent / "functions-framework")

_ids = itertools.count(1)
STARTED: list["ManagedProcess"] = []  # every process the tests started, for the log scan (log_scan.py)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class ManagedProcess:
    """A process of the tests' own, in its own process group, its output in a log file; ``stop()``
    ends it by its pid (SIGTERM, then SIGKILL to the whole group), so nothing is left behind.
    Every one is listed in ``STARTED``: the session ends by reading all their logs for secrets."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self.env = env
        self._log = open(log_path, "ab")
        STARTED.append(self)
        self.process = subprocess.Popen(command, cwd=ROOT, env=child_env(env), stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def logs(self, since: int = 0) -> str:
        """The process's output (from the log mark ``since``)."""
        with open(self.log_path, "rb") as log:
            log.seek(since)
            return log.read().decode(errors="replace")

    def log_mark(self) -> int:
        """Where the log ends now. Entries ``since`` a mark are what the process did from then on, so a
        test reads the decisions about its own requests, not those of the tests before it."""
        return self.log_path.stat().st_size

    def log_entries(self, since: int = 0) -> list[dict]:
        entries = []
        for line in self.logs(since).splitlines(keepends=True):
            if line.startswith("{") and line.endswith("\n"):  # (a line still being written is read next time)
                entries.append(json.loads(line))
        return entries

    def logged(self, since: int = 0, where=None, **fields) -> list[dict]:
        """The JSON log entries (after the mark ``since``) whose fields have these values (and ``where(entry)``)."""
        return [e for e in self.log_entries(since)
                if all(e.get(k) == v for k, v in fields.items()) and (where is None or where(e))]

    def wait_for_log(self, timeout: float = 15, since: int = 0, count: int = 1, where=None, **fields) -> list[dict]:
        """Until the process has logged ``count`` entries with these fields (a decision it states), then
        those entries: the positive signal to wait for before checking that nothing else happened."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.logged(since, where, **fields)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError(f"{len(found)} of {count} log entries {fields} within {timeout} s; "
                                     f"log:\n{self.logs()[-5000:]}")
            time.sleep(0.02)

    def kill(self) -> None:
        """Die at once, mid-answer, as an instance that is shut down does."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self._log.close()

    def stop(self) -> None:
        if self._log.closed:
            return
        if self.process.poll() is None:
            # gunicorn's master stops its worker on SIGTERM, the playground its bot; the group kill is the backstop.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self._log.close()

    def wait_exit(self, timeout: float = 30) -> int:
        """The exit code of a process that is expected to end by itself."""
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.stop()

    def wait_until(self, ready, what: str, timeout: float = 30) -> None:
        """Until ``ready()``; a process that exits or never gets there is stopped and its log shown."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{what}: exited with {self.process.returncode}:\n{self.logs()}")
            if ready():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{what}: not ready within {timeout} s:\n{self.logs()}")


class BotProcess(ManagedProcess):
    """``functions-framework --target=slack_bot`` in its own process, stopped by its pid."""

    def __init__(self, env: dict[str, str], log_path: Path, target: str = "slack_bot", port: int | None = None,
                 source: str = "main.py", slack=None):
        self.slack = slack  # the FakeSlack it talks to: it issues the trigger ids of interactions
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {"THREADS": "16", **env}
        super().__init__([FUNCTIONS_FRAMEWORK, f"--target={target}", f"--source={source}", f"--port={self.port}",
                          "--host=127.0.0.1"], env, log_path)
        self.wait_until(self._listening, "bot")

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    # --- requests as Slack sends them ----------------------------------------------
    def post(self, body: bytes, content_type: str, headers: dict | None = None, query: str = "") -> Response:
        request = urllib.request.Request(self.url + query, data=body, method="POST",
                                         headers={"Content-Type": content_type, **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Response(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read())

    def send_event(self, payload: dict, secret: str = SIGNING_SECRET, headers: dict | None = None, query: str = "",
                   timestamp: int | None = None) -> Response:
        body = json.dumps(payload).encode()
        return self.post(body, "application/json", {**sign(body, secret, timestamp), **(headers or {})}, query)

    def send_interaction(self, payload: dict, secret: str = SIGNING_SECRET, query: str = "") -> Response:
        if self.slack is not None:
            payload = self.slack.issue_trigger(payload)  # as Slack does with each interaction it delivers
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(body, "application/x-www-form-urlencoded", sign(body, secret), query)


class SocketModeProcess(ManagedProcess):
    """``python -m threadwise.transports.socket_mode``. It listens on no port: it is ready once the Socket Mode stand-in
    sees it connected, which the caller waits for (or for its exit, when it should refuse to start)."""

    def __init__(self, env: dict[str, str], log_path: Path):
        super().__init__([sys.executable, "-m", "threadwise.transports.socket_mode"], env, log_path)


THREAD_DUMPS = str(Path(__file__).parent / "thread_dumps")  # its sitecustomize: stacks on THREAD_DUMP_SIGNAL
THREAD_DUMP_SIGNAL = signal.SIGRTMIN + 1


def refused_start(env: dict[str, str], why: str) -> str:
    """Starts the HTTP function with ``env`` (the whole environment) and returns what it printed, once it
    has exited non-zero; fails the test if it started serving instead (``why``: what it must not start with)."""
    try:
        result = subprocess.run(
            [FUNCTIONS_FRAMEWORK, "--target=slack_bot", "--source=main.py", f"--port={free_port()}",
             "--host=127.0.0.1"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
        )
    except subprocess.TimeoutExpired as timeout:  # it started serving: the very thing that must not happen
        raise AssertionError(f"the bot started {why}:\n{timeout.output!r}") from None
    output = result.stdout.decode(errors="replace")
    assert result.returncode != 0, output
    return output


def child_env(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without its own Slack and OpenAI settings, then ``env``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI_"))}
    full_env.update(env)
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (THREAD_DUMPS, full_env.get("PYTHONPATH")) if p)
    return full_env


def dump_threads_of_running_processes() -> None:
    """Every process still running writes its threads' stacks to its log (see thread_dumps/)."""
    for process in STARTED:
        if process.process.poll() is None:
            try:
                os.killpg(process.process.pid, THREAD_DUMP_SIGNAL)
            except (ProcessLookupError, PermissionError):
                pass


def sign(body: bytes, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{timestamp}:".encode() + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}


# The bot's budget as good as off: for a test that measures something else and says why (the tests
# run the bot with its own default budget, as in production).
UNTHROTTLED = ("chat.update=60000/1000,chat.delete=60000/1000,conversations.replies=60000/1000,"
               "chat.postMessage=60000/1000,chat.startStream=60000/1000,chat.appendStream=60000/1000,"
               "chat.stopStream=60000/1000,conversations.info=60000/1000")


def bot_env(slack_url: str, openai_url: str | None = None, **overrides: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "PRACTICE_TOKEN_DELAY": "0.005",
        "LOG_LEVEL": "DEBUG",
        # No SLACK_RATE_LIMITS and no STREAM_UPDATE_INTERVAL: the bot spends its default write budget
        # (slack_budget.py) at its default pace, as in production, and the stand-in enforces Slack's
        # tiers (tests/slack_tiers.py). (Updating faster only spends the tokens the final text then
        # waits for.)
    }
    if openai_url:
        env.update({"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": openai_url, "OPENAI_MODEL": "test-model",
                    "OPENAI_MAX_RETRIES": "0"})
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


# --- payloads, shaped like the real ones in tests/fixtures (copied from shared/fixtures) ---
FIXTURES = ROOT / "tests" / "fixtures"


def new_event_id() -> str:
    return f"Ev{next(_ids):08d}"


def message_event(channel: str, user: str, text: str, ts: str, *, channel_type: str = "im",
                  thread_ts: str | None = None, event_type: str = "message", bot_user: str = "UBOT",
                  event_id: str | None = None, **extra) -> dict:
    """An event_callback built on fixtures/event_message_im.json."""
    payload = json.loads((FIXTURES / "event_message_im.json").read_text())
    event = payload["event"]
    event.update({"type": event_type, "text": text, "user": user, "ts": ts, "event_ts": ts, "channel": channel,
                  "channel_type": channel_type, "team": "T1"})
    event["blocks"][0]["elements"][0]["elements"][0]["text"] = text
    if event_type == "app_mention":
        event.pop("channel_type", None)
    if thread_ts:
        event["thread_ts"] = thread_ts
    event.update(extra)
    payload.update({"team_id": "T1", "api_app_id": "AAPP", "event_id": event_id or new_event_id()})
    payload["authorizations"][0].update({"team_id": "T1", "user_id": bot_user})
    return payload


def shortcut_payload(callback_id: str, channel: str, user: str, message: dict) -> dict:
    """A message_action built on fixtures/shortcut_message_action.json."""
    payload = json.loads((FIXTURES / "shortcut_message_action.json").read_text())
    # The trigger_id is a placeholder: the stand-in issues the real one at delivery (send_interaction).
    payload.update({"callback_id": callback_id, "trigger_id": f"trig-{next(_ids)}", "message_ts": message["ts"]})
    payload["channel"]["id"] = channel
    payload["user"].update({"id": user})
    payload["message"] = {k: v for k, v in message.items() if k != "metadata"}  # shortcuts may lack metadata
    return payload


def stop_button_payload(channel: str, user: str, message: dict) -> dict:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "team_id": "T1"},
        "api_app_id": "AAPP",
        "token": "XXX",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel, "is_ephemeral": False},
        "trigger_id": f"trig-{next(_ids)}",
        "team": {"id": "T1", "domain": "example"},
        "channel": {"id": channel, "name": "directmessage"},
        "message": message,
        "actions": [{"action_id": "abort_openai_api", "block_id": "threadwise_stop", "type": "button",
                     "value": "stop", "action_ts": str(time.time())}],
    }
