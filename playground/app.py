"""The offline playground: a Slack-like page, a Slack stand-in, and the real bot between them.

Three pieces on 127.0.0.1: the Slack stand-in the tests use (``FakeSlack``)
receives the bot's real Web API calls; the bot itself is the real
``slack_bot`` entry point, ``functions-framework`` in a process of its own,
exactly as ``./scripts/run`` starts it for Slack; the page (``page_server``)
lets a person post, mention, open threads, stop and delete, and each action
reaches the bot signed, as Slack would send it. Practice mode unless
``OPENAI_API_KEY`` is set (the bot reads its own settings, as always); then the page's
address carries a random token, printed once in the start-up line.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from threadwise.config import load_settings
from playground.deliveries import Deliverer, Team
from playground.page_server import PageServer
from playground.workspace import PEOPLE, Workspace
from standins.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parent.parent
TEAM = Team(team_id="T0PLAYGRND", domain="threadwise-playground", app_id="A0PLAYGRND", bot_user_id="U0THREADWISE")
# The bot's settings that point it at the stand-in; every other setting is the operator's own.
_FORCED_OFF = ("SLACK_APP_TOKEN", "ACCESS_TOKEN", "SLACK_APP_ID", "DISPATCH", "STORE", "PUBSUB_TOPIC",
               "SLACK_USER_TOKEN")


@dataclass
class Playground:
    slack: FakeSlack
    bot: subprocess.Popen
    page: PageServer
    state_dir: Path
    practice: bool

    @property
    def url(self) -> str:
        return self.page.url

    def stop(self) -> None:
        self.page.shutdown()
        self.page.server_close()
        _stop_process(self.bot)
        self.slack.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)


def start(port: int, env: dict[str, str] | None = None) -> Playground:
    """Starts the three pieces; ``port`` 0 picks a free one for the page."""
    env = dict(os.environ if env is None else env)
    state_dir = Path(tempfile.mkdtemp(prefix="threadwise-playground-"))
    bot_token = "xoxb-playground-" + secrets.token_hex(8)
    signing_secret = secrets.token_hex(16)
    slack = FakeSlack(bot_token=bot_token, bot_user_id=TEAM.bot_user_id, bot_id="B0THREADWISE",
                      app_id=TEAM.app_id, team_id=TEAM.team_id).start()
    bot_port = _free_port()
    bot_env = {k: v for k, v in env.items() if k not in _FORCED_OFF}
    bot_env.update(SLACK_BOT_TOKEN=bot_token, SLACK_SIGNING_SECRET=signing_secret, SLACK_API_URL=slack.base_url,
                   SQLITE_PATH=str(state_dir / "claims.sqlite3"), LOG_LEVEL=env.get("LOG_LEVEL") or "WARNING")
    # Ada is the playground's admin (her Home tab shows the workspace's usage and the CSV button),
    # unless the operator names others.
    bot_env.setdefault("ADMIN_USERS", PEOPLE[0].id)
    # In the playground's own process group: Ctrl-C reaches both, and whoever stops the
    # playground's group stops the bot with it.
    bot = subprocess.Popen(
        [str(Path(sys.executable).parent / "functions-framework"), "--target=slack_bot", "--source=main.py",
         f"--port={bot_port}", "--host=127.0.0.1"],
        cwd=ROOT, env=bot_env,
    )
    try:
        _wait_for_port(bot_port, bot)
        workspace = Workspace(slack, Deliverer(f"http://127.0.0.1:{bot_port}/", signing_secret), TEAM)
        settings = load_settings(bot_env)
        model = settings.model
        # A real key spends money: only who holds the printed address may use the page (practice mode spends nothing).
        token = None if model.practice_mode else secrets.token_hex(16)
        page = PageServer(port, workspace, {"practice": model.practice_mode, "model": model.openai_model}, token)
    except BaseException:
        _stop_process(bot)
        slack.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
        raise
    threading.Thread(target=page.serve_forever, args=(0.1,), name="playground-page", daemon=True).start()
    return Playground(slack, bot, page, state_dir, page.answering["practice"])


def run(port: int) -> None:
    """Runs until Ctrl-C or SIGTERM, then stops everything it started."""
    try:
        playground = start(port)
    except OSError as error:  # the page's port is taken (or not ours to take)
        sys.exit(f"The playground cannot listen on 127.0.0.1:{port} ({error.strerror or error}): "
                 "set PORT to a free port.")
    except RuntimeError as error:  # the bot refused to start: its own message is above
        sys.exit(f"The playground did not start: {error}.")
    answering = "practice mode, no model API is called" if playground.practice else "real answers from the model API"
    print(f"Threadwise offline playground ({answering}): open {playground.url}  (Ctrl-C stops it)", flush=True)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    while not stopped.wait(0.5):
        if playground.bot.poll() is not None:
            print(f"The bot process ended (exit {playground.bot.returncode}); stopping the playground.",
                  file=sys.stderr, flush=True)
            break
    playground.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the bot did not start (exit {process.returncode}); its messages are above")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the bot did not start listening within 30 s")


def _stop_process(process: subprocess.Popen) -> None:
    """SIGTERM: gunicorn's master stops its worker and exits; SIGKILL if it has not within 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()
