"""``./scripts/run``: one command, three ways to run, chosen from what is configured.

``SLACK_APP_TOKEN`` set → Socket Mode (``threadwise/transports/socket_mode.py``): a real workspace,
no public URL. ``SLACK_SIGNING_SECRET`` set → the HTTP
function on localhost, which Slack must be able to reach. Nothing set → the
offline playground (``python -m playground``): a Slack-like page on this
machine. Each says on start-up, in one line, which it is.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from threadwise.config import ConfigError
from threadwise.config.local import local_run

ROOT = Path(__file__).resolve().parent.parent  # the checkout: main.py, playground/


def command_for(mode: str, port: int) -> list[str]:
    python = sys.executable
    if mode == "socket":
        return [python, "-m", "threadwise.transports.socket_mode"]
    if mode == "http":
        return [str(Path(python).parent / "functions-framework"), "--target=slack_bot", "--source=main.py",
                f"--port={port}"]
    return [python, "-m", "playground", "--port", str(port)]


def main() -> None:
    try:
        run = local_run()
    except ConfigError as error:
        sys.exit(str(error))
    if run.mode != "playground":  # the playground's own line names its URL
        print(f"Threadwise: {run.why}", flush=True)
    command = command_for(run.mode, run.port)
    os.chdir(ROOT)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
